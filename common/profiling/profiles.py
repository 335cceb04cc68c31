"""Profiling a flow table for the setup stage: what patterns/detected_patterns.json holds.

Each function takes the loaded frame (and the schema / rules where it needs them) and
returns plain JSON-ready dicts. Placeholder values (common.rules) are set apart before any
statistic of a measurement is taken: averaging an epoch timestamp into an inter-arrival
time would describe a value no flow has.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from common.data.flags import flag_presence
from common.rules import RuleSet
from common.data.schema import Schema

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HIGH_CORRELATION = 0.7
# A column is heavy-tailed when its upper tail is far from its bulk: a 99th percentile many
# times the median of its positive values (or a high skew with a moderately long tail).
HEAVY_TAIL_SKEW = 2.0
HEAVY_TAIL_RATIO = 20.0


def sample_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> tuple[pd.DataFrame, bool]:
    """A seeded row sample of at most `max_rows` rows, and whether sampling happened."""
    if len(frame) <= max_rows:
        return frame, False
    return frame.sample(n=max_rows, random_state=seed), True


def measured_values(frame: pd.DataFrame, column: str, rules: RuleSet) -> pd.Series:
    """Finite values of a numeric column with its placeholder values removed."""
    values = pd.to_numeric(frame[column], errors="coerce")
    placeholder = rules.placeholders.get(column)
    if placeholder is not None:
        values = values[~placeholder.is_placeholder(values)]
    return values[np.isfinite(values)]


def column_profile(frame: pd.DataFrame, column: str, schema: Schema, rules: RuleSet) -> dict[str, Any]:
    """Type, missing and zero shares, quantiles, skew and kurtosis of one column."""
    info = schema.columns[column]
    series = frame[column]
    profile: dict[str, Any] = {
        "kind": info.kind,
        "dtype": info.dtype,
        "distinct": info.distinct,
        "constant": info.constant,
        "missing_share": float(series.isna().mean()),
        "category": schema.category_of(column),
    }
    if info.kind not in ("count", "integer", "fraction", "continuous"):
        return profile
    numeric = pd.to_numeric(series, errors="coerce")
    profile["infinite_share"] = float(np.isinf(numeric).mean())
    profile["zero_share"] = float((numeric == 0).mean())
    placeholder = rules.placeholders.get(column)
    profile["placeholder_share"] = float(placeholder.is_placeholder(numeric).mean()) if placeholder else 0.0
    values = measured_values(frame, column, rules)
    if values.empty:
        return profile
    quantiles = values.quantile(QUANTILES)
    profile.update(
        {
            "min": float(values.min()),
            "max": float(values.max()),
            "mean": float(values.mean()),
            "std": float(values.std()) if len(values) > 1 else 0.0,
            "quantiles": {f"p{int(q * 100):02d}": float(v) for q, v in quantiles.items()},
            "skew": float(stats.skew(values)) if values.nunique() > 1 else 0.0,
            "kurtosis": float(stats.kurtosis(values)) if values.nunique() > 1 else 0.0,
        }
    )
    return profile


def tail_ratio(positive: np.ndarray) -> float | None:
    """p99 / median of a column's positive values, the heavy-tail criterion's ratio; None when
    there are too few of them (fewer than 10 values or 5 distinct ones) to judge."""
    positive = np.asarray(positive, dtype=float)
    if positive.size < 10 or np.unique(positive).size < 5:
        return None
    return float(np.quantile(positive, 0.99) / max(np.median(positive), 1e-12))


def heavy_tailed_columns(profiles: dict[str, dict[str, Any]], frame: pd.DataFrame, rules: RuleSet) -> list[dict]:
    """Non-negative columns whose measured values have a long right tail (log scale suggested)."""
    found = []
    for column, profile in profiles.items():
        # Fractions are bounded in [0, 1]: a skewed fraction is not a long tail a log helps.
        if "skew" not in profile or profile["kind"] == "fraction" or profile.get("min", -1) < 0 or profile["constant"]:
            continue
        values = measured_values(frame, column, rules)
        ratio = tail_ratio(values[values > 0].to_numpy(dtype=float))
        if ratio is None:
            continue
        if ratio > HEAVY_TAIL_RATIO or (profile["skew"] > HEAVY_TAIL_SKEW and ratio > HEAVY_TAIL_RATIO / 4):
            found.append(
                {
                    "column": column,
                    "skew": round(profile["skew"], 3),
                    "p99_over_median": round(ratio, 3),
                    "suggested_scale": "log1p",
                }
            )
    return found


def correlation_pairs(frame: pd.DataFrame, columns: list[str], threshold: float = HIGH_CORRELATION) -> dict[str, Any]:
    """Pearson and Spearman correlations, and the pairs with |r| above `threshold`.

    Constant columns are left out (their correlation is undefined).
    """
    usable = [c for c in columns if frame[c].nunique(dropna=True) > 1]
    numeric = frame[usable].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    result: dict[str, Any] = {"threshold": threshold, "columns": usable}
    for method in ("pearson", "spearman"):
        matrix = numeric.corr(method=method)
        pairs = []
        names = matrix.columns
        values = matrix.to_numpy()
        upper_i, upper_j = np.triu_indices(len(names), k=1)
        for i, j in zip(upper_i, upper_j):
            r = values[i, j]
            if np.isfinite(r) and abs(r) > threshold:
                pairs.append({"a": names[i], "b": names[j], "r": round(float(r), 4)})
        pairs.sort(key=lambda p: -abs(p["r"]))
        result[method] = pairs
    return result


def categorical_distributions(frame: pd.DataFrame, schema: Schema, top: int = 50) -> dict[str, Any]:
    """Value shares of label and categorical columns (the `top` most frequent values)."""
    distributions = {}
    for column in schema.categorical_columns:
        shares = frame[column].astype("string").fillna("<missing>").value_counts(normalize=True)
        distributions[column] = {
            "distinct": int(shares.size),
            "shares": {str(k): round(float(v), 6) for k, v in shares.head(top).items()},
        }
    return distributions


def tcp_flag_summary(frame: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Share of flows in which each flag appears, overall and per class."""
    presence = flag_presence(frame, schema)
    if presence.empty:
        return {"flags": [], "note": "no TCP flag columns recognised"}
    summary: dict[str, Any] = {
        "flags": list(presence.columns),
        "presence_share": {flag: round(float(presence[flag].mean()), 6) for flag in presence.columns},
    }
    if schema.target is not None:
        per_class = presence.groupby(frame[schema.target].astype(str)).mean()
        summary["presence_share_by_class"] = {
            cls: {flag: round(float(v), 6) for flag, v in row.items()} for cls, row in per_class.iterrows()
        }
    return summary


