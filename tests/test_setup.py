"""synthetic_data_setup.py end to end: artifacts, metadata, detected rules, configs (other schemas and
the real capture: tests/test_formats_end_to_end.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.core.io import file_sha256
from common.core.layout import OutputLayout
from data.simulator import simulate_flows

from tests.scripts import SETUP, run_in_process, run_in_subprocess


def run_setup(*args: str):
    """The setup script's CLI entry in this process (the setup_run fixture starts it as a user does)."""
    return run_in_process(SETUP, *args)


@pytest.fixture(scope="module")
def simulated_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "flows.csv"
    simulate_flows(1500, seed=3).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def setup_run(simulated_csv, tmp_path_factory):
    output = tmp_path_factory.mktemp("out")
    before = file_sha256(simulated_csv)
    result = run_in_subprocess(SETUP, "--data", str(simulated_csv), "--output-dir", str(output), "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert file_sha256(simulated_csv) == before
    return OutputLayout(output), result


def test_every_artifact_is_written(setup_run):
    layout, result = setup_run
    for path in (layout.metadata_json, layout.metadata_summary_json, layout.schema_json,
                 layout.training_configs_json, layout.detected_patterns_json, layout.rules_json):
        assert path.exists(), path
    pngs = {p.name for p in layout.setup_plots_dir.glob("*.png")}
    assert {"correlation_clustermap.png", "class_distribution.png", "placeholder_zero_shares.png",
            "distributions_header_bytes.png", "distributions_timing.png"} <= pngs
    assert not list(layout.root.rglob("*.tmp"))
    assert "Summary" in result.stdout and "stage times" in result.stdout


def test_metadata_loads_in_sdv(setup_run):
    from sdv.metadata import Metadata

    layout, _ = setup_run
    metadata = Metadata.load_from_json(layout.metadata_json)
    metadata.validate()
    columns = metadata.to_dict()["tables"]["flows"]["columns"]
    assert columns["activity"]["sdtype"] == "categorical"
    assert columns["packets_rate"]["sdtype"] == "numerical"


def test_detected_patterns_hold_the_findings(setup_run):
    layout, _ = setup_run
    patterns = json.loads(layout.detected_patterns_json.read_text())
    ids = [entry["id"] for entry in patterns["relationships"]["described"]]
    assert any(i.startswith("family:") and "min_header_bytes" in i and "max_header_bytes" in i
               and "fwd_" not in i for i in ids)
    assert any(i.startswith("family:") and "fwd_min_header_bytes" in i for i in ids)
    assert any(i.startswith("pair:") and "fwd_total_header_bytes" in i and i.endswith("<=total_header_bytes")
               for i in ids)
    iat_placeholders = [p["column"] for p in patterns["placeholders"] if "IAT" in p["column"]]
    assert len(iat_placeholders) >= 10
    profile = patterns["column_profiles"]["packets_rate"]
    assert {"quantiles", "skew", "kurtosis", "zero_share", "missing_share"} <= set(profile)
    assert patterns["high_correlations"]["pearson"] and patterns["high_correlations"]["spearman"]
    assert patterns["clustering"]["best_k"] >= 2
    assert "SYN" in patterns["tcp_flag_summary"]["presence_share"]
    assert patterns["categorical_distributions"]["activity"]["distinct"] >= 7


def test_config_kept_unless_reset(setup_run, simulated_csv):
    layout, _ = setup_run
    config = json.loads(layout.training_configs_json.read_text())
    assert config["ctgan"]["epochs"] == "auto" and config["tvae"]["embedding_dim"] == 128
    config["ctgan"]["epochs"] = 7
    layout.training_configs_json.write_text(json.dumps(config))
    assert run_setup("--data", str(simulated_csv), "--output-dir", str(layout.root)).returncode == 0
    assert json.loads(layout.training_configs_json.read_text())["ctgan"]["epochs"] == 7
    assert run_setup("--data", str(simulated_csv), "--output-dir", str(layout.root), "--reset-config").returncode == 0
    assert json.loads(layout.training_configs_json.read_text())["ctgan"]["epochs"] == "auto"


def test_invalid_config_is_reported(setup_run, simulated_csv, tmp_path):
    layout, _ = setup_run
    output = tmp_path / "out"
    (output / "metadata").mkdir(parents=True)
    (output / "metadata" / "training_configs.json").write_text('{"ctgan": {"epochs": -3}}')
    result = run_setup("--data", str(simulated_csv), "--output-dir", str(output))
    assert result.returncode == 2
    assert "'ctgan.epochs'" in result.stderr and "Traceback" not in result.stderr




def test_the_share_chart_of_a_wide_table_shows_the_columns_with_shares(tmp_path):
    from PIL import Image

    from common.profiling.plots import MAX_SHARE_BARS, placeholder_and_zero_shares

    def profiles(with_shares: int, without: int) -> dict:
        made = {f"zero_{i}": {"zero_share": 0.01 * (i + 1), "placeholder_share": 0.0, "missing_share": 0.0}
                for i in range(with_shares)}
        made.update({f"none_{i}": {"zero_share": 0.0, "placeholder_share": 0.0, "missing_share": 0.0}
                     for i in range(without)})
        return made

    height = {}
    for name, (with_shares, without) in {"full": (MAX_SHARE_BARS, 0), "wide": (MAX_SHARE_BARS + 20, 400),
                                         "few": (11, 400)}.items():
        path = placeholder_and_zero_shares(profiles(with_shares, without), tmp_path / f"{name}.png")
        height[name] = Image.open(path).size[1]
    assert height["wide"] == height["full"]          # capped at MAX_SHARE_BARS bars
    assert height["few"] < height["full"] / 3        # the 400 columns without any share are left out
    assert placeholder_and_zero_shares(profiles(0, MAX_SHARE_BARS + 1), tmp_path / "none.png") is None
