"""The frames every evaluation section works on, and the seeded samples of them.

`EvaluationInputs` gathers what is fixed for a whole evaluation run (the real train and
holdout rows, schema, rules, SDV metadata, seed); `prepare_candidate` turns a synthetic CSV
(or the holdout) into a frame with exactly the train's columns and comparable dtypes.

Dtype policy (why): a CSV written by a synthesizer may hold `20` where the real file holds
`20.0`, or class labels read as numbers; comparing, hashing and the sdmetrics reports need
the same representation on both sides. Numeric columns become float64 (NaN for anything
unparseable, +-inf as NaN like common.data.schema.modelling_frame), discrete columns become text
with missing values kept missing.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.core.errors import UserError
from common.rules import PlaceholderRule, RuleSet
from common.data.schema import Schema

TABLE_NAME = "flows"

# Rows the evaluation holds for each table (seeded samples, stratified by class, above these):
# every section, quality, utility and privacy alike, works on at most these, so a table of
# millions of rows is evaluated in minutes and a few GiB; the per-metric caps
# (runner.SAMPLING_CAPS) then apply inside these rows. Tables below the caps are used whole.
EVALUATION_ROWS = {"train": 200_000, "holdout": 100_000, "synthetic": 200_000}


@dataclass
class SampleNote:
    """How many rows a metric used, and whether that was a seeded sample of more."""

    used: int
    available: int
    seed: int | None

    @property
    def sampled(self) -> bool:
        return self.used < self.available

    def to_dict(self) -> dict[str, Any]:
        return {"rows_used": self.used, "rows_available": self.available,
                "sampled": self.sampled, "seed": self.seed if self.sampled else None}


def seeded_sample(frame: pd.DataFrame, max_rows: int, seed: int) -> tuple[pd.DataFrame, SampleNote]:
    """At most `max_rows` rows of `frame` (a seeded sample when larger), index reset.

    Returns the rows and a SampleNote saying whether they are a sample.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True), SampleNote(len(frame), len(frame), seed)
    sample = frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    return sample, SampleNote(max_rows, len(frame), seed)


def stratified_sample(frame: pd.DataFrame, target: str | None, max_rows: int, seed: int
                      ) -> tuple[pd.DataFrame, SampleNote]:
    """At most about `max_rows` rows of `frame`, each class keeping its share (at least one row
    per class; a seeded sample per class), in the frame's order; the frame itself when it is no
    larger. Without a class column (`target` None or absent) a plain seeded sample."""
    if len(frame) <= max_rows:
        return frame, SampleNote(len(frame), len(frame), seed)
    if target is None or target not in frame.columns:
        sample = frame.sample(n=max_rows, random_state=seed).sort_index()
        return sample, SampleNote(len(sample), len(frame), seed)
    labels = frame[target].astype(str).to_numpy()
    quota = (pd.Series(labels).value_counts() * (max_rows / len(frame))).round().clip(lower=1).astype(int)
    rng = np.random.default_rng(seed)
    picked = [rng.choice(positions.to_numpy(), size=int(quota[label]), replace=False)
              for label, positions in pd.Series(np.arange(len(frame))).groupby(labels, sort=True)]
    sample = frame.iloc[np.sort(np.concatenate(picked))]
    return sample, SampleNote(len(sample), len(frame), seed)


@dataclass
class EvaluationInputs:
    """What stays the same across the models of one evaluation run.

    `train` and `holdout` are the real rows (modelled columns only, dtypes normalised);
    `metadata` is the SDV/sdmetrics metadata dict restricted to those columns.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    schema: Schema
    rules: RuleSet
    metadata: dict[str, Any]
    seed: int
    numeric_columns: list[str] = field(default_factory=list)
    discrete_columns: list[str] = field(default_factory=list)
    # SDV's auto-detected metadata of the train rows (what a plain-SDV user scores with)
    detected_metadata: dict[str, Any] | None = None
    # {class: share} the rows were asked in (a class mix); None: the train rows' own shares
    expected_class_shares: dict[str, float] | None = None
    # the rows evaluated of each table: {"train": SampleNote, "holdout": ..., "synthetic": {model: ...}}
    row_samples: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str | None:
        target = self.schema.target
        return target if target in self.train.columns else None

    def placeholder(self, column: str) -> PlaceholderRule | None:
        """The column's placeholder rule from the setup, or None."""
        return self.rules.placeholders.get(column)


def normalise_dtypes(frame: pd.DataFrame, numeric: list[str], discrete: list[str]) -> pd.DataFrame:
    """Numeric columns as float64 (+-inf and text as NaN), discrete columns as text (NaN kept)."""
    result = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        series = frame[column]
        if column in numeric:
            values = pd.to_numeric(series, errors="coerce").astype("float64")
            result[column] = values.replace([np.inf, -np.inf], np.nan)
        elif column in discrete:
            result[column] = series.astype(object).where(series.isna(), series.astype(str))
        else:
            result[column] = series
    return result


def column_lists(frame: pd.DataFrame, schema: Schema) -> tuple[list[str], list[str]]:
    """(numeric, discrete) modelled columns of `frame`, in the frame's order."""
    numeric = set(schema.numeric_columns)
    discrete = set(schema.categorical_columns)
    return ([c for c in frame.columns if c in numeric], [c for c in frame.columns if c in discrete])


