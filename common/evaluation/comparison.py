"""Headline figures of each model beside the holdout ceiling, and the recommendation.

Recommendation rule (documented in the JSON as `rule`):
  score = 0.4 * sdmetrics quality (overall, under SDV's auto-detected metadata: the figure a
          plain-SDV user computes) + 0.3 * share of rows valid under every rule
          + 0.3 * min(1, TSTR macro-F1 / TRTR macro-F1)
When utility is skipped (one class, no class column) the two other weights are rescaled to
sum to 1. A model whose sdmetrics DCROverfittingProtection score is below 0.5 (more than 75%
of its rows closer to train than to holdout) is only recommended when every model is.
"""
from __future__ import annotations

from typing import Any

from common.evaluation.sections import (
    ColumnSummary, CorrelationFigures, DistanceSummary, FlagComparison, ModelEvaluation, NewRowSynthesisScore,
    PlaceholderComparison, QualityScores, SignatureCheck,
)

WEIGHTS = {"quality": 0.4, "validity": 0.3, "utility": 0.3}
PRIVACY_FLOOR = 0.5
RULE_TEXT = (
    "score = 0.4 * sdmetrics QualityReport overall (SDV-detected metadata) + 0.3 * share of rows valid under "
    "every detected rule "
    "+ 0.3 * min(1, TSTR macro-F1 / TRTR macro-F1); weights rescaled over the available terms when utility "
    "is skipped; a model with sdmetrics DCROverfittingProtection below 0.5 is recommended only if every model is"
)

# (key, label, how to show it, better: "higher" / "lower" / "closer" to the ceiling / None)
ATTACK_NAMES = ("singling_out", "linkability", "inference")   # common.evaluation.attacks

HEADLINE_ROWS: list[tuple[str, str, str, str | None]] = [
    ("score", "Recommendation score", "score", "higher"),
    ("quality_overall", "sdmetrics quality (SDV-detected metadata)", "percent", "higher"),
    ("column_shapes", "  Column Shapes", "percent", "higher"),
    ("column_pair_trends", "  Column Pair Trends", "percent", "higher"),
    ("quality_overall_project", "sdmetrics quality (project metadata)", "percent", "higher"),
    ("class_share_error", "Class share error (max |Δ|)", "percent", "lower"),
    ("diagnostic_overall", "sdmetrics diagnostic (overall)", "percent", "higher"),
    ("mean_ks_statistic", "Mean KS statistic (numeric)", "number", "lower"),
    ("median_wasserstein_normalised", "Median Wasserstein / range", "number", "lower"),
    ("mean_total_variation_distance", "Mean TV distance (categorical)", "number", "lower"),
    ("pearson_mean_absolute_difference", "Pearson |Δr| mean", "number", "lower"),
    ("spearman_mean_absolute_difference", "Spearman |Δr| mean", "number", "lower"),
    ("strong_pairs_kept_share", "Strong pairs (|r|>0.7) kept", "percent", "higher"),
    ("rules_valid_share", "Rows valid under every rule", "percent", "higher"),
    ("rules_violated", "Rules violated by any row", "integer", "lower"),
    ("placeholder_share_difference", "Placeholder share |Δ| mean", "percent", "lower"),
    ("stranded_share", "Stranded values (mean share)", "percent", "lower"),
    ("flag_cooccurrence_difference", "Flag co-occurrence |Δ| mean", "number", "lower"),
    ("signatures_kept_share", "Signature medians in real IQR", "percent", "higher"),
    ("accuracy", "Accuracy (TSTR; ceiling TRTR)", "percent", "higher"),
    ("macro_f1", "Macro-F1 (TSTR; ceiling TRTR)", "percent", "higher"),
    ("tstr_to_trtr", "TSTR / TRTR macro-F1", "ratio", "higher"),
    ("dcr_median", "DCR to train, median", "number", None),
    ("dcr_p05", "DCR to train, 5th percentile", "number", None),
    ("closer_to_train_share", "Rows closer to train than holdout", "percent", None),
    ("overfitting_protection", "DCROverfittingProtection", "percent", "higher"),
    ("exact_copy_share", "Exact copies of train rows", "percent", None),
    ("new_row_synthesis", "NewRowSynthesis", "percent", None),
    ("singling_out_risk", "Singling-out risk (anonymeter)", "percent", "lower"),
    ("linkability_risk", "Linkability risk (anonymeter)", "percent", "lower"),
    ("inference_risk", "Class inference risk (anonymeter)", "percent", "lower"),
    ("fit_seconds", "Training time (s)", "seconds", None),
    ("evaluation_seconds", "Evaluation time (s)", "seconds", None),
]


