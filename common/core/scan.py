"""Tables larger than memory: whether to read a table whole, and Polars scans over its files.

A table is read whole into pandas (common.core.io.read_table) when it fits comfortably in
memory; otherwise the scripts work out of core: Polars scans the files lazily (its streaming
engine reads them in pieces and keeps only what a query needs), exact figures come from
queries over every row, and what needs rows in memory runs on a seeded sample.

Why Polars (not DuckDB): it is already a dependency (pinned in requirements.txt), reads CSV,
CSV.gz and Parquet lazily from several files as one table, converts to pandas without a copy
of the whole table, and hands a query's result out batch by batch (`collect_batches`), which
the rule confirmation streams through common.rules.

The decision (`plan_table`): the in-memory path peaks at about PEAK_BYTES_PER_CSV_BYTE bytes of
memory per byte of CSV (measured: 1,000,000 simulated rows, a 280 MB CSV, 2.2 GiB peak for the
setup). A table goes out of core when that estimate exceeds IN_MEMORY_LIMIT_BYTES or
IN_MEMORY_SHARE of the memory available now, whichever is smaller. `--out-of-core
always|never` (or TCPSYNTH_OUT_OF_CORE) overrides the decision.
"""
from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.core.errors import UserError

PEAK_BYTES_PER_CSV_BYTE = 8.0
# Parquet stores numbers compactly: its in-memory size is estimated from rows x columns.
PEAK_BYTES_PER_CELL = 40.0
IN_MEMORY_LIMIT_BYTES = 4 * 2**30
IN_MEMORY_SHARE = 0.5
OUT_OF_CORE_MODES = ("auto", "always", "never")
OUT_OF_CORE_ENV = "TCPSYNTH_OUT_OF_CORE"
# The hidden column that numbers rows across all files while sampling.
ROW_NUMBER = "__tcpsynth_row__"


@dataclass
class TablePlan:
    """How a table is read: `out_of_core` or whole, with the estimate and limit behind it."""

    out_of_core: bool
    mode: str
    estimated_peak_bytes: int
    limit_bytes: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def available_memory_bytes() -> int:
    """Memory available to new allocations now (MemAvailable of /proc/meminfo); the physical
    memory from sysconf where /proc is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _gzip_uncompressed_size(path: Path) -> int:
    """The uncompressed size of a gzip file from its trailer (modulo 4 GiB, so never less
    than three times the compressed size is assumed)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        trailer = struct.unpack("<I", handle.read(4))[0]
    return max(trailer, 3 * size)


def estimated_peak_bytes(files: list[Path]) -> int:
    """Estimated peak memory of reading `files` whole and profiling them in pandas."""
    total = 0.0
    for path in files:
        name = path.name.lower()
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path).metadata
            total += meta.num_rows * meta.num_columns * PEAK_BYTES_PER_CELL
        elif name.endswith(".gz"):
            total += _gzip_uncompressed_size(path) * PEAK_BYTES_PER_CSV_BYTE
        else:
            total += path.stat().st_size * PEAK_BYTES_PER_CSV_BYTE
    return int(total)


def plan_table(files: list[Path], mode: str | None = None) -> TablePlan:
    """Whether to read `files` whole or out of core. `mode`: "auto" (decide from the estimate),
    "always" or "never"; None reads $TCPSYNTH_OUT_OF_CORE, else "auto"."""
    mode = mode or os.environ.get(OUT_OF_CORE_ENV) or "auto"
    if mode not in OUT_OF_CORE_MODES:
        raise UserError(f"out-of-core mode must be one of {', '.join(OUT_OF_CORE_MODES)} (got {mode!r}; "
                        f"--out-of-core or ${OUT_OF_CORE_ENV})")
    estimate = estimated_peak_bytes([p for p in files if p.is_file()])
    limit = int(min(IN_MEMORY_LIMIT_BYTES, IN_MEMORY_SHARE * available_memory_bytes()))
    gib = 2**30
    if mode != "auto":
        out = mode == "always"
        reason = f"--out-of-core {mode}"
    else:
        out = estimate > limit
        reason = (f"reading it whole would peak at about {estimate / gib:.1f} GiB, "
                  f"{'over' if out else 'within'} the {limit / gib:.1f} GiB limit "
                  f"(the smaller of {IN_MEMORY_LIMIT_BYTES / gib:.0f} GiB and "
                  f"{IN_MEMORY_SHARE:.0%} of the memory available now)")
    return TablePlan(out_of_core=out, mode=mode, estimated_peak_bytes=estimate, limit_bytes=limit, reason=reason)


