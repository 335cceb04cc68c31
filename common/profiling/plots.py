"""PNG figures of the setup stage: correlations, distributions by category, classes, placeholders."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from common.core.plots import REAL_COLOR, apply_style, save_figure, shorten
from common.profiling.profiles import measured_values
from common.rules import RuleSet
from common.data.schema import Schema

MAX_PANELS_PER_FIGURE = 16
MAX_LABELLED_COLUMNS = 80    # a clustermap names every column up to this many (then as many as fit)
MAX_SHARE_BARS = 100         # columns in the zero/placeholder/missing bar chart (those with the largest shares)


def correlation_clustermap(frame: pd.DataFrame, columns: list[str], target: Path) -> Path | None:
    """Hierarchically clustered Spearman correlation heatmap of the non-constant numeric columns."""
    usable = [c for c in columns if frame[c].nunique(dropna=True) > 1]
    if len(usable) < 2:
        return None
    apply_style()
    matrix = (
        frame[usable].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan).corr("spearman")
    ).fillna(0.0)
    matrix.index = [shorten(c, 40) for c in matrix.index]
    matrix.columns = matrix.index
    size = min(4 + 0.32 * len(usable), 24)
    # every name up to MAX_LABELLED_COLUMNS; past that they would overprint, and drawing 500 names
    # per axis took 10 s: seaborn then names as many as fit
    labels = True if len(usable) <= MAX_LABELLED_COLUMNS else "auto"
    grid = sns.clustermap(
        matrix, cmap="vlag", vmin=-1, vmax=1, figsize=(size, size), method="average",
        xticklabels=labels, yticklabels=labels, dendrogram_ratio=0.12,
    )
    grid.ax_heatmap.tick_params(labelsize=7)
    grid.figure.suptitle("Clustered Spearman correlation of numeric features (colour: r, -1 to 1)", y=1.01)
    return save_figure(grid.figure, target)


def category_distributions(
    frame: pd.DataFrame, schema: Schema, rules: RuleSet, heavy_tailed: set[str], folder: Path, seed: int,
    max_rows: int = 50_000,
) -> list[Path]:
    """One PNG per feature category: a histogram per column, placeholders left out and counted.

    Heavy-tailed columns are drawn on a log x-axis (log1p of the values), which the panel says.
    """
    apply_style()
    sample = frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame
    written = []
    for category, members in schema.feature_categories.items():
        numeric = [c for c in members if c in schema.numeric_columns][:MAX_PANELS_PER_FIGURE]
        if not numeric:
            continue
        ncols = min(4, len(numeric))
        nrows = math.ceil(len(numeric) / ncols)
        figure, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.1 * nrows), squeeze=False)
        for axis, column in zip(axes.ravel(), numeric):
            _histogram_panel(axis, sample, column, rules, column in heavy_tailed)
        for axis in axes.ravel()[len(numeric):]:
            axis.set_visible(False)
        shown = len(numeric)
        total = len([c for c in members if c in schema.numeric_columns])
        suffix = f" (first {shown} of {total})" if total > shown else ""
        figure.suptitle(f"Feature distributions: {category}{suffix}", fontsize=13)
        figure.tight_layout()
        written.append(save_figure(figure, folder / f"distributions_{category}.png"))
    return written


def _histogram_panel(axis: plt.Axes, frame: pd.DataFrame, column: str, rules: RuleSet, log_scale: bool) -> None:
    values = measured_values(frame, column, rules)
    placeholder_share = 1 - len(values) / max(frame[column].notna().sum(), 1)
    if log_scale:
        values = np.log1p(values.clip(lower=0))
    if values.nunique() > 1:
        axis.hist(values, bins=40, color=REAL_COLOR, alpha=0.85, histtype="stepfilled")
    elif len(values):
        axis.bar([float(values.iloc[0])], [len(values)], width=0.5, color=REAL_COLOR)
    axis.set_title(shorten(column, 38), fontsize=9)
    axis.set_xlabel("log1p(value)" if log_scale else "value", fontsize=8)
    axis.set_ylabel("flows", fontsize=8)
    axis.tick_params(labelsize=7)
    if placeholder_share > 0:
        axis.text(0.98, 0.95, f"placeholders left out: {placeholder_share:.0%}", transform=axis.transAxes,
                  ha="right", va="top", fontsize=7, color="firebrick")


def class_distribution(frame: pd.DataFrame, target_column: str, target: Path) -> Path:
    """Horizontal bars of flows per class, with counts and shares."""
    apply_style()
    counts = frame[target_column].astype(str).value_counts()
    figure, axis = plt.subplots(figsize=(8, 0.45 * len(counts) + 1.6))
    axis.barh(counts.index[::-1], counts.values[::-1], color=REAL_COLOR)
    total = counts.sum()
    for y, value in enumerate(counts.values[::-1]):
        axis.text(value, y, f" {value:,} ({value / total:.1%})", va="center", fontsize=8)
    axis.set_xlim(0, counts.max() * 1.25)
    axis.set_xlabel("flows")
    axis.set_ylabel(target_column)
    axis.set_title(f"Class distribution ({total:,} flows)")
    figure.tight_layout()
    return save_figure(figure, target)


def placeholder_and_zero_shares(profiles: dict[str, dict[str, Any]], target: Path) -> Path | None:
    """Per numeric column, the share of zeros, placeholders and missing values: every column up to
    MAX_SHARE_BARS, else at most MAX_SHARE_BARS of those with any, the largest first (the title
    says how many); None when there is nothing to draw."""
    rows = [
        (column, p.get("zero_share", 0.0), p.get("placeholder_share", 0.0), p.get("missing_share", 0.0))
        for column, p in profiles.items() if "zero_share" in p
    ]
    if not rows:
        return None
    apply_style()
    table = pd.DataFrame(rows, columns=["column", "zero", "placeholder", "missing"]).set_index("column")
    title = "Zero, placeholder and missing shares per numeric column"
    if len(table) > MAX_SHARE_BARS:
        total = table.sum(axis=1)
        largest = total[total > 0].sort_values(ascending=False, kind="stable").index[:MAX_SHARE_BARS]
        if largest.empty:
            return None
        empty = int((total == 0).sum())
        title += f"\n({len(largest)} of {len(table)} columns: those with the largest shares"
        title += f"; {empty} columns have none)" if empty else ")"
        table = table.loc[largest]
    table = table.sort_values(["placeholder", "zero"])
    table.index = [shorten(c, 40) for c in table.index]
    figure, axis = plt.subplots(figsize=(9, 0.26 * len(table) + 1.8))
    table.plot.barh(ax=axis, width=0.8, color=["#8C8C8C", "firebrick", "#CCB974"])
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of flows")
    axis.set_ylabel("")
    axis.tick_params(axis="y", labelsize=7)
    axis.set_title(title)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return save_figure(figure, target)