def _headline_figures(
    quality_detected: QualityScores, quality: QualityScores, columns: ColumnSummary, correlations: CorrelationFigures,
    valid_share: float, placeholders: PlaceholderComparison, flags: FlagComparison, signatures: SignatureCheck,
    dcr: DistanceSummary, exact_copy_share: float, new_rows: NewRowSynthesisScore,
) -> dict[str, Any]:
    """The figures that a model and the holdout ceiling both have, by HEADLINE_ROWS key."""
    placeholder_summary = placeholders.summary
    return {
        "quality_overall": quality_detected.overall,
        "column_shapes": quality_detected.column_shapes,
        "column_pair_trends": quality_detected.column_pair_trends,
        "quality_overall_project": quality.overall,
        "diagnostic_overall": quality.diagnostic_overall,
        "mean_ks_statistic": columns.mean_ks_statistic,
        "median_wasserstein_normalised": columns.median_wasserstein_normalised,
        "mean_total_variation_distance": columns.mean_total_variation_distance,
        "pearson_mean_absolute_difference": correlations.pearson.mean_absolute_difference,
        "spearman_mean_absolute_difference": correlations.spearman.mean_absolute_difference,
        "strong_pairs_kept_share": correlations.pearson.strong_kept_share,
        "rules_valid_share": valid_share,
        "placeholder_share_difference": placeholder_summary.mean_absolute_share_difference if placeholder_summary else None,
        "stranded_share": placeholder_summary.mean_stranded_share if placeholder_summary else None,
        "flag_cooccurrence_difference": flags.mean_absolute_difference,
        "signatures_kept_share": signatures.summary.share_inside_real_iqr if signatures.summary else None,
        "dcr_median": dcr.median,
        "dcr_p05": dcr.p05,
        "exact_copy_share": exact_copy_share,
        "new_row_synthesis": new_rows.score,
    }


def _in_row_order(figures: dict[str, Any]) -> dict[str, Any]:
    """`figures` keyed and ordered as HEADLINE_ROWS (the score is added later); a figure missing
    or left over is a programming error, not a silent None."""
    keys = [key for key, *_ in HEADLINE_ROWS if key != "score"]
    if set(keys) != set(figures):
        raise KeyError(f"headline figures do not match HEADLINE_ROWS: {sorted(set(keys) ^ set(figures))}")
    return {key: figures[key] for key in keys}


def headline(evaluation: ModelEvaluation) -> dict[str, Any]:
    """The headline figures of one model's evaluation (None where not measured), by HEADLINE_ROWS key."""
    fidelity, validity, utility, privacy = evaluation.fidelity, evaluation.validity, evaluation.utility, evaluation.privacy
    return _in_row_order({
        **_headline_figures(fidelity.quality_detected, fidelity.quality, fidelity.columns.summary, fidelity.correlations,
                            validity.rules.synthetic.valid_share, validity.placeholders, validity.flags,
                            evaluation.signatures.synthetic, privacy.dcr, privacy.exact_copy_share, privacy.new_rows),
        "class_share_error": fidelity.class_shares.max_absolute_difference if fidelity.class_shares else None,
        "rules_violated": validity.rules.rules_violated_by_synthetic,
        "accuracy": utility.tstr.accuracy if utility.tstr else None,
        "macro_f1": utility.tstr.macro_f1 if utility.tstr else None,
        "tstr_to_trtr": utility.tstr_to_trtr_macro_f1,
        "closer_to_train_share": privacy.overfitting.closer_to_train_share,
        "overfitting_protection": privacy.overfitting.score,
        **{f"{attack}_risk": privacy.attack_risk(attack) for attack in ATTACK_NAMES},
        "fit_seconds": (evaluation.training or {}).get("fit_seconds"),   # from the training manifest, when there is one
        "evaluation_seconds": evaluation.timings_seconds.get("total"),
    })


def ceiling(evaluation: ModelEvaluation) -> dict[str, Any]:
    """The same headline figures for the real holdout against train (read from any model's
    evaluation, where each section keeps the holdout's figures beside the model's)."""
    fidelity, validity, utility, privacy = evaluation.fidelity, evaluation.validity, evaluation.utility, evaluation.privacy
    trtr = utility.trtr
    return _in_row_order({
        **_headline_figures(fidelity.holdout_quality_detected, fidelity.holdout_quality, fidelity.holdout_columns.summary,
                            fidelity.holdout_correlations, validity.rules.holdout.valid_share,
                            validity.holdout_placeholders, validity.holdout_flags, evaluation.signatures.holdout,
                            privacy.holdout.dcr, privacy.holdout.exact_copy_share, privacy.holdout.new_rows),
        # the split is stratified on the class: the holdout keeps the shares
        "class_share_error": 0.0 if fidelity.class_shares else None,
        "rules_violated": validity.rules.rules_violated_by_holdout,
        "accuracy": trtr.accuracy if trtr else None,
        "macro_f1": trtr.macro_f1 if trtr else None,
        "tstr_to_trtr": 1.0 if trtr and trtr.macro_f1 else None,
        "closer_to_train_share": None,
        "overfitting_protection": None,
        # the same attacks with unseen real flows as the release
        **{f"{attack}_risk": privacy.attack_risk(attack, holdout=True) for attack in ATTACK_NAMES},
        "fit_seconds": None,
        "evaluation_seconds": None,
    })


