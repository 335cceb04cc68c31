"""Numeric values as the analyses read them, and the seeded row sample of the costly steps.

Flow exporters write values that are not measurements: NTLFlowLyzer puts an epoch timestamp
(about 1.7e9) in an inter-arrival-time column when a direction has a single packet,
CICFlowMeter writes 'Infinity' for rates of zero-duration flows and -1 for windows that do
not apply. Averaging such values in would describe the exporter, not the traffic, so every
analysis reads a column through `feature_values`, which sets placeholders (as detected by
common.rules) and infinities apart and counts them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.core.errors import UserError
from common.core.scan import capped_positions
from common.rules import RuleSet
from common.data.schema import Schema


@dataclass
class FeatureValues:
    """One numeric column split into real values and what was set apart.

    `values` holds the real measurements, NaN wherever the cell is missing, infinite or a
    placeholder; the three masks say which of those it was (same length as the column).
    """

    column: str
    values: np.ndarray
    placeholder: np.ndarray
    infinite: np.ndarray
    missing: np.ndarray

    @property
    def real(self) -> np.ndarray:
        """Boolean mask of the cells that hold a real, finite measurement."""
        return ~(self.placeholder | self.infinite | self.missing)

    def set_apart_counts(self) -> dict[str, int]:
        return {
            "placeholder": int(self.placeholder.sum()),
            "infinite": int(self.infinite.sum()),
            "missing": int(self.missing.sum()),
        }


def placeholder_mask(frame: pd.DataFrame, column: str, rules: RuleSet | None) -> np.ndarray:
    """Cells of `column` that hold the placeholder value detected by the rules (else none)."""
    rule = rules.placeholders.get(column) if rules is not None else None
    if rule is None:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(rule.is_placeholder(frame[column]), dtype=bool)


def feature_values(frame: pd.DataFrame, column: str, rules: RuleSet | None) -> FeatureValues:
    """Read one numeric column with placeholders, infinities and missing cells set apart."""
    raw = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(raw)
    infinite = np.isinf(raw)
    placeholder = placeholder_mask(frame, column, rules) & ~missing & ~infinite
    values = raw.copy()
    values[missing | infinite | placeholder] = np.nan
    return FeatureValues(column, values, placeholder, infinite, missing)


def clean_numeric_frame(frame: pd.DataFrame, columns: list[str], rules: RuleSet | None) -> pd.DataFrame:
    """The given numeric columns as floats, NaN wherever a value is missing, infinite or a placeholder."""
    return pd.DataFrame(
        {column: feature_values(frame, column, rules).values for column in columns}, index=frame.index
    )


def analysis_numeric_columns(frame: pd.DataFrame, schema: Schema, drop_constant: bool = True) -> list[str]:
    """Numeric feature columns present in `frame` (identifiers and labels are never numeric kinds)."""
    columns = [c for c in schema.numeric_columns if c in frame.columns and c not in schema.identifiers]
    if drop_constant:
        columns = [c for c in columns if frame[c].nunique(dropna=True) > 1]
    return columns


def analysis_categorical_columns(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """Categorical and boolean feature columns present in `frame` (class columns excluded)."""
    return [
        c for c in schema.categorical_columns
        if c in frame.columns and c not in schema.label_columns and frame[c].nunique(dropna=True) > 1
    ]


def class_capped_sample(
    frame: pd.DataFrame, class_column: str | None, max_rows: int, seed: int
) -> tuple[pd.DataFrame, dict]:
    """A seeded sample of at most `max_rows` rows in which rare classes keep all their rows.

    Each class keeps min(its size, cap) rows, with the largest cap whose total fits
    `max_rows` ("water filling"; common.core.scan.capped_positions), so a 0.1 % attack class
    is not lost in a uniform sample. Without a class column the sample is uniform. Returns
    (sample, description for the JSON).
    """
    if max_rows < 1:
        raise UserError(f"the row sample for costly steps must hold at least 1 row (got {max_rows})")
    total = len(frame)
    labels = None if class_column is None else frame[class_column].astype(str).to_numpy()
    picked, method = capped_positions(labels, total, max_rows, seed)
    if total <= max_rows:
        return frame, {"rows_used": total, "rows_total": total, "seed": seed, "method": method}
    return frame.iloc[picked], {"rows_used": int(len(picked)), "rows_total": total, "seed": seed, "method": method}
