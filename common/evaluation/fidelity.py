"""Fidelity: how closely a candidate table (synthetic, or the holdout as the ceiling) follows
the real training rows, column by column, in pairs and in its correlation structure.

Every comparison is candidate vs the TRAIN split, the rows the models learned from.
Libraries do the measuring: scipy (KS statistic, Wasserstein distance), sdmetrics
(TVComplement, QualityReport, DiagnosticReport) and pandas (Pearson, Spearman).

Placeholder cells (common.rules placeholder rules, e.g. an epoch timestamp in an IAT column
of a one-packet direction) are not measurements: per-column statistics, shapes and
correlations use the measured values only, and placeholder shares are reported by
common.evaluation.validity.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from common.evaluation.sections import (
    ColumnFidelity, ColumnSummary, CorrelationComparison, CorrelationFigures, QualityScores,
)
from common.evaluation.tables import TABLE_NAME, EvaluationInputs, measured, seeded_sample

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
STATISTICS = ("mean", "std", "min", "max") + tuple(f"q{int(q * 100):02d}" for q in QUANTILES)
STRONG_CORRELATION = 0.7
# Costly metrics run on a seeded sample of at most this many rows per table (said in the JSON).
QUALITY_REPORT_ROWS = 5_000
CORRELATION_ROWS = 20_000
WORST_COLUMNS = 8


# ----------------------------------------------------------------------------- one column


def describe_values(values: np.ndarray) -> dict[str, float | None]:
    """Mean, std, min, max and QUANTILES of finite values (all None when there are none)."""
    if values.size == 0:
        return {name: None for name in STATISTICS}
    summary = {
        "mean": float(np.mean(values)),
        "std": float(np.std(values, ddof=1)) if values.size > 1 else 0.0,
        "min": float(np.min(values)),
        "max": float(np.max(values)),
    }
    for q, value in zip(QUANTILES, np.quantile(values, QUANTILES)):
        summary[f"q{int(q * 100):02d}"] = float(value)
    return summary


def relative_difference(real: float | None, candidate: float | None) -> float | None:
    """(candidate - real) / |real|; None when undefined (a side missing, or real == 0 while
    the candidate differs — the absolute difference says it then)."""
    if real is None or candidate is None:
        return None
    if real == 0:
        return 0.0 if candidate == 0 else None
    return (candidate - real) / abs(real)


def compare_statistics(real: dict[str, float | None], candidate: dict[str, float | None]) -> dict[str, Any]:
    """Per statistic: real, candidate, absolute and relative difference."""
    compared = {}
    for name in STATISTICS:
        r, c = real[name], candidate[name]
        compared[name] = {
            "real": r,
            "synthetic": c,
            "absolute_difference": None if r is None or c is None else c - r,
            "relative_difference": relative_difference(r, c),
        }
    return compared


def shape_distances(real: np.ndarray, candidate: np.ndarray) -> dict[str, float | None]:
    """Two-sample KS statistic and p-value, and the Wasserstein distance divided by the real
    range (so 0.05 means "5% of the real range"); a constant real column is scaled by
    max(|value|, 1) instead. None when either side has no values."""
    if real.size == 0 or candidate.size == 0:
        return {"ks_statistic": None, "ks_pvalue": None, "wasserstein": None, "wasserstein_normalised": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exact p-value not computable: scipy falls back to asymp
        ks = stats.ks_2samp(real, candidate)
    distance = float(stats.wasserstein_distance(real, candidate))
    spread = float(np.max(real) - np.min(real))
    scale = spread if spread > 0 else max(abs(float(real[0])), 1.0)
    return {
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "wasserstein": distance,
        "wasserstein_normalised": distance / scale,
    }


def numeric_column_fidelity(real: pd.Series, candidate: pd.Series, rule) -> dict[str, Any]:
    """Statistics and shape of one numeric column, placeholders set apart (see module doc)."""
    real_values, candidate_values = measured(real, rule), measured(candidate, rule)
    result: dict[str, Any] = {
        "placeholders_excluded": rule is not None,
        "values_compared": {"real": int(real_values.size), "synthetic": int(candidate_values.size)},
        "missing_share": {"real": float(real.isna().mean()), "synthetic": float(candidate.isna().mean())},
        "statistics": compare_statistics(describe_values(real_values), describe_values(candidate_values)),
    }
    result.update(shape_distances(real_values, candidate_values))
    return result


def categorical_column_fidelity(real: pd.Series, candidate: pd.Series) -> dict[str, Any]:
    """Total variation distance (1 - sdmetrics TVComplement) and per-category frequencies.

    Missing values count as their own category "<missing>" on both sides.
    """
    from sdmetrics.single_column import TVComplement

    real_text = real.astype(object).where(real.notna(), "<missing>")
    candidate_text = candidate.astype(object).where(candidate.notna(), "<missing>")
    real_share = real_text.value_counts(normalize=True)
    candidate_share = candidate_text.value_counts(normalize=True)
    categories = list(real_share.index) + [c for c in candidate_share.index if c not in real_share.index]
    return {
        "total_variation_distance": float(1.0 - TVComplement.compute(real_text, candidate_text)),
        "frequencies": {
            str(category): {"real": float(real_share.get(category, 0.0)),
                            "synthetic": float(candidate_share.get(category, 0.0))}
            for category in categories
        },
        "categories_never_generated": [str(c) for c in real_share.index if c not in candidate_share.index],
        "categories_not_in_real": [str(c) for c in candidate_share.index if c not in real_share.index],
    }


def column_fidelity(inputs: EvaluationInputs, candidate: pd.DataFrame) -> ColumnFidelity:
    """Per-column comparison of `candidate` with the train rows ({column: {...}} for numeric and
    categorical columns), plus a summary."""
    numeric = {
        column: numeric_column_fidelity(inputs.train[column], candidate[column], inputs.placeholder(column))
        for column in inputs.numeric_columns
    }
    categorical = {
        column: categorical_column_fidelity(inputs.train[column], candidate[column])
        for column in inputs.discrete_columns
    }
    ks = {c: v["ks_statistic"] for c, v in numeric.items() if v["ks_statistic"] is not None}
    wasserstein = [v["wasserstein_normalised"] for v in numeric.values() if v["wasserstein_normalised"] is not None]
    tvd = [v["total_variation_distance"] for v in categorical.values()]
    worst = sorted(ks, key=ks.get, reverse=True)[:WORST_COLUMNS]
    summary = ColumnSummary(
        mean_ks_statistic=float(np.mean(list(ks.values()))) if ks else None,
        median_ks_statistic=float(np.median(list(ks.values()))) if ks else None,
        # The median resists one column of stranded values 1e7 ranges away; the mean is kept too.
        mean_wasserstein_normalised=float(np.mean(wasserstein)) if wasserstein else None,
        median_wasserstein_normalised=float(np.median(wasserstein)) if wasserstein else None,
        mean_total_variation_distance=float(np.mean(tvd)) if tvd else None,
        largest_ks_columns=[{"column": c, "ks_statistic": ks[c]} for c in worst],
    )
    return ColumnFidelity(numeric, categorical, summary)


# ----------------------------------------------------------------------------- sdmetrics reports


def _property_scores(report) -> dict[str, float | None]:
    scores = report.get_properties()
    return {row.Property: (None if pd.isna(row.Score) else float(row.Score)) for row in scores.itertuples()}


def sdtype_counts(metadata: dict[str, Any] | None) -> dict[str, int]:
    """How many columns of each sdtype a metadata dict describes."""
    counts: dict[str, int] = {}
    for table in (metadata or {}).get("tables", {}).values():
        for spec in table.get("columns", {}).values():
            counts[spec.get("sdtype", "?")] = counts.get(spec.get("sdtype", "?"), 0) + 1
    return dict(sorted(counts.items()))


def quality_reports(inputs: EvaluationInputs, candidate: pd.DataFrame,
                    metadata: dict[str, Any] | None = None) -> QualityScores:
    """sdmetrics QualityReport and DiagnosticReport of `candidate` against the train rows,
    under `metadata` (default: the project's, `inputs.metadata`; `detected_metadata(train)` for
    the figure a plain-SDV user computes).

    Uses the unified `sdmetrics.reports` classes (the `sdmetrics.reports.single_table` ones
    are deprecated in 0.32 and warn); they take {table: frame} dicts and the metadata dict.
    Column Pair Trends in 0.32 averages only the pairs whose REAL correlation exceeds 0.5
    (or association 0.3): "pairs_contributing" says how many; "all_pairs_mean" is the plain
    mean over every pair. Both tables are seeded samples of at most QUALITY_REPORT_ROWS rows.
    """
    from sdmetrics.reports import DiagnosticReport, QualityReport

    real_rows, real_note = seeded_sample(inputs.train, QUALITY_REPORT_ROWS, inputs.seed)
    candidate_rows, candidate_note = seeded_sample(candidate, QUALITY_REPORT_ROWS, inputs.seed)
    real_tables, candidate_tables = {TABLE_NAME: real_rows}, {TABLE_NAME: candidate_rows}
    metadata = inputs.metadata if metadata is None else metadata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sdmetrics warns per constant column and per pair
        quality = QualityReport()
        quality.generate(real_tables, candidate_tables, metadata, verbose=False)
        diagnostic = DiagnosticReport()
        diagnostic.generate(real_tables, candidate_tables, metadata, verbose=False)
    properties = _property_scores(quality)
    shapes = quality.get_details("Column Shapes")
    pairs = quality.get_details("Column Pair Trends")
    contributing = pairs["Meets Threshold?"].astype("boolean").fillna(False) if "Meets Threshold?" in pairs else None
    diagnostic_properties = _property_scores(diagnostic)
    return QualityScores(
        overall=float(quality.get_score()),
        column_shapes=properties.get("Column Shapes"),
        column_pair_trends=properties.get("Column Pair Trends"),
        pairs_total=int(len(pairs)),
        pairs_contributing=int(contributing.sum()) if contributing is not None else int(len(pairs)),
        all_pairs_mean=float(pairs["Score"].mean()) if len(pairs) and pairs["Score"].notna().any() else None,
        column_shape_scores={
            str(row.Column): (None if pd.isna(row.Score) else float(row.Score)) for row in shapes.itertuples()
        },
        diagnostic_overall=float(diagnostic.get_score()),
        data_validity=diagnostic_properties.get("Data Validity"),
        data_structure=diagnostic_properties.get("Data Structure"),
        sample={"real": real_note.to_dict(), "synthetic": candidate_note.to_dict()},
    )


PER_CLASS_MIN_ROWS = 5


def per_class_fidelity(inputs: EvaluationInputs, candidate: pd.DataFrame) -> dict[str, Any]:
    """Quality of each class's synthetic rows against that class's train rows (SDV-detected
    metadata): the figure that means something when the class mix was chosen, not copied.

    Returns {"metadata": ..., "classes": {class: {train_rows, synthetic_rows, quality_overall,
    column_shapes, column_pair_trends} or {"skipped": reason}}}.
    """
    target = inputs.target
    if target is None:
        return {"skipped": "no class column"}
    classes: dict[str, Any] = {}
    train_labels = inputs.train[target].astype(str)
    candidate_labels = candidate[target].astype(str)
    for label in sorted(set(train_labels) | set(candidate_labels)):
        real_rows = inputs.train[train_labels == label]
        synthetic_rows = candidate[candidate_labels == label]
        entry: dict[str, Any] = {"train_rows": int(len(real_rows)), "synthetic_rows": int(len(synthetic_rows))}
        if min(len(real_rows), len(synthetic_rows)) < PER_CLASS_MIN_ROWS:
            entry["skipped"] = f"fewer than {PER_CLASS_MIN_ROWS} rows on one side"
        else:
            real_class = EvaluationInputs(real_rows.reset_index(drop=True), real_rows.iloc[:0], inputs.schema,
                                          inputs.rules, inputs.metadata, inputs.seed, inputs.numeric_columns,
                                          inputs.discrete_columns, inputs.detected_metadata)
            quality = quality_reports(real_class, synthetic_rows.reset_index(drop=True), inputs.detected_metadata)
            entry.update(quality_overall=quality.overall, column_shapes=quality.column_shapes,
                         column_pair_trends=quality.column_pair_trends)
        classes[label] = entry
    return {"metadata": "SDV-detected (Metadata.detect_from_dataframes on the train rows)", "classes": classes}


# ----------------------------------------------------------------------------- correlations


def measured_frame(frame: pd.DataFrame, inputs: EvaluationInputs, columns: list[str]) -> pd.DataFrame:
    """Numeric columns with placeholder cells as NaN (pandas correlates pairwise-complete rows)."""
    result = frame[columns].copy()
    for column in columns:
        rule = inputs.placeholder(column)
        if rule is not None:
            result.loc[np.asarray(rule.is_placeholder(result[column]), dtype=bool), column] = np.nan
    return result


def correlation_columns(inputs: EvaluationInputs) -> list[str]:
    """Numeric columns that vary in the train rows (a constant column has no correlation)."""
    frame = measured_frame(inputs.train, inputs, inputs.numeric_columns)
    return [c for c in inputs.numeric_columns if frame[c].nunique(dropna=True) > 1]


def _upper_pairs(matrix: pd.DataFrame) -> np.ndarray:
    values = matrix.to_numpy(dtype=float)
    return values[np.triu_indices_from(values, k=1)]


def compare_correlations(real: pd.DataFrame, candidate: pd.DataFrame) -> CorrelationComparison:
    """Mean and max |r_candidate - r_real| over column pairs, and how many strongly correlated
    real pairs (|r| > STRONG_CORRELATION) stay strong with the same sign in the candidate."""
    real_pairs, candidate_pairs = _upper_pairs(real), _upper_pairs(candidate)
    defined = np.isfinite(real_pairs) & np.isfinite(candidate_pairs)
    differences = np.abs(candidate_pairs - real_pairs)[defined]
    strong = np.isfinite(real_pairs) & (np.abs(real_pairs) > STRONG_CORRELATION)
    with np.errstate(invalid="ignore"):
        kept = strong & (np.abs(candidate_pairs) > STRONG_CORRELATION) & (np.sign(candidate_pairs) == np.sign(real_pairs))
    return CorrelationComparison(
        mean_absolute_difference=float(differences.mean()) if differences.size else None,
        max_absolute_difference=float(differences.max()) if differences.size else None,
        pairs_compared=int(defined.sum()),
        pairs_undefined_in_synthetic=int((np.isfinite(real_pairs) & ~np.isfinite(candidate_pairs)).sum()),
        strong_threshold=STRONG_CORRELATION,
        strong_real_count=int(strong.sum()),
        strong_kept_count=int(kept.sum()),
        strong_kept_share=float(kept.sum() / strong.sum()) if strong.sum() else None,
    )


def correlation_matrices(frame: pd.DataFrame, inputs: EvaluationInputs, columns: list[str]) -> dict[str, pd.DataFrame]:
    """Pearson and Spearman matrices of `columns` (placeholders as NaN, seeded row sample)."""
    rows, _ = seeded_sample(frame, CORRELATION_ROWS, inputs.seed)
    values = measured_frame(rows, inputs, columns)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # constant slices in the candidate give NaN, reported as undefined
        return {"pearson": values.corr(method="pearson"), "spearman": values.corr(method="spearman")}


def correlation_structure(
    inputs: EvaluationInputs, candidate: pd.DataFrame, real_matrices: dict[str, pd.DataFrame], columns: list[str]
) -> tuple[CorrelationFigures, dict[str, pd.DataFrame]]:
    """Compare the candidate's Pearson and Spearman matrices of `columns` with the train's.

    Returns (the comparison, the candidate's matrices for plotting).
    """
    candidate_matrices = correlation_matrices(candidate, inputs, columns)
    figures = CorrelationFigures(
        pearson=compare_correlations(real_matrices["pearson"], candidate_matrices["pearson"]),
        spearman=compare_correlations(real_matrices["spearman"], candidate_matrices["spearman"]),
        sample=seeded_sample(candidate, CORRELATION_ROWS, inputs.seed)[1].to_dict(),
    )
    return figures, candidate_matrices


def matrix_payload(matrix: pd.DataFrame) -> list[list[float | None]]:
    """A correlation matrix as nested lists (4 decimals, NaN as null) for the JSON."""
    return [[None if not np.isfinite(v) else round(float(v), 4) for v in row] for row in matrix.to_numpy(dtype=float)]
