#!/usr/bin/env python
"""Time and peak memory of synthetic_data_setup.py on a large simulated table.

    python benchmarks/setup_benchmark.py [--rows 1000000] [--seed 0]
    python benchmarks/setup_benchmark.py --data /tmp/flows5m.csv --split-by activity --no-baseline

The table is simulated (data.simulator) or given with --data; --split-by COLUMN writes it as one
CSV per value of that column (as per-activity captures ship) and times the setup on the folder.
The setup runs as its own child; its wall time is measured around it and its peak memory is
that child's maximum resident set (getrusage of a small wrapper that runs only the setup).

The baseline, measured in the same run on the same file, is a plain pandas.read_csv of the
table (the floor any in-memory profiling of a CSV pays); the figure to watch is the ratio of
the setup's wall time to it, next to the absolute targets (1,000,000 rows: under 2 minutes and
4 GiB; 5,000,000 rows: under 10 minutes and 6 GiB on a 2-core machine). The result is printed
and written as JSON to benchmarks/results/setup_<rows>.json, with the setup's own statement of
what it computed on all rows and what on a sample (detected_patterns.json "computed_on").
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
sys.path.insert(0, str(REPO_ROOT))

from data.simulator import simulate_flows  # noqa: E402

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

# Runs the given command as its own child and reports that child's peak resident set, so the
# figure is the command's alone (not the benchmark's, nor an earlier child's).
_PEAK_WRAPPER = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[1:]).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print('PEAK_RSS_KIB', usage.ru_maxrss, file=sys.stderr)\n"
    "print('CPU_SECONDS', usage.ru_utime + usage.ru_stime, file=sys.stderr)\n"
    "sys.exit(status)\n"
)


def timed_child(command: list[str]) -> tuple[float, float | None, int, str, float | None]:
    """(wall seconds, peak resident memory in GiB, exit status, tail of its output, CPU seconds)
    of a command (CPU seconds say how much of the wall time was waiting on a shared machine)."""
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, *command], cwd=REPO_ROOT,
                               capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak, cpu, lines = None, None, []
    for line in (completed.stdout + completed.stderr).strip().splitlines():
        if line.startswith("PEAK_RSS_KIB"):
            peak = int(line.split()[1]) / 1024**2     # Linux reports KiB
        elif line.startswith("CPU_SECONDS"):
            cpu = float(line.split()[1])
        else:
            lines.append(line)
    return wall, peak, completed.returncode, "\n".join(lines[-25:]), cpu


def split_by(data: Path, column: str, folder: Path) -> list[Path]:
    """Write `data` (one CSV) as one CSV per value of `column` into `folder`, with Polars over
    the file (one filtered pass per value, so the table never sits in memory); returns the files."""
    import polars as pl

    folder.mkdir(parents=True, exist_ok=True)
    scan = pl.scan_csv(data, infer_schema=False)
    values = scan.select(pl.col(column).unique().sort()).collect(engine="streaming")[column].to_list()
    files = []
    for number, value in enumerate(values):
        path = folder / f"{number:02d}_{''.join(ch if ch.isalnum() else '_' for ch in str(value))}.csv"
        scan.filter(pl.col(column) == value).sink_csv(path)
        files.append(path)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None,
                        help="time on this existing CSV instead of simulating one (--rows then only names the result)")
    parser.add_argument("--split-by", default=None, metavar="COLUMN",
                        help="write the table as one CSV per value of COLUMN and time the setup on that folder")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pandas.read_csv baseline")
    parser.add_argument("--setup-args", default="", help="extra options for the setup, e.g. '--out-of-core always'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="setup-bench-") as folder:
        data = Path(folder) / "flows.csv"
        if args.data is not None:
            data = args.data.resolve()
        else:
            start = time.perf_counter()
            simulate_flows(args.rows, seed=args.seed).to_csv(data, index=False)
            print(f"simulated and wrote {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
        result = {"rows": args.rows if args.data is None else f"rows of {data}",
                  "csv_mib": round(data.stat().st_size / 2**20, 1),
                  "machine": f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs",
                  "load_average_before": os.getloadavg(), "setup_args": args.setup_args}
        target = data
        if args.split_by:
            start = time.perf_counter()
            files = split_by(data, args.split_by, Path(folder) / "per_value")
            target = files[0].parent
            result["split_by"] = {"column": args.split_by, "files": len(files),
                                  "seconds": round(time.perf_counter() - start, 1)}
            print(f"split into {len(files)} files by {args.split_by} in {result['split_by']['seconds']} s")
        if not args.no_baseline:
            baseline, baseline_peak, _, _, _ = timed_child(
                [sys.executable, "-c", f"import pandas as pd; pd.read_csv({str(data)!r})"])
            result.update(baseline_read_csv_seconds=round(baseline, 1), baseline_peak_gib=round(baseline_peak, 2))
            print(f"baseline pandas.read_csv: {baseline:.1f} s, peak {baseline_peak:.2f} GiB")
        output = Path(folder) / "out"
        setup, peak, status, tail, cpu = timed_child([sys.executable, "synthetic_data_setup.py", "--data", str(target),
                                                 "--output-dir", str(output), *args.setup_args.split()])
        result.update(setup_seconds=round(setup, 1), setup_cpu_seconds=None if cpu is None else round(cpu, 1),
                      setup_peak_gib=None if peak is None else round(peak, 2),
                      setup_exit_status=status, load_average_after=os.getloadavg())
        if not args.no_baseline:
            result["ratio_setup_to_read_csv"] = round(setup / result["baseline_read_csv_seconds"], 1)
        patterns = output / "patterns" / "detected_patterns.json"
        if patterns.exists():
            payload = json.loads(patterns.read_text())
            result["stage_seconds"] = payload.get("timings_seconds")
            result["computed_on"] = payload.get("computed_on")
            rules = json.loads((output / "patterns" / "detected_rules.json").read_text())
            result["rules"] = len(rules["rules"])
            result["rules_confirmed_on_all_rows"] = rules["meta"].get("confirmed_on_all_rows")
    print(tail)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"setup_{args.rows}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
