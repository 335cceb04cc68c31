"""How long the evaluation takes for a given number of synthetic rows.

Simulates a flow table (data.simulator), splits it with common.data.split, writes fake synthetic
CSVs (real train rows resampled with 5% multiplicative noise on the numeric columns: the
evaluation's cost depends on the table's size and shape, not on how good the rows are), then
times common.evaluation.evaluate_models end to end, figures and report included.

    .venv/bin/python benchmarks/evaluation_benchmark.py                  # 10,000 synthetic rows, one model
    .venv/bin/python benchmarks/evaluation_benchmark.py --models ctgan tvae --synthetic-rows 20000

Prints the wall time per stage and writes benchmarks/results/evaluation_benchmark.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from common.core.cli import configure_logging  # noqa: E402
from common.core.io import write_csv, write_json  # noqa: E402
from common.data.pipeline import load_context  # noqa: E402
from data.simulator import simulate_flows  # noqa: E402
from common.data.split import make_split  # noqa: E402

NOISE = 0.05


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-rows", type=positive_int, default=10_000, help="synthetic rows per model")
    parser.add_argument("--real-rows", type=positive_int, default=12_500, help="rows of the simulated real table")
    parser.add_argument("--models", nargs="+", default=["ctgan"], help="model names to fake and evaluate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "evaluation_benchmark.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    from common.evaluation import evaluate_models

    with tempfile.TemporaryDirectory(prefix="evaluation-benchmark-") as folder:
        data = Path(folder) / "flows.csv"
        simulate_flows(args.real_rows, args.seed).to_csv(data, index=False)
        context = load_context(data, Path(folder) / "out", seed=args.seed)
        split = make_split(context.frame, context.schema.target, 0.2, args.seed, context.report.sha256)
        train = split.train(context.modelled)
        numeric = [c for c in context.schema.numeric_columns if c in train.columns]
        rng = np.random.default_rng(args.seed)
        for index, model in enumerate(args.models):
            fake = train.sample(n=args.synthetic_rows, replace=True, random_state=args.seed + index).reset_index(drop=True)
            fake[numeric] = fake[numeric] * (1 + rng.normal(0, NOISE, size=fake[numeric].shape))
            write_csv(context.layout.synthetic_csv(model), fake)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        comparison = evaluate_models(context, split, args.models, args.seed, timings=timings)
        seconds = time.perf_counter() - start
    result = {
        "synthetic_rows_per_model": args.synthetic_rows,
        "real_rows": args.real_rows,
        "train_rows": comparison["split"]["train_rows"],
        "holdout_rows": comparison["split"]["holdout_rows"],
        "models": args.models,
        "seconds_total": round(seconds, 1),
        "seconds_by_stage": timings,
        "seconds_by_section": comparison["timings_seconds"],
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
    }
    write_json(args.output, result)
    print(f"\nevaluate_models: {args.synthetic_rows:,} synthetic rows x {len(args.models)} model(s) against "
          f"{result['train_rows']:,} train / {result['holdout_rows']:,} holdout rows: {seconds:.1f} s "
          f"(written to {args.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
