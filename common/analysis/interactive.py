"""Offline interactive pages of the analyzer (Plotly, plotly.js embedded) and the index page.

Each page is built from the JSON-ready results, so it shows what the report holds; pages are
written with common.core.plots.write_plotly_page, which embeds plotly.js (no CDN, opens offline).
The index links every PNG, page and JSON file with relative links.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from common.analysis.analysis_plots import AnalyzerFigures
from common.core.io import write_text
from common.core.plots import shorten, write_plotly_page

DROPDOWN = {"direction": "down", "x": 1.0, "xanchor": "right", "y": 1.15}
TIMING_INTRO = ("Inter-arrival and duration columns. Placeholder values (e.g. an epoch timestamp where a direction "
                "has one packet) are set apart, never averaged in.")
FLAG_INTRO = "A flag is present in a flow when any of its columns (count or fraction) is above 0."
IMPORTANCE_INTRO = "Random-forest impurity, permutation importance under cross-validation, mutual information."


def _groups_of(entry: dict) -> dict:
    """Per-class summaries of one column, or the overall one when there are no classes."""
    return entry["per_class"] or {"all flows": entry["overall"]}


def _value_axis(entry: dict) -> dict:
    """A log axis when the real values are all positive and span over two decades, else linear."""
    overall = entry["overall"]
    low, high = overall.get("min") or 0.0, overall.get("max") or 0.0
    use_log = low > 0 and high / low > 100
    scale = " (log scale)" if use_log else ""
    return {"type": "log" if use_log else "linear",
            "title": {"text": f"value{scale}; box 25th-75th percentile, whiskers 5th-95th"}}


def timing_figures(timing: dict) -> list[go.Figure]:
    """Box plots per class from the stored quantiles (whiskers = 5th/95th percentiles), one
    column at a time through a drop-down, and the placeholder share per column and class."""
    columns = [c for c, entry in timing.items() if entry["overall"].get("n", 0) > 0]
    if not columns:
        return []
    figure = go.Figure()
    for index, column in enumerate(columns):
        groups = _groups_of(timing[column])
        names = [g for g, q in groups.items() if q.get("n", 0) > 0]
        figure.add_trace(go.Box(
            x=names, q1=[groups[g]["p25"] for g in names], median=[groups[g]["p50"] for g in names],
            q3=[groups[g]["p75"] for g in names], lowerfence=[groups[g]["p05"] for g in names],
            upperfence=[groups[g]["p95"] for g in names], mean=[groups[g]["mean"] for g in names],
            name=column, visible=index == 0, boxpoints=False,
        ))
    buttons = [
        {"label": shorten(column, 40), "method": "update",
         "args": [{"visible": [i == position for i in range(len(columns))]},
                  {"title": {"text": f"{column}: real values per class (placeholders set apart)"},
                   "yaxis": _value_axis(timing[column])}]}
        for position, column in enumerate(columns)
    ]
    figure.update_layout(
        title={"text": f"{columns[0]}: real values per class (placeholders set apart)"},
        updatemenus=[{"buttons": buttons, **DROPDOWN}], xaxis_title="class",
        yaxis=_value_axis(timing[columns[0]]), height=560,
    )
    shares = pd.DataFrame({
        column: {group: values.get("placeholder_share") or 0.0 for group, values in _groups_of(timing[column]).items()}
        for column in columns
    })
    heat = go.Figure(go.Heatmap(
        z=shares.to_numpy(), x=list(shares.columns), y=list(shares.index), colorscale="Viridis", zmin=0, zmax=1,
        colorbar={"title": "share"}, hovertemplate="%{y}<br>%{x}<br>placeholder share %{z:.3f}<extra></extra>",
    ))
    heat.update_layout(title="Share of flows whose value is a placeholder (e.g. one packet in the direction)",
                       xaxis_title="timing column", yaxis_title="class", height=max(380, 40 * shares.shape[0] + 250),
                       yaxis={"autorange": "reversed"})
    return [figure, heat]


def _share_heatmap(table: pd.DataFrame, title: str, xlabel: str, ylabel: str) -> go.Figure:
    values = table.to_numpy(dtype=float)
    figure = go.Figure(go.Heatmap(
        z=values, x=list(table.columns), y=list(table.index), zmin=0, zmax=1, colorscale="Viridis",
        text=np.round(values, 2), texttemplate="%{text}", colorbar={"title": "share"},
        hovertemplate="%{y}<br>%{x}<br>%{z:.3f}<extra></extra>",
    ))
    figure.update_layout(title=title, xaxis_title=xlabel, yaxis_title=ylabel,
                         height=max(380, 45 * table.shape[0] + 220),
                         yaxis={"autorange": "reversed"})  # first row on top, as in the PNG
    return figure


def _conditional_by_class(flags: dict) -> go.Figure:
    """P(column flag | row flag) for all flows and for each class, chosen in a drop-down."""
    groups = {"all flows": flags["overall"], **flags.get("per_class", {})}
    order = flags["flags"]
    figure = go.Figure()
    for index, summary in enumerate(groups.values()):
        values = pd.DataFrame(summary["conditional_probability"]).T.loc[order, order].to_numpy(dtype=float)
        figure.add_trace(go.Heatmap(
            z=values, x=order, y=order, zmin=0, zmax=1, colorscale="Viridis", text=np.round(values, 2),
            texttemplate="%{text}", visible=index == 0, colorbar={"title": "P(B | A)"},
            hovertemplate="P(%{x} | %{y}) = %{z:.3f}<extra></extra>",
        ))
    buttons = [
        {"label": shorten(name, 40), "method": "update",
         "args": [{"visible": [i == position for i in range(len(groups))]},
                  {"title": {"text": f"P(column flag | row flag): {name}"}}]}
        for position, name in enumerate(groups)
    ]
    figure.update_layout(title={"text": "P(column flag | row flag): all flows"}, xaxis_title="flag B",
                         yaxis_title="given flag A", updatemenus=[{"buttons": buttons, **DROPDOWN}], height=520,
                         yaxis={"autorange": "reversed"})
    return figure


def flag_signature_figures(flags: dict, states: dict | None, signatures: dict) -> list[go.Figure]:
    """Flag presence per class and direction, P(B | A) per class (drop-down), connection states
    (KDD-style tables) and the one-line signature of each class."""
    figures = []
    per_class = (flags.get("directional_presence_share") or {}).get("per_class") or {}
    if per_class:
        figures.append(_share_heatmap(pd.DataFrame(per_class).T, "Share of flows with each flag, per class and "
                                      "direction", "flag and direction", "class"))
        figures.append(_conditional_by_class(flags))
    if states and states.get("per_class_share"):
        title = f"Connection state ('{states['column']}') share per class"
        figures.append(_share_heatmap(pd.DataFrame(states["per_class_share"]).T.fillna(0.0), title,
                                      "connection state", "class"))
    lines = [entry["summary"] for entry in (signatures.get("classes") or {}).values()]
    if lines:
        table = go.Figure(go.Table(header={"values": [f"Signature against {signatures.get('reference_class')}"]},
                                   cells={"values": [lines], "align": "left"}))
        table.update_layout(title="One line per class: median of the class (median of the reference)",
                            height=160 + 70 * len(lines))
        figures.append(table)
    return figures


def importance_figures(importance: dict) -> list[go.Figure]:
    """The union of each method's top features, scores scaled to the method's maximum (hover: raw
    score), and the agreement table."""
    if importance.get("skipped"):
        return []
    methods = {
        key: {column: (value["mean"] if isinstance(value, dict) else value) for column, value in scores.items()}
        for key, scores in importance["scores"].items()
    }
    top: list[str] = []
    for key in methods:
        top.extend(column for column in importance["top_features"][key] if column not in top)
    figure = go.Figure()
    for key, scores in methods.items():
        peak = max(max(scores.values(), default=0.0), 1e-12)
        figure.add_trace(go.Bar(
            y=top, x=[scores.get(c, 0.0) / peak for c in top], name=key, orientation="h",
            customdata=[scores.get(c, 0.0) for c in top],
            hovertemplate="%{y}<br>raw %{customdata:.4f}<extra>" + key + "</extra>",
        ))
    figure.update_layout(barmode="group", xaxis_title="importance / method maximum", yaxis_title="feature",
                         title="Feature importance: the union of each method's top features, "
                               "scaled to each method's maximum",
                         height=max(500, 42 * len(top) + 200), yaxis={"autorange": "reversed"})
    agreement = importance["agreement"]
    top_k = agreement[0]["top_k"] if agreement else 10
    table = go.Figure(go.Table(
        header={"values": ["methods", f"top-{top_k} overlap", "Jaccard", "Spearman rho"]},
        cells={"values": [[" vs ".join(a["methods"]) for a in agreement], [a["top_k_overlap"] for a in agreement],
                          [a["top_k_jaccard"] for a in agreement], [a["spearman_rho"] for a in agreement]]},
    ))
    table.update_layout(title="How far the methods agree", height=200 + 40 * len(agreement))
    return [figure, table]


def write_pages(figures_at: AnalyzerFigures, analysis: dict) -> list[Path]:
    """Write the three interactive pages; each page is written, saying so when it has nothing to show."""
    states = analysis["sequential_flag_patterns"].get("connection_states")
    importance = analysis["feature_importance"]
    pages = [
        (figures_at.timing_html, "Timing patterns per class",
         timing_figures(analysis["traffic_patterns"]["timing"]), TIMING_INTRO),
        (figures_at.flag_signatures_html, "TCP flag signatures per class",
         flag_signature_figures(analysis["flag_cooccurrence"], states, analysis["attack_signatures"]), FLAG_INTRO),
        (figures_at.feature_importance_html, "Feature importance for attack detection",
         importance_figures(importance), importance.get("skipped") or IMPORTANCE_INTRO),
    ]
    return [write_plotly_page(path, title, figures, intro) for path, title, figures, intro in pages]


def write_index(index_path: Path, title: str, pngs: list[Path], pages: list[Path], notes: list[str],
                data_files: list[Path] = ()) -> Path:
    """One page linking every figure and the JSON reports (relative links: the folder can be moved or zipped)."""
    def link(path: Path) -> str:
        return html.escape(os.path.relpath(path, index_path.parent).replace(os.sep, "/"))

    def caption(path: Path) -> str:
        return html.escape(path.stem.replace("_", " "))

    items = "".join(f"<li><a href='{link(p)}'>{caption(p)}</a> (interactive)</li>" for p in pages)
    thumbs = "".join(
        f"<figure><a href='{link(p)}'><img src='{link(p)}' alt='{caption(p)}'></a>"
        f"<figcaption>{caption(p)}</figcaption></figure>" for p in pngs
    )
    data = "".join(f"<li><a href='{link(p)}'>{html.escape(p.name)}</a></li>" for p in data_files)
    remarks = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    style = ("body{font-family:system-ui,Arial,sans-serif;margin:2em;max-width:1200px}"
             "figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}"
             "img{max-width:540px;border:1px solid #ddd}")
    text = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Interactive pages</h2><ul>{items}</ul>"
        f"<h2>Figures</h2>{thumbs or '<p>No figure was drawn.</p>'}"
        + (f"<h2>Data</h2><ul>{data}</ul>" if data else "")
        + (f"<h2>Notes</h2><ul>{remarks}</ul>" if remarks else "")
        + "</body></html>\n"
    )
    return write_text(index_path, text)