def capped_positions(labels: np.ndarray | None, total: int, max_rows: int, seed: int) -> tuple[np.ndarray, str]:
    """Sorted row positions of a seeded sample of at most `max_rows` of `total` rows in which
    rare classes keep all their rows, and a sentence saying how it was drawn.

    Each class (`labels`, one per row; None: no class column, a uniform sample) keeps
    min(its rows, cap) rows, with the largest cap whose total fits `max_rows` ("water
    filling"), so a 0.1 % attack class is not lost in a uniform sample.
    """
    if total <= max_rows:
        return np.arange(total), "all rows (fewer than the cap)"
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.choice(total, size=max_rows, replace=False)), "uniform random rows, no class column"
    positions = pd.Series(np.arange(total)).groupby(labels, sort=True)
    cap = _water_filling_cap(positions.size().to_numpy(), max_rows)
    chosen = []
    for _, members in positions:
        members = members.to_numpy()
        take = min(len(members), cap)
        chosen.append(members if take == len(members) else rng.choice(members, size=take, replace=False))
    return (np.sort(np.concatenate(chosen)),
            f"seeded random rows per class, at most {cap:,} per class (rare classes keep all rows)")


def _water_filling_cap(sizes: np.ndarray, budget: int) -> int:
    """The largest per-class cap c with sum(min(size, c)) <= budget."""
    low, high = 0, int(sizes.max())
    while low < high:
        middle = (low + high + 1) // 2
        if np.minimum(sizes, middle).sum() <= budget:
            low = middle
        else:
            high = middle - 1
    return max(low, 1)


def csv_missing_markers() -> list[str]:
    """The cells pandas' read_csv (as read_table calls it) reads as missing: the loader's own
    markers and pandas' defaults, so counts over every row agree with the in-memory path."""
    from pandas.io.parsers.readers import STR_NA_VALUES

    from common.core.io import MISSING_MARKERS

    return sorted(set(MISSING_MARKERS) | set(STR_NA_VALUES))


def scan_text(files: list[Path], names: list[str]):
    """A Polars LazyFrame of every file in order, every column as text named `names` (the
    stripped, unique header), so values are parsed once, the same way for CSV and Parquet."""
    import polars as pl

    frames = []
    for path in files:
        if path.name.lower().endswith((".parquet", ".pq")):
            lazy = pl.scan_parquet(path)
            original = lazy.collect_schema().names()
            frames.append(lazy.select([pl.col(old).cast(pl.String).alias(new) for old, new in zip(original, names)]))
        else:
            frames.append(pl.scan_csv(path, infer_schema=False, new_columns=names, null_values=csv_missing_markers(),
                                      quote_char='"', encoding="utf8"))
    return pl.concat(frames, how="vertical")


def typed(lazy, numeric_columns: list[str]):
    """`lazy` (text columns) with `numeric_columns` as Float64 read as pandas reads them:
    surrounding spaces ignored, 'Infinity'/'inf' as +-inf, 'NaN' and anything that is not a
    number as missing (null)."""
    import polars as pl

    return lazy.with_columns([
        pl.col(name).str.strip_chars().cast(pl.Float64, strict=False).fill_nan(None).alias(name)
        for name in numeric_columns
    ])


def count_rows(path: Path, names: list[str]) -> int:
    """Rows of one data file, counted by the engine without loading it."""
    import polars as pl

    return int(scan_text([path], names).select(pl.len()).collect(engine="streaming").item())



__all__ = [
    "IN_MEMORY_LIMIT_BYTES", "IN_MEMORY_SHARE", "OUT_OF_CORE_MODES", "PEAK_BYTES_PER_CSV_BYTE", "ROW_NUMBER",
    "TablePlan", "available_memory_bytes", "capped_positions", "count_rows", "estimated_peak_bytes", "plan_table", "scan_text", "typed",
]
