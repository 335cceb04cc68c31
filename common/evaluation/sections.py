"""The sections of <model>_evaluation.json as typed objects, turned into JSON only at the edge.

Each measuring function of fidelity, validity, signatures_check, utility and privacy returns one
of these; the comparison, the figures and report.html read their attributes, so a renamed figure
is an AttributeError where it used to be a silent None; `to_json()` gives the file's shape. The
per-column, per-rule, per-feature and per-class details stay JSON-ready dicts inside them: they
are shown and written, never computed on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from common.rules import ValidityReport

Json = dict[str, Any]

CORRELATION_PLACEHOLDERS = "placeholder cells left out (pairwise-complete rows)"
PROJECT_METADATA = "the project's (metadata/metadata.json: header lengths and counts numerical)"


class _AsFields:
    """A section written to JSON as its fields, as they are."""

    def to_json(self) -> Json:
        return asdict(self)   # type: ignore[call-overload]   # every subclass is a dataclass


# ----------------------------------------------------------------------------- fidelity


@dataclass(frozen=True)
class QualityScores:
    """One sdmetrics QualityReport and DiagnosticReport of a table against the train rows."""

    overall: float
    column_shapes: float | None
    column_pair_trends: float | None
    pairs_total: int
    pairs_contributing: int
    all_pairs_mean: float | None
    column_shape_scores: dict[str, float | None]
    diagnostic_overall: float
    data_validity: float | None
    data_structure: float | None
    sample: Json

    def to_json(self) -> Json:
        return {
            "quality_report": {
                "overall": self.overall, "column_shapes": self.column_shapes,
                "column_pair_trends": self.column_pair_trends, "pairs_total": self.pairs_total,
                "pairs_contributing": self.pairs_contributing, "all_pairs_mean": self.all_pairs_mean,
                "column_shape_scores": self.column_shape_scores,
            },
            "diagnostic_report": {"overall": self.diagnostic_overall, "data_validity": self.data_validity,
                                  "data_structure": self.data_structure},
            "sample": self.sample,
        }


@dataclass(frozen=True)
class ColumnSummary(_AsFields):
    mean_ks_statistic: float | None
    median_ks_statistic: float | None
    mean_wasserstein_normalised: float | None
    median_wasserstein_normalised: float | None
    mean_total_variation_distance: float | None
    largest_ks_columns: list[Json]


@dataclass(frozen=True)
class ColumnFidelity:
    """Per-column statistics and distances ({column: {...}}) and their summary."""

    numeric: dict[str, Json]
    categorical: dict[str, Json]
    summary: ColumnSummary

    def ks_by_column(self) -> dict[str, float | None]:
        return {column: item["ks_statistic"] for column, item in self.numeric.items()}

    def to_json(self) -> Json:
        return {"numeric": self.numeric, "categorical": self.categorical, "summary": self.summary.to_json()}


@dataclass(frozen=True)
class CorrelationComparison:
    """One correlation matrix against the train's: |Δr| over pairs, strong pairs kept."""

    mean_absolute_difference: float | None
    max_absolute_difference: float | None
    pairs_compared: int
    pairs_undefined_in_synthetic: int
    strong_threshold: float
    strong_real_count: int
    strong_kept_count: int
    strong_kept_share: float | None

    def to_json(self) -> Json:
        return {
            "mean_absolute_difference": self.mean_absolute_difference,
            "max_absolute_difference": self.max_absolute_difference,
            "pairs_compared": self.pairs_compared,
            "pairs_undefined_in_synthetic": self.pairs_undefined_in_synthetic,
            "strong_pairs": {"threshold": self.strong_threshold, "real_count": self.strong_real_count,
                             "kept_count": self.strong_kept_count, "kept_share": self.strong_kept_share},
        }


@dataclass(frozen=True)
class CorrelationFigures:
    pearson: CorrelationComparison
    spearman: CorrelationComparison
    sample: Json

    def to_json(self, with_sample: bool = True) -> Json:
        payload = {"pearson": self.pearson.to_json(), "spearman": self.spearman.to_json()}
        return {**payload, "sample": self.sample} if with_sample else payload


@dataclass(frozen=True)
class ClassShares(_AsFields):
    target: str
    shares: dict[str, dict[str, float]]     # {class: {"train": reference share, "synthetic": share}}
    max_absolute_difference: float
    reference: str = "train"                # "train": the train rows' shares; "asked": the class mix asked for


