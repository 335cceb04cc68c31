"""PNG figures of the evaluation: real vs each model (and the holdout where it is the ceiling).

Each function draws one figure from figures already computed by the evaluation, saves it with
common.core.plots.save_figure and returns its path (None when there is nothing to draw, e.g. no
flag columns). Placeholder cells are never mixed into a histogram: distribution panels show
measured values and state the placeholder share of each table in the panel title, and a
separate chart compares placeholder shares.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from common.evaluation.sections import PlaceholderComparison, RuleViolations, SignatureCheck, UtilitySection
from common.evaluation.tables import EvaluationInputs, measured
from common.core.plots import MODEL_COLORS, REAL_COLOR, apply_style, save_figure, shorten

FEATURES_PER_CATEGORY = 3
HISTOGRAM_BINS = 30
SHOWN_RANGE = (0.005, 0.995)     # real quantiles bounding a continuous histogram's x-axis
HEAVY_TAIL_RATIO = 20.0          # q99 / median of positive values above this: log1p axis
MAX_DISCRETE_BINS = 200          # discrete values on a grid wider than this are binned as continuous
MAX_CLASSES_SHOWN = 20
MAX_RULES_SHOWN = 15
FALLBACK_COLORS = sns.color_palette("colorblind", 10).as_hex()


def color_of(name: str, index: int = 0) -> str:
    """The house colour of a table name (real, holdout, ctgan, tvae), else a palette colour."""
    return MODEL_COLORS.get(name, FALLBACK_COLORS[(index + 3) % len(FALLBACK_COLORS)])


def _percent_axis(axis: plt.Axes, which: str = "x") -> None:
    """Shares shown as percentages, with a decimal when the axis spans less than 5 points."""
    low, high = axis.get_xlim() if which == "x" else axis.get_ylim()
    digits = 1 if abs(high - low) < 0.05 else 0
    formatter = plt.FuncFormatter(lambda value, _: f"{value:.{digits}%}")
    (axis.xaxis if which == "x" else axis.yaxis).set_major_formatter(formatter)


def _legend_beside(axis: plt.Axes) -> None:
    """A legend right of the axis (clear of bars and labels whatever the figure's height)."""
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1, frameon=False)


def _legend_below(figure: plt.Figure, handles, labels, columns: int) -> None:
    figure.legend(handles, labels, loc="lower center", ncol=max(1, columns), frameon=False,
                  bbox_to_anchor=(0.5, -0.02))


# ----------------------------------------------------------------------------- headline


def plot_headline_scores(comparison: dict[str, Any], target: Path) -> Path | None:
    """Grouped horizontal bars of the 0..1 headline scores: holdout ceiling and each model."""
    keys = [
        ("quality_overall", "sdmetrics quality (SDV-detected metadata)"),
        ("column_shapes", "Column Shapes"),
        ("column_pair_trends", "Column Pair Trends"),
        ("rules_valid_share", "Rows valid (all rules)"),
        ("signatures_kept_share", "Signature medians kept"),
        ("tstr_to_trtr", "TSTR / TRTR macro-F1"),
        ("overfitting_protection", "DCR overfitting protection"),
    ]
    tables = ["holdout_ceiling"] + comparison["models"]
    rows = [(key, label) for key, label in keys
            if any(comparison["headline"][t].get(key) is not None for t in tables)]
    if not rows:
        return None
    apply_style()
    figure, axis = plt.subplots(figsize=(9, 0.75 * len(rows) + 1.6))
    height = 0.8 / len(tables)
    positions = np.arange(len(rows))
    for index, table in enumerate(tables):
        values = [comparison["headline"][table].get(key) for key, _ in rows]
        shown = [np.nan if v is None else min(float(v), 1.0) for v in values]
        name = "holdout" if table == "holdout_ceiling" else table
        label = "holdout vs train (ceiling)" if table == "holdout_ceiling" else table
        bars = axis.barh(positions + index * height, shown, height=height, color=color_of(name, index), label=label)
        for bar, value in zip(bars, values):
            if value is not None:
                axis.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{value:.0%}",
                          va="center", fontsize=7)
    axis.set_yticks(positions + height * (len(tables) - 1) / 2, [label for _, label in rows])
    axis.invert_yaxis()
    axis.set_xlim(0, 1.12)
    _percent_axis(axis)
    axis.set_xlabel("score (higher is better; the holdout shows what real data reaches)")
    axis.set_title("Headline scores: each model beside the holdout ceiling")
    _legend_beside(axis)
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- distributions