def prepare_candidate(frame: pd.DataFrame, inputs: EvaluationInputs, source: str) -> pd.DataFrame:
    """A synthetic (or holdout) table with the train's columns, in its order and dtypes.

    Raises UserError naming `source` when a column the models learned is missing; extra
    columns (an index written by another tool, say) are ignored.
    """
    missing = [c for c in inputs.train.columns if c not in frame.columns]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UserError(f"{source} lacks column '{missing[0]}'{more} that the models learned; "
                        f"re-generate it with train_synthetic_models_improved.py")
    if frame.empty:
        raise UserError(f"{source} has no rows; re-generate it with train_synthetic_models_improved.py")
    aligned = frame[list(inputs.train.columns)].reset_index(drop=True)
    return normalise_dtypes(aligned, inputs.numeric_columns, inputs.discrete_columns)


def reports_metadata(metadata: dict[str, Any] | None, schema: Schema, columns: list[str]) -> dict[str, Any]:
    """The sdmetrics metadata dict (one table named TABLE_NAME) for exactly `columns`.

    Uses the setup's SDV metadata (metadata/metadata.json as a dict) when given, else the
    schema's (common.data.schema.sdv_metadata_dict). Booleans are described as categorical because
    the evaluation compares discrete columns as text on both sides.
    """
    from common.data.schema import sdv_metadata_dict

    described: dict[str, dict[str, Any]] = {}
    if metadata:
        for table in metadata.get("tables", {}).values():
            described.update(table.get("columns", {}))
    fallback = sdv_metadata_dict(schema, TABLE_NAME)["tables"][TABLE_NAME]["columns"]
    numeric = set(schema.numeric_columns)
    columns_meta: dict[str, dict[str, Any]] = {}
    for column in columns:
        sdtype = (described.get(column) or fallback.get(column) or {}).get("sdtype")
        held_as_number = column in numeric
        if sdtype not in ("numerical", "categorical", "boolean") or (sdtype == "numerical" and not held_as_number):
            # id, datetime or PII types, or a type the frame cannot hold (numbers read as text):
            # describe the column the way the frame holds it.
            sdtype = "numerical" if held_as_number else "categorical"
        columns_meta[column] = {"sdtype": "categorical" if sdtype == "boolean" else sdtype}
    return {"METADATA_SPEC_VERSION": "V1", "tables": {TABLE_NAME: {"columns": columns_meta}}, "relationships": []}


def detected_metadata(train: pd.DataFrame) -> dict[str, Any]:
    """SDV's auto-detected metadata of the train rows (`Metadata.detect_from_dataframes`), the
    metadata a plain-SDV user scores with: header lengths and flag counts come out `ordinal`
    (every value must match exactly), where the project's metadata calls them `numerical`.

    Columns SDV types as keys or PII (never scored by sdmetrics) are described as the frame
    holds them, so both metadata score the same columns.
    """
    from sdv.metadata import Metadata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detected = Metadata.detect_from_dataframes({TABLE_NAME: train}, infer_keys=None).to_dict()
    columns = detected["tables"][TABLE_NAME]["columns"]
    for column, spec in columns.items():
        if spec.get("sdtype") not in ("numerical", "categorical", "boolean", "ordinal", "datetime"):
            columns[column] = ({"sdtype": "numerical"} if pd.api.types.is_numeric_dtype(train[column])
                               else {"sdtype": "categorical"})
    return detected


def make_inputs(
    train: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rules: RuleSet, seed: int,
    setup_metadata: dict[str, Any] | None = None,
) -> EvaluationInputs:
    """EvaluationInputs from the real train and holdout rows (modelled columns, any dtypes)."""
    if len(train) == 0 or len(holdout) == 0:
        raise UserError(f"the train/holdout split leaves {len(train)} train and {len(holdout)} holdout rows: "
                        f"both are needed; re-run training with a holdout fraction between 0.05 and 0.5")
    numeric, discrete = column_lists(train, schema)
    return EvaluationInputs(
        train=normalise_dtypes(train.reset_index(drop=True), numeric, discrete),
        holdout=normalise_dtypes(holdout[list(train.columns)].reset_index(drop=True), numeric, discrete),
        schema=schema, rules=rules, metadata=reports_metadata(setup_metadata, schema, list(train.columns)),
        seed=int(seed), numeric_columns=numeric, discrete_columns=discrete,
        detected_metadata=detected_metadata(train.reset_index(drop=True)),
    )


def load_setup_metadata(path: Path) -> dict[str, Any] | None:
    """The setup's SDV metadata as a dict, or None when the file is missing or unreadable."""
    if not Path(path).exists():
        return None
    try:
        from sdv.metadata import Metadata

        return Metadata.load_from_json(str(path)).to_dict()
    except Exception:  # noqa: BLE001 - a stale or foreign file: fall back to the schema's metadata
        return None


def finite(values: pd.Series) -> np.ndarray:
    """Finite float values of a series (NaN/inf dropped)."""
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return array[np.isfinite(array)]


def measured(values: pd.Series, rule: PlaceholderRule | None) -> np.ndarray:
    """Finite values with the column's placeholder cells set apart (they are not measurements)."""
    array = finite(values)
    if rule is None:
        return array
    return array[~np.asarray(rule.is_placeholder(array), dtype=bool)]
