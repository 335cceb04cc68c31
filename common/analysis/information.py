"""Mutual information between flag features and between every feature and the class.

One discretisation is used throughout, so that all MI values are comparable: a numeric column
with at most N_BINS distinct real values keeps its values as categories; otherwise it is cut
into N_BINS quantile bins (bins that would repeat an edge are merged, so a column that is 90 %
zeros gets one zero bin). Placeholders, infinities and missing cells are each a bin of their
own: they are set apart, never mixed into a real-valued bin. Categorical columns keep their
categories. MI is scikit-learn's `mutual_info_score` on the bin codes (in nats), with the
normalised value (`normalized_mutual_info_score`, arithmetic mean) beside it.
Cramér's V (scipy.stats.contingency.association) is given where a flag is one categorical
column (KDD `flag`) and for the presence of each flag.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats.contingency import association
from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

from common.analysis.values import analysis_categorical_columns, analysis_numeric_columns, feature_values
from common.data.flags import categorical_flag_column, flag_columns, flag_presence
from common.rules import RuleSet
from common.data.schema import Schema

N_BINS = 10
DISCRETISATION = (
    f"numeric columns with at most {N_BINS} distinct values keep them as categories; others are cut into "
    f"{N_BINS} quantile bins (repeated edges merged); placeholder, infinite and missing cells are each a bin "
    "of their own; categorical columns keep their categories"
)
# Codes for the cells set apart; real bins are numbered from 0.
_PLACEHOLDER, _INFINITE, _MISSING = -1, -2, -3


def discretise_numeric(frame: pd.DataFrame, column: str, rules: RuleSet | None, n_bins: int = N_BINS) -> np.ndarray:
    """Integer bin codes of one numeric column under the stated discretisation."""
    split = feature_values(frame, column, rules)
    codes = np.full(len(frame), _MISSING, dtype=np.int64)
    codes[split.placeholder] = _PLACEHOLDER
    codes[split.infinite] = _INFINITE
    real = split.real
    values = split.values[real]
    if values.size:
        distinct = np.unique(values)
        if distinct.size <= n_bins:
            codes[real] = np.searchsorted(distinct, values)
        else:
            codes[real] = pd.qcut(values, q=n_bins, labels=False, duplicates="drop").astype(np.int64)
    return codes


def discretise_categorical(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Integer codes of a categorical column; missing cells are a category of their own."""
    return pd.factorize(frame[column].astype("string").fillna("<missing>"))[0].astype(np.int64)


def _mi_pair(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {
        "mi_nats": round(float(mutual_info_score(a, b)), 5),
        "normalised": round(float(normalized_mutual_info_score(a, b)), 5),
    }


def flag_feature_mi(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None) -> dict:
    """MI for every pair of numeric flag columns, plus Cramér's V between flag presences."""
    columns = [item.column for item in flag_columns(schema)
               if item.column in frame.columns and frame[item.column].nunique() > 1]
    if len(columns) < 2:
        return {"pairs": [], "skipped": f"{len(columns)} varying numeric flag column(s): no pair to measure"}
    codes = {column: discretise_numeric(frame, column, rules) for column in columns}
    pairs = []
    for first, second in itertools.combinations(columns, 2):
        pairs.append({"a": first, "b": second, **_mi_pair(codes[first], codes[second])})
    pairs.sort(key=lambda pair: -pair["normalised"])
    return {"pairs": pairs, "skipped": None}


def feature_class_mi(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None,
                     labels: pd.Series) -> dict[str, dict[str, float]]:
    """MI between every feature (numeric and categorical) and the class, largest first."""
    class_codes = pd.factorize(labels.to_numpy())[0]
    scores = {}
    for column in analysis_numeric_columns(frame, schema):
        scores[column] = _mi_pair(discretise_numeric(frame, column, rules), class_codes)
    for column in analysis_categorical_columns(frame, schema):
        scores[column] = _mi_pair(discretise_categorical(frame, column), class_codes)
    return dict(sorted(scores.items(), key=lambda item: -item[1]["mi_nats"]))


def cramers_v(first: pd.Series | np.ndarray, second: pd.Series | np.ndarray) -> float | None:
    """Cramér's V of two categorical variables, None when either has a single value."""
    table = pd.crosstab(np.asarray(first), np.asarray(second))
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None
    return round(float(association(table.to_numpy(), method="cramer")), 4)


def categorical_associations(frame: pd.DataFrame, schema: Schema, labels: pd.Series | None) -> dict:
    """Cramér's V of the KDD `flag` column with the class and the other categorical columns,
    and of each flag's presence with the class."""
    result: dict = {"categorical_flag_column": None, "flag_column_vs": {}, "flag_presence_vs_class": {}}
    flag_column = categorical_flag_column(schema)
    if flag_column is not None and flag_column in frame.columns:
        result["categorical_flag_column"] = flag_column
        states = frame[flag_column].astype(str)
        if labels is not None:
            result["flag_column_vs"]["class"] = cramers_v(states, labels)
        for other in analysis_categorical_columns(frame, schema):
            if other != flag_column:
                result["flag_column_vs"][other] = cramers_v(states, frame[other].astype(str))
    if labels is not None:
        presence = flag_presence(frame, schema)
        for flag in presence.columns:
            result["flag_presence_vs_class"][flag] = cramers_v(presence[flag], labels)
    return result


def mutual_information(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series | None,
                       class_skip: str | None) -> dict:
    """The whole MI section: flag-flag MI, feature-class MI (two classes needed), Cramér's V.

    `frame` is the seeded row sample; `class_skip` is why class analyses cannot run (or None).
    """
    return {
        "discretisation": DISCRETISATION,
        "between_flag_features": flag_feature_mi(frame, schema, rules),
        "feature_vs_class": None if class_skip else feature_class_mi(frame, schema, rules, labels),
        "feature_vs_class_skipped": class_skip,
        "cramers_v": categorical_associations(frame, schema, None if class_skip else labels),
    }
