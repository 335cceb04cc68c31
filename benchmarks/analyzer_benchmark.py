#!/usr/bin/env python3
"""Time tcp_pattern_analyzer.py end to end on a large simulated table, and its peak memory.

    python benchmarks/analyzer_benchmark.py                  # 1,000,000 rows, seed 7
    python benchmarks/analyzer_benchmark.py --rows 200000 --with-setup

The table is simulated once with data.simulator.simulate_flows and written as CSV into a
temporary folder (kept with --keep). The analyzer runs as a child process, as a user runs it;
wall time is measured around it and peak memory is the child's maximum resident set size
(getrusage of a small wrapper process that runs only the analyzer). With --with-setup,
synthetic_data_setup.py runs first
(timed apart), so the analyzer reads the setup's outputs as in `make run`; without it the
analyzer computes schema and rules itself, which is included in its time.
The result is printed and written as JSON to benchmarks/results/analyzer_<rows>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from setup_benchmark import split_by  # noqa: E402  (a sibling script: its folder is on sys.path)
from data.simulator import simulate_flows  # noqa: E402

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
TARGET_SECONDS = 600   # 5,000,000 rows within 10 minutes (issue 21); 1,000,000 rows took about 50 s


# Runs the given command as its own child and reports that child's peak resident set, so the
# figure is the analyzer's alone even when the setup ran before it from the same parent.
_PEAK_WRAPPER = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[1:]).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print('PEAK_RSS_KIB', usage.ru_maxrss, file=sys.stderr)\n"
    "print('CPU_SECONDS', usage.ru_utime + usage.ru_stime, file=sys.stderr)\n"
    "sys.exit(status)\n"
)


def run_child(command: list[str]) -> tuple[float, int, str, float | None, float | None]:
    """Run a command; return (wall seconds, exit status, tail of its output, its peak memory in
    MiB, its CPU seconds: how much of the wall time it computed rather than waited on a shared machine)."""
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, *command], cwd=REPO_ROOT,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak, cpu = None, None
    lines = []
    for line in (completed.stdout + completed.stderr).strip().splitlines():
        if line.startswith("PEAK_RSS_KIB"):
            peak = int(line.split()[1]) / 1024  # Linux reports KiB
        elif line.startswith("CPU_SECONDS"):
            cpu = float(line.split()[1])
        else:
            lines.append(line)
    return seconds, completed.returncode, "\n".join(lines[-25:]), peak, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--with-setup", action="store_true", help="run synthetic_data_setup.py first (timed apart)")
    parser.add_argument("--data", type=Path, default=None,
                        help="time on this existing CSV (or folder of them) instead of simulating one (--rows then only "
                             "names the result)")
    parser.add_argument("--split-by", default=None, metavar="COLUMN",
                        help="write the table as one CSV per value of COLUMN and run on that folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    parser.add_argument("--analyzer-args", default="",
                        help="extra options for the analyzer, e.g. '--max-rows-for-costly-steps 50000'")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="analyzer-bench-"))
    data, output = workdir / "flows.csv", workdir / "out"
    if args.data is not None:
        data = args.data.resolve()
    else:
        start = time.perf_counter()
        simulate_flows(args.rows, seed=args.seed).to_csv(data, index=False)
        print(f"simulated {args.rows:,} rows in {time.perf_counter() - start:.1f} s -> {data}")

    result = {"rows": args.rows if args.data is None else f"rows of {data}", "seed": args.seed,
              "csv_mib": round(sum(f.stat().st_size for f in ([data] if data.is_file() else data.iterdir())) / 2**20, 1),
              "machine": f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs",
              "analyzer_args": args.analyzer_args, "load_average_before": os.getloadavg()}
    target = data
    if args.split_by:
        start = time.perf_counter()
        files = split_by(data, args.split_by, workdir / "per_value")
        target = files[0].parent
        result["split_by"] = {"column": args.split_by, "files": len(files), "seconds": round(time.perf_counter() - start, 1)}
        print(f"split into {len(files)} files by {args.split_by} in {result['split_by']['seconds']} s")
    common_args = ["--data", str(target), "--output-dir", str(output), "--seed", str(args.seed)]
    if args.with_setup:
        seconds, status, tail, peak, cpu = run_child([sys.executable, "synthetic_data_setup.py", *common_args])
        result["setup_seconds"] = round(seconds, 1)
        result["setup_cpu_seconds"] = None if cpu is None else round(cpu, 1)
        result["setup_peak_memory_mib"] = None if peak is None else round(peak)
        print(f"setup: {seconds:.1f} s (exit {status})")
        if status != 0:
            print(tail)
            return 1
    command = [sys.executable, "tcp_pattern_analyzer.py", *common_args, *args.analyzer_args.split()]
    seconds, status, tail, peak, cpu = run_child(command)
    print(tail)
    result.update({
        "analyzer_seconds": round(seconds, 1),
        "analyzer_cpu_seconds": None if cpu is None else round(cpu, 1),
        "analyzer_exit_status": status,
        "analyzer_peak_memory_mib": None if peak is None else round(peak),
        "target_seconds": TARGET_SECONDS,
        "within_target": seconds < TARGET_SECONDS,
        "load_average_after": os.getloadavg(),
    })
    report = output / "patterns" / "comprehensive_tcp_analysis.json"
    if report.exists():
        analysis = json.loads(report.read_text())
        result["stage_seconds"] = analysis.get("timings_s")
        result["costly_step_sample"] = analysis.get("sampling_for_costly_steps")
        result["computed_on"] = analysis.get("computed_on")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"analyzer_{args.rows}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.keep:
        print(f"kept {workdir}")
    else:
        for path in sorted(workdir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        workdir.rmdir()
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
