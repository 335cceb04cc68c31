#!/usr/bin/env python
"""Time and peak memory of synthetic_data_setup.py on a large simulated table.

    python benchmarks/setup_benchmark.py [--rows 1000000] [--seed 0]

The baseline, measured in the same run on the same file, is a plain pandas.read_csv of the
table (the floor any profiling of a CSV pays); the figure to watch is the ratio of the
setup's wall time to it, next to the absolute targets of the setup issue (under 2 minutes
and 4 GiB for 1,000,000 rows on a 2-core machine).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from data.simulator import simulate_flows  # noqa: E402


def timed_child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of a child process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far, in KiB on Linux.
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return wall, peak_gib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "flows.csv"
        start = time.perf_counter()
        simulate_flows(args.rows, seed=args.seed).to_csv(data, index=False)
        print(f"simulated and wrote {args.rows:,} rows in {time.perf_counter() - start:.1f} s "
              f"({data.stat().st_size / 1024**2:.0f} MiB)")
        baseline, baseline_peak = timed_child(
            [sys.executable, "-c", f"import pandas as pd; pd.read_csv({str(data)!r})"]
        )
        setup, setup_peak = timed_child(
            [sys.executable, "synthetic_data_setup.py", "--data", str(data), "--output-dir", str(Path(folder) / "out")]
        )
    print(f"baseline pandas.read_csv: {baseline:.1f} s, peak {baseline_peak:.2f} GiB")
    print(f"synthetic_data_setup.py:  {setup:.1f} s, peak {setup_peak:.2f} GiB "
          f"(peak is the largest child so far)")
    print(f"ratio setup / read_csv: {setup / baseline:.1f}x")
    print(f"targets: < 120 s -> {'met' if setup < 120 else 'MISSED'}; < 4 GiB -> {'met' if setup_peak < 4 else 'MISSED'}")


if __name__ == "__main__":
    main()