def recommendation_score(figures: dict[str, Any]) -> tuple[float | None, dict[str, float]]:
    """The weighted score of RULE_TEXT and the terms that went into it."""
    terms: dict[str, float] = {}
    if figures.get("quality_overall") is not None:
        terms["quality"] = float(figures["quality_overall"])
    if figures.get("rules_valid_share") is not None:
        terms["validity"] = float(figures["rules_valid_share"])
    if figures.get("tstr_to_trtr") is not None:
        terms["utility"] = min(1.0, float(figures["tstr_to_trtr"]))
    if not terms:
        return None, terms
    total_weight = sum(WEIGHTS[name] for name in terms)
    return sum(WEIGHTS[name] * value for name, value in terms.items()) / total_weight, terms


def recommend(headlines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Pick the model to use under RULE_TEXT and say why in one sentence."""
    scored = {model: figures["score"] for model, figures in headlines.items() if figures.get("score") is not None}
    if not scored:
        return {"model": None, "reason": "no model could be scored", "rule": RULE_TEXT}
    private = {m: s for m, s in scored.items()
               if headlines[m].get("overfitting_protection") is None or headlines[m]["overfitting_protection"] >= PRIVACY_FLOOR}
    pool = private or scored
    best = max(pool, key=pool.get)
    parts = [f"{best} has the highest weighted score ({scored[best]:.3f}"]
    others = [m for m in scored if m != best]
    if others:
        parts[0] += " vs " + ", ".join(f"{m} {scored[m]:.3f}" for m in others)
    parts[0] += ")"
    figures = headlines[best]
    details = []
    if figures.get("quality_overall") is not None:
        details.append(f"quality {figures['quality_overall']:.1%}")
    if figures.get("rules_valid_share") is not None:
        details.append(f"{figures['rules_valid_share']:.1%} of rows valid")
    if figures.get("tstr_to_trtr") is not None:
        details.append(f"TSTR reaches {figures['tstr_to_trtr']:.0%} of TRTR macro-F1")
    reason = parts[0] + (": " + ", ".join(details) if details else "")
    excluded = [m for m in scored if m not in private]
    if excluded and private:
        reason += f"; {', '.join(excluded)} left out: DCROverfittingProtection below {PRIVACY_FLOOR}"
    elif excluded:
        reason += f"; note: every model has DCROverfittingProtection below {PRIVACY_FLOOR} (rows close to train)"
    if len(scored) == 1:
        reason += " (the only model evaluated)"
    return {"model": best, "reason": reason, "rule": RULE_TEXT, "scores": scored}


def build_comparison(evaluations: dict[str, ModelEvaluation], facts: dict[str, Any]) -> dict[str, Any]:
    """model_comparison.json: headline figures per model and the holdout ceiling, the
    recommendation, and run facts (data, split, samples, timings)."""
    headlines: dict[str, dict[str, Any]] = {}
    for model, evaluation in evaluations.items():
        figures = headline(evaluation)
        figures["score"], figures["score_terms"] = recommendation_score(figures)
        headlines[model] = figures
    first = next(iter(evaluations.values()))
    ceiling_figures = ceiling(first)
    ceiling_figures["score"], ceiling_figures["score_terms"] = recommendation_score(ceiling_figures)
    return {
        "models": list(evaluations),
        "recommendation": recommend(headlines),
        "headline": {"holdout_ceiling": ceiling_figures, **headlines},
        "rows": [{"key": key, "label": label, "format": kind, "better": better} for key, label, kind, better in HEADLINE_ROWS],
        **facts,
    }


def format_value(value: Any, kind: str) -> str:
    """A headline figure as text for the console table and the report."""
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "integer":
        return f"{int(value):d}"
    if kind == "seconds":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "score":
        return f"{value:.3f}"
    return f"{value:.4f}"


def comparison_table(comparison: dict[str, Any]) -> list[list[str]]:
    """Rows of text: metric, holdout ceiling, then one column per model."""
    columns = ["holdout_ceiling"] + comparison["models"]
    table = [["metric", "holdout (ceiling)"] + comparison["models"]]
    for row in comparison["rows"]:
        table.append([row["label"]] + [format_value(comparison["headline"][c].get(row["key"]), row["format"]) for c in columns])
    return table


def format_table(table: list[list[str]]) -> str:
    """Fixed-width text of a table (first column left-aligned, the others right-aligned)."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for number, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