@dataclass
class FidelitySection:
    columns: ColumnFidelity
    holdout_columns: ColumnFidelity
    quality: QualityScores
    holdout_quality: QualityScores
    quality_detected: QualityScores        # under SDV's auto-detected metadata: what a plain-SDV user computes
    holdout_quality_detected: QualityScores
    detected_sdtypes: dict[str, int]
    class_shares: ClassShares | None
    correlation_columns: list[str]
    correlations: CorrelationFigures
    holdout_correlations: CorrelationFigures
    matrices: Json                          # {"real_pearson": [[...]], ...} as written
    per_class: Json | None = None           # quality per class, when a class mix was asked for

    def to_json(self) -> Json:
        payload = {
            "compared_with": "the train split (rows the model learned from)",
            "columns": self.columns.to_json(),
            "holdout_columns_summary": self.holdout_columns.summary.to_json(),
            "holdout_ks_by_column": self.holdout_columns.ks_by_column(),
            "sdmetrics": {"synthetic_vs_train": self.quality.to_json(),
                          "holdout_vs_train": self.holdout_quality.to_json(), "metadata": PROJECT_METADATA},
            # header lengths and flag counts come out ordinal under detected metadata: every value must match
            "sdmetrics_detected_metadata": {"synthetic_vs_train": self.quality_detected.to_json(),
                                            "holdout_vs_train": self.holdout_quality_detected.to_json(),
                                            "sdtypes": self.detected_sdtypes},
            "class_shares": self.class_shares.to_json() if self.class_shares else None,
            "correlations": {
                "columns": self.correlation_columns,
                "placeholders": CORRELATION_PLACEHOLDERS,
                "synthetic": self.correlations.to_json(),
                "holdout": self.holdout_correlations.to_json(with_sample=False),
                "matrices": self.matrices,
            },
        }
        if self.per_class is not None:
            payload["per_class"] = self.per_class
        return payload


# ----------------------------------------------------------------------------- validity


@dataclass(frozen=True)
class RuleViolations:
    """Every detected rule checked on the synthetic rows and on the holdout."""

    rules_checked: int
    rules_by_kind: dict[str, int]
    synthetic: ValidityReport
    holdout: ValidityReport
    per_rule: list[Json]      # {"id", "kind", "description", "synthetic_violation_rate", "holdout_violation_rate"}

    @property
    def rules_violated_by_synthetic(self) -> int:
        return sum(1 for item in self.per_rule if item["synthetic_violation_rate"] > 0)

    @property
    def rules_violated_by_holdout(self) -> int:
        return sum(1 for item in self.per_rule if item["holdout_violation_rate"] > 0)

    @staticmethod
    def _overall(report: ValidityReport) -> Json:
        return {"rows": report.rows, "valid_share": report.valid_share, "violating_rows": report.violating_rows,
                "valid_share_by_kind": report.valid_share_by_kind}

    def to_json(self) -> Json:
        return {"rules_checked": self.rules_checked, "rules_by_kind": self.rules_by_kind,
                "synthetic": self._overall(self.synthetic), "holdout": self._overall(self.holdout),
                "rules_violated_by_synthetic": self.rules_violated_by_synthetic, "per_rule": self.per_rule}


@dataclass(frozen=True)
class PlaceholderSummary(_AsFields):
    columns_with_placeholders: int
    mean_absolute_share_difference: float
    mean_stranded_share: float
    max_stranded_share: float


@dataclass(frozen=True)
class PlaceholderComparison:
    """Per placeholder column: its share in train, holdout and candidate, and stranded values."""

    columns: dict[str, Json]
    summary: PlaceholderSummary | None
    skipped: str | None

    def to_json(self) -> Json:
        return {"columns": self.columns, "summary": self.summary.to_json() if self.summary else None,
                "skipped": self.skipped}


@dataclass(frozen=True)
class FlagComparison:
    """Share of flows with each flag and the flag co-occurrence matrix, train vs candidate."""

    skipped: str | None
    flags: list[str] = field(default_factory=list)
    flag_share: dict[str, dict[str, float]] = field(default_factory=dict)
    cooccurrence_real: list[list[float]] = field(default_factory=list)
    cooccurrence_synthetic: list[list[float]] = field(default_factory=list)
    mean_absolute_difference: float | None = None
    max_absolute_difference: float | None = None

    def to_json(self) -> Json:
        return {"skipped": self.skipped} if self.skipped else asdict(self)


