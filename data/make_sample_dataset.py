#!/usr/bin/env python3
"""Make the bundled sample flow table with the project's packet-level TCP simulator.

    python data/make_sample_dataset.py                  # data/tcp_flag_sample.csv, 6000 rows, seed 42
    python data/make_sample_dataset.py --rows 1000000 --output /tmp/big.csv
    python data/make_sample_dataset.py --compare-real ../shared/data/cpacket_attack_tcp_flag_osyn.csv

--compare-real writes nothing: it simulates the sample for --rows/--seed (the same rows as the
file those options write) and prints the markdown table of data/README.md that compares its
Attack-TCP-Flag-OSYN rows with a real OSYN file.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from data.simulator import (  # noqa: E402
    FEATURE_COLUMNS, IAT_COLUMNS, PLACEHOLDER_MIN, packet_counts_from_headers, simulate_flows,
)

DEFAULT_OUTPUT = REPO_ROOT / "data" / "tcp_flag_sample.csv"
OSYN = "Attack-TCP-Flag-OSYN"
_IAT = frozenset(c for cols in IAT_COLUMNS.values() for c in cols)
_HEADER_VALUE_COLUMNS = ("min_header_bytes", "max_header_bytes", "fwd_min_header_bytes", "fwd_max_header_bytes")


def write_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write the CSV to a temporary file beside `path`, then rename it over `path`, so a
    reader never sees a half-written sample."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            frame.to_csv(out, index=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _column_row(name: str, real: pd.Series, sample: pd.Series) -> str:
    """p5 / median / p95 of real and sample; IAT percentiles leave out the placeholders."""
    cells = [name]
    for values in (real, sample):
        kept = values[values < PLACEHOLDER_MIN] if name in _IAT else values
        q = kept.quantile([0.05, 0.5, 0.95]) if len(kept) else pd.Series([np.nan] * 3)
        cells.append(" / ".join(_fmt(v) for v in q))
    for values in (real, sample):
        cells.append(f"{(values >= PLACEHOLDER_MIN).mean():.1%}" if name in _IAT else "")
    return "| " + " | ".join(cells) + " |"


def _top_values(values: pd.Series, k: int = 6) -> str:
    shares = values.value_counts(normalize=True).head(k)
    return ", ".join(f"{int(v)} ({s:.0%})" for v, s in shares.items())


def _summary_rows(real: pd.DataFrame, sample: pd.DataFrame) -> list[tuple[str, str, str]]:
    def per(frame: pd.DataFrame) -> dict[str, str]:
        counts = packet_counts_from_headers(frame)
        headers = sorted(set(np.unique(frame[list(_HEADER_VALUE_COLUMNS)].to_numpy())) - {0})
        return {
            "rows": str(len(frame)),
            "exact duplicate rows": f"{frame.duplicated().mean():.1%}",
            "one-packet flows": f"{(counts['packets'] == 1).mean():.1%}",
            "flows without backward packets": f"{(counts['bwd_packets'] == 0).mean():.1%}",
            "flows without forward packets": f"{(counts['fwd_packets'] == 0).mean():.1%}",
            "packets per flow, median / p95 / max": " / ".join(
                _fmt(v) for v in (counts["packets"].median(), counts["packets"].quantile(0.95), counts["packets"].max())),
            "placeholder in packets_IAT_mean": f"{(frame['packets_IAT_mean'] >= PLACEHOLDER_MIN).mean():.1%}",
            "placeholder in fwd_packets_IAT_mean": f"{(frame['fwd_packets_IAT_mean'] >= PLACEHOLDER_MIN).mean():.1%}",
            "placeholder in bwd_packets_IAT_total": f"{(frame['bwd_packets_IAT_total'] >= PLACEHOLDER_MIN).mean():.1%}",
            "distinct header lengths (min/max columns)": ", ".join(str(int(h)) for h in headers),
            "distinct fwd_init_win_bytes": str(frame["fwd_init_win_bytes"].nunique()),
            "top fwd_init_win_bytes": _top_values(frame["fwd_init_win_bytes"]),
            "top bwd_init_win_bytes": _top_values(frame["bwd_init_win_bytes"], 3),
        }

    r, s = per(real), per(sample)
    return [(key, r[key], s[key]) for key in r]


def osyn_comparison(real: pd.DataFrame, sample: pd.DataFrame) -> str:
    """Markdown tables comparing the OSYN rows of `sample` with the real OSYN flows."""
    real = real[real["activity"] == OSYN] if "activity" in real else real
    sample = sample[sample["activity"] == OSYN]
    lines = ["| | real | sample |", "|---|---|---|"]
    lines += [f"| {k} | {r} | {s} |" for k, r, s in _summary_rows(real, sample)]
    lines += ["", "| column | real p5 / median / p95 | sample p5 / median / p95 | real placeholders | sample placeholders |",
              "|---|---|---|---|---|"]
    lines += [_column_row(c, real[c], sample[c]) for c in FEATURE_COLUMNS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6000, help="number of flows (default 6000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="CSV to write")
    parser.add_argument("--compare-real", type=Path, metavar="PATH",
                        help="print the OSYN comparison with this real file instead of writing")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    frame = simulate_flows(args.rows, seed=args.seed)
    if args.compare_real:
        print(osyn_comparison(pd.read_csv(args.compare_real), frame))
        return 0
    write_atomically(frame, args.output)
    print(f"wrote {len(frame)} rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
