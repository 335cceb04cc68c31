#!/usr/bin/env python3
"""DCROverfittingProtection over many train / holdout / synthetic draws, paired across CSVs.

sdmetrics' DCR scales each column by the range of the reference rows it is computed against: the
train sample for the distance to train, the holdout sample for the distance to holdout. On flow
tables, whose byte, rate and duration columns are heavy-tailed, a column's range is set by the one
extreme row a 500-row sample happens to hold, so whichever sample drew the larger extremes looks
nearer to every synthetic row at once. One draw then says more about the draw than the model
(CIC-IDS2017, one CTGAN's rows: 0.27 to 0.88 of the rows nearer train across draws).

This script takes real_data.py's split of a table and one or more synthetic CSVs of it, and for
each of `--draws` seeded draws (the same draws for every CSV, so the CSVs are compared pair by
pair) reports:
- sdmetrics DCROverfittingProtection and its share of rows nearer train, on equal-size train and
  holdout samples and `--rows` synthetic rows (what real_data.py reports for its one draw);
- the share of rows nearer train with every column scaled by one range, that of the drawn train
  and holdout rows together (dcr_columns.pull_towards_train, written here, not sdmetrics'): the
  same question without the per-reference scaling. Unseen real flows give 0.5.

Names GROUP:RUN (before:s1=a.csv now:s1=b.csv ...) are also pooled by group, runs paired by RUN.

Usage:
    .venv/bin/python benchmarks/dcr_draws.py --table cic --output benchmarks/x.md before:s1=a.csv now:s1=b.csv
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import real_data
from dcr_columns import pull_towards_train
from reporting import report_head, write_report_files

from common.evaluation.tables import TABLE_NAME, prepare_candidate


def draw_figures(inputs, candidate: pd.DataFrame, draw: int, rows: int) -> dict[str, float]:
    """Both figures on one seeded draw of train, holdout and synthetic rows."""
    from sdmetrics.single_table import DCROverfittingProtection

    size = min(len(inputs.train), len(inputs.holdout), rows)
    train = inputs.train.sample(size, random_state=1000 + draw)
    holdout = inputs.holdout.sample(size, random_state=2000 + draw)
    synthetic = candidate.sample(min(rows, len(candidate)), random_state=3000 + draw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        breakdown = DCROverfittingProtection.compute_breakdown(train, synthetic, holdout, inputs.metadata,
                                                               TABLE_NAME)
    common_range, _ = pull_towards_train(train, holdout, synthetic, rows, seed=draw)
    return {"score": float(breakdown["score"]),
            "nearer_train": float(breakdown["synthetic_data_percentages"]["closer_to_training"]),
            "nearer_train_common_range": float(common_range)}


def summary(values: list[float]) -> dict[str, float]:
    x = np.asarray(values, dtype=float)
    sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
    return {"mean": float(x.mean()), "sd": sd, "se": sd / np.sqrt(len(x)), "min": float(x.min()), "max": float(x.max())}


def paired(first: list[float], second: list[float]) -> dict[str, float]:
    """second - first, draw by draw: mean, its standard error, and how many draws each way."""
    diff = np.asarray(second) - np.asarray(first)
    out = summary(diff.tolist())
    out.update({"higher": int((diff > 0).sum()), "lower": int((diff < 0).sum()), "equal": int((diff == 0).sum())})
    return out


def report(table: str, results: dict[str, list[dict[str, float]]], draws: int, rows: int,
           files: dict[str, Path]) -> list[str]:
    names = list(results)
    lines = report_head(
        f"DCR protection over {draws} draws: {table}", "dcr_draws.py", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        f"{platform.machine()}, {os.cpu_count()} CPUs",
        f"{rows} synthetic rows and equal-size train and holdout samples per draw, the same draws for every "
        "CSV. sdmetrics' score and share of rows nearer train, then the share nearer train with one range per "
        "column (the draw's train and holdout rows together). Mean ± sd over draws [min, max]. Files: "
        + ", ".join(f"`{n}` = {p}" for n, p in files.items()) + ".")
    lines += ["| rows | DCROverfittingProtection | nearer train (sdmetrics) | nearer train (one range) |",
             "|---|---|---|---|"]
    for name in names:
        cells = []
        for key in ("score", "nearer_train", "nearer_train_common_range"):
            s = summary([d[key] for d in results[name]])
            cells.append(f"{s['mean']:.3f} ± {s['sd']:.3f} [{s['min']:.3f}, {s['max']:.3f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if len(names) > 1:
        lines += ["", f"Paired against `{names[0]}` (difference per draw: mean ± standard error; draws higher / lower / equal):", "",
                  "| rows | DCROverfittingProtection | nearer train (sdmetrics) | nearer train (one range) |", "|---|---|---|---|"]
        for name in names[1:]:
            cells = []
            for key in ("score", "nearer_train", "nearer_train_common_range"):
                p = paired([d[key] for d in results[names[0]]], [d[key] for d in results[name]])
                cells.append(f"{p['mean']:+.3f} ± {p['se']:.3f} ({p['higher']} / {p['lower']} / {p['equal']})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    groups = grouped(names)
    if len(groups) > 1:
        first, *rest = groups
        lines += ["", "Pooled by group (names GROUP:RUN; runs paired by RUN, then draw by draw):", "",
                  "| group | runs × draws | DCROverfittingProtection | nearer train (sdmetrics) | nearer train (one range) |",
                  "|---|---|---|---|---|"]
        for group in groups:
            cells = []
            for key in ("score", "nearer_train", "nearer_train_common_range"):
                s = summary([d[key] for name in groups[group].values() for d in results[name]])
                cells.append(f"{s['mean']:.3f} ± {s['se']:.3f} (se)")
            lines.append(f"| {group} | {len(groups[group])} × {draws} | " + " | ".join(cells) + " |")
        for group in rest:
            runs = sorted(set(groups[first]) & set(groups[group]))
            cells = []
            for key in ("score", "nearer_train", "nearer_train_common_range"):
                p = paired([d[key] for run in runs for d in results[groups[first][run]]],
                           [d[key] for run in runs for d in results[groups[group][run]]])
                cells.append(f"{p['mean']:+.3f} ± {p['se']:.3f} ({p['higher']} / {p['lower']} / {p['equal']})")
            lines.append(f"| {group} - {first} | {len(runs)} × {draws} paired | " + " | ".join(cells) + " |")
    return lines + [""]


def grouped(names: list[str]) -> dict[str, dict[str, str]]:
    """{group: {run: name}} for names "GROUP:RUN" (one group per name without a colon)."""
    groups: dict[str, dict[str, str]] = {}
    for name in names:
        group, _, run = name.partition(":")
        groups.setdefault(group, {})[run or group] = name
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="sample, cpacket, cpacket_1000 or cic (real_data.py's tables)")
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--rows", type=int, default=500, help="synthetic rows per draw (train and holdout: as many, or the holdout's size)")
    parser.add_argument("--output", type=Path, help="markdown report (a .json beside it holds every draw)")
    parser.add_argument("synthetic", nargs="+", help="NAME=PATH of a synthetic CSV of the table")
    args = parser.parse_args()
    if args.draws < 2 or args.rows < 10:
        sys.exit("dcr_draws: --draws must be at least 2 and --rows at least 10")
    named = {}
    for item in args.synthetic:
        name, _, path = item.rpartition("=")
        named[name or Path(path).stem] = Path(path)
    missing = [str(p) for p in named.values() if not p.is_file()]
    if missing:
        sys.exit(f"dcr_draws: no such file: {missing[0]}")
    paths = real_data.table_paths([args.table], Path(tempfile.mkdtemp()))
    if args.table not in paths:
        sys.exit(f"dcr_draws: table {args.table!r} is not available (../shared/data absent?)")
    inputs = real_data.prepare(paths[args.table])["inputs"]
    candidates = {name: prepare_candidate(pd.read_csv(path), inputs, name) for name, path in named.items()}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in candidates}
    for draw in range(args.draws):
        for name, candidate in candidates.items():
            results[name].append(draw_figures(inputs, candidate, draw, args.rows))
        print(f"draw {draw}: " + "  ".join(f"{n} {r[-1]['score']:.3f} / {r[-1]['nearer_train_common_range']:.3f}"
                                            for n, r in results.items()), flush=True)
    lines = report(args.table, results, args.draws, args.rows, named)
    print("\n".join(lines))
    if args.output:
        write_report_files(args.output, lines, {"table": args.table, "draws": args.draws, "rows": args.rows,
                                                "files": {n: str(p) for n, p in named.items()}, "results": results})


if __name__ == "__main__":
    main()