@dataclass
class ValiditySection:
    rules: RuleViolations
    placeholders: PlaceholderComparison
    holdout_placeholders: PlaceholderComparison
    flags: FlagComparison
    holdout_flags: FlagComparison
    domain_layer: Any = None     # what training recorded about its drawn rows (models/manifest.json)

    def to_json(self) -> Json:
        return {
            "rules": self.rules.to_json(),
            "placeholders": {"synthetic": self.placeholders.to_json(), "holdout": self.holdout_placeholders.to_json()},
            "flags": {"synthetic": self.flags.to_json(), "holdout": self.holdout_flags.to_json()},
            "domain_layer": self.domain_layer,
        }


# ----------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class SignatureSummary(_AsFields):
    class_features_checked: int
    share_inside_real_iqr: float | None
    median_of_median_relative_errors: float | None


@dataclass(frozen=True)
class SignatureCheck:
    """Per class and signature feature, whether the candidate's class median stays in the real IQR."""

    skipped: str | None
    classes: dict[str, Json] = field(default_factory=dict)
    reference_class: str | None = None
    summary: SignatureSummary | None = None

    def to_json(self) -> Json:
        if self.skipped:
            return {"skipped": self.skipped, "classes": {}}
        return {"skipped": None, "reference_class": self.reference_class, "classes": self.classes,
                "summary": self.summary.to_json() if self.summary else None}


@dataclass
class SignaturesSection:
    source: str
    synthetic: SignatureCheck
    holdout: SignatureCheck

    def to_json(self) -> Json:
        return {"source": self.source, "synthetic": self.synthetic.to_json(), "holdout": self.holdout.to_json()}


# ----------------------------------------------------------------------------- utility


@dataclass(frozen=True)
class ClassifierScores:
    """A classifier trained on one table and scored on the real holdout."""

    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float]
    train_rows: Json
    test_rows: Json
    note: str | None = None

    def to_json(self) -> Json:
        payload = {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "per_class_f1": self.per_class_f1,
                   "train_rows": self.train_rows, "test_rows": self.test_rows}
        return {**payload, "note": self.note} if self.note else payload


@dataclass(frozen=True)
class UtilitySection:
    """TSTR (train on synthetic, test on real) beside TRTR (train on real), or why neither ran."""

    classifier: str
    target: str | None
    skipped: str | None
    trtr: ClassifierScores | None
    tstr: ClassifierScores | None

    @property
    def tstr_to_trtr_macro_f1(self) -> float | None:
        if self.tstr is None or self.trtr is None or self.trtr.macro_f1 <= 0:
            return None
        return self.tstr.macro_f1 / self.trtr.macro_f1

    @property
    def per_class_f1(self) -> dict[str, dict[str, float | None]]:
        if self.tstr is None or self.trtr is None:
            return {}
        classes = sorted(set(self.trtr.per_class_f1) | set(self.tstr.per_class_f1))
        return {cls: {"trtr": self.trtr.per_class_f1.get(cls), "tstr": self.tstr.per_class_f1.get(cls)}
                for cls in classes}

    def to_json(self) -> Json:
        payload = {"classifier": self.classifier, "target": self.target, "skipped": self.skipped,
                   "trtr": self.trtr.to_json() if self.trtr else None,
                   "tstr": self.tstr.to_json() if self.tstr else None}
        if self.tstr is not None:
            payload.update(tstr_to_trtr_macro_f1=self.tstr_to_trtr_macro_f1, per_class_f1=self.per_class_f1)
        return payload


# ----------------------------------------------------------------------------- privacy


@dataclass(frozen=True)
class DistanceSummary(_AsFields):
    """Distances to the closest train record of a seeded sample of rows."""

    median: float
    p05: float
    mean: float
    zero_distance_share: float
    sample: Json


