#!/usr/bin/env python3
"""How long training takes with the full defaults, and where the time goes.

Runs the real training script (train_synthetic_models_improved.py, both models, the config's
defaults: 300 epochs, batch 500) on the bundled sample, or on simulate_flows(6000) when the
sample is missing, into a scratch output folder, then reads the per-model facts it recorded
in models/manifest.json: fit seconds split into SDV preprocessing, ctgan's own column encoding
and the epoch loop, seconds per epoch, optimiser steps per epoch and sampling speed.
`--profile-epochs N` adds a cProfile of N CTGAN epochs in this process, to show which
operations dominate an epoch.

The evaluation is skipped unless --with-evaluation: it is another stage's cost.

Usage:
    .venv/bin/python benchmarks/training_benchmark.py                # full defaults (minutes)
    .venv/bin/python benchmarks/training_benchmark.py --epochs 5     # a quick look
Results: printed, and written to benchmarks/results/training_benchmark.json.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# As in the training script: OpenMP threads sleep rather than spin (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from common.core.cli import DEFAULT_DATA  # noqa: E402
from common.core.layout import OutputLayout  # noqa: E402
from common.synth.registry import DEFAULT_MODELS as MODEL_NAMES  # noqa: E402

SCRIPT = REPO_ROOT / "train_synthetic_models_improved.py"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "training_benchmark.json"
FALLBACK_ROWS = 6000


def benchmark_data(scratch: Path) -> tuple[Path, str]:
    """The bundled sample, else a simulated table of the same size."""
    if DEFAULT_DATA.exists():
        return DEFAULT_DATA, "bundled sample"
    from data.simulator import simulate_flows

    path = scratch / "simulated_flows.csv"
    simulate_flows(FALLBACK_ROWS, seed=42).to_csv(path, index=False)
    return path, f"simulate_flows({FALLBACK_ROWS}) (bundled sample missing)"


def run_training(data: Path, output_dir: Path, epochs: int | None, with_evaluation: bool) -> float:
    """Run the training script; return its wall-clock seconds. Its output streams through."""
    command = [sys.executable, str(SCRIPT), "--data", str(data), "--output-dir", str(output_dir)]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    if not with_evaluation:
        command.append("--skip-evaluation")
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, check=True)
    return time.perf_counter() - start


def model_rows(manifest: dict) -> list[dict]:
    """One flat record per trained model from the manifest's facts."""
    rows = []
    for model in MODEL_NAMES:
        entry = manifest["models"].get(model)
        if not entry:
            continue
        training, sampling = entry["training"], entry["sampling"]
        encoding = training["training_seconds"] - training["epochs_seconds"]
        rows.append({
            "model": model,
            "device": training["device"],
            "rows": training["rows"],
            "network_data_dim": training["network_data_dim"],
            "epochs": training["epochs"],
            "batch_size": training["batch_size"],
            "steps_per_epoch": training["steps_per_epoch"],
            "fit_seconds": training["fit_seconds"],
            "sdv_preprocess_seconds": training["preprocess_seconds"],
            "ctgan_encoding_seconds": round(encoding, 3),
            "epoch_loop_seconds": training["epochs_seconds"],
            "seconds_per_epoch": training["seconds_per_epoch"],
            "seconds_per_step": round(training["seconds_per_epoch"] / training["steps_per_epoch"], 4),
            "slowest_epoch_seconds": training["slowest_epoch_seconds"],
            "sampling_rows": sampling["rows"],
            "sampling_seconds": sampling["seconds"],
            "sampling_rows_per_second": sampling["rows_per_second"],
        })
    return rows


def profile_ctgan_epochs(data: Path, epochs: int, top: int = 12) -> str:
    """cProfile of a short CTGAN fit on the same training rows: where an epoch's time goes."""
    from dataclasses import replace

    from common import synth
    from common.data.pipeline import load_context
    from common.data.schema import sdv_metadata_dict
    from common.data.split import make_split
    from common.synth.config import TrainingConfig

    with tempfile.TemporaryDirectory() as scratch:
        context = load_context(data, Path(scratch))
    config = TrainingConfig()
    split = make_split(context.frame, context.schema.target, config.holdout_fraction, config.seed,
                       context.report.sha256)
    synth.configure_torch_threads()
    params, _ = synth.resolve_auto("ctgan", config.with_params(replace(config.params("ctgan"), epochs=epochs)),
                                   len(split.train_index), "cpu", context.modelled.shape[1])
    flow = synth.FlowSynthesizer("ctgan", params.sdv_kwargs(), synth.choose_device("auto"),
                                 sdv_metadata_dict(context.schema), verbose=False)
    profiler = cProfile.Profile()
    profiler.enable()
    flow.fit(split.train(context.modelled))
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def print_table(rows: list[dict]) -> None:
    columns = ["model", "device", "rows", "network_data_dim", "epochs", "steps_per_epoch", "fit_seconds", "sdv_preprocess_seconds",
               "ctgan_encoding_seconds", "epoch_loop_seconds", "seconds_per_epoch", "seconds_per_step",
               "sampling_rows_per_second"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="override epochs (default: the config's 300)")
    parser.add_argument("--with-evaluation", action="store_true", help="include the evaluation stage")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="keep the artifacts here (default: a scratch folder, removed afterwards)")
    parser.add_argument("--profile-epochs", type=int, default=0,
                        help="also cProfile this many CTGAN epochs in-process (0: no profile)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="training-benchmark-") as scratch:
        data, data_note = benchmark_data(Path(scratch))
        output_dir = args.output_dir or Path(scratch) / "out"
        wall_seconds = run_training(data, output_dir, args.epochs, args.with_evaluation)
        manifest = json.loads(OutputLayout(output_dir).manifest_json.read_text())
        profile = profile_ctgan_epochs(data, args.profile_epochs) if args.profile_epochs else ""

    rows = model_rows(manifest)
    result = {
        "data": data_note,
        "machine": {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0)),
                    "torch_threads": manifest.get("torch_threads")},
        "libraries": manifest.get("libraries"),
        "config": {m: manifest["config"][m] for m in MODEL_NAMES},
        "script_wall_seconds": round(wall_seconds, 1),
        "with_evaluation": args.with_evaluation,
        "models": rows,
        "ctgan_profile": profile,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\ndata: {data_note}; training script wall time: {wall_seconds:.1f} s "
          f"({'with' if args.with_evaluation else 'without'} evaluation)")
    print_table(rows)
    if profile:
        print(f"\ncProfile of {args.profile_epochs} CTGAN epochs (by own time):\n{profile}")
    print(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
