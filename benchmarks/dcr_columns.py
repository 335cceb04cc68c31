#!/usr/bin/env python3
"""Which columns pull synthetic rows towards the training rows: a per-column split of the
nearest-row distances behind DCROverfittingProtection.

Takes real_data.py's split of a table (same seed, same train and holdout) and one or more
synthetic CSVs of that table (written by the training script, or by a benchmark). For each of up
to `--rows` synthetic rows: its nearest train row and nearest holdout row among equal-size samples
of both, by the range-normalised L1 distance over every column (numeric columns scaled by their
real range, NaN and Infinity as -1, a category 1 when it differs) - a plain approximation of
sdmetrics' DCR, written here, not taken from it. Printed per CSV: the share of rows nearer a
train row (0.5 for unseen real flows), and the columns whose distances make the difference,
averaged over those rows (holdout-nearest minus train-nearest distance in that column).

Usage:
    .venv/bin/python benchmarks/dcr_columns.py --table cic before.csv after.csv
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import real_data


def normalised(frame: pd.DataFrame, numeric: list[str], low: pd.Series, span: pd.Series) -> np.ndarray:
    values = frame[numeric].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    return ((values - low) / span).fillna(-1.0).to_numpy()


def pull_towards_train(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                       rows: int, seed: int = 0) -> tuple[float, pd.Series]:
    """(share of synthetic rows nearer a train row than a holdout row, mean per-column pull over
    those rows, largest first)."""
    size = min(len(train), len(holdout))
    train = train.sample(size, random_state=seed).reset_index(drop=True)
    holdout = holdout.sample(size, random_state=seed).reset_index(drop=True)
    synthetic = synthetic.sample(min(rows, len(synthetic)), random_state=seed + 1).reset_index(drop=True)
    numeric = [c for c in train.columns if pd.api.types.is_numeric_dtype(train[c])]
    categorical = [c for c in train.columns if c not in numeric]
    real = pd.concat([train, holdout])[numeric].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
    low, span = real.min(), (real.max() - real.min()).replace(0, 1)
    near_train, near_holdout, made = (normalised(f, numeric, low, span) for f in (train, holdout, synthetic))
    cat_train, cat_holdout, cat_made = (f[categorical].astype(str).to_numpy() for f in (train, holdout, synthetic))
    closer, pull = 0, np.zeros(len(numeric))
    for i in range(len(made)):
        to_train, to_holdout = np.abs(near_train - made[i]), np.abs(near_holdout - made[i])
        total_train = to_train.sum(1) + (cat_train != cat_made[i]).sum(1)
        total_holdout = to_holdout.sum(1) + (cat_holdout != cat_made[i]).sum(1)
        j, k = total_train.argmin(), total_holdout.argmin()
        if total_train[j] < total_holdout[k]:
            closer += 1
            pull += to_holdout[k] - to_train[j]
    share = closer / len(made)
    return share, pd.Series(pull / max(closer, 1), index=numeric).sort_values(ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="sample, cpacket, cpacket_1000 or cic (real_data.py's tables)")
    parser.add_argument("--rows", type=int, default=1000, help="synthetic rows looked at")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("synthetic", nargs="+", type=Path)
    args = parser.parse_args()
    paths = real_data.table_paths([args.table], Path(tempfile.mkdtemp()))
    if args.table not in paths:
        sys.exit(f"dcr_columns: table {args.table!r} is not available (../shared/data absent?)")
    data = real_data.prepare(paths[args.table])
    for path in args.synthetic:
        share, pull = pull_towards_train(data["train"], data["holdout"], pd.read_csv(path), args.rows)
        print(f"{path}: {share:.3f} of the rows nearer a train row than a holdout row")
        print("  pull towards train per column:", ", ".join(f"{c} {v:.4f}" for c, v in pull.head(args.top).items()))


if __name__ == "__main__":
    main()
