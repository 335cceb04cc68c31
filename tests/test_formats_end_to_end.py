"""The whole pipeline on each flow-export format users bring, and on awkward but valid tables.

Setup, analyzer, training (CTGAN, a few epochs, a few rows) and evaluation must run on
NTLFlowLyzer (the real capture here, the simulator's schema below), CIC-IDS2017, CSE-CIC-IDS2018
and NSL-KDD-style tables, and on a table with a single class, a constant column, duplicates and
missing values (setup alone on 500 columns); identifiers must never reach the synthetic tables,
and the input must stay untouched. The scripts run in this process through their CLI entry
(tests/scripts.py); tests/test_training.py runs both models through the script in a subprocess.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.core.io import file_sha256
from common.core.layout import OutputLayout
from tests.conftest import REAL_OSYN
from tests.flow_tables import make_cicflowmeter_csv, make_cse_cic_ids2018_csv, make_kdd_csv
from data.simulator import simulate_flows
from tests.scripts import CTGAN_QUICK, SETUP, run_in_process, run_pipeline


FORMATS = {
    "cic_ids2017": (make_cicflowmeter_csv, ["Flow ID", "Source IP", "Source Port", "Destination IP",
                                            "Destination Port", "Timestamp"]),
    "cse_cic_ids2018": (make_cse_cic_ids2018_csv, ["Dst Port", "Timestamp"]),
    "nsl_kdd": (make_kdd_csv, []),
}


def check_outputs(output: Path, identifiers: list[str]) -> None:
    from sdv.metadata import Metadata

    layout = OutputLayout(output)
    Metadata.load_from_json(layout.metadata_json).validate()
    json.loads(layout.training_configs_json.read_text())
    synthetic = pd.read_csv(layout.synthetic_csv("ctgan"))
    assert len(synthetic) == 80
    assert not set(identifiers) & set(synthetic.columns)
    summary = json.loads(layout.metadata_summary_json.read_text())
    assert set(summary["excluded_identifiers"]) == set(identifiers)
    evaluation = json.loads(layout.evaluation_json("ctgan").read_text())
    assert evaluation["validity"]["rules"]["synthetic"]["valid_share"] == 1.0   # the guard delivers valid rows only
    assert layout.report_html.exists() and layout.comprehensive_analysis_json.exists()


@pytest.mark.parametrize("name", list(FORMATS))
def test_pipeline_runs_on_format(name, tmp_path, small_privacy_samples):
    make, identifiers = FORMATS[name]
    data = make(tmp_path / f"{name}.csv")
    before = file_sha256(data)
    run_pipeline(data, tmp_path / "out", "--num-rows", "80", *CTGAN_QUICK)
    assert file_sha256(data) == before
    check_outputs(tmp_path / "out", identifiers)
    if name == "cic_ids2017":   # the repeated 'Fwd Header Length' is kept under a new name
        patterns = json.loads(OutputLayout(tmp_path / "out").detected_patterns_json.read_text())
        assert patterns["loading"]["renamed_duplicates"] == {"Fwd Header Length.1": "Fwd Header Length"}


def test_pipeline_runs_on_the_real_capture(tmp_path, small_privacy_samples):
    if not REAL_OSYN.exists():
        pytest.skip(f"real sample not present at {REAL_OSYN}")
    before = file_sha256(REAL_OSYN)
    run_pipeline(REAL_OSYN, tmp_path / "out", "--num-rows", "80", *CTGAN_QUICK)
    assert file_sha256(REAL_OSYN) == before
    check_outputs(tmp_path / "out", [])
    patterns = json.loads(OutputLayout(tmp_path / "out").detected_patterns_json.read_text())
    assert patterns["loading"]["duplicate_rows"] == 287   # real captures repeat flows
    assert any("IAT" in p["column"] for p in patterns["placeholders"])


# ----------------------------------------------------------------------------- awkward but valid tables


def test_awkward_but_valid_tables_work_end_to_end(tmp_path, small_privacy_samples):
    """A single class, a constant column, duplicate rows and missing numeric values."""
    flows = simulate_flows(300, seed=9)
    single = flows[flows["activity"] == flows["activity"].mode()[0]].copy()
    single = pd.concat([single, single.head(20)])  # duplicate rows
    single["constant_feature"] = 7
    single.loc[single.index[:15], "packets_rate"] = np.nan
    data = tmp_path / "awkward.csv"
    single.to_csv(data, index=False)
    before = file_sha256(data)
    output = tmp_path / "out"
    run_pipeline(data, output, "--num-rows", "60", *CTGAN_QUICK)
    assert file_sha256(data) == before
    layout = OutputLayout(output)
    synthetic = pd.read_csv(layout.synthetic_csv("ctgan"))
    assert len(synthetic) == 60 and "constant_feature" in synthetic
    evaluation = json.loads(layout.evaluation_json("ctgan").read_text())
    assert "single class" in json.dumps(evaluation["utility"]).lower()


def test_wide_table_of_500_columns(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 520)).round(3), columns=[f"feature_{i}" for i in range(520)])
    frame["label"] = rng.choice(["a", "b"], 60)
    data = tmp_path / "wide.csv"
    frame.to_csv(data, index=False)
    result = run_in_process(SETUP, "--data", str(data), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "521 columns" in result.stdout
