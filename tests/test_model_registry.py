"""One place per model: the registry's specs drive the config, autotune, the synthesizer and the
scripts; the third model (SDV's GaussianCopula, fitted in one pass) goes through all of them."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from common.core.layout import OutputLayout
from common.synth.config import DEFAULT_TRAINING_CONFIG, validate_training_config
from common.synth.registry import DEFAULT_MODELS, ITERATIVE_MODELS, MODELS, model_spec
from data.simulator import simulate_flows
from tests.scripts import SETUP, TRAINER, run_in_process


def test_every_spec_is_complete_and_the_config_has_its_section():
    assert DEFAULT_MODELS == ("ctgan", "tvae") and set(ITERATIVE_MODELS) == {"ctgan", "tvae"}
    for name, spec in MODELS.items():
        assert spec.params.model == name and name in DEFAULT_TRAINING_CONFIG
        assert spec.params.from_section(DEFAULT_TRAINING_CONFIG[name]).to_section() == DEFAULT_TRAINING_CONFIG[name]
        assert spec.color.startswith("#")
        if spec.iterative:
            assert spec.cpu_step_seconds and spec.gpu_step_seconds and spec.steps_per_epoch(1000, 100) >= 10
        assert spec.synthesizer().__name__.endswith("Synthesizer")
    with pytest.raises(Exception, match="choose from ctgan, tvae, gaussian_copula"):
        model_spec("copula")


def test_gaussian_copula_parameters_are_checked_like_the_others():
    with pytest.raises(Exception, match="'gaussian_copula.default_distribution' is 'normal'; allowed: one of norm"):
        validate_training_config({"gaussian_copula": {"default_distribution": "normal"}})
    with pytest.raises(Exception, match="unknown key 'gaussian_copula.epochs'"):
        validate_training_config({"gaussian_copula": {"epochs": 5}})


@pytest.mark.slow
def test_gaussian_copula_end_to_end(tmp_path, small_privacy_samples):
    data = tmp_path / "flows.csv"
    simulate_flows(300, seed=9).to_csv(data, index=False)
    out = OutputLayout(tmp_path / "out")
    assert run_in_process(SETUP, "--data", str(data), "--output-dir", str(out.root)).returncode == 0
    result = run_in_process(TRAINER, "--output-dir", str(out.root), "--models", "gaussian_copula")
    assert result.returncode == 0, result.stderr[-2000:]
    entry = json.loads(out.manifest_json.read_text())["models"]["gaussian_copula"]
    assert entry["description"]["synthesizer"] == "GaussianCopulaSynthesizer" and entry["training"]["epochs"] == 0
    assert entry["loss_csv"] is None and not out.loss_csv("gaussian_copula").exists()
    rows = pd.read_csv(out.synthetic_csv("gaussian_copula"))
    assert len(rows) == entry["sampling"]["rows"] > 0 and entry["sampling"]["validity"]["valid_share"] == 1.0
    comparison = json.loads(out.model_comparison_json.read_text())
    assert comparison["models"] == ["gaussian_copula"]
    assert "gaussian_copula" in out.report_html.read_text()
    generated = run_in_process(TRAINER, "--output-dir", str(out.root), "--generate-only", "--models",
                               "gaussian_copula", "--num-rows", "50")
    assert generated.returncode == 0, generated.stderr[-2000:]
    record = json.loads(out.manifest_json.read_text())["generations"][-1]
    assert record["model"] == "gaussian_copula" and len(pd.read_csv(record["output"])) == 50
