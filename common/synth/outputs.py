"""What a fit and a sampling run write: the synthetic CSV or Parquet file (streamed, atomic), the
rule tally of the rows written, loss CSV and plot.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pandas as pd

from common.core.errors import ShortfallError
from common.core.io import atomic_path
from common.core.progress import Progress
from common.rules import RuleSet, ValidityReport
from common.synth.synthesizer import FlowSynthesizer

if TYPE_CHECKING:
    from common.synth.sampling import ClassShortfall


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
    workers: int = 1                    # processes that sampled (common.synth.distributed: Ray shards)
    shards: int = 1
    shard_files: list[str] = field(default_factory=list)       # --shard-files: one file per shard
    # CPU seconds sampling, checking and formatting the rows took, this process and its workers
    # together (a wall-clock figure depends on what else the machine runs; this one much less)
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CsvRows:
    """Frames appended to one CSV file (the header once)."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "w", encoding="utf-8", newline="")
        self.header = True

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.handle, header=self.header, index=False)
        self.header = False

    def write_text(self, columns: list[str], text: str) -> None:
        """Append rows already formatted as CSV (no header) under `columns`' header."""
        if self.header:
            pd.DataFrame(columns=columns).to_csv(self.handle, index=False)
            self.header = False
        self.handle.write(text)

    def close(self) -> None:
        self.handle.close()


class ParquetRows:
    """Frames appended to one Parquet file, each a row group, in the first frame's schema."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        # a column that is all missing in one frame is typed null there: cast to the file's schema
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def is_parquet(target: Path) -> bool:
    return Path(target).suffix.lower() == ".parquet"


@contextmanager
def open_rows(target: Path) -> Iterator[CsvRows | ParquetRows]:
    """A writer of frames to `target` (Parquet when it ends in .parquet, else CSV), built in a
    temporary file beside it and renamed over it when the block ends without an error (an
    interrupt or an error leaves no partial file and `target` as it was)."""
    with atomic_path(target) as temporary:
        sink = ParquetRows(temporary) if is_parquet(target) else CsvRows(temporary)
        try:
            yield sink
        finally:
            sink.close()


def strict_check(shortfalls: dict[str, ClassShortfall], written: int, total: int, target: str | None) -> None:
    """--strict: ShortfallError when a class fell short (the caller's file is then not written)."""
    if shortfalls:
        raise ShortfallError(
            f"--strict: {written:,} of {total:,} rows could be made, nothing written: "
            + "; ".join(short.sentence(label, target) for label, short in shortfalls.items()))


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
    """Sample `num_rows` rows (or the sum of `class_counts`) in batches in this process, check
    them against `rules`, and stream them to `target` (CSV, or Parquet for a .parquet name).

    The file is built in a temporary file beside `target` and renamed at the end (an interrupt
    leaves no partial file). A class the model cannot make is written short and listed in
    `shortfalls`; with `strict`, a shortfall raises ShortfallError and nothing is written.
    Progress: a bar on a terminal, a log line per ~10% otherwise (`progress` None decides by
    the terminal, False shows nothing).
    """
    validity = ValidityReport()
    batches = 0
    written = 0
    total = sum(flow.quotas(num_rows, class_counts).values())
    start, cpu_start = time.perf_counter(), time.process_time()
    with open_rows(target) as sink, Progress(total, f"{flow.model} sampling", unit="rows", enabled=progress) as bar:
        for batch in flow.sample(num_rows, batch_rows, seed, class_counts=class_counts):
            validity = validity.merge(rules.validity(batch))
            sink.write(batch)
            batches += 1
            written += len(batch)
            bar.update(len(batch))
        shortfalls = flow.validity.shortfalls if flow.validity is not None else {}
        if strict:
            strict_check(shortfalls, written, total, flow.target)
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
        cpu_seconds=round(time.process_time() - cpu_start, 3),
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
