#!/usr/bin/env python3
"""Generation from saved models: rows per second, peak memory, and what wide sampling batches cost.

What a user runs, end to end, on a real table (the three cPacket NTLFlowLyzer files in
../shared/data concatenated; the bundled sample when they are absent):

  1. synthetic_data_setup.py, then train_synthetic_models_improved.py --skip-evaluation with the
     default config ("auto" epochs and batch size), both models;
  2. per model, `train_synthetic_models_improved.py --generate-only --num-rows N` in a child
     process: wall seconds of its generation stage (from its log), rows/s, and the child's peak
     RSS (resource.getrusage(RUSAGE_CHILDREN)), for N = 1,000,000 by default;
  3. baseline in this process: the same saved SDV synthesizer's own `sample(100,000)` (no domain
     layer decoding, no class quotas, no guard), rows/s;
  4. the effect of sampling in wide forward passes (common.synth.ctgan_hooks.SAMPLING_BATCH_ROWS)
     instead of ctgan's training batch: SDMetrics quality (SDV-detected metadata) of 3,000
     generated rows against the train rows, both ways, same model and seed.

  5. with --compare-workers 1,2: the same generation with each worker count (--workers, Ray
     shards; common.synth.distributed), rows/s and the ratio to the first count.

Usage:
    .venv/bin/python benchmarks/generation.py                  # 1,000,000 rows per model (~15 min)
    .venv/bin/python benchmarks/generation.py --rows 200000 --models tvae
    .venv/bin/python benchmarks/generation.py --compare-workers 1,2 --rows 300000 --models tvae,ctgan
Writes benchmarks/generation_results.md and .json beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the real tables, their split and the repository path are real_data.py's (it also sets up sys.path)
from real_data import CPACKET_FILES, REPO_ROOT, SHARED, prepare  # noqa: E402

import pandas as pd  # noqa: E402

from reporting import report_head, write_report_files  # noqa: E402
from common.core.layout import OutputLayout  # noqa: E402

SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"
RESULTS_MD = REPO_ROOT / "benchmarks" / "generation_results.md"
WORKERS_MD = REPO_ROOT / "benchmarks" / "generation_workers_results.md"
BASELINE_ROWS = 100_000
QUALITY_ROWS = 3_000


def source_table(scratch: Path) -> tuple[Path, str]:
    """The real cPacket table when present, else the bundled sample."""
    files = [SHARED / name for name in CPACKET_FILES]
    if all(path.exists() for path in files):
        path = scratch / "cpacket.csv"
        pd.concat([pd.read_csv(p) for p in files], ignore_index=True).to_csv(path, index=False)
        return path, "cPacket 3-class (../shared/data, 2,134 rows)"
    return SAMPLE, "bundled sample (../shared/data absent)"


def run_script(*argv: str) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed:\n{result.stderr[-3000:]}")
    return result, time.perf_counter() - started


def generation_seconds(log: str) -> float:
    """The generation stage's own seconds, from the script's stage timing line."""
    found = re.findall(r"generate \w+ [^\n]*? done in ([0-9.]+) s", log)
    if not found:
        raise SystemExit(f"no generation timing in the log:\n{log[-2000:]}")
    return float(found[-1])


# Runs a script in a fresh interpreter and reports that interpreter's own peak RSS (KiB) last.
PEAK_WRAPPER = (
    "import resource, runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "finally:\n"
    "    print(f'PEAK_RSS_KIB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
)


def generate_child(output: Path, model: str, rows: int, target: Path, *extra: str) -> dict[str, Any]:
    """--generate-only in a child process (`extra`: more options, e.g. --workers 2): its stage
    seconds, rows/s, wall seconds (Ray's start included) and own peak RSS (the driver's; Ray
    workers are processes of their own)."""
    result, wall = run_script("-c", PEAK_WRAPPER, "train_synthetic_models_improved.py", "--output-dir", str(output),
                              "--generate-only", "--models", model, "--num-rows", str(rows), "--output", str(target),
                              *extra)
    peak_kib = int(re.findall(r"PEAK_RSS_KIB (\d+)", result.stderr)[-1])
    record = json.loads(OutputLayout(output).manifest_json.read_text())["generations"][-1]["sampling"]
    stage = generation_seconds(result.stdout + result.stderr)
    with open(target, "rb") as handle:
        written = sum(1 for _ in handle) - 1
    return {"rows": written, "wall_s": wall, "generation_s": stage, "rows_per_s": written / stage,
            "peak_rss_gib": peak_kib / 2**20, "cpu_s": record.get("cpu_seconds"),
            "load_after": os.getloadavg()[0]}


def baseline_rows_per_s(output: Path, model: str) -> float:
    """Plain SDV sampling of the same saved synthesizer, in this process."""
    from sdv.utils import load_synthesizer

    synthesizer = load_synthesizer(str(OutputLayout(output).model_pickle(model)))
    synthesizer.sample(num_rows=1000)   # warm-up
    started = time.perf_counter()
    synthesizer.sample(num_rows=BASELINE_ROWS)
    return BASELINE_ROWS / (time.perf_counter() - started)


def wide_batch_quality(output: Path, source: Path, model: str, seed: int) -> dict[str, float]:
    """SDV-detected quality of QUALITY_ROWS generated rows against the train rows (the
    benchmark split of real_data.py, seed 42 as the script's default), sampled in wide forward
    passes and in passes of the training batch; same model, same seed."""
    from common.synth import ctgan_hooks
    from common.evaluation.fidelity import quality_reports
    from common.synth import load_trained

    data = prepare(source)
    flow = load_trained(OutputLayout(output), model)
    figures: dict[str, float] = {}
    original = ctgan_hooks.SAMPLING_BATCH_ROWS
    for name, width in (("wide", original), ("training_batch", 1)):
        ctgan_hooks.SAMPLING_BATCH_ROWS = width   # 1: never wider than the training batch
        try:
            rows = pd.concat(flow.sample(QUALITY_ROWS, QUALITY_ROWS, seed), ignore_index=True)
        finally:
            ctgan_hooks.SAMPLING_BATCH_ROWS = original
        figures[name] = quality_reports(data["inputs"], rows, metadata=data["detected_metadata"]).overall
    return figures


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Generation from saved models", "generation.py", results["when"], results["machine"],
        f"Table: {results['table']}; models trained with the default config (\"auto\" epochs and batch size). "
        "Generation = `train_synthetic_models_improved.py --generate-only --num-rows N` in a child process "
        "(training-share class quotas, domain-layer decoding, the validity guard, CSV written in batches); "
        "rows/s over its generation stage; peak = the child's maximum resident set size. Baseline = the same "
        f"saved SDV synthesizer's own `sample({BASELINE_ROWS:,})` in the benchmark process (no decoding, "
        "quotas or guard). Quality = SDMetrics QualityReport overall (SDV-detected metadata) of "
        f"{QUALITY_ROWS:,} generated rows against the train rows, sampled in wide forward passes "
        "(common.synth.ctgan_hooks.SAMPLING_BATCH_ROWS) and in passes of the training batch.") + [
        "| model | rows | generation s | rows/s | target | baseline SDV rows/s | ratio | peak RSS GiB | target | "
        "quality wide | quality training batch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, entry in results["models"].items():
        run = entry["generation"]
        lines.append(
            f"| {model} | {run['rows']:,} | {run['generation_s']:.1f} | {run['rows_per_s']:,.0f} | >= 5,000 | "
            f"{entry['baseline_rows_per_s']:,.0f} | {run['rows_per_s'] / entry['baseline_rows_per_s']:.2f} | "
            f"{run['peak_rss_gib']:.2f} | < 2 | {entry['quality']['wide']:.3f} | "
            f"{entry['quality']['training_batch']:.3f} |")
    write_report_files(target, lines, results)


def compare_workers(output: Path, models: list[str], rows: int, workers: list[int], scratch: Path) -> dict[str, Any]:
    """Per model, the same generation (rows, seed) with each worker count in `workers`, in child
    processes one after the other: rows/s of the generation stage and of the whole command, and
    each count's ratio to the first (the one-process path when it is 1)."""
    figures: dict[str, Any] = {}
    for model in models:
        runs = {}
        for count in workers:
            target = scratch / f"{model}_{count}workers.csv"
            runs[count] = generate_child(output, model, rows, target, "--workers", str(count))
            runs[count]["rows_per_s_wall"] = runs[count]["rows"] / runs[count]["wall_s"]
            target.unlink()
            print(model, count, "workers", json.dumps(runs[count]), flush=True)
        base = runs[workers[0]]
        for run in runs.values():
            run["ratio"] = run["rows_per_s"] / base["rows_per_s"]
            run["ratio_wall"] = run["rows_per_s_wall"] / base["rows_per_s_wall"]
            # CPU seconds per row against the first count's: what splitting into shards costs
            run["cpu_ratio"] = (run["cpu_s"] / run["rows"]) / (base["cpu_s"] / base["rows"])
        figures[model] = runs
    return figures


def write_workers_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Generation past one process (`--workers`)", "generation.py --compare-workers", results["when"],
        results["machine"],
        f"Table: {results['table']}; models trained with {results['training']}. Each row: "
        "`train_synthetic_models_improved.py --generate-only --num-rows N --workers W` in a child process, same "
        "seed; W = 1 is the in-process path, W >= 2 runs seeded shards on a local Ray (common.synth.distributed). "
        "Stage rows/s: over the script's generation stage (Ray workers' start and imports included, Ray's own "
        "start not); wall rows/s: over the whole command (loading, Ray's start and stop included). Ratio: "
        "against the first worker count in the same benchmark process. CPU s: CPU seconds of sampling, "
        "checking and writing (the process and its workers; SamplingFacts.cpu_seconds), CPU/row ratio: per row "
        "against the first count (1.0: sharding costs no extra CPU). Machine load during the run: "
        f"{results['load']}.") + [
        "| model | rows | workers | stage s | stage rows/s | ratio | target | wall s | wall rows/s | wall ratio | "
        "CPU s | CPU/row ratio | load after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, runs in results["workers"].items():
        for count, run in runs.items():
            lines.append(f"| {model} | {run['rows']:,} | {count} | {run['generation_s']:.1f} | "
                         f"{run['rows_per_s']:,.0f} | {run['ratio']:.2f} | {'>= 1.7' if int(count) == 2 else ''} | "
                         f"{run['wall_s']:.1f} | {run['rows_per_s_wall']:,.0f} | {run['ratio_wall']:.2f} | "
                         f"{run['cpu_s']:.1f} | {run['cpu_ratio']:.2f} | {run['load_after']:.1f} |")
    write_report_files(target, lines, results)


def workers_main(args: argparse.Namespace, models: list[str]) -> None:
    """--compare-workers: train (optionally with fixed --epochs), then compare worker counts."""
    workers = [int(w) for w in args.compare_workers.split(",")]
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "training": f"{args.epochs} epochs" if args.epochs else "the default config (\"auto\" epochs and batch size)",
    }
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        source, results["table"] = source_table(scratch)
        output = scratch / "out"
        run_script("synthetic_data_setup.py", "--data", str(source), "--output-dir", str(output))
        epochs = ["--epochs", str(args.epochs)] if args.epochs else []
        run_script("train_synthetic_models_improved.py", "--data", str(source), "--output-dir", str(output),
                   "--models", *models, "--skip-evaluation", "--seed", str(args.seed), *epochs)
        load_before = os.getloadavg()[0]
        results["workers"] = compare_workers(output, models, args.rows, workers, scratch)
        results["load"] = f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    write_workers_report(results, args.output if args.output != RESULTS_MD else WORKERS_MD)
    print(f"wrote {args.output if args.output != RESULTS_MD else WORKERS_MD}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", default="tvae,ctgan")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    parser.add_argument("--compare-workers", default=None, metavar="1,2",
                        help="compare generation with these --workers counts instead (writes "
                             "generation_workers_results.md)")
    parser.add_argument("--epochs", type=int, default=None, help="with --compare-workers: fixed epochs (quicker)")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    if args.compare_workers:
        workers_main(args, models)
        return
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "models": {},
    }
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        source, results["table"] = source_table(scratch)
        output = scratch / "out"
        run_script("synthetic_data_setup.py", "--data", str(source), "--output-dir", str(output))
        _, fit_wall = run_script("train_synthetic_models_improved.py", "--data", str(source), "--output-dir",
                                 str(output), "--models", *models, "--skip-evaluation", "--seed", str(args.seed))
        results["training_wall_s"] = fit_wall
        print(f"trained {models} in {fit_wall:.0f} s", flush=True)
        for model in models:
            generation = generate_child(output, model, args.rows, scratch / f"{model}_generated.csv")
            (scratch / f"{model}_generated.csv").unlink()
            entry = {"generation": generation, "baseline_rows_per_s": baseline_rows_per_s(output, model),
                     "quality": wide_batch_quality(output, source, model, args.seed)}
            results["models"][model] = entry
            print(model, json.dumps(entry), flush=True)
    write_report(results, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
