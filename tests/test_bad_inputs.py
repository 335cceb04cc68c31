"""The bad-input matrix, run through the scripts' CLI entry (in this process; Ctrl-C in a subprocess).

Every case must end with one line on stderr that names the file, column or key, exit status 2,
no traceback, no partial artifacts, and the input file untouched. Awkward tables that must work
(a single class, constant columns, duplicates, missing values, 500 columns) are run end to end in
tests/test_formats_end_to_end.py.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.core.io import file_sha256
from common.core.layout import OutputLayout
from data.simulator import simulate_flows
from tests.scripts import (
    ALL_SCRIPTS, CTGAN_QUICK, REPO_ROOT, SETUP, TRAINER, run_in_process, script_env,
)

QUICK_TRAINING = ("--epochs", "20", "--num-rows", "50", "--skip-evaluation")   # runs that stop before training


def assert_user_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status 2 and one line on stderr holding every needle, no traceback; returns the line."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    error_lines = [line for line in lines if line.startswith("error: ")]
    assert len(error_lines) == 1, lines
    for needle in needles:
        assert needle in error_lines[0], (needle, error_lines[0])
    return error_lines[0]


def artifact_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture(scope="module")
def small_flows(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("flows") / "flows.csv"
    simulate_flows(400, seed=5).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------- bad files, every script

BAD_FILES = {
    "missing": (None, "not found"),
    "directory": ("DIR", "is a directory"),
    "empty": (b"", "is empty"),
    "header_only": (b"a,b,label\n", "no data rows"),
    "binary": (bytes(range(256)) * 4, "binary"),
    "not_utf8": ("a,b,label\n1,2,caf\xe9\n".encode("latin-1") * 3, "not UTF-8"),
    "wrong_delimiter": (b"a;b;label\n1;2;x\n3;4;y\n", "';'-delimited"),
    "one_row": (b"a,b,label\n1,2,x\n", "1 data row"),
    "all_nan_column": (b"a,b,label\n" + b"1,,x\n2,,y\n" * 10, "column 'b'"),
}


@pytest.mark.parametrize("script", ALL_SCRIPTS)
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file(script, case, tmp_path):
    content, message = BAD_FILES[case]
    data = tmp_path / "input.csv"
    if content == "DIR":
        data = tmp_path / "a_folder"
        data.mkdir()
    elif content is not None:
        data.write_bytes(content)
    before = file_sha256(data) if data.is_file() else None
    output = tmp_path / "out"
    result = run_in_process(script, "--data", str(data), "--output-dir", str(output),
                      *(QUICK_TRAINING if script == TRAINER else ()))
    assert_user_error(result, message, data.name)
    if before is not None:
        assert file_sha256(data) == before
    assert not [p for p in artifact_files(output) if p.suffix == ".tmp"]


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_label_column_that_does_not_exist(script, small_flows, tmp_path):
    result = run_in_process(script, "--data", str(small_flows), "--output-dir", str(tmp_path), "--label-column",
                      "Attack_Kind", *(QUICK_TRAINING if script == TRAINER else ()))
    assert_user_error(result, "'Attack_Kind'")


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_output_directory_that_cannot_be_written(script, small_flows, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should go")
    result = run_in_process(script, "--data", str(small_flows), "--output-dir", str(blocker / "out"),
                      *(QUICK_TRAINING if script == TRAINER else ()))
    assert_user_error(result, "output directory")


# ------------------------------------------------------------------------- training configuration


@pytest.fixture(scope="module")
def prepared_output(small_flows, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("prepared")
    assert run_in_process(SETUP, "--data", str(small_flows), "--output-dir", str(output)).returncode == 0
    return output


def with_config(prepared_output: Path, tmp_path: Path, text: str) -> Path:
    """A copy of the prepared output folder whose training_configs.json holds `text`."""
    import shutil

    output = tmp_path / "out"
    shutil.copytree(prepared_output, output)
    OutputLayout(output).training_configs_json.write_text(text)
    return output


CONFIG_CASES = {
    "invalid_json": ('{"ctgan": {"epochs": 3,}}', ("not valid JSON", "training_configs.json")),
    "unknown_key": ('{"ctgan": {"epoch": 3}}', ("'ctgan.epoch'",)),
    "mistyped_value": ('{"tvae": {"batch_size": "500"}}', ("'tvae.batch_size'",)),
    "negative_epochs": ('{"tvae": {"epochs": -5}}', ("'tvae.epochs'",)),
    "batch_not_multiple_of_pac": ('{"ctgan": {"batch_size": 505, "pac": 10}}', ("'ctgan.batch_size'", "pac")),
    "unknown_device": ('{"device": "gpu0"}', ("'device'",)),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_config_errors(case, small_flows, prepared_output, tmp_path):
    text, needles = CONFIG_CASES[case]
    output = with_config(prepared_output, tmp_path, text)
    before = artifact_files(output)
    result = run_in_process(TRAINER, "--data", str(small_flows), "--output-dir", str(output), "--skip-evaluation")
    assert_user_error(result, *needles)
    assert artifact_files(output) == before


@pytest.mark.slow
def test_cuda_without_gpu_is_a_clear_error_and_auto_falls_back(small_flows, prepared_output, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the cuda case is an error only without one")
    output = with_config(prepared_output, tmp_path, '{"device": "cuda"}')
    assert_user_error(run_in_process(TRAINER, "--data", str(small_flows), "--output-dir", str(output), *QUICK_TRAINING),
                      "cuda")
    result = run_in_process(TRAINER, "--data", str(small_flows), "--output-dir", str(output), "--num-rows", "50",
                      "--skip-evaluation", "--device", "auto", *CTGAN_QUICK)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cpu" in result.stdout.lower()


def _as_from_a_terminal() -> None:
    """Start the child as a shell would: SIGINT unblocked and at its default disposition.
    A child inherits its parent's blocked and ignored signals, and this test process has run
    the scripts and their libraries in-process before. (One clean-clone run of the suite saw the
    interrupted script not exit within 120 s; it did not happen again, alone or in full runs,
    and the cause was not found.)"""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_during_training_keeps_earlier_artifacts(small_flows, prepared_output, tmp_path):
    output = with_config(prepared_output, tmp_path, '{"ctgan": {"epochs": 3000, "batch_size": 100}}')
    earlier = {p: file_sha256(p) for p in artifact_files(output)}
    process = subprocess.Popen(
        [sys.executable, TRAINER, "--data", str(small_flows), "--output-dir", str(output), "--models", "ctgan",
         "--skip-evaluation"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=script_env(), preexec_fn=_as_from_a_terminal,
    )
    layout = OutputLayout(output)
    deadline = time.time() + 120
    # Interrupt once the split is saved: training has begun.
    while time.time() < deadline and not layout.split_json.exists():
        time.sleep(0.5)
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    for path, digest in earlier.items():
        assert path.exists() and file_sha256(path) == digest
    assert not layout.model_pickle("ctgan").exists()
    assert not [p for p in artifact_files(output) if ".tmp" in p.name]


# ------------------------------------------------------------------------- cases that must work
