"""Network traffic patterns: timing, directional asymmetry, rate anomalies, header sizes, windows.

Columns are taken from the schema's feature categories (timing, rate, header_bytes, window)
and forward/backward pairs from name tokens (common.analysis.directions). Every statistic is
computed on real values only: placeholders (e.g. an epoch timestamp in an IAT column of a
one-packet direction), infinities and missing cells are counted apart and never averaged in.
These summaries are cheap (medians, quantiles, value counts), so they use every row.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import median_abs_deviation

from common.analysis.directions import direction_pairs
from common.analysis.values import FeatureValues, feature_values
from common.rules import RuleSet
from common.data.schema import Schema

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
ROBUST_Z_LIMIT = 3.5  # Iglewicz and Hoaglin's cut-off for modified z-scores
TUKEY_K = 1.5


def _round(value: float, digits: int = 6) -> float | None:
    return None if value is None or not np.isfinite(value) else float(np.round(value, digits))


def quantile_summary(values: np.ndarray) -> dict:
    """Count, mean and quantiles of the finite values in `values` (NaN ignored)."""
    real = values[~np.isnan(values)]
    if real.size == 0:
        return {"n": 0}
    points = np.quantile(real, QUANTILES)
    summary = {"n": int(real.size), "mean": _round(real.mean()), "min": _round(real.min()), "max": _round(real.max())}
    summary.update({f"p{int(q * 100):02d}": _round(p) for q, p in zip(QUANTILES, points)})
    return summary


def _groups(labels: pd.Series | None) -> dict[str, np.ndarray]:
    """Row positions of each class (sorted by name); empty without labels."""
    if labels is None:
        return {}
    codes, names = pd.factorize(labels.to_numpy(), sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {str(name): order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}


def _set_apart_summary(split: FeatureValues, rows: np.ndarray | slice = slice(None)) -> dict:
    n = max(int(np.asarray(split.values[rows]).size), 1)
    return {
        "placeholder_share": _round(split.placeholder[rows].sum() / n, 4),
        "infinite_share": _round(split.infinite[rows].sum() / n, 4),
        "missing_share": _round(split.missing[rows].sum() / n, 4),
    }


def category_columns(frame: pd.DataFrame, schema: Schema, category: str) -> list[str]:
    """Numeric columns of one feature category that are present and not constant."""
    numeric = set(schema.numeric_columns)
    members = schema.feature_categories.get(category, [])
    return [c for c in members if c in numeric and c in frame.columns and frame[c].nunique() > 1]


# ----------------------------------------------------------------------------- timing


def timing_distributions(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series | None) -> dict:
    """Quantiles of each timing column, overall and per class, placeholders counted apart."""
    groups = _groups(labels)
    result = {}
    for column in category_columns(frame, schema, "timing"):
        split = feature_values(frame, column, rules)
        placeholder_raw = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)[split.placeholder]
        result[column] = {
            "overall": {**quantile_summary(split.values), **_set_apart_summary(split)},
            "placeholder_values": ([_round(placeholder_raw.min()), _round(placeholder_raw.max())]
                                   if placeholder_raw.size else None),
            "zero_share": _round(float(np.mean(split.values[split.real] == 0)) if split.real.any() else np.nan, 4),
            "per_class": {name: {**quantile_summary(split.values[rows]), **_set_apart_summary(split, rows)}
                          for name, rows in groups.items()},
        }
    return result


# ----------------------------------------------------------------------------- direction


def _asymmetry_summary(forward: np.ndarray, backward: np.ndarray) -> dict:
    both = ~np.isnan(forward) & ~np.isnan(backward)
    f, b = forward[both], backward[both]
    if f.size == 0:
        return {"n": 0}
    total = np.abs(f) + np.abs(b)
    nonzero = total > 0
    index = (f[nonzero] - b[nonzero]) / total[nonzero]
    return {
        "n": int(f.size),
        "median_fwd": _round(np.median(f)),
        "median_bwd": _round(np.median(b)),
        "mean_fwd": _round(f.mean()),
        "mean_bwd": _round(b.mean()),
        "share_bwd_zero": _round(float(np.mean(b == 0)), 4),
        "share_fwd_greater": _round(float(np.mean(f > b)), 4),
        "median_asymmetry_index": _round(float(np.median(index)), 4) if index.size else None,
    }


def directional_asymmetry(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series | None) -> dict:
    """Forward vs backward for each column pair found by name tokens, overall and per class.

    The asymmetry index of a flow is (fwd - bwd) / (|fwd| + |bwd|): +1 only forward, -1 only
    backward, 0 balanced; flows with both zero are left out of it.
    """
    numeric = [c for c in schema.numeric_columns if c in frame.columns]
    groups = _groups(labels)
    result = {
        "pairing": "columns whose names differ only in fwd/forward vs bwd/backward",
        "index_definition": "(fwd - bwd) / (|fwd| + |bwd|), flows with both zero left out",
        "pairs": {},
    }
    for pair in direction_pairs(numeric):
        forward = feature_values(frame, pair.forward, rules).values
        backward = feature_values(frame, pair.backward, rules).values
        result["pairs"][pair.key] = {
            "forward": pair.forward,
            "backward": pair.backward,
            "category": schema.category_of(pair.forward),
            "overall": _asymmetry_summary(forward, backward),
            "per_class": {name: _asymmetry_summary(forward[rows], backward[rows]) for name, rows in groups.items()},
        }
    return result


# ----------------------------------------------------------------------------- rates


def robust_outliers(values: np.ndarray) -> dict:
    """Outliers of the real values by modified z-score, with fallbacks when the spread is zero.

    Robust z = (x - median) / (MAD * 1.4826); outliers have |z| > 3.5. When over half the
    values are equal the MAD is 0: Tukey's fences (1.5 IQR) are used; when the IQR is 0 as
    well, values other than the median are the outliers.
    """
    real = values[~np.isnan(values)]
    if real.size == 0:
        return {"n": 0}
    median = float(np.median(real))
    mad = float(median_abs_deviation(real, scale="normal"))
    if mad > 0:
        low, high = median - ROBUST_Z_LIMIT * mad, median + ROBUST_Z_LIMIT * mad
        method = f"robust z-score, |z| > {ROBUST_Z_LIMIT}"
        max_z = float(np.max(np.abs(real - median)) / mad)
    else:
        q1, q3 = np.quantile(real, [0.25, 0.75])
        iqr = q3 - q1
        low, high = q1 - TUKEY_K * iqr, q3 + TUKEY_K * iqr
        method = (f"Tukey fences ({TUKEY_K} IQR): MAD is 0" if iqr > 0
                  else "no spread (MAD and IQR 0): values other than the median")
        max_z = None
    outside = (real < low) | (real > high)
    return {
        "n": int(real.size),
        "median": _round(median),
        "mad_normal": _round(mad),
        "bounds": [_round(low), _round(high)],
        "method": method,
        "outlier_count": int(outside.sum()),
        "outlier_share": _round(float(outside.mean()), 4),
        "max_abs_robust_z": _round(max_z, 2) if max_z is not None else None,
    }


def rate_anomalies(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series | None) -> dict:
    """Robust outliers of each rate column within each class (and overall); infinities counted apart."""
    groups = _groups(labels)
    result = {}
    for column in category_columns(frame, schema, "rate"):
        split = feature_values(frame, column, rules)
        result[column] = {
            "overall": {**robust_outliers(split.values), **_set_apart_summary(split)},
            "per_class": {name: {**robust_outliers(split.values[rows]), **_set_apart_summary(split, rows)}
                          for name, rows in groups.items()},
        }
    return result


# ----------------------------------------------------------------------------- headers, windows


def top_values(values: np.ndarray, top: int) -> list[dict]:
    """The most frequent real values with their share of the real values."""
    real = values[~np.isnan(values)]
    if real.size == 0:
        return []
    counts = pd.Series(real).value_counts()
    return [{"value": _round(v), "share": _round(c / real.size, 4)} for v, c in counts.head(top).items()]


def value_profile(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series | None,
                  category: str, top: int) -> dict:
    """Most frequent values and quantiles of each column of a category, overall and per class."""
    groups = _groups(labels)
    result = {}
    for column in category_columns(frame, schema, category):
        split = feature_values(frame, column, rules)
        per_class = {}
        for name, rows in groups.items():
            values = split.values[rows]
            per_class[name] = {
                "top_values": top_values(values, top),
                "distinct": int(pd.Series(values).nunique()),
                "median": quantile_summary(values).get("p50"),
                **_set_apart_summary(split, rows),
            }
        result[column] = {
            "overall": {"top_values": top_values(split.values, top), **quantile_summary(split.values),
                        **_set_apart_summary(split)},
            "per_class": per_class,
        }
    return result


def header_size_distributions(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None,
                              labels: pd.Series | None) -> dict:
    """Header-byte columns: TCP header lengths are few discrete values (20 + options), so the most
    frequent values say which options a tool or OS sets."""
    return value_profile(frame, schema, rules, labels, "header_bytes", top=8)


def initial_windows(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series | None) -> dict:
    """Initial-window values per class: a tool or OS fingerprint (one dominant value per tool)."""
    profile = value_profile(frame, schema, rules, labels, "window", top=5)
    for column in profile.values():
        for entry in column["per_class"].values():
            entry["dominant_value_share"] = entry["top_values"][0]["share"] if entry["top_values"] else None
    return profile


def traffic_patterns(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series | None) -> dict:
    """The whole traffic section (see the module docstring)."""
    return {
        "timing": timing_distributions(frame, schema, rules, labels),
        "directional_asymmetry": directional_asymmetry(frame, schema, rules, labels),
        "rate_anomalies": rate_anomalies(frame, schema, rules, labels),
        "header_sizes": header_size_distributions(frame, schema, rules, labels),
        "initial_windows": initial_windows(frame, schema, rules, labels),
    }
