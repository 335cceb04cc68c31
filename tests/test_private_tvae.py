"""DP-SGD training of the TVAE (common.synth.private_tvae): the budget asked is the budget spent,
the per-row loss is ctgan's loss, noise follows epsilon, and the trained model samples as the TVAE."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("opacus")

from tests.test_conditional_tvae import RARE, _frame, _metadata, _table  # noqa: E402

EPOCHS = 2


def _private_model(epsilon: float, delta: float | None = None):
    from common.synth.conditional_tvae import ConditionalTVAESynthesizer
    from common.synth.environment import seed_everything
    from common.synth.private_tvae import DifferentialPrivacy

    seed_everything(0)
    synthesizer = ConditionalTVAESynthesizer(_metadata(), epochs=EPOCHS, batch_size=100, enable_gpu=False,
                                             condition_column="cls", privacy=DifferentialPrivacy(epsilon, delta))
    synthesizer.fit({"flows": _table(rows=600)})
    return synthesizer


@pytest.fixture(scope="module")
def private_models():
    return {epsilon: _private_model(epsilon) for epsilon in (1.0, 10.0)}


def test_the_budget_asked_is_spent_and_no_more(private_models):
    for epsilon, synthesizer in private_models.items():
        spent = synthesizer._model.privacy_spent
        assert spent["epsilon"] == epsilon
        assert 0.9 * epsilon <= spent["epsilon_spent"] <= epsilon * 1.01
        assert spent["delta"] == pytest.approx(1 / (10 * 600))
        assert spent["sample_rate"] == pytest.approx(100 / 600)
        assert spent["steps"] == len(synthesizer._model.loss_values) > 0
    # a smaller budget needs more noise for the same steps
    assert (private_models[1.0]._model.privacy_spent["noise_multiplier"]
            > private_models[10.0]._model.privacy_spent["noise_multiplier"])


def test_a_private_model_still_generates_the_class_asked_for(private_models):
    rows = _frame(private_models[10.0].sample_values({RARE: 30, "a": 20}))
    assert rows["cls"].value_counts().to_dict() == {RARE: 30, "a": 20}
    assert set(rows.columns) == {"x", "y", "proto", "cls"}


def test_per_row_loss_averages_to_ctgans_tvae_loss():
    from ctgan.data_transformer import DataTransformer
    from ctgan.synthesizers.tvae import _loss_function

    from common.synth.private_tvae import per_row_loss

    table = _table(rows=200)
    transformer = DataTransformer()
    transformer.fit(table, ["proto", "cls"])
    rows = torch.from_numpy(transformer.transform(table).astype("float32"))
    generator = torch.Generator().manual_seed(1)
    reconstruction = torch.randn(rows.shape, generator=generator)
    sigmas = torch.rand(rows.shape[1], generator=generator) + 0.05
    mu, logvar = torch.randn(len(rows), 4, generator=generator), torch.randn(len(rows), 4, generator=generator)
    expected = sum(_loss_function(reconstruction, rows, sigmas, mu, logvar, transformer.output_info_list, 2))
    per_row = per_row_loss(reconstruction, rows, sigmas.expand(len(rows), -1), mu, logvar,
                           transformer.output_info_list, 2)
    assert per_row.shape == (len(rows),)
    assert float(per_row.mean()) == pytest.approx(float(expected), rel=1e-5)


def test_delta_defaults_to_a_tenth_of_one_over_the_rows():
    from common.synth.private_tvae import DifferentialPrivacy

    assert DifferentialPrivacy(3.0).delta_for(2000) == pytest.approx(5e-5)
    assert DifferentialPrivacy(3.0, 1e-6).delta_for(2000) == 1e-6


# ----------------------------------------------------------------------------- through the training script


def test_the_budget_in_training_configs_is_checked_by_key():
    from common.core.errors import UserError
    from common.synth.config import validate_training_config

    assert validate_training_config({}).differential_privacy is None
    budget = validate_training_config({"differential_privacy": {"epsilon": 3, "delta": 1e-6}}).differential_privacy
    assert (budget.epsilon, budget.delta, budget.max_grad_norm) == (3.0, 1e-6, 1.0)
    for section, message in (({"epsilon": 0}, "'differential_privacy.epsilon' is 0"),
                             ({"epsilon": 3, "delta": 1}, "'differential_privacy.delta' is 1"),
                             ({"epsilon": 3, "clip": 1}, "unknown key 'differential_privacy.clip'"),
                             ({"delta": 1e-6}, "'differential_privacy' needs 'epsilon'"),
                             (3, "'differential_privacy' is 3")):
        with pytest.raises(UserError, match=message):
            validate_training_config({"differential_privacy": section})


@pytest.fixture(scope="module")
def private_folder(tmp_path_factory):
    """A folder set up on a small simulated table, its config asking for epsilon 3."""
    import json

    from common.core.layout import OutputLayout
    from data.simulator import simulate_flows
    from tests.scripts import SETUP, run_in_process

    root = tmp_path_factory.mktemp("private")
    data = root / "flows.csv"
    simulate_flows(300, seed=4).to_csv(data, index=False)
    layout = OutputLayout(root / "out")
    assert run_in_process(SETUP, "--data", str(data), "--output-dir", str(layout.root)).returncode == 0
    config = json.loads(layout.training_configs_json.read_text())
    assert config["differential_privacy"] is None           # the key is there, off, for users to find
    config["differential_privacy"] = {"epsilon": 3}
    layout.training_configs_json.write_text(json.dumps(config))
    return layout


def test_a_model_that_cannot_train_privately_is_refused_before_anything_is_written(private_folder):
    from tests.scripts import TRAINER, run_in_process

    result = run_in_process(TRAINER, "--output-dir", str(private_folder.root), "--models", "ctgan", "--epochs", "1")
    assert result.returncode == 2
    assert "'differential_privacy' is set" in result.stderr and "ctgan cannot train with DP-SGD" in result.stderr
    assert not private_folder.model_pickle("ctgan").exists() and not private_folder.manifest_json.exists()


def test_the_default_models_train_privately_where_they_can_and_the_manifest_says_what_was_spent(private_folder):
    import json

    from common.evaluation.runner import manifest_notices
    from tests.scripts import TRAINER, run_in_process

    result = run_in_process(TRAINER, "--output-dir", str(private_folder.root), "--epochs", "2", "--skip-evaluation")
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads(private_folder.manifest_json.read_text())
    assert set(manifest["models"]) == {"tvae"}               # ctgan cannot spend a budget: left out, logged
    spent = manifest["models"]["tvae"]["training"]["privacy"]
    assert spent["epsilon"] == 3 and 2.5 < spent["epsilon_spent"] <= 3.03 and spent["steps"] > 0
    assert manifest["config"]["differential_privacy"]["epsilon"] == 3
    notices = manifest_notices(private_folder, manifest["source"]["sha256"], ["tvae"], None)
    assert any("trained with DP-SGD" in n and "not differentially private" in n for n in notices)
