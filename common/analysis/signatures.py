"""Attack signatures: for each class, the features that set it apart from benign traffic.

For every class and every feature the class's values are compared with the reference class
(benign traffic, see common.analysis.groups): medians and interquartile ranges, Cliff's delta
(from scipy's Mann-Whitney U: delta = 2U / (n1 n2) - 1, in [-1, 1], positive when the class's
values tend to be larger) and the two-sample Kolmogorov-Smirnov statistic (scipy).
Placeholder values (common.rules) and infinities are set apart: they never enter a median or
a test; how often they occur is reported beside (a direction with a single packet is itself a
signature). Categorical columns (e.g. KDD `flag`, `service`) enter as 0/1 indicators of their
most frequent values ("flag=S0").

Features are ranked by |Cliff's delta| (ties by KS statistic); features with a negligible
effect (|delta| < 0.147, Romano et al. 2006) are not listed. To keep one signature from being
eight copies of one fact (three SYN-share columns, five header-length columns), the first
pass takes the best feature of each group that has a large effect (|delta| >= 0.474; each TCP
flag is a group, other columns group by feature category), a second the best of each group
not yet named, and a third fills the remaining places by rank.

Used by tcp_pattern_analyzer.py and by the evaluation (signatures of real vs synthetic data).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, mannwhitneyu

from common.analysis.groups import find_reference, two_class_problem
from common.analysis.values import (
    analysis_categorical_columns, analysis_numeric_columns, class_capped_sample, feature_values,
)
from common.core.errors import UserError
from common.data.flags import flag_columns
from common.rules import RuleSet
from common.data.schema import Schema

NEGLIGIBLE_DELTA = 0.147
LARGE_DELTA = 0.474  # Romano et al.'s threshold of a large effect
SUMMARY_FEATURES = 4
TOP_LEVELS = 3
MIN_VALUES = 2
PLACEHOLDER_SHARE_GAP = 0.2


def cliffs_delta(values: np.ndarray, reference: np.ndarray) -> float:
    """Cliff's delta of `values` against `reference` via the Mann-Whitney U statistic (scipy)."""
    statistic = mannwhitneyu(values, reference, alternative="two-sided", method="asymptotic").statistic
    return float(2.0 * statistic / (values.size * reference.size) - 1.0)


def _iqr(values: np.ndarray) -> list[float]:
    q25, q75 = np.quantile(values, [0.25, 0.75])
    return [float(q25), float(q75)]


def compare_values(values: np.ndarray, reference: np.ndarray) -> dict | None:
    """Medians, IQRs, Cliff's delta and KS of two samples of real values; None if either is too small."""
    if values.size < MIN_VALUES or reference.size < MIN_VALUES:
        return None
    with warnings.catch_warnings():
        # Constant samples make scipy warn about precision; the statistic is still right.
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = ks_2samp(values, reference, method="asymp")
        delta = cliffs_delta(values, reference)
    return {
        "class_median": float(np.median(values)),
        "class_iqr": _iqr(values),
        "reference_median": float(np.median(reference)),
        "reference_iqr": _iqr(reference),
        "cliffs_delta": round(delta, 4),
        "ks_statistic": round(float(ks.statistic), 4),
        "ks_pvalue": float(ks.pvalue),
        "class_mean": float(values.mean()),
        "reference_mean": float(reference.mean()),
        "class_n": int(values.size),
        "reference_n": int(reference.size),
    }


def _feature_groups(frame: pd.DataFrame, schema: Schema) -> dict[str, str]:
    """Column -> group used for variety: the flag name for flag columns, else the feature category."""
    groups = {item.column: f"{item.flag} flag" for item in flag_columns(schema) if item.column in frame.columns}
    for column in frame.columns:
        if column not in groups:
            groups[column] = schema.category_of(column) or "other"
    return groups


