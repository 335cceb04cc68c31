#!/usr/bin/env python3
"""Fit MOSTLY AI's TabularARGN (mostlyai-engine) on one table and write sampled rows: a benchmark peer.

Run by the peer venv's python (`make peer-venv` makes benchmarks/.peer-venv), never by the project's:
benchmarks/peers.py calls it in a subprocess. It imports nothing from the project.

    benchmarks/.peer-venv/bin/python benchmarks/peers/tabularargn_run.py \
        --train train.csv --output synthetic.csv --rows 1000 --seed 1 --minutes 10 \
        [--target activity --class-counts '{"Benign": 500, "Attack": 500}']

The engine's defaults are kept (model MOSTLY_AI/Medium, max 100 epochs, value protection on); --minutes
caps training time (the engine's max_training_time, in minutes). With --target and --class-counts the rows
are asked class by class through the engine's seed data (`sample(seed_data=...)`: the target column is
fixed per row and the other columns are generated given it), so the counts come out exact. Without them a
plain `sample(n)`.

Prints one line of JSON last: fit and sample seconds, rows written, the engine's version, how rows were
asked for ("seeded" or "plain").
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def read_frame(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path, low_memory=False)


def class_seed(train: pd.DataFrame, target: str, counts: dict[str, int], seed: int) -> pd.DataFrame:
    """One row per synthetic row holding only its class, in the train column's own values and dtype,
    shuffled so no class is generated as one block."""
    by_text = {str(value): value for value in train[target].dropna().unique()}
    unknown = sorted(set(counts) - set(by_text))
    if unknown:
        raise SystemExit(f"--class-counts names classes not in the train column {target!r}: {unknown}")
    values = [by_text[name] for name, count in counts.items() for _ in range(int(count))]
    seed_frame = pd.DataFrame({target: pd.Series(values, dtype=train[target].dtype)})
    order = np.random.default_rng(seed).permutation(len(seed_frame))
    return seed_frame.iloc[order].reset_index(drop=True)


def training_progress(workspace: Path) -> dict:
    """Epochs reached, training seconds and the best validation loss, from the engine's progress log."""
    logs = sorted(workspace.glob("**/progress-messages.csv"))
    if not logs:
        return {}
    progress = pd.read_csv(logs[0])
    if progress.empty:
        return {}
    last = progress.iloc[-1]
    facts = {"epochs": float(last.get("epoch", np.nan)), "training_seconds": float(last.get("total_time", np.nan))}
    if "val_loss" in progress and progress["val_loss"].notna().any():
        facts["best_val_loss"] = float(progress["val_loss"].min())
    return {k: (round(v, 3) if np.isfinite(v) else None) for k, v in facts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="train rows (CSV or Parquet)")
    parser.add_argument("--output", type=Path, required=True, help="CSV to write the sampled rows to")
    parser.add_argument("--rows", type=int, required=True, help="rows to sample (ignored with --class-counts)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=10.0, help="training-time cap in minutes (default 10)")
    parser.add_argument("--target", default=None, help="class column (for --class-counts)")
    parser.add_argument("--class-counts", default=None,
                        help="JSON object {class: rows}: rows asked class by class (needs --target)")
    parser.add_argument("--workspace", type=Path, default=None, help="engine workspace (default: a temp folder)")
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args()

    import torch
    from importlib.metadata import version
    from mostlyai.engine import TabularARGN

    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)

    train = read_frame(args.train)
    counts = json.loads(args.class_counts) if args.class_counts else None
    if counts is not None and not args.target:
        raise SystemExit("--class-counts needs --target")
    if args.target and args.target not in train.columns:
        raise SystemExit(f"--target {args.target!r} is not a column of {args.train}")

    model = TabularARGN(max_training_time=args.minutes, random_state=args.seed, device="cpu",
                        workspace_dir=args.workspace, verbose=args.verbose)
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started
    progress = training_progress(Path(model.workspace_path_))

    started = time.perf_counter()
    if counts is not None:
        seed_frame = class_seed(train, args.target, counts, args.seed)
        synthetic = model.sample(seed_data=seed_frame)
        how = "seeded"
    else:
        synthetic = model.sample(n_samples=args.rows)
        how = "plain"
    sample_seconds = time.perf_counter() - started
    synthetic = synthetic[[c for c in train.columns if c in synthetic.columns]]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    synthetic.to_csv(args.output, index=False)
    model.close()

    print(json.dumps({
        "peer": "TabularARGN", "engine": f"mostlyai-engine {version('mostlyai-engine')}",
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "fit_seconds": round(fit_seconds, 2), "sample_seconds": round(sample_seconds, 2),
        "rows": int(len(synthetic)), "columns": int(synthetic.shape[1]), "train_rows": int(len(train)),
        "minutes_cap": args.minutes, "seed": args.seed, "sampling": how, **progress,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
