"""What a fit and a sampling run write: the synthetic CSV (streamed, atomic), the rule tally
of the rows written, loss CSV and plot.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from common.core.errors import ShortfallError
from common.core.io import atomic_path
from common.core.progress import Progress
from common.rules import RuleSet, ValidityReport
from common.synth.synthesizer import FlowSynthesizer


@dataclass
class SamplingFacts:
    """What writing one synthetic CSV cost, and how valid its rows are."""

    rows: int
    batch_rows: int
    batches: int
    seconds: float
    rows_per_second: float
    validity: dict[str, Any]
    asked: int = 0                      # rows planned (class quotas); rows < asked when a class fell short
    shortfalls: dict[str, Any] = field(default_factory=dict)   # {class: ClassShortfall.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_to_csv(
    flow: FlowSynthesizer,
    target: Path,
    num_rows: int,
    batch_rows: int,
    seed: int,
    rules: RuleSet,
    progress: bool | None = None,
    class_counts: dict[str, int] | None = None,
    strict: bool = False,
) -> SamplingFacts:
    """Sample `num_rows` rows (or the sum of `class_counts`) in batches, check them against
    `rules`, and stream them to `target`.

    The CSV is built in a temporary file beside `target` and renamed at the end (an interrupt
    leaves no partial file). A class the model cannot make is written short and listed in
    `shortfalls`; with `strict`, a shortfall raises ShortfallError and nothing is written.
    Progress: a bar on a terminal, a log line per ~10% otherwise (`progress` None decides by
    the terminal, False shows nothing).
    """

    validity = ValidityReport()
    batches = 0
    written = 0
    total = sum(flow.quotas(num_rows, class_counts).values())
    start = time.perf_counter()
    with atomic_path(target) as temporary, open(temporary, "w", encoding="utf-8", newline="") as handle, \
            Progress(total, f"{flow.model} sampling", unit="rows", enabled=progress) as bar:
        for batch in flow.sample(num_rows, batch_rows, seed, class_counts=class_counts):
            validity = validity.merge(rules.validity(batch))
            batch.to_csv(handle, header=(batches == 0), index=False)
            batches += 1
            written += len(batch)
            bar.update(len(batch))
        handle.flush()
        shortfalls = flow.validity.shortfalls if flow.validity is not None else {}
        if strict and shortfalls:
            raise ShortfallError(
                f"--strict: {written:,} of {total:,} rows could be made, nothing written: "
                + "; ".join(short.sentence(label, flow.target) for label, short in shortfalls.items()))
    seconds = time.perf_counter() - start
    return SamplingFacts(
        rows=written,
        batch_rows=batch_rows,
        batches=batches,
        seconds=round(seconds, 3),
        rows_per_second=round(written / seconds, 1) if seconds > 0 else float("nan"),
        validity=validity.to_dict(),
        asked=total,
        shortfalls={label: short.to_dict() for label, short in shortfalls.items()},
    )


def write_loss_csv(losses: pd.DataFrame, target: Path) -> Path:
    """SDV's loss table as CSV, atomically."""
    from common.core.io import write_csv

    return write_csv(target, losses)


def plot_loss_curve(losses: pd.DataFrame, model: str, target: Path, rows: int) -> Path:
    """PNG of the training loss per epoch.

    CTGAN: generator and discriminator loss (one value per epoch). TVAE: the mean loss of
    the epoch's batches with their min-max range shaded.
    """
    import matplotlib.pyplot as plt

    from common.core.plots import MODEL_COLORS, apply_style, save_figure

    apply_style()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    frame = losses.copy()
    frame["Epoch"] = pd.to_numeric(frame["Epoch"])
    epochs = int(frame["Epoch"].max()) + 1 if len(frame) else 0
    value_columns = [c for c in frame.columns if c not in ("Epoch", "Batch")]
    if "Batch" in frame.columns:
        values = pd.to_numeric(frame[value_columns[0]])
        grouped = values.groupby(frame["Epoch"])
        mean, low, high = grouped.mean(), grouped.min(), grouped.max()
        color = MODEL_COLORS.get(model, "#333333")
        axis.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=color, alpha=0.2,
                          label="range over the epoch's batches")
        axis.plot(mean.index, mean.to_numpy(), color=color, linewidth=1.6, label="mean loss of the epoch")
        axis.set_ylabel("loss (reconstruction + KL)")
    else:
        # One value per epoch is noisy for a GAN: draw it faintly, with a rolling mean on top.
        window = max(1, epochs // 30)
        for column, color in zip(value_columns, ("#DD8452", "#4C72B0", "#55A868")):
            values = pd.to_numeric(frame[column])
            axis.plot(frame["Epoch"], values, color=color, linewidth=0.8, alpha=0.35)
            label = column if window == 1 else f"{column} (mean of {window} epochs)"
            axis.plot(frame["Epoch"], values.rolling(window, min_periods=1).mean(), color=color,
                      linewidth=1.8, label=label)
        axis.axhline(0.0, color="#999999", linewidth=0.8, linestyle=":")
        axis.set_ylabel("loss (Wasserstein critic scale)")
    axis.set_xlabel("epoch")
    axis.set_title(f"{model.upper()} training loss ({epochs} epochs, {rows:,} training rows)")
    axis.legend(loc="best", frameon=True)
    return save_figure(figure, target)