def _numeric_candidates(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, in_class: np.ndarray,
                        in_reference: np.ndarray) -> tuple[list[dict], dict]:
    """Comparisons of every numeric feature, and the columns whose placeholder share differs markedly."""
    entries, placeholder_gaps = [], {}
    for column in analysis_numeric_columns(frame, schema):
        split = feature_values(frame, column, rules)
        real = split.real
        comparison = compare_values(split.values[in_class & real], split.values[in_reference & real])
        class_share = float(split.placeholder[in_class].mean())
        reference_share = float(split.placeholder[in_reference].mean())
        if abs(class_share - reference_share) >= PLACEHOLDER_SHARE_GAP:
            placeholder_gaps[column] = {"class_share": round(class_share, 4),
                                        "reference_share": round(reference_share, 4)}
        if comparison is not None:
            entries.append({"feature": column, "kind": "numeric", **comparison,
                            "class_placeholder_share": round(class_share, 4),
                            "reference_placeholder_share": round(reference_share, 4)})
    return entries, placeholder_gaps


def _categorical_candidates(frame: pd.DataFrame, schema: Schema, in_class: np.ndarray,
                            in_reference: np.ndarray) -> list[dict]:
    """0/1 indicators of the most frequent levels (in the class and in the reference) of each categorical column."""
    entries = []
    for column in analysis_categorical_columns(frame, schema):
        text = frame[column].astype(str).to_numpy()
        levels = set(pd.Series(text[in_class]).value_counts().index[:TOP_LEVELS])
        levels |= set(pd.Series(text[in_reference]).value_counts().index[:TOP_LEVELS])
        for level in sorted(levels):
            indicator = (text == level).astype(float)
            comparison = compare_values(indicator[in_class], indicator[in_reference])
            if comparison is not None:
                entries.append({"feature": f"{column}={level}", "kind": "indicator", "column": column, **comparison})
    return entries


def select_features(entries: list[dict], groups: dict[str, str], max_features: int) -> list[dict]:
    """Non-negligible features, in three passes: the best of each group with a large effect, then
    the best of each group not yet named, then the rest by rank.

    The order is kept (not re-sorted by effect), so the first few features, the ones the
    summary line names, describe different aspects of the class.
    """
    ranked = sorted(
        (e for e in entries if abs(e["cliffs_delta"]) >= NEGLIGIBLE_DELTA),
        key=lambda e: (-abs(e["cliffs_delta"]), -e["ks_statistic"]),
    )
    chosen: list[dict] = []
    seen_groups: set[str] = set()
    passes = (
        lambda entry, group: group not in seen_groups and abs(entry["cliffs_delta"]) >= LARGE_DELTA,
        lambda entry, group: group not in seen_groups,
        lambda entry, group: True,
    )
    for admits in passes:
        for entry in ranked:
            if len(chosen) >= max_features:
                return chosen
            group = groups.get(entry.get("column", entry["feature"]), "other")
            if entry not in chosen and admits(entry, group):
                chosen.append(entry)
                seen_groups.add(group)
    return chosen


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def describe_feature(entry: dict, flag_names: dict[str, str]) -> str:
    """One phrase for one feature, e.g. "SYN: syn_flag_percentage_in_total ≈ 1 (benign 0.1)"."""
    name = entry["feature"]
    if entry["kind"] == "indicator":
        return f"{name} in {entry['class_mean']:.0%} of flows ({entry['reference_mean']:.0%})"
    prefix = f"{flag_names[name]}: " if name in flag_names else ""
    return f"{prefix}{name} ≈ {_number(entry['class_median'])} ({_number(entry['reference_median'])})"


def summary_line(class_name: str, reference: str, features: list[dict], placeholder_gaps: dict,
                 flag_names: dict[str, str]) -> str:
    """One readable line: the class, its strongest differences, reference values in brackets."""
    if not features and not placeholder_gaps:
        return f"{class_name}: no feature differs by more than a negligible effect from {reference}"
    phrases = [describe_feature(entry, flag_names) for entry in features[:SUMMARY_FEATURES]]
    if placeholder_gaps:
        column, shares = max(placeholder_gaps.items(),
                             key=lambda item: abs(item[1]["class_share"] - item[1]["reference_share"]))
        phrases.append(f"'not applicable' placeholder in {column} in {shares['class_share']:.0%} of flows "
                       f"({shares['reference_share']:.0%})")
    return f"{class_name}: " + "; ".join(phrases) + f" [in brackets: {reference}]"


