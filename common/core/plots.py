"""One house style for figures: matplotlib/seaborn PNGs and offline Plotly HTML.

PNGs are saved atomically and closed (long pipelines otherwise leak figures); HTML pages
embed plotly.js so they open on machines without internet.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")  # no screen on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from common.core.io import atomic_path, write_text  # noqa: E402

PALETTE = "colorblind"
REAL_COLOR = "#4C72B0"
# each model adds its own colour from its spec (common.synth.registry)
MODEL_COLORS = {"real": REAL_COLOR, "holdout": "#8C8C8C"}
DPI = 110


def apply_style() -> None:
    """Seaborn's white grid, readable fonts, tight layouts."""
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=0.9)
    plt.rcParams.update({"figure.autolayout": False, "axes.titleweight": "bold", "savefig.bbox": "tight"})


def save_figure(figure: plt.Figure, target: Path | str) -> Path:
    """Save a matplotlib figure as PNG atomically, then close it."""
    target = Path(target)
    with atomic_path(target) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return target


def shorten(label: str, width: int = 34) -> str:
    """Long flow-feature names made to fit on an axis without overlapping."""
    label = str(label)
    return label if len(label) <= width else label[: width - 1] + "…"


def plotly_page(title: str, figures: Iterable, intro: str = "") -> str:
    """A self-contained HTML page holding Plotly figures, plotly.js embedded once (no CDN)."""
    parts = []
    for index, figure in enumerate(figures):
        parts.append(figure.to_html(full_html=False, include_plotlyjs=(index == 0), default_width="100%"))
    body = "\n".join(parts) if parts else "<p>No figure: nothing to show for this dataset.</p>"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,Arial,sans-serif;margin:2em;max-width:1200px}"
        "h1{font-size:1.5em}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        + (f"<p>{html.escape(intro)}</p>" if intro else "")
        + body
        + "</body></html>\n"
    )


def write_plotly_page(target: Path | str, title: str, figures: Iterable, intro: str = "") -> Path:
    """Write `plotly_page` atomically."""
    return write_text(target, plotly_page(title, figures, intro))
