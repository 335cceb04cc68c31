"""PNG figures of the analyzer (matplotlib/seaborn), and where every analyzer figure lives.

Each function takes the JSON-ready results of the analysis modules (not the raw table), so
the figures show exactly what the JSON report holds. PNGs go to visualizations/; the offline
Plotly pages and the index are in common.analysis.interactive.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
import seaborn as sns

from common.core.layout import OutputLayout
from common.core.plots import apply_style, save_figure, shorten

MAX_ANNOTATED_CELLS = 300
TOP_IMPORTANCE = 15
CIRCLE_GAP = 1.2  # layout units between neighbouring community circles
LEGEND_LINES = 52
MAX_DRAWN_NODES = 60


@dataclass(frozen=True)
class AnalyzerFigures:
    """Paths of the analyzer's figures (private to this stage; the index page links them all)."""

    layout: OutputLayout

    @property
    def flag_cooccurrence_png(self) -> Path:
        return self.layout.visualizations_dir / "flag_cooccurrence_heatmap.png"

    @property
    def flag_signatures_png(self) -> Path:
        return self.layout.visualizations_dir / "flag_signatures_per_class.png"

    @property
    def feature_importance_png(self) -> Path:
        return self.layout.visualizations_dir / "feature_importance.png"

    @property
    def correlation_network_png(self) -> Path:
        return self.layout.visualizations_dir / "correlation_network.png"

    @property
    def class_distribution_png(self) -> Path:
        return self.layout.visualizations_dir / "class_distribution.png"

    @property
    def timing_html(self) -> Path:
        return self.layout.interactive_dir / "timing_patterns.html"

    @property
    def flag_signatures_html(self) -> Path:
        return self.layout.interactive_dir / "flag_signatures.html"

    @property
    def feature_importance_html(self) -> Path:
        return self.layout.interactive_dir / "feature_importance.html"


# ----------------------------------------------------------------------------- PNG


def _heatmap(axis: plt.Axes, table: pd.DataFrame, title: str, xlabel: str, ylabel: str, vmax: float = 1.0) -> None:
    annotate = table.size <= MAX_ANNOTATED_CELLS
    sns.heatmap(
        table.astype(float), ax=axis, vmin=0, vmax=vmax, cmap="viridis", annot=annotate, fmt=".2f",
        annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white", cbar_kws={"shrink": 0.8},
        mask=table.isna(),
    )
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_yticklabels([shorten(t.get_text(), 30) for t in axis.get_yticklabels()], rotation=0)
    axis.set_xticklabels([shorten(t.get_text(), 22) for t in axis.get_xticklabels()], rotation=35, ha="right")


def plot_flag_cooccurrence(flags: dict, states: dict | None, target: Path) -> Path | None:
    """P(B | A) and Jaccard heatmaps of all flows; for a KDD-style table (one connection-state
    column), P(protocol, service ... | state) instead.

    Returns the path, or None when there is nothing of either kind to draw.
    """
    apply_style()
    if not flags.get("skipped"):
        overall = flags["overall"]
        conditional = pd.DataFrame(overall["conditional_probability"]).T.loc[flags["flags"], flags["flags"]]
        jaccard = pd.DataFrame(overall["jaccard"]).T.loc[flags["flags"], flags["flags"]]
        figure, axes = plt.subplots(1, 2, figsize=(12, 5.2))
        _heatmap(axes[0], conditional, "P(column flag | row flag)", "flag B (column)", "given flag A (row)")
        _heatmap(axes[1], jaccard, "Jaccard similarity |A and B| / |A or B|", "flag", "flag")
        figure.suptitle(f"TCP flag co-occurrence over {overall['flows']:,} flows (flag present: any column > 0)",
                        fontweight="bold")
        figure.tight_layout()
        return save_figure(figure, target)
    others = (states or {}).get("cooccurrence_with") or {}
    if others:
        shown = list(others.items())[:2]
        figure, axes = plt.subplots(1, len(shown), figsize=(6.5 * len(shown), 5.2), squeeze=False)
        for axis, (column, shares) in zip(axes[0], shown):
            table = pd.DataFrame(shares).T.fillna(0.0)
            _heatmap(axis, table, f"P({column} | connection state)", column, f"connection state ('{states['column']}')")
        figure.suptitle("Connection states and what they occur with (no per-flag columns in this table)",
                        fontweight="bold")
        figure.tight_layout()
        return save_figure(figure, target)
    return None