@dataclass(frozen=True)
class OverfittingProtection(_AsFields):
    """sdmetrics DCROverfittingProtection on equal-size train and holdout samples: the mean over
    `draws` seeded draws, with the lowest and highest draw."""

    score: float
    closer_to_train_share: float
    closer_to_holdout_share: float
    sample: Json
    draws: int = 1
    score_range: tuple[float, float] | None = None
    closer_to_train_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class NewRowSynthesisScore:
    """sdmetrics NewRowSynthesis of a seeded sample, or why it could not run."""

    score: float | None
    sample: Json
    new_rows: int | None = None
    matched_rows: int | None = None
    failed: str | None = None

    def to_json(self) -> Json:
        if self.failed:
            return {"score": None, "failed": self.failed, "sample": self.sample}
        return {"score": self.score, "new_rows": self.new_rows, "matched_rows": self.matched_rows, "sample": self.sample}


@dataclass
class HoldoutPrivacy:
    """The holdout's own closeness to train: what an unseen real row looks like."""

    dcr: DistanceSummary
    distances: np.ndarray
    exact_copy_share: float
    new_rows: NewRowSynthesisScore
    attacks: Any = None       # common.evaluation.attacks.AttackSection with unseen real flows as the release


@dataclass
class PrivacySection:
    distance_space: str
    dcr: DistanceSummary
    train_reference_sample: Json
    overfitting: OverfittingProtection
    exact_copy_share: float
    synthetic_rows: int
    new_rows: NewRowSynthesisScore
    holdout: HoldoutPrivacy
    attacks: Any = None       # common.evaluation.attacks.AttackSection: anonymeter's three attacks

    def attack_risk(self, attack: str, holdout: bool = False) -> float | None:
        """One attack's risk on this release (or on the holdout baseline), None when not measured."""
        section = self.holdout.attacks if holdout else self.attacks
        risk = section.risks.get(attack) if section is not None else None
        return risk.risk if risk is not None else None

    def risks_above_goal(self) -> list[Any]:
        """Singling-out and linkability risks over the goal once the holdout baseline is taken into
        account, each with its reason (common.evaluation.attacks.risks_above_goal)."""
        from common.evaluation.attacks import risks_above_goal

        return risks_above_goal(self.attacks, self.holdout.attacks, self.overfitting.closer_to_train_share,
                                self.exact_copy_share, self.holdout.exact_copy_share)

    def to_json(self) -> Json:
        from common.evaluation.attacks import RISK_GOAL

        return {
            "distance_space": self.distance_space,
            "dcr_to_train": {"synthetic": self.dcr.to_json(), "holdout": self.holdout.dcr.to_json(),
                             "train_reference_sample": self.train_reference_sample},
            "dcr_overfitting_protection": self.overfitting.to_json(),
            "exact_copies": {"synthetic_share_equal_to_a_train_row": self.exact_copy_share,
                             "holdout_share_equal_to_a_train_row": self.holdout.exact_copy_share,
                             "synthetic_rows": self.synthetic_rows},
            "new_row_synthesis": {"synthetic": self.new_rows.to_json(), "holdout": self.holdout.new_rows.to_json()},
            "reidentification_attacks": {
                "synthetic": self.attacks.to_json() if self.attacks is not None else None,
                "holdout_release": self.holdout.attacks.to_json() if self.holdout.attacks is not None else None,
                "goal": f"singling out and linkability at most {RISK_GOAL:g} above the holdout release's risk",
                "above_goal": [finding.to_json() for finding in self.risks_above_goal()],
            },
        }


# ----------------------------------------------------------------------------- one model


@dataclass
class ModelEvaluation:
    """Everything measured about one model's synthetic table: <model>_evaluation.json."""

    model: str
    synthetic_rows: int
    facts: Json                  # data, split, rules source, seed, sampling caps (the same for every model)
    training: Json | None        # what models/manifest.json recorded about the fit, when it matches the data
    fidelity: FidelitySection
    validity: ValiditySection
    signatures: SignaturesSection
    utility: UtilitySection
    privacy: PrivacySection
    timings_seconds: dict[str, float]
    synthetic_csv: str | None = None

    def to_json(self) -> Json:
        return {
            "model": self.model, "synthetic_rows": self.synthetic_rows, **self.facts, "training": self.training,
            "fidelity": self.fidelity.to_json(), "validity": self.validity.to_json(),
            "signatures": self.signatures.to_json(), "utility": self.utility.to_json(),
            "privacy": self.privacy.to_json(), "timings_seconds": self.timings_seconds,
            "synthetic_csv": self.synthetic_csv,
        }
