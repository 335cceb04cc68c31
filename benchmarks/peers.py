"""Open-source peers run beside this project in benchmarks, each in a venv of its own.

MOSTLY AI's TabularARGN (mostlyai-engine, Apache-2.0) is a benchmark-only dependency: it lives in
benchmarks/.peer-venv (`make peer-venv`, pins in benchmarks/peer-requirements.txt), never in the project's
requirements. `run_tabularargn` runs benchmarks/peers/tabularargn_run.py with that venv's python in a
subprocess, through temporary files, and returns the sampled rows, or None and a "skipped" note when the
peer venv is absent or the run fails: a clean skip, never a crash.

The peer's python: $TCPSYNTH_PEER_PYTHON if set, else benchmarks/.peer-venv/bin/python.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

BENCHMARKS = Path(__file__).resolve().parent
PEER_PYTHON_ENV = "TCPSYNTH_PEER_PYTHON"
PEER_VENV_PYTHON = BENCHMARKS / ".peer-venv" / "bin" / "python"
PEER_VENV_STAMP = BENCHMARKS / ".peer-venv" / ".requirements.stamp"   # `make peer-venv` writes it last
TABULARARGN_SCRIPT = BENCHMARKS / "peers" / "tabularargn_run.py"
# Past the training cap: the engine's split/analyse/encode before training, sampling, and start-up.
SLACK_SECONDS = 600.0


def peer_python() -> tuple[Path | None, str | None]:
    """The peer venv's python, or None and why it is not there."""
    named = os.environ.get(PEER_PYTHON_ENV)
    path = Path(named) if named else PEER_VENV_PYTHON
    where = f"${PEER_PYTHON_ENV}={named}" if named else str(path.relative_to(BENCHMARKS.parent))
    if not path.exists():
        hint = "" if named else " (make peer-venv creates it)"
        return None, f"no peer python at {where}{hint}"
    if not os.access(path, os.X_OK):
        return None, f"the peer python at {where} is not executable"
    if not named and not PEER_VENV_STAMP.exists():
        return None, f"the peer venv at {where} is not complete (make peer-venv finishes it)"
    return path, None


def class_counts(train: pd.DataFrame, target: str, rows: int) -> dict[str, int]:
    """`rows` split over the train's classes in proportion to their shares (largest remainders), so the
    synthetic class shares match the train's as closely as whole rows allow."""
    shares = train[target].astype(str).value_counts(normalize=True, dropna=True).sort_index()
    exact = shares * rows
    counts = exact.astype(int)
    for name in (exact - counts).sort_values(ascending=False).index[: rows - int(counts.sum())]:
        counts[name] += 1
    return {str(name): int(count) for name, count in counts.items() if count > 0}


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-800:]


def run_tabularargn(train: pd.DataFrame, rows: int, seed: int, minutes: float = 10.0,
                    target: str | None = None, timeout_s: float | None = None,
                    verbose: bool = False) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Fit TabularARGN on `train` (training capped at `minutes`) and sample `rows` rows.

    With `target` the rows are asked class by class in the train's proportions (the engine's seed
    data fixes the class of each row); without it a plain `sample(rows)`. Returns (rows, facts), facts
    holding the peer's one-line JSON (fit_seconds, sample_seconds, engine version, sampling) plus
    wall_seconds; or (None, {"skipped": reason}) when the peer venv is absent, the run fails or runs
    past `timeout_s` (default: the cap plus 10 minutes).
    """
    python, why = peer_python()
    if python is None:
        return None, {"skipped": why}
    if target is not None and target not in train.columns:
        return None, {"skipped": f"target {target!r} is not a column of the train rows"}
    timeout = timeout_s if timeout_s is not None else minutes * 60.0 + SLACK_SECONDS
    with tempfile.TemporaryDirectory(prefix="tcpsynth_peer_") as scratch_name:
        scratch = Path(scratch_name)
        train_path, output_path = scratch / "train.csv", scratch / "synthetic.csv"
        train.to_csv(train_path, index=False)
        command = [str(python), str(TABULARARGN_SCRIPT), "--train", str(train_path), "--output", str(output_path),
                   "--rows", str(int(rows)), "--seed", str(int(seed)), "--minutes", str(float(minutes)),
                   "--workspace", str(scratch / "workspace")]
        if target is not None:
            command += ["--target", target, "--class-counts", json.dumps(class_counts(train, target, rows))]
        if verbose:
            command += ["--verbose", "1"]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return None, {"skipped": f"TabularARGN ran past {timeout:.0f} s and was stopped"}
        except OSError as error:
            return None, {"skipped": f"the peer python {python} could not be run: {error}"}
        wall = time.perf_counter() - started
        if done.returncode != 0:
            return None, {"skipped": f"TabularARGN exited {done.returncode}: {_tail(done.stderr or done.stdout)}"}
        facts: dict[str, Any] = {}
        for line in reversed(done.stdout.strip().splitlines()):
            if line.startswith("{"):
                try:
                    facts = json.loads(line)
                except json.JSONDecodeError:
                    continue
                break
        if not facts or not output_path.exists():
            return None, {"skipped": f"TabularARGN wrote no result: {_tail(done.stdout + done.stderr)}"}
        frame = pd.read_csv(output_path, low_memory=False)
    facts["wall_seconds"] = round(wall, 2)
    if verbose:
        facts["log_tail"] = _tail(done.stderr, 20)
    return frame, facts