def class_signature(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, class_name: str,
                    in_class: np.ndarray, in_reference: np.ndarray, reference_name: str, max_features: int) -> dict:
    """The signature of one class against the given reference rows."""
    numeric, placeholder_gaps = _numeric_candidates(frame, schema, rules, in_class, in_reference)
    entries = numeric + _categorical_candidates(frame, schema, in_class, in_reference)
    features = select_features(entries, _feature_groups(frame, schema), max_features)
    flag_names = {item.column: item.flag for item in flag_columns(schema)}
    return {
        "features": features,
        "placeholder_shares": placeholder_gaps,
        "class_rows": int(in_class.sum()),
        "reference_rows": int(in_reference.sum()),
        "summary": summary_line(class_name, reference_name, features, placeholder_gaps, flag_names),
    }


def _check_parameters(max_features: int, sample_rows: int) -> None:
    if not isinstance(max_features, int) or max_features < 1:
        raise UserError(f"max_features must be a positive integer (got {max_features!r})")
    if not isinstance(sample_rows, int) or sample_rows < 2:
        raise UserError(f"sample_rows must be an integer of at least 2 (got {sample_rows!r})")


def attack_signatures(
    frame: pd.DataFrame,
    schema: Schema,
    rules: RuleSet | None = None,
    reference_class: str | None = None,
    max_features: int = 8,
    sample_rows: int = 200_000,
    seed: int = 0,
) -> dict:
    """Per-class signatures against the reference (benign) class.

    Parameters
    ----------
    frame : the flow table (identifier columns may be present; they are ignored).
    schema : its Schema (the class column is `schema.target`).
    rules : detected rules; their placeholders are set apart. None: nothing is set apart
        except infinities and missing cells.
    reference_class : a value of the class column (or of another label column, e.g. `label` =
        Benign); None finds the benign class (see common.analysis.groups). A given value that
        no row holds (e.g. synthetic data without benign rows) makes the result "skipped".
    max_features : features listed per class.
    sample_rows : the comparison runs on a seeded sample of at most this many rows in which
        rare classes keep all their rows.
    seed : seed of that sample.

    Returns
    -------
    {"reference_class": str | None, "reference_column": str | None, "reference_reason": str,
     "sampling": {...}, "classes": {class: {"features": [{"feature", "class_median",
     "class_iqr", "reference_median", "reference_iqr", "cliffs_delta", "ks_statistic",
     "ks_pvalue", ...}], "summary": str, ...}}, "skipped": None | reason}.
    A class whose rows all belong to the reference is compared with the other reference rows
    (Benign-SSH against the other benign traffic); the reference itself is not listed.
    """
    _check_parameters(max_features, sample_rows)
    skipped = two_class_problem(frame, schema)
    if skipped:
        return {"reference_class": None, "classes": {}, "skipped": skipped}
    try:
        reference = find_reference(frame, schema, reference_class)  # on every row: the majority is a whole-table fact
    except UserError as error:
        if reference_class is None:
            raise
        # A synthesizer may generate no row of the reference class: say so instead of failing.
        return {"reference_class": reference_class, "classes": {}, "skipped": str(error)}
    sample, sampling = class_capped_sample(frame, schema.target, sample_rows, seed)
    sample = sample.reset_index(drop=True)
    in_reference_all = sample[reference.column].astype(str).isin(reference.values).to_numpy()
    labels = sample[schema.target].astype(str).to_numpy()
    classes = {}
    for class_name in sorted(pd.unique(labels)):
        in_class = labels == class_name
        in_reference = in_reference_all & ~in_class
        if not in_reference.any():
            continue  # the class is the reference itself
        compared_with = f"other {reference.name} rows" if in_reference_all[in_class].all() else reference.name
        classes[class_name] = class_signature(sample, schema, rules, class_name, in_class, in_reference,
                                              compared_with, max_features)
        classes[class_name]["compared_with"] = compared_with
    return {
        "reference_class": reference.name,
        "reference_column": reference.column,
        "reference_reason": reference.reason,
        "sampling": sampling,
        "classes": classes,
        "skipped": None,
    }
