"""Attack signatures: does each class keep the features that set it apart from benign traffic?

The signatures (per class, the features whose distribution differs most from the reference
class) come from the analyzer: patterns/comprehensive_tcp_analysis.json, key
"attack_signatures", when it was made for this table; otherwise they are computed on the
train rows with the analyzer's own function (common.analysis.signatures.attack_signatures).
The evaluation then measures, per class and signature feature, the class median and IQR in
the train rows and in the candidate (placeholders set apart), and asks whether the
candidate's class median lies inside the real class IQR.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.evaluation.sections import SignatureCheck, SignatureSummary
from common.evaluation.tables import EvaluationInputs, measured
from common.core.io import read_json

log = logging.getLogger("tcpsynth")

# A degenerate IQR ([x, x], a feature constant within a class) is met within this relative tolerance.
IQR_TOLERANCE = 1e-9


def saved_signatures(path: Path, inputs: EvaluationInputs, source_sha256: str | None) -> dict[str, Any] | None:
    """The analyzer's saved signatures when they fit this table, else None.

    They fit when the file records the same source hash (tcp_pattern_analyzer.py writes it
    under "dataset"), has classes, and every signature feature is a column of the train rows.
    """
    if not Path(path).exists():
        return None
    payload = read_json(path, "pattern analysis")
    signatures = payload.get("attack_signatures") if isinstance(payload, dict) else None
    if not isinstance(signatures, dict) or not isinstance(signatures.get("classes"), dict):
        return None
    dataset = payload.get("dataset") if isinstance(payload.get("dataset"), dict) else {}
    recorded = dataset.get("source_sha256") or payload.get("source_sha256")
    if recorded and source_sha256 and recorded != source_sha256:
        log.info("   saved attack signatures were made for another file: recomputing them")
        return None
    for cls in signatures["classes"].values():
        for feature in cls.get("features", []):
            if feature_column(feature) not in inputs.train.columns:
                return None
    return signatures


def feature_column(item: dict[str, Any]) -> str | None:
    """The table column a signature feature reads (an indicator "flag=S0" reads column "flag")."""
    return item.get("column") if item.get("kind") == "indicator" else item.get("feature")


def computed_signatures(inputs: EvaluationInputs) -> dict[str, Any]:
    """Signatures computed on the train rows with the analyzer's own function."""
    from common.analysis.signatures import attack_signatures

    return attack_signatures(inputs.train, inputs.schema, rules=inputs.rules, seed=inputs.seed)


def class_spread(values: np.ndarray) -> dict[str, Any]:
    """Median and [q25, q75] of a class's values (None when the class has none)."""
    if values.size == 0:
        return {"median": None, "iqr": None}
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    return {"median": float(median), "iqr": [float(q25), float(q75)]}


def median_relative_error(real_median: float | None, candidate_median: float | None, feature_range: float) -> float | None:
    """|candidate - real| / |real median|, or / the feature's real range when the real median is 0."""
    if real_median is None or candidate_median is None:
        return None
    error = abs(candidate_median - real_median)
    if real_median != 0:
        return error / abs(real_median)
    if feature_range > 0:
        return error / feature_range
    return 0.0 if error == 0 else None


def inside_iqr(value: float | None, iqr: list[float] | None) -> bool:
    """Whether `value` lies in the interval `iqr` (with a tiny tolerance for a degenerate one)."""
    if value is None or iqr is None:
        return False
    low, high = iqr
    tolerance = IQR_TOLERANCE * max(abs(low), abs(high), 1.0)
    return low - tolerance <= value <= high + tolerance


def feature_values(frame: pd.DataFrame, item: dict[str, Any]) -> pd.Series:
    """The values a signature feature describes: the column itself, or for an analyzer
    indicator feature ("column=level") 1.0 where the row holds that level, else 0.0."""
    column = feature_column(item)
    if item.get("kind") == "indicator":
        level = str(item["feature"]).split("=", 1)[1]
        return (frame[column].astype(str) == level).astype(float)
    return frame[column]


def check_signatures(inputs: EvaluationInputs, candidate: pd.DataFrame, signatures: dict[str, Any]) -> SignatureCheck:
    """Per class and signature feature: real vs candidate median and IQR, whether the candidate
    median stays inside the real IQR, and the median relative error; per-class and overall
    summaries. Classes are compared as text (the frames hold discrete columns as text)."""
    target = inputs.target
    if signatures.get("skipped") or not signatures.get("classes"):
        return SignatureCheck(skipped=signatures.get("skipped") or "no attack class has a signature")
    if target is None:
        return SignatureCheck(skipped="no class column")
    classes: dict[str, Any] = {}
    kept_all: list[bool] = []
    errors_all: list[float] = []
    for cls, signature in signatures["classes"].items():
        cls_text = str(cls)
        rows_real = int((inputs.train[target] == cls_text).sum())
        rows_candidate = int((candidate[target] == cls_text).sum())
        features = []
        for item in signature.get("features", []):
            feature, column = item.get("feature"), feature_column(item)
            indicator = item.get("kind") == "indicator"
            if column not in inputs.train.columns or (not indicator and column not in inputs.numeric_columns):
                continue
            rule = None if indicator else inputs.placeholder(column)
            real_values, candidate_values = feature_values(inputs.train, item), feature_values(candidate, item)
            real = class_spread(measured(real_values[inputs.train[target] == cls_text], rule))
            synthetic = class_spread(measured(candidate_values[candidate[target] == cls_text], rule))
            all_real = measured(real_values, rule)
            feature_range = float(all_real.max() - all_real.min()) if all_real.size else 0.0
            kept = inside_iqr(synthetic["median"], real["iqr"])
            error = median_relative_error(real["median"], synthetic["median"], feature_range)
            features.append({
                "feature": feature,
                "real_median": real["median"], "real_iqr": real["iqr"],
                "synthetic_median": synthetic["median"], "synthetic_iqr": synthetic["iqr"],
                "median_inside_real_iqr": kept,
                "median_relative_error": error,
                "analyzer_cliffs_delta": item.get("cliffs_delta"),
            })
            kept_all.append(kept)
            if error is not None:
                errors_all.append(error)
        errors = [f["median_relative_error"] for f in features if f["median_relative_error"] is not None]
        classes[cls_text] = {
            "rows": {"real": rows_real, "synthetic": rows_candidate},
            "absent_from_synthetic": rows_candidate == 0,
            "features": features,
            "summary": {
                "features_checked": len(features),
                "medians_inside_real_iqr": sum(f["median_inside_real_iqr"] for f in features),
                "share_inside_real_iqr": (sum(f["median_inside_real_iqr"] for f in features) / len(features)) if features else None,
                # The median over features: one feature with stranded values (errors of 1e9) would
                # swamp a mean.
                "median_relative_error": float(np.median(errors)) if errors else None,
            },
        }
    return SignatureCheck(
        skipped=None,
        classes=classes,
        reference_class=signatures.get("reference_class"),
        summary=SignatureSummary(
            class_features_checked=len(kept_all),
            share_inside_real_iqr=(sum(kept_all) / len(kept_all)) if kept_all else None,
            median_of_median_relative_errors=float(np.median(errors_all)) if errors_all else None,
        ),
    )