def plot_flag_signatures(flags: dict, states: dict | None, target: Path) -> Path | None:
    """Per class, the share of flows with each flag in each direction (the class's flag signature)."""
    apply_style()
    per_class = (flags.get("directional_presence_share") or {}).get("per_class") or {}
    if per_class:
        table = pd.DataFrame(per_class).T
        title = "Flag signature per class: share of flows with the flag"
        xlabel = "flag and direction (any: a column that names no direction)"
    elif states and states.get("per_class_share"):
        table = pd.DataFrame(states["per_class_share"]).T.fillna(0.0)
        title, xlabel = f"Connection state signature per class ('{states['column']}')", "connection state"
    else:
        return None
    figure, axis = plt.subplots(figsize=(max(6.5, 0.75 * table.shape[1] + 4), max(3.5, 0.5 * table.shape[0] + 1.8)))
    _heatmap(axis, table, title, xlabel, "class")
    figure.tight_layout()
    return save_figure(figure, target)


def plot_feature_importance(importance: dict, target: Path) -> Path | None:
    """Top features of each importance method, side by side (None when importance was skipped)."""
    if importance.get("skipped"):
        return None
    apply_style()
    methods = [("impurity", "Random-forest impurity"), ("permutation", "Permutation (balanced accuracy drop)"),
               ("mutual_information", "Mutual information with class (nats)")]
    figure, axes = plt.subplots(1, 3, figsize=(18, 6.5))
    for axis, (key, title) in zip(axes, methods):
        scores = importance["scores"][key]
        values = {c: (v["mean"] if isinstance(v, dict) else v) for c, v in scores.items()}
        top = sorted(values.items(), key=lambda item: (-item[1], item[0]))[:TOP_IMPORTANCE][::-1]
        errors = [scores[c]["std"] for c, _ in top] if key == "permutation" else None
        axis.barh([shorten(c, 40) for c, _ in top], [v for _, v in top], xerr=errors, color=sns.color_palette()[0])
        axis.set_title(title)
        axis.set_xlabel("importance")
        axis.tick_params(axis="y", labelsize=8)
    axes[0].set_ylabel("feature")
    cv = importance["cross_validation"]
    figure.suptitle(f"Feature importance for attack detection (top {TOP_IMPORTANCE}; {cv['folds']}-fold CV, "
                    f"held-out balanced accuracy {cv['held_out_balanced_accuracy']:.3f})", fontweight="bold")
    figure.tight_layout()
    return save_figure(figure, target)