def key_features(inputs: EvaluationInputs, ks_by_model: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    """Per feature category, the FEATURES_PER_CATEGORY numeric columns with the largest KS
    statistic for any model (the ones most worth looking at)."""
    chosen: dict[str, list[str]] = {}
    for category, members in inputs.schema.feature_categories.items():
        numeric = [c for c in members if c in inputs.numeric_columns]
        worst = {c: max((ks.get(c) or 0.0) for ks in ks_by_model.values()) if ks_by_model else 0.0 for c in numeric}
        ranked = sorted(numeric, key=lambda c: (-worst[c], numeric.index(c)))
        varying = [c for c in ranked if np.unique(measured(inputs.train[c], inputs.placeholder(c))).size > 1]
        if varying:
            chosen[category] = varying[:FEATURES_PER_CATEGORY]
    return chosen


def _is_heavy_tailed(values: np.ndarray) -> bool:
    positive = values[values > 0]
    if values.size == 0 or values.min() < 0 or positive.size < 10:
        return False
    return float(np.quantile(values, 0.99)) > HEAVY_TAIL_RATIO * float(np.median(positive))


def _placeholder_text(inputs: EvaluationInputs, column: str, tables: dict[str, pd.DataFrame]) -> str:
    rule = inputs.placeholder(column)
    if rule is None:
        return ""
    shares = [f"{name} {np.asarray(rule.is_placeholder(frame[column]), dtype=bool).mean():.0%}" for name, frame in tables.items()]
    return "\nplaceholder (not shown): " + " · ".join(shares)


def _distribution_panel(axis: plt.Axes, inputs: EvaluationInputs, column: str, tables: dict[str, pd.DataFrame]) -> None:
    rule = inputs.placeholder(column)
    values = {name: measured(frame[column], rule) for name, frame in tables.items()}
    real = values["real"]
    log_axis = _is_heavy_tailed(real)
    if log_axis:
        values = {name: np.log1p(np.clip(v, 0, None)) for name, v in values.items()}
        real = values["real"]
    distinct = np.unique(real)
    step = float(np.min(np.diff(distinct))) if distinct.size > 1 else 1.0
    if distinct.size <= HISTOGRAM_BINS and (distinct[-1] - distinct[0]) / step <= MAX_DISCRETE_BINS:
        # Discrete values (header lengths, flag counts): bins one step wide, centred on the values.
        edges = np.arange(distinct[0] - step / 2, distinct[-1] + step, step)
        low, high = edges[0], edges[-1]
    else:
        low, high = np.quantile(real, SHOWN_RANGE)
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    outside_notes = []
    for index, (name, array) in enumerate(values.items()):
        inside = array[(array >= low) & (array <= high)]
        outside = 1 - inside.size / array.size if array.size else 0.0
        if outside >= 0.005:
            outside_notes.append(f"{name} {outside:.0%}")
        weights = np.full(inside.size, 1.0 / max(array.size, 1))
        label = "real (train)" if name == "real" else name
        if name == "real":
            axis.hist(inside, bins=edges, weights=weights, color=REAL_COLOR, alpha=0.35, label=label)
        else:
            axis.hist(inside, bins=edges, weights=weights, histtype="step", linewidth=1.6,
                      color=color_of(name, index), label=label)
    title = shorten(column, 40) + _placeholder_text(inputs, column, tables)
    if outside_notes:
        title += "\noutside the shown range: " + " · ".join(outside_notes)
    axis.set_title(title, fontsize=9)
    axis.set_xlabel("log(1 + value)" if log_axis else "value")
    axis.set_ylabel("share of measured values")


def plot_distributions(
    inputs: EvaluationInputs, category: str, columns: list[str], candidates: dict[str, pd.DataFrame], target: Path
) -> Path | None:
    """Histograms of `columns` (one feature category): real train rows vs each model, one
    legend for the figure (under the panels, clear of the bars)."""
    if not columns:
        return None
    apply_style()
    tables = {"real": inputs.train, **candidates}
    figure, axes = plt.subplots(1, len(columns), figsize=(5.2 * len(columns), 4.2), squeeze=False)
    for axis, column in zip(axes[0], columns):
        _distribution_panel(axis, inputs, column, tables)
    figure.suptitle(f"Distributions, {category.replace('_', ' ')}: real (train) vs synthetic", fontsize=12)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    _legend_below(figure, handles, labels, len(tables))
    return save_figure(figure, target)


def plot_placeholder_shares(inputs: EvaluationInputs, placeholders: dict[str, PlaceholderComparison], target: Path) -> Path | None:
    """Per placeholder column: share of placeholder cells in real train and in each model,
    and (second panel) the share of stranded impossible values in each model."""
    models = list(placeholders)
    if not models or not placeholders[models[0]].columns:
        return None
    columns = list(placeholders[models[0]].columns)
    apply_style()
    figure, (share_axis, stranded_axis) = plt.subplots(1, 2, figsize=(12, 0.42 * len(columns) + 2.2), sharey=True)
    tables = ["real"] + models
    height = 0.8 / len(tables)
    positions = np.arange(len(columns))
    for index, table in enumerate(tables):
        source = placeholders[models[0]] if table == "real" else placeholders[table]
        shares = [source.columns[c]["placeholder_share"]["real" if table == "real" else "synthetic"] for c in columns]
        share_axis.barh(positions + index * height, shares, height=height, color=color_of(table, index), label=table)
        if table != "real":
            stranded = [placeholders[table].columns[c]["stranded_share"]["synthetic"] for c in columns]
            stranded_axis.barh(positions + index * height, stranded, height=height, color=color_of(table, index), label=table)
    share_axis.set_yticks(positions + height * (len(tables) - 1) / 2, [shorten(c, 34) for c in columns])
    share_axis.invert_yaxis()
    share_axis.set_xlabel("share of rows holding the placeholder")
    share_axis.set_title("Placeholder share: real vs synthetic")
    _percent_axis(share_axis)
    stranded_axis.set_xlabel("share of rows with an impossible value\n(between the real range and the placeholder)")
    stranded_axis.set_title("Stranded values in synthetic rows")
    worst = max((item["stranded_share"]["synthetic"] for model in models
                 for item in placeholders[model].columns.values()), default=0.0)
    stranded_axis.set_xlim(0, max(worst * 1.1, 0.01))   # shares start at 0, even when none is stranded
    if worst == 0:
        stranded_axis.text(0.5, 0.5, "none: no synthetic value lies between\nthe real range and the placeholder",
                           transform=stranded_axis.transAxes, ha="center", va="center", fontsize=10, color="#555555")
    _percent_axis(stranded_axis)
    handles, labels = share_axis.get_legend_handles_labels()
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    _legend_below(figure, handles, labels, len(tables))
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- correlations


def plot_correlation_differences(
    columns: list[str], real: pd.DataFrame, candidates: dict[str, pd.DataFrame], method: str, target: Path
) -> Path | None:
    """|r_candidate - r_real| heatmaps, one panel per candidate (holdout first: the ceiling)."""
    if len(columns) < 2 or not candidates:
        return None
    apply_style()
    size = min(3.0 + 0.17 * len(columns), 11)
    figure = plt.figure(figsize=(size * len(candidates) + 1.0, size + 0.6))
    grid = figure.add_gridspec(1, len(candidates) + 1, width_ratios=[1] * len(candidates) + [0.04], wspace=0.08)
    colorbar_axis = figure.add_subplot(grid[0, -1])
    labels = [shorten(c, 28) for c in columns]
    tick_size = 7 if len(columns) <= 25 else 5
    for index, (name, matrix) in enumerate(candidates.items()):
        axis = figure.add_subplot(grid[0, index])
        difference = (matrix - real).abs()
        mean = np.nanmean(difference.to_numpy()[np.triu_indices(len(columns), k=1)])
        sns.heatmap(difference, ax=axis, vmin=0, vmax=1, cmap="Reds", square=True, xticklabels=labels,
                    yticklabels=labels if index == 0 else False, cbar=index == 0, cbar_ax=colorbar_axis if index == 0 else None,
                    cbar_kws={"label": f"|Δ {method} r|"})
        axis.set_title(f"{name}: mean |Δr| = {mean:.3f}", fontsize=10)
        axis.tick_params(labelsize=tick_size)
    figure.suptitle(f"{method.capitalize()} correlation: |difference| to real (train); grey cells: undefined",
                    fontsize=12, y=0.98)
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- classes


def plot_class_distribution(target_column: str, tables: dict[str, pd.DataFrame], target: Path) -> Path | None:
    """Share of each class in train, holdout and each model (the most common classes first)."""
    shares = {name: frame[target_column].astype(object).where(frame[target_column].notna(), "<missing>")
              .value_counts(normalize=True) for name, frame in tables.items()}
    order = list(shares["real"].index[:MAX_CLASSES_SHOWN])
    extra = [c for name, s in shares.items() if name != "real" for c in s.index if c not in shares["real"].index]
    order += [c for c in dict.fromkeys(extra)][: max(0, MAX_CLASSES_SHOWN - len(order))]
    apply_style()
    figure, axis = plt.subplots(figsize=(10, 0.5 * len(order) * max(1, len(tables) / 3) + 1.8))
    height = 0.8 / len(tables)
    positions = np.arange(len(order))
    for index, (name, share) in enumerate(shares.items()):
        values = [float(share.get(c, 0.0)) for c in order]
        label = "real (train)" if name == "real" else name
        axis.barh(positions + index * height, values, height=height, color=color_of(name, index), label=label)
    axis.set_yticks(positions + height * (len(tables) - 1) / 2, [shorten(str(c), 36) for c in order])
    axis.invert_yaxis()
    _percent_axis(axis)
    axis.set_xlabel("share of rows")
    axis.set_title(f"Class distribution of '{target_column}'")
    _legend_beside(axis)
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- flags


def plot_flag_cooccurrence(matrices: dict[str, pd.DataFrame], target: Path) -> Path | None:
    """Annotated heatmaps of the share of flows with flags A and B: real and each model."""
    if not matrices:
        return None
    apply_style()
    flags = len(next(iter(matrices.values())))
    size = 1.8 + 0.55 * flags
    figure, axes = plt.subplots(1, len(matrices), figsize=(size * len(matrices), size), squeeze=False)
    for index, (axis, (name, matrix)) in enumerate(zip(axes[0], matrices.items())):
        sns.heatmap(matrix, ax=axis, vmin=0, vmax=1, cmap="Blues", annot=True, fmt=".2f", square=True,
                    annot_kws={"fontsize": 7}, cbar=index == len(matrices) - 1,
                    cbar_kws={"label": "share of flows with both flags", "shrink": 0.7})
        axis.set_title("real (train)" if name == "real" else name)
        axis.set_xlabel("flag")
        axis.set_ylabel("flag" if index == 0 else "")
    figure.suptitle("TCP flag co-occurrence (diagonal: share of flows with the flag)", fontsize=12)
    figure.tight_layout()
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- validity


def plot_rule_violations(validity: dict[str, RuleViolations], target: Path) -> Path | None:
    """The most violated rules: violation rate in the holdout and in each model."""
    models = list(validity)
    if not models:
        return None
    per_rule = {item["id"]: item for item in validity[models[0]].per_rule}
    rates = {m: {r["id"]: r["synthetic_violation_rate"] for r in validity[m].per_rule} for m in models}
    worst = {rid: max(rates[m][rid] for m in models) for rid in per_rule}
    shown = [rid for rid in sorted(worst, key=worst.get, reverse=True) if worst[rid] > 0][:MAX_RULES_SHOWN]
    if not shown:
        return None
    apply_style()
    tables = ["holdout"] + models
    figure, axis = plt.subplots(figsize=(10, 0.55 * len(shown) * max(1, len(tables) / 3) + 1.8))
    height = 0.8 / len(tables)
    positions = np.arange(len(shown))
    for index, table in enumerate(tables):
        if table == "holdout":
            values = [per_rule[rid]["holdout_violation_rate"] for rid in shown]
        else:
            values = [rates[table][rid] for rid in shown]
        axis.barh(positions + index * height, values, height=height, color=color_of(table, index), label=table)
    axis.set_yticks(positions + height * (len(tables) - 1) / 2, [shorten(rid, 60) for rid in shown])
    axis.tick_params(axis="y", labelsize=7)
    axis.invert_yaxis()
    _percent_axis(axis)
    axis.set_xlabel("share of rows violating the rule")
    axis.set_title(f"Most violated detected rules (top {len(shown)})")
    _legend_beside(axis)
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- signatures


def plot_signatures(signatures: dict[str, SignatureCheck], holdout: SignatureCheck, target: Path) -> Path | None:
    """Per class: share of its signature features whose candidate median stays in the real IQR."""
    tables = {"holdout": holdout, **signatures}
    classes = [c for c, item in holdout.classes.items() if item["features"]]
    if holdout.skipped or not classes:
        return None
    apply_style()
    figure, axis = plt.subplots(figsize=(10, 0.5 * len(classes) * max(1, len(tables) / 3) + 1.8))
    height = 0.8 / len(tables)
    positions = np.arange(len(classes))
    for index, (name, section) in enumerate(tables.items()):
        values = [section.classes.get(c, {}).get("summary", {}).get("share_inside_real_iqr") or 0.0 for c in classes]
        axis.barh(positions + index * height, values, height=height, color=color_of(name, index), label=name)
    axis.set_yticks(positions + height * (len(tables) - 1) / 2, [shorten(c, 36) for c in classes])
    axis.invert_yaxis()
    axis.set_xlim(0, 1.05)
    _percent_axis(axis)
    axis.set_xlabel("share of signature features whose median lies inside the real class IQR")
    axis.set_title("Attack signatures kept, per class")
    _legend_beside(axis)
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- utility


def plot_utility(utility: dict[str, UtilitySection], target: Path) -> Path | None:
    """TSTR vs TRTR: accuracy and macro-F1 (left), F1 per class (right)."""
    scored = {m: s for m, s in utility.items() if s.tstr and s.trtr}
    if not scored:
        return None
    trtr = next(iter(scored.values())).trtr
    runs = {"TRTR (real)": trtr, **{f"TSTR {m}": s.tstr for m, s in scored.items()}}
    colors = {"TRTR (real)": REAL_COLOR, **{f"TSTR {m}": color_of(m, i) for i, m in enumerate(scored)}}
    classes = list(trtr.per_class_f1)
    apply_style()
    figure, (overall_axis, class_axis) = plt.subplots(
        1, 2, figsize=(13, 0.45 * len(classes) * max(1, len(runs) / 3) + 2.4), gridspec_kw={"width_ratios": [1, 2]})
    width = 0.8 / len(runs)
    for index, (name, result) in enumerate(runs.items()):
        overall_axis.bar(np.arange(2) + index * width, [result.accuracy, result.macro_f1], width=width,
                         color=colors[name], label=name)
        class_axis.barh(np.arange(len(classes)) + index * width, [result.per_class_f1.get(c, 0.0) for c in classes],
                        height=width, color=colors[name], label=name)
    overall_axis.set_xticks(np.arange(2) + width * (len(runs) - 1) / 2, ["accuracy", "macro-F1"])
    overall_axis.set_ylim(0, 1.05)
    _percent_axis(overall_axis, "y")
    overall_axis.set_ylabel("score on the real holdout")
    overall_axis.set_title("Overall")
    class_axis.set_yticks(np.arange(len(classes)) + width * (len(runs) - 1) / 2, [shorten(c, 32) for c in classes])
    class_axis.invert_yaxis()
    class_axis.set_xlim(0, 1.05)
    _percent_axis(class_axis)
    class_axis.set_xlabel("F1 on the real holdout")
    class_axis.set_title("Per class")
    figure.suptitle("Train on synthetic, test on real (TSTR) vs train on real (TRTR)", fontsize=12)
    handles, labels = overall_axis.get_legend_handles_labels()
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    _legend_below(figure, handles, labels, len(runs))
    return save_figure(figure, target)


# ----------------------------------------------------------------------------- privacy


def plot_dcr(distances: dict[str, np.ndarray], holdout: np.ndarray, target: Path) -> Path | None:
    """Histograms of the distance to the closest train record: each model vs the holdout."""
    if not distances:
        return None
    apply_style()
    high = max(float(np.quantile(np.concatenate([holdout, *distances.values()]), 0.99)), 1e-9)
    edges = np.linspace(0, high, 41)
    figure, axes = plt.subplots(1, len(distances), figsize=(5.5 * len(distances), 3.8), squeeze=False, sharey=True)
    for index, (axis, (name, values)) in enumerate(zip(axes[0], distances.items())):
        for label, array, color, style in (("holdout → train", holdout, MODEL_COLORS["holdout"], "bar"),
                                           (f"{name} → train", values, color_of(name, index), "step")):
            weights = np.full(array.size, 1.0 / max(array.size, 1))
            axis.hist(np.clip(array, 0, high), bins=edges, weights=weights, histtype=style, alpha=0.5 if style == "bar" else 1,
                      linewidth=1.8, color=color, label=f"{label} (median {np.median(array):.3f})")
        axis.set_title(f"{name}: distance to closest train record")
        axis.set_xlabel("distance (range-scaled features)")
        axis.set_ylabel("share of rows" if index == 0 else "")
        axis.legend(fontsize=8, frameon=False)
    figure.tight_layout()
    return save_figure(figure, target)