def clustering_summary(
    frame: pd.DataFrame, schema: Schema, rules: RuleSet, seed: int, max_rows: int = 20_000, k_range=range(2, 9)
) -> dict[str, Any]:
    """KMeans on scaled numeric features; k chosen by silhouette on a seeded sample.

    Placeholders become missing and missing values the column median, so a sentinel does not
    form a cluster of its own. Returns the chosen k, silhouette per k, cluster sizes and, when
    there is a class column, the class mix of each cluster.
    """
    columns = [c for c in schema.numeric_columns if not schema.columns[c].constant]
    if len(columns) < 2:
        return {"skipped": "fewer than two non-constant numeric columns"}
    sample, sampled = sample_rows(frame, max_rows, seed)
    features = sample[columns].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    for column, placeholder in rules.placeholders.items():
        if column in features:
            features.loc[placeholder.is_placeholder(features[column]), column] = np.nan
    features = features.fillna(features.median()).fillna(0.0)
    scaled = StandardScaler().fit_transform(features.to_numpy())
    distinct_rows = len(np.unique(scaled, axis=0))
    candidates = [k for k in k_range if k < distinct_rows]
    if not candidates:
        return {"skipped": f"only {distinct_rows} distinct rows"}
    silhouette_rows = min(len(scaled), 5_000)
    scores, models = {}, {}
    for k in candidates:
        model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(scaled)
        scores[k] = float(silhouette_score(scaled, model.labels_, sample_size=silhouette_rows, random_state=seed))
        models[k] = model
    best_k = max(scores, key=scores.get)
    labels = models[best_k].labels_
    summary: dict[str, Any] = {
        "method": "KMeans on standardised numeric features (placeholders as missing, missing as median)",
        "rows_used": len(sample),
        "sampled": sampled,
        "silhouette_by_k": {str(k): round(v, 4) for k, v in scores.items()},
        "best_k": best_k,
        "best_silhouette": round(scores[best_k], 4),
        "cluster_sizes": {str(c): int(n) for c, n in zip(*np.unique(labels, return_counts=True))},
    }
    if schema.target is not None:
        mix = pd.crosstab(labels, sample[schema.target].astype(str), normalize="index")
        summary["class_mix_by_cluster"] = {
            str(cluster): {cls: round(float(v), 4) for cls, v in row.items() if v > 0} for cluster, row in mix.iterrows()
        }
    return summary


def placeholder_findings(frame: pd.DataFrame, rules: RuleSet) -> list[dict[str, Any]]:
    """One entry per column with a placeholder: its value range, share, and the real range."""
    findings = []
    for column, placeholder in rules.placeholders.items():
        entry = placeholder.to_dict()
        entry["column"] = column
        entry["share"] = float(placeholder.is_placeholder(pd.to_numeric(frame[column], errors="coerce")).mean())
        findings.append(entry)
    return findings
