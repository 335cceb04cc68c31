#!/usr/bin/env python
"""All three scripts, with their defaults, on a large simulated table shipped as per-activity files.

    .venv/bin/python benchmarks/full_pipeline.py --rows 1000000

What a user with a full-size capture runs: the table (data.simulator, `--rows` flows) is written as
one CSV per activity (as BCCC-cPacket ships), then synthetic_data_setup.py, tcp_pattern_analyzer.py
and train_synthetic_models_improved.py run on that folder one after the other, each as its own child
with nothing but `--data` and `--output-dir` (default config: both models, "auto" epochs, the
training subsample of `max_training_rows`, generation of the train-split's rows, the evaluation on
its capped samples). Per script: wall seconds, CPU seconds and peak resident memory (that child's
own, from getrusage), and the training script's own stage timings (from its log). The target
(issue 21): all three within 30 minutes and 4 GiB peak on this 2-core machine. The machine's load
average is recorded before and after: a figure taken beside other work is an upper bound.

Writes benchmarks/full_pipeline_results.md and .json beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reporting import REPO_ROOT, report_head, write_report_files  # noqa: E402
from setup_benchmark import split_by, timed_child  # noqa: E402

from data.simulator import simulate_flows  # noqa: E402

RESULTS_MD = REPO_ROOT / "benchmarks" / "full_pipeline_results.md"
SCRIPTS = ("synthetic_data_setup.py", "tcp_pattern_analyzer.py", "train_synthetic_models_improved.py")
TARGET_SECONDS, TARGET_GIB = 30 * 60, 4.0
SIMULATE_ROWS = 1_000_000


def stage_timings(log_tail: str) -> dict[str, float]:
    """The training script's 'stage timings (s): name 1.0, ...' line, as {stage: seconds}."""
    found = re.findall(r"stage timings \(s\): (.*)", log_tail)
    if not found:
        return {}
    # a stage's name may hold commas ("load data, schema and rules"): a stage ends at its seconds
    timings = {name: float(seconds) for name, seconds in re.findall(r"(.*?) (\d+\.\d+)(?:, |$)", found[-1].strip())}
    return timings


def write_simulated(target: Path, rows: int, seed: int) -> None:
    """`rows` simulated flows to one CSV, in pieces of at most SIMULATE_ROWS (seed + piece number)
    so that a table of millions never sits in this process's memory at once."""
    with open(target, "w", encoding="utf-8", newline="") as handle:
        for piece, start in enumerate(range(0, rows, SIMULATE_ROWS)):
            frame = simulate_flows(min(SIMULATE_ROWS, rows - start), seed=seed + piece)
            frame.to_csv(handle, index=False, header=piece == 0)


def run_pipeline(folder: Path, output: Path) -> list[dict[str, Any]]:
    """Each script on `folder` into `output`, in order; stops at the first that fails."""
    runs = []
    for script in SCRIPTS:
        load_before = os.getloadavg()[0]
        wall, peak, status, tail, cpu = timed_child([sys.executable, script, "--data", str(folder),
                                                     "--output-dir", str(output)])
        run = {"script": script, "wall_s": round(wall, 1), "cpu_s": None if cpu is None else round(cpu, 1),
               "peak_gib": None if peak is None else round(peak, 2), "exit_status": status,
               "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
        if script.startswith("train"):
            run["stages"] = stage_timings(tail)
        runs.append(run)
        print(json.dumps(run), flush=True)
        if status != 0:
            run["tail"] = tail
            print(tail, flush=True)
            break
    return runs


def write_report(results: dict[str, Any], target: Path) -> None:
    runs = results["runs"]
    total = sum(run["wall_s"] for run in runs)
    peak = max((run["peak_gib"] or 0.0) for run in runs)
    lines = report_head(
        "All three scripts at full size", "full_pipeline.py", results["when"], results["machine"],
        f"{results['rows']:,} simulated flows ({results['csv_mib']} MiB) in {results['files']} per-activity CSVs; "
        "each script a child with only `--data <folder> --output-dir <folder>` (the defaults). Wall and CPU seconds "
        "and peak resident memory per script (the child's own). Load average (1 min) before and after each script: "
        "a figure taken beside other work is an upper bound.") + [
        "| script | wall s | CPU s | peak GiB | exit | load before / after |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(f"| {run['script']} | {run['wall_s']:.1f} | {run['cpu_s']} | {run['peak_gib']} | "
                     f"{run['exit_status']} | {run['load_before']} / {run['load_after']} |")
    lines += ["", f"All three: {total:.0f} s ({total / 60:.1f} min; target <= {TARGET_SECONDS // 60} min), peak "
              f"{peak:.2f} GiB (target <= {TARGET_GIB:g} GiB).", ""]
    stages = next((run.get("stages") for run in runs if run.get("stages")), None)
    if stages:
        lines += ["Training script stages (s): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in stages.items())
                  + ".", ""]
    write_report_files(target, lines, results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as scratch_name:
        scratch = Path(scratch_name)
        table = scratch / "flows.csv"
        write_simulated(table, args.rows, args.seed)
        files = split_by(table, "activity", scratch / "per_activity")
        results: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "rows": args.rows, "csv_mib": round(table.stat().st_size / 2**20, 1), "files": len(files)}
        table.unlink()       # only the folder is read
        results["runs"] = run_pipeline(files[0].parent, scratch / "out")
    write_report(results, args.output)
    print(f"wrote {args.output}")
    return 0 if all(run["exit_status"] == 0 for run in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
