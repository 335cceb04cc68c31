"""The whole pipeline on each flow-export format users bring, through the real scripts.

Setup, analyzer, training (one epoch, a few rows) and evaluation must run on NTLFlowLyzer
(the real capture here; the simulator's schema runs end to end in test_bad_inputs and
test_training), CIC-IDS2017, CSE-CIC-IDS2018 and NSL-KDD-style tables; identifiers must never reach the synthetic tables, and the input must stay untouched.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from common.core.io import file_sha256
from common.core.layout import OutputLayout
from tests.conftest import REAL_OSYN
from tests.flow_tables import TVAE_QUICK, make_cicflowmeter_csv, make_cse_cic_ids2018_csv, make_kdd_csv

REPO_ROOT = Path(__file__).resolve().parents[1]


FORMATS = {
    "cic_ids2017": (make_cicflowmeter_csv, ["Flow ID", "Source IP", "Source Port", "Destination IP",
                                            "Destination Port", "Timestamp"]),
    "cse_cic_ids2018": (make_cse_cic_ids2018_csv, ["Dst Port", "Timestamp"]),
    "nsl_kdd": (make_kdd_csv, []),
}


def run_pipeline(data: Path, output: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    steps = [
        ["synthetic_data_setup.py"],
        ["tcp_pattern_analyzer.py", "--trees", "20"],
        ["train_synthetic_models_improved.py", "--num-rows", "80", *TVAE_QUICK],
    ]
    for step in steps:
        result = subprocess.run([sys.executable, *step, "--data", str(data), "--output-dir", str(output)],
                                capture_output=True, text=True, cwd=REPO_ROOT, timeout=600, env=env)
        assert result.returncode == 0, (step[0], result.stderr[-3000:])


def check_outputs(output: Path, identifiers: list[str]) -> None:
    layout = OutputLayout(output)
    synthetic = pd.read_csv(layout.synthetic_csv("tvae"))
    assert len(synthetic) == 80
    assert not set(identifiers) & set(synthetic.columns)
    summary = json.loads(layout.metadata_summary_json.read_text())
    assert set(summary["excluded_identifiers"]) == set(identifiers)
    evaluation = json.loads(layout.evaluation_json("tvae").read_text())
    assert evaluation["validity"]["rules"]["synthetic"]["valid_share"] == 1.0   # the guard delivers valid rows only
    assert layout.report_html.exists() and layout.comprehensive_analysis_json.exists()


@pytest.mark.parametrize("name", list(FORMATS))
def test_pipeline_runs_on_format(name, tmp_path):
    make, identifiers = FORMATS[name]
    data = make(tmp_path / f"{name}.csv")
    before = file_sha256(data)
    run_pipeline(data, tmp_path / "out")
    assert file_sha256(data) == before
    check_outputs(tmp_path / "out", identifiers)


def test_pipeline_runs_on_the_real_capture(tmp_path):
    if not REAL_OSYN.exists():
        pytest.skip(f"real sample not present at {REAL_OSYN}")
    before = file_sha256(REAL_OSYN)
    run_pipeline(REAL_OSYN, tmp_path / "out")
    assert file_sha256(REAL_OSYN) == before
    check_outputs(tmp_path / "out", [])
