"""Running the three scripts from tests: in a subprocess (what a user starts) or in this process.

A subprocess pays two to four seconds of imports (torch, SDV) per script; the tests that check
what only a fresh process shows (the `__main__` entry, Ctrl-C, exit status of the interpreter,
same bytes from the same seed) use it, and the others call the same entry, common.core.cli.run_cli
around the script's main, here.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SETUP = "synthetic_data_setup.py"
ANALYZER = "tcp_pattern_analyzer.py"
TRAINER = "train_synthetic_models_improved.py"
ALL_SCRIPTS = (SETUP, ANALYZER, TRAINER)

# CTGAN's conditional generator makes every class of a few-hundred-row table after a few epochs;
# TVAE needs its "auto" thousands of steps for that (see tests/flow_tables.QUICK_EPOCHS). Runs whose
# point is the format, the device or the input, not the model, train CTGAN quickly.
CTGAN_QUICK = ("--models", "ctgan", "--epochs", "20")


def script_env() -> dict[str, str]:
    """One torch/BLAS thread per script: the tests share two cores."""
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")


def run_in_subprocess(script: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python <script> <args>` from the repository root, output captured."""
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=timeout, env=script_env())


def run_in_process(script: str, *args: str) -> subprocess.CompletedProcess:
    """The script's entry (common.core.cli.run_cli around its main) in this process, stdout and
    stderr captured; returns what run_in_subprocess would."""
    from common.core.cli import run_cli

    main = importlib.import_module(script.removesuffix(".py")).main
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = run_cli(main, list(args))
        except SystemExit as stop:   # argparse's own refusals
            status = int(stop.code)
    return subprocess.CompletedProcess([script, *args], status, stdout.getvalue(), stderr.getvalue())


def run_pipeline(data: Path, output: Path, *training_args: str, analyzer_args: tuple[str, ...] = ("--trees", "20"),
                 in_process: bool = True) -> None:
    """Setup, analyzer and training on `data` into `output`; fails the test naming the script."""
    run = run_in_process if in_process else run_in_subprocess
    for script, extra in ((SETUP, ()), (ANALYZER, analyzer_args), (TRAINER, training_args)):
        result = run(script, "--data", str(data), "--output-dir", str(output), *extra)
        assert result.returncode == 0, (script, result.stderr[-3000:])