def community_layout(graph: nx.Graph) -> dict[str, tuple[float, float]]:
    """Positions with each community on its own circle, the circles on a grid (largest first).

    Strongly correlated features form near-cliques that a force layout piles on one spot; a
    circle per community keeps every node apart.
    """
    ordered = _communities_in_order(graph)
    columns = int(np.ceil(np.sqrt(len(ordered))))
    radii = [0.35 + 0.09 * len(members) if len(members) > 1 else 0.0 for members in ordered]
    cell = 2 * max(radii) + CIRCLE_GAP
    positions = {}
    for index, (members, radius) in enumerate(zip(ordered, radii)):
        centre = np.array([index % columns, -(index // columns)], dtype=float) * cell
        for position, node in enumerate(members):
            angle = np.pi / 2 - 2 * np.pi * position / len(members)  # clockwise from the top
            positions[node] = tuple(centre + radius * np.array([np.cos(angle), np.sin(angle)]))
    return positions


def _communities_in_order(graph: nx.Graph) -> list[list[str]]:
    """Community member lists, largest community first, members sorted by name."""
    communities: dict[int, list[str]] = {}
    for node, data in graph.nodes(data=True):
        communities.setdefault(data["community"], []).append(node)
    return sorted((sorted(m) for m in communities.values()), key=lambda members: (-len(members), members[0]))


def _legend_lines(communities: list[list[str]], numbers: dict[str, int]) -> list[tuple[str, int | None]]:
    """(text, community index for a header line or None) for the legend beside the graph."""
    lines: list[tuple[str, int | None]] = []
    for index, members in enumerate(communities):
        lines.append((f"community {index + 1}", index))
        lines.extend((f"  {numbers[node]:>2}  {shorten(node, 44)}", None) for node in members)
    return lines


def plot_correlation_network(graph: nx.Graph, threshold: float, target: Path) -> Path:
    """Features with at least one |r| > threshold edge: one circle per community, numbered nodes
    named in a legend beside the graph (full names never overlap), node size = degree."""
    apply_style()
    connected = graph.subgraph([n for n in graph if graph.degree(n) > 0]).copy()
    isolated = graph.number_of_nodes() - connected.number_of_nodes()
    note = f"{isolated} features without a strong correlation not drawn"
    if connected.number_of_nodes() > MAX_DRAWN_NODES:
        # Hundreds of numbered nodes cannot be read: draw the most connected ones, the JSON has all.
        keep = sorted(connected, key=lambda n: (-connected.degree(n), n))[:MAX_DRAWN_NODES]
        note = (f"the {MAX_DRAWN_NODES} most connected of {connected.number_of_nodes()} correlated features drawn; "
                "all are in correlation_network.json")
        connected = connected.subgraph(keep).copy()
        connected.remove_nodes_from([n for n in list(connected) if connected.degree(n) == 0])
    communities = _communities_in_order(connected) if connected.number_of_nodes() else []
    numbers = {node: i for i, node in enumerate((n for members in communities for n in members), start=1)}
    community_of = {node: index for index, members in enumerate(communities) for node in members}
    palette = sns.color_palette("tab10", 10)
    legend = _legend_lines(communities, numbers)
    legend_columns = max(1, int(np.ceil(len(legend) / LEGEND_LINES)))
    figure = plt.figure(figsize=(11 + 3.6 * legend_columns, 8.5))
    grid = figure.add_gridspec(1, 1 + legend_columns, width_ratios=[3] + [1.05] * legend_columns, wspace=0.02)
    axis = figure.add_subplot(grid[0, 0])
    if connected.number_of_nodes():
        positions = community_layout(connected)
        colors = [palette[community_of[n] % 10] for n in connected]
        sizes = [260 + 700 * connected.nodes[n]["degree_centrality"] for n in connected]
        edge_colors = ["#C44E52" if d["r"] < 0 else "#8C8C8C" for _, _, d in connected.edges(data=True)]
        widths = [0.4 + 2.0 * (d["weight"] - threshold) / (1 - threshold) for _, _, d in connected.edges(data=True)]
        nx.draw_networkx_edges(connected, positions, ax=axis, edge_color=edge_colors, width=widths, alpha=0.35)
        nx.draw_networkx_nodes(connected, positions, ax=axis, node_color=colors, node_size=sizes, alpha=0.95,
                               edgecolors="white", linewidths=0.8)
        nx.draw_networkx_labels(connected, positions, labels={n: str(numbers[n]) for n in connected}, ax=axis,
                                font_size=8, font_color="white", font_weight="bold")
        axis.margins(0.08)
    else:
        axis.text(0.5, 0.5, f"no pair of features with |r| > {threshold}", ha="center", va="center",
                  transform=axis.transAxes)
    axis.set_title(f"Feature correlation network: Spearman |r| > {threshold}\n"
                   f"{connected.number_of_nodes()} features, {connected.number_of_edges()} edges ({note})")
    axis.set_xlabel("one circle and colour per Louvain community; node size = degree centrality;\n"
                    "grey edge r > 0, red edge r < 0, thicker = stronger (positions carry no units)")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_aspect("equal")
    for column in range(legend_columns):
        text_axis = figure.add_subplot(grid[0, 1 + column])
        text_axis.axis("off")
        chunk = legend[column * LEGEND_LINES:(column + 1) * LEGEND_LINES]
        for row, (text, header_of) in enumerate(chunk):
            text_axis.text(0.0, 1.0 - row / LEGEND_LINES, text, va="top", ha="left", family="monospace", fontsize=8,
                           transform=text_axis.transAxes, fontweight="bold" if header_of is not None else "normal",
                           color=palette[header_of % 10] if header_of is not None else "#222222")
    return save_figure(figure, target)


def plot_class_distribution(counts: dict[str, int], class_column: str | None, reference: str | None,
                            reference_classes: list[str], target: Path) -> Path | None:
    """Rows per class (log scale when classes differ by more than 100x), reference classes in grey."""
    if not counts:
        return None
    apply_style()
    names = list(counts)[::-1]
    values = [counts[n] for n in names]
    palette = sns.color_palette()
    colors = ["#8C8C8C" if n in reference_classes else palette[3] for n in names]
    figure, axis = plt.subplots(figsize=(9, max(3, 0.45 * len(names) + 1.5)))
    axis.barh([shorten(n, 36) for n in names], values, color=colors)
    total = sum(values)
    for y, value in enumerate(values):
        axis.text(value, y, f" {value:,} ({value / total:.1%})", va="center", fontsize=8)
    if max(values) / max(min(values), 1) > 100:
        axis.set_xscale("log")
        axis.set_xlabel("flows (log scale)")
    else:
        axis.set_xlabel("flows")
    axis.set_xlim(right=max(values) * (3 if axis.get_xscale() == "log" else 1.25))
    axis.set_ylabel("class")
    suffix = f"; grey = reference ({reference})" if reference else ""
    axis.set_title(f"Class distribution of '{class_column}' ({total:,} flows{suffix})")
    return save_figure(figure, target)
