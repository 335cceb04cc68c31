"""Training stage: the real script end to end on a tiny table, saved models, config errors,
the hash check, the train/holdout split, streamed sampling and reproducibility."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.core.errors import UserError
from common.core.io import file_sha256, read_table
from common.core.layout import OutputLayout
from common.synth.registry import DEFAULT_MODELS as MODEL_NAMES   # the models a run trains by default
from common.data.schema import infer_schema
from common.data.split import Split, make_split
from common.rules import RuleSet, ValidityReport
from tests.flow_tables import QUICK_EPOCHS, make_cicflowmeter_csv
from tests.scripts import TRAINER, run_in_subprocess

ROWS = 240
SEED = 7
QUICK_CONFIG = {"seed": SEED, **{model: {"epochs": epochs} for model, epochs in QUICK_EPOCHS.items()}}


def quick(root: Path) -> list[str]:
    """Prepare a quick run into `root`, as a user who edited the training config would
    (per-model epochs, QUICK_EPOCHS): returns the script arguments to add."""
    path = OutputLayout(root).training_configs_json
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(QUICK_CONFIG))
    return ["--skip-evaluation"]


def run_script(*args: str):
    """The training script in a subprocess, as a user starts it (one torch thread: the tests share two cores)."""
    return run_in_subprocess(TRAINER, *args, timeout=300)


@pytest.fixture(scope="module")
def flows_csv(tmp_path_factory) -> Path:
    """A CICFlowMeter-style table: identifiers, 'Infinity', empty cells, a repeated header."""
    return make_cicflowmeter_csv(tmp_path_factory.mktemp("data") / "flows.csv", rows=ROWS, seed=3)


@pytest.fixture(scope="module")
def trained(flows_csv, tmp_path_factory) -> tuple[OutputLayout, subprocess.CompletedProcess]:
    """Both models, QUICK_EPOCHS epochs, through the real script."""
    out = tmp_path_factory.mktemp("out")
    result = run_script("--data", str(flows_csv), "--output-dir", str(out), *quick(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return OutputLayout(out), result


# ----------------------------------------------------------------------------- end to end


def test_script_writes_models_manifest_csvs_and_loss_curves(trained, flows_csv):
    layout, result = trained
    for model in MODEL_NAMES:
        for path in (layout.model_pickle(model), layout.synthetic_csv(model), layout.loss_csv(model),
                     layout.loss_png(model)):
            assert path.exists() and path.stat().st_size > 0, path
    assert layout.manifest_json.exists() and layout.split_json.exists()
    assert layout.metadata_json.exists()  # created standalone
    assert "device: cpu" in result.stdout
    assert not list(layout.root.rglob("*.tmp"))


def test_synthetic_csv_keeps_columns_order_and_integer_dtypes_without_identifiers(trained, flows_csv):
    layout, _ = trained
    frame, _ = read_table(flows_csv)
    schema = infer_schema(frame)
    assert {"Flow ID", "Source IP", "Destination IP", "Source Port", "Timestamp"} <= set(schema.identifiers)
    expected_columns = [c for c in frame.columns if c not in schema.identifiers]
    manifest = json.loads(layout.manifest_json.read_text())
    assert set(manifest["excluded_identifiers"]) == set(schema.identifiers)
    train_rows = manifest["split"]["train_rows"]
    for model in MODEL_NAMES:
        synthetic = pd.read_csv(layout.synthetic_csv(model))
        assert list(synthetic.columns) == expected_columns
        assert not set(schema.identifiers) & set(synthetic.columns)
        assert len(synthetic) == train_rows  # default rows = training rows
        for column in expected_columns:
            if pd.api.types.is_integer_dtype(frame[column]):
                assert pd.api.types.is_integer_dtype(synthetic[column]), (model, column)


def test_manifest_records_versions_config_facts_and_hashes(trained):
    layout, _ = trained
    manifest = json.loads(layout.manifest_json.read_text())
    assert manifest["libraries"]["sdv"] == "2.0.0"
    assert all(manifest["config"][model]["epochs"] == epochs for model, epochs in QUICK_EPOCHS.items())
    assert "epochs" not in manifest["overrides"]
    assert manifest["config"]["seed"] == SEED
    for model in MODEL_NAMES:
        entry = manifest["models"][model]
        facts = entry["facts"]
        assert facts["rows"] == manifest["split"]["train_rows"]
        if QUICK_EPOCHS[model] == "auto":
            assert "epochs auto = " in entry["hyperparameter_choice"] and facts["epochs"] >= 1
        else:
            assert facts["epochs"] == QUICK_EPOCHS[model]
        assert facts["device"] == "cpu"
        assert facts["steps_per_epoch"] >= 1 and facts["fit_seconds"] > 0
        assert 0 < facts["seconds_per_epoch"] < facts["fit_seconds"]
        assert facts["sampling_rows_per_second"] > 0
        assert entry["sampling"]["validity"]["rows"] == facts["rows"]
        assert entry["files"][layout.model_pickle(model).name] == file_sha256(layout.model_pickle(model))
        losses = pd.read_csv(layout.loss_csv(model))
        assert sorted(losses["Epoch"].unique()) == list(range(facts["epochs"]))
        if entry["description"]["domain_layer"]:  # common.domain present: its pickle is hashed too
            layer = layout.models_dir / f"{model}_domain_layer.pkl"
            assert entry["files"][layer.name] == file_sha256(layer)
    for name, digest in manifest["files"].items():
        assert file_sha256(layout.root / name) == digest, name


def test_split_is_saved_disjoint_and_complete(trained):
    layout, _ = trained
    manifest = json.loads(layout.manifest_json.read_text())
    split = Split.load(layout.split_json, manifest["source"]["sha256"])
    assert len(np.intersect1d(split.train_index, split.holdout_index)) == 0
    assert sorted(np.concatenate([split.train_index, split.holdout_index])) == list(range(ROWS))
    assert split.target == "Label" and split.stratified


def test_saved_models_load_and_sample(trained):
    from common.synth import load_trained

    layout, _ = trained
    for model in MODEL_NAMES:
        flow = load_trained(layout, model)
        batches = list(flow.sample(num_rows=45, batch_rows=20, seed=1))
        assert [len(b) for b in batches] == [20, 20, 5]
        assert list(batches[0].columns) == flow.columns
        again = pd.concat(flow.sample(num_rows=45, batch_rows=20, seed=1), ignore_index=True)
        other = pd.concat(flow.sample(num_rows=45, batch_rows=20, seed=2), ignore_index=True)
        pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), again)
        assert not again.equals(other)


def test_same_seed_gives_identical_csvs(trained, flows_csv, tmp_path):
    layout, _ = trained
    result = run_script("--data", str(flows_csv), "--output-dir", str(tmp_path), *quick(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    again = OutputLayout(tmp_path)
    for model in MODEL_NAMES:
        assert layout.synthetic_csv(model).read_bytes() == again.synthetic_csv(model).read_bytes(), model


def test_tampered_pickle_is_refused_before_unpickling(trained, tmp_path, monkeypatch):
    import sdv.utils

    from common.synth import load_trained

    layout, _ = trained
    copy = OutputLayout(tmp_path / "copy")
    shutil.copytree(layout.models_dir, copy.models_dir)
    with open(copy.model_pickle("ctgan"), "ab") as handle:
        handle.write(b"\x00")

    def must_not_unpickle(*_args, **_kwargs):
        raise AssertionError("a tampered pickle was opened")

    monkeypatch.setattr(sdv.utils, "load_synthesizer", must_not_unpickle)
    with pytest.raises(UserError, match="SHA-256"):
        load_trained(copy, "ctgan")


def test_evaluate_only_hands_the_saved_split_to_evaluation(trained, flows_csv, monkeypatch, capsys):
    """--evaluate-only trains nothing and passes the saved split to common.evaluation."""
    layout, _ = trained
    calls = []
    fake = types.ModuleType("common.evaluation")
    fake.evaluate_models = lambda context, split, models, seed, **_: calls.append((context, split, models, seed))
    fake.summary_text = lambda comparison, report_html: "summary"
    monkeypatch.setitem(sys.modules, "common.evaluation", fake)
    status, _ = _run_in_process(capsys, "--data", str(flows_csv), "--output-dir", str(layout.root),
                                "--evaluate-only", "--models", "tvae")
    assert status == 0 and len(calls) == 1
    context, split, models, seed = calls[0]
    saved = json.loads(layout.split_json.read_text())
    # the model asked for first, then every other model whose CSV is there (the comparison keeps them)
    assert split.train_index.tolist() == saved["train_index"] and models == ["tvae", "ctgan"] and seed == SEED
    assert context.report.sha256 == split.source_sha256


def test_ctrl_c_during_training_exits_130_and_keeps_earlier_artifacts(trained, flows_csv, tmp_path,
                                                                       monkeypatch, capsys):
    from common import synth

    layout, _ = trained
    copy = OutputLayout(tmp_path / "copy")
    shutil.copytree(layout.root, copy.root)
    before = {path: path.read_bytes() for path in copy.root.rglob("*") if path.is_file()}

    def interrupted_fit(self, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(synth.FlowSynthesizer, "fit", interrupted_fit)
    status, err = _run_in_process(capsys, "--data", str(flows_csv), "--output-dir", str(copy.root),
                                  "--skip-evaluation", "--models", "tvae")
    assert status == 130 and "interrupted" in err
    after = {path: path.read_bytes() for path in copy.root.rglob("*") if path.is_file()}
    assert set(after) == set(before)  # nothing partial left behind
    for model in MODEL_NAMES:
        assert after[copy.model_pickle(model)] == before[copy.model_pickle(model)]
        assert after[copy.synthetic_csv(model)] == before[copy.synthetic_csv(model)]
    manifest = json.loads(copy.manifest_json.read_text())
    assert set(manifest["models"]) == set(MODEL_NAMES)
    synth.load_trained(copy, "tvae")  # the earlier model still matches its recorded hash


def test_sample_to_csv_streams_batches_and_counts_rule_validity(trained, tmp_path):
    from common.synth import load_trained, sample_to_csv

    layout, _ = trained
    flow = load_trained(layout, "tvae")

    class FirstColumnNonNegative:
        """A one-rule stand-in for common.rules.RuleSet."""

        def check(self, frame):
            return pd.DataFrame({"nonneg": frame[flow.columns[0]] >= 0}, index=frame.index)

        def validity(self, frame):
            return ValidityReport.from_checks(self.check(frame), {"nonneg": "bounds"})

    target = tmp_path / "tvae_synthetic_data.csv"
    facts = sample_to_csv(flow, target, num_rows=130, batch_rows=50, seed=3, rules=FirstColumnNonNegative(),
                          progress=False)
    written = pd.read_csv(target)
    assert len(written) == 130 and facts.batches == 3 and facts.rows == 130
    assert facts.validity["rows_valid"] == int((written[flow.columns[0]] >= 0).sum())
    assert facts.validity["valid_share_by_kind"]["bounds"] == facts.validity["valid_share"]


class _ScalingDomainLayer:
    """A stand-in for common.domain.DomainTransformer: scales numbers by 1/1000 and back."""

    def __init__(self, rules, schema, settings, seed):
        self.schema, self.model, self.seed = schema, settings, seed
        self.calls = []

    @classmethod
    def with_settings(cls, settings, rules, schema=None, heavy_tailed=None, seed=0):
        return cls(rules, schema, settings, seed)

    def fit(self, frame):
        self.numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        self.calls.append("fit")
        return self

    def transform(self, frame):
        self.calls.append("transform")
        encoded = frame.copy()
        encoded[self.numeric] = encoded[self.numeric] / 1000.0
        return encoded

    def inverse_transform(self, encoded, calibrate=False):
        decoded = encoded.copy()
        decoded[self.numeric] = decoded[self.numeric] * 1000.0
        return decoded

    def sdv_metadata_dict(self):
        from common.data.schema import sdv_metadata_dict

        return sdv_metadata_dict(self.schema)

    def gaussian_columns(self):
        return []

    def repair(self, frame):
        return frame

    def class_conditions(self, label, rows):
        return []


def test_domain_layer_plugs_in_and_is_saved_with_its_hash(flows_csv, tmp_path, monkeypatch):
    from common import synth
    from common.data.pipeline import load_context

    fake = types.ModuleType("common.domain")
    fake.DomainTransformer = _ScalingDomainLayer
    monkeypatch.setitem(sys.modules, "common.domain", fake)
    context = load_context(flows_csv, tmp_path)
    transformer, note = synth.build_domain_transformer(True, "tvae", context.rules, context.schema, seed=5)
    assert isinstance(transformer, _ScalingDomainLayer) and note.startswith("on")
    # the layer is built with TVAE's settings from its spec (common.synth.registry)
    from common.synth.registry import model_spec

    assert (transformer.model, transformer.seed) == (model_spec("tvae").domain_settings, 5)
    assert synth.build_domain_transformer(False, "tvae", context.rules, context.schema, seed=5)[0] is None
    hyper = synth.TVAEParams(epochs=1, batch_size=50).sdv_kwargs()
    flow = synth.FlowSynthesizer("tvae", hyper, synth.choose_device("cpu"), {}, transformer, verbose=False)
    facts = flow.fit(context.modelled)
    assert transformer.calls == ["fit", "transform"] and facts.epochs == 1
    sampled = pd.concat(flow.sample(30, 30, seed=0), ignore_index=True)
    assert list(sampled.columns) == list(context.modelled.columns)
    numeric = transformer.numeric[0]
    assert sampled[numeric].abs().max() > context.modelled[numeric].abs().max() / 100  # decoded, not encoded
    hashes = flow.save(tmp_path / "models" / "tvae_model.pkl")
    assert set(hashes) == {"tvae_model.pkl", "tvae_domain_layer.pkl"}
    loaded = synth.FlowSynthesizer.load(tmp_path / "models" / "tvae_model.pkl", hashes, flow.describe())
    assert isinstance(loaded.transformer, _ScalingDomainLayer)
    with open(tmp_path / "models" / "tvae_domain_layer.pkl", "ab") as handle:
        handle.write(b"\x00")
    with pytest.raises(UserError, match="SHA-256"):
        synth.FlowSynthesizer.load(tmp_path / "models" / "tvae_model.pkl", hashes, flow.describe())


# ----------------------------------------------------------------------------- user errors


def _run_in_process(capsys, *argv: str) -> tuple[int, str]:
    from common.core.cli import run_cli
    from train_synthetic_models_improved import main

    try:
        status = run_cli(main, list(argv))
    except SystemExit as stop:   # argparse refuses a bad combination of options this way
        status = int(stop.code)
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"ctgan": {"epochs": 300}, "learning_rate": 0.1}, "learning_rate"),
        ({"tvae": {"epochs": -5}}, "tvae.epochs"),
        ({"ctgan": {"batch_size": 505, "pac": 10}}, "ctgan.batch_size"),
        ({"sampling_batch_rows": "many"}, "sampling_batch_rows"),
    ],
)
def test_config_errors_exit_2_naming_the_key(config, key, flows_csv, tmp_path, capsys):
    path = tmp_path / "training_configs.json"
    path.write_text(json.dumps(config))
    status, err = _run_in_process(capsys, "--data", str(flows_csv), "--output-dir", str(tmp_path / "o"),
                                  "--config", str(path))
    assert status == 2
    assert f"'{key}'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_invalid_json_config_exits_2_naming_the_file(flows_csv, tmp_path, capsys):
    path = tmp_path / "training_configs.json"
    path.write_text('{"seed": 1,,}')
    status, err = _run_in_process(capsys, "--data", str(flows_csv), "--output-dir", str(tmp_path / "o"),
                                  "--config", str(path))
    assert status == 2 and str(path) in err and "line 1" in err


def test_missing_explicit_config_exits_2(flows_csv, tmp_path, capsys):
    status, err = _run_in_process(capsys, "--data", str(flows_csv), "--output-dir", str(tmp_path / "o"),
                                  "--config", str(tmp_path / "nope.json"))
    assert status == 2 and "nope.json" in err


def test_cuda_without_gpu_exits_2_naming_device(flows_csv, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the error cannot happen here")
    path = tmp_path / "training_configs.json"
    path.write_text(json.dumps({"device": "cuda"}))
    status, err = _run_in_process(capsys, "--data", str(flows_csv), "--output-dir", str(tmp_path / "o"),
                                  "--config", str(path), "--epochs", "1")
    assert status == 2 and "'device'" in err and "no GPU" in err
    assert not (tmp_path / "o" / "models" / "ctgan_model.pkl").exists()


def test_evaluate_only_without_synthetic_csvs_exits_2(flows_csv, tmp_path, capsys):
    status, err = _run_in_process(capsys, "--data", str(flows_csv), "--output-dir", str(tmp_path / "o"),
                                  "--evaluate-only")
    assert status == 2 and "synthetic_data.csv" in err
    # run standalone (no setup before it), the script wrote the default config, as the setup does
    written = json.loads(OutputLayout(tmp_path / "o").training_configs_json.read_text())
    assert written["ctgan"]["epochs"] == "auto" and written["tvae"]["batch_size"] == "auto"


# ----------------------------------------------------------------------------- split


def _labelled(rows_per_class: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, n in rows_per_class.items() for _ in range(n)]
    return pd.DataFrame({"x": np.arange(len(labels)), "activity": labels})


def test_make_split_is_stratified_and_reproducible():
    frame = _labelled({"Benign": 400, "Attack-SYN": 100, "Attack-RST": 50})
    split = make_split(frame, "activity", 0.2, seed=3, source_sha256="abc")
    holdout = split.holdout(frame)["activity"].value_counts()
    assert holdout.to_dict() == {"Benign": 80, "Attack-SYN": 20, "Attack-RST": 10}
    again = make_split(frame, "activity", 0.2, seed=3, source_sha256="abc")
    assert np.array_equal(split.holdout_index, again.holdout_index)
    assert not np.array_equal(split.holdout_index, make_split(frame, "activity", 0.2, 4, "abc").holdout_index)


def test_make_split_keeps_single_row_classes_in_train(caplog):
    frame = _labelled({"Benign": 50, "Attack-SYN": 20, "Attack-ODD": 1})
    with caplog.at_level("INFO", logger="tcpsynth"):
        split = make_split(frame, "activity", 0.2, seed=0, source_sha256="abc")
    assert "Attack-ODD" in set(split.train(frame)["activity"])
    assert "Attack-ODD" not in set(split.holdout(frame)["activity"])
    assert "stay in train" in caplog.text


def test_split_without_class_column_is_plain_random():
    frame = pd.DataFrame({"x": np.arange(100)})
    split = make_split(frame, None, 0.25, seed=0, source_sha256="abc")
    assert len(split.holdout_index) == 25 and not split.stratified


def test_split_round_trip_and_refusal_for_another_file(tmp_path):
    frame = _labelled({"a": 30, "b": 30})
    split = make_split(frame, "activity", 0.2, seed=1, source_sha256="sha-of-file")
    split.save(tmp_path / "split.json")
    loaded = Split.load(tmp_path / "split.json", "sha-of-file")
    assert np.array_equal(loaded.train_index, split.train_index) and loaded.target == "activity"
    with pytest.raises(UserError, match="another data file"):
        Split.load(tmp_path / "split.json", "sha-of-another-file")
    with pytest.raises(UserError, match="not found"):
        Split.load(tmp_path / "missing.json", "sha-of-file")
    with pytest.raises(UserError, match="another table"):
        loaded.train(frame.head(10))


# ----------------------------------------------------------------------------- streaming


class _InterruptedFlow:
    """Stands in for a FlowSynthesizer whose sampling is interrupted after one batch."""

    model = "ctgan"

    def quotas(self, num_rows, class_counts=None):
        return {"<all rows>": num_rows}

    def sample(self, num_rows, batch_rows, seed, class_counts=None):
        yield pd.DataFrame({"a": range(batch_rows)})
        raise KeyboardInterrupt


def test_interrupted_sampling_leaves_no_partial_csv(tmp_path):
    from common.synth import sample_to_csv

    target = tmp_path / "ctgan_synthetic_data.csv"
    target.write_text("a\n1\n")  # an earlier run's complete file
    with pytest.raises(KeyboardInterrupt):
        sample_to_csv(_InterruptedFlow(), target, 100, 10, seed=0, rules=RuleSet(), progress=False)
    assert target.read_text() == "a\n1\n"
    assert list(tmp_path.iterdir()) == [target]


def test_device_choice(monkeypatch):
    import torch

    from common.synth import choose_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device("auto").device == "cpu" and not choose_device("auto").enable_gpu
    assert choose_device("cpu").device == "cpu"
    with pytest.raises(UserError, match="'device'"):
        choose_device("cuda")


# ----------------------------------------------------------------------------- domain layer guard, "auto"


def test_domain_layer_rows_obey_every_rule_and_the_guard_is_recorded(trained):
    """With the layer on (the default), every written row satisfies every detected rule, and
    the manifest says how many sampled rows the after-sampling guard had to replace or repair."""
    layout, _ = trained
    manifest = json.loads(layout.manifest_json.read_text())
    for model in MODEL_NAMES:
        entry = manifest["models"][model]
        assert entry["description"]["domain_layer"]
        assert entry["sampling"]["validity"]["valid_share"] == 1.0, entry["sampling"]["validity"]
        guard = entry["validity"]
        assert guard["rows_sampled"] == entry["sampling"]["rows"]
        assert guard["rows_invalid_delivered"] == 0
        # every delivered row is a valid draw or a repaired one: the counts add up
        assert guard["rows_drawn"] - guard["rows_invalid_drawn"] + guard["rows_repaired"] >= guard["rows_sampled"]
        assert sum(c["delivered"] for c in guard["classes"].values()) == guard["rows_sampled"]
        assert "batch_size auto" in entry["hyperparameter_choice"]     # the default
        # epochs typed in the config are obeyed; "auto" ones are resolved and the reason recorded
        assert ("epochs auto" in entry["hyperparameter_choice"]) == (QUICK_EPOCHS[model] == "auto")


def test_auto_epochs_and_batch_size_are_resolved_within_the_budget():
    """A 1 s budget cuts the epochs far below the 3,000-step target; the batch gives several
    steps per epoch (the seed's 500 would give one on these rows). Typed numbers are obeyed."""
    from common.synth.autotune import MIN_EPOCHS, TARGET_STEPS, auto_batch_size, steps_per_epoch
    from common.synth import resolve_auto

    from dataclasses import replace

    from common.synth.config import TrainingConfig
    from common.synth.registry import ITERATIVE_MODELS

    train_rows = 192
    for model in ITERATIVE_MODELS:
        config = TrainingConfig(auto_budget_seconds=1)
        configured = config.params(model)
        assert configured.epochs == configured.batch_size == "auto"     # the defaults
        resolved, choice = resolve_auto(model, config, train_rows, "cpu", columns=17)
        assert resolved is not configured and config.params(model) == configured   # a new params object
        assert resolved.batch_size == auto_batch_size(configured, train_rows)
        steps = steps_per_epoch(model, train_rows, resolved.batch_size)
        assert steps >= 3 and MIN_EPOCHS <= resolved.epochs < TARGET_STEPS / steps / 10
        assert "budget" in choice and "epochs auto" in choice and "batch_size auto" in choice
        typed = config.with_params(replace(configured, epochs=300, batch_size=500))
        kept, _ = resolve_auto(model, typed, train_rows, "cpu", columns=17)
        assert (kept.epochs, kept.batch_size) == (300, 500)
    params, choice = resolve_auto("gaussian_copula", TrainingConfig(), train_rows, "cpu", columns=17)
    assert params == TrainingConfig().params("gaussian_copula") and "one pass" in choice


# ----------------------------------------------------------------------------- generation from saved models


def test_generate_only_writes_exact_class_counts_from_the_saved_models(trained, flows_csv, tmp_path, capsys):
    layout, _ = trained
    copy = OutputLayout(tmp_path / "copy")
    shutil.copytree(layout.root, copy.root)
    manifest = json.loads(copy.manifest_json.read_text())
    classes = sorted(manifest["models"]["tvae"]["description"]["class_shares"])
    asked = {classes[0]: 37, classes[-1]: 5}
    target = tmp_path / "mix.csv"
    status, err = _run_in_process(capsys, "--output-dir", str(copy.root), "--generate-only", "--models", "tvae",
                                  "--class-counts", ",".join(f"{k}={v}" for k, v in asked.items()),
                                  "--output", str(target))
    assert status == 0, err
    written = pd.read_csv(target)
    assert written["Label"].astype(str).value_counts().to_dict() == asked
    rules = RuleSet.from_dict(
        json.loads((copy.models_dir / "tvae_rules.json").read_text()))
    assert rules.validity(written).valid_share == 1.0
    record = json.loads(copy.manifest_json.read_text())["generations"][-1]
    assert record["model"] == "tvae" and record["sampling"]["rows"] == 42 and record["sha256"] == file_sha256(target)
    assert record["generation"]["classes"][classes[-1]]["delivered"] == 5


def test_generate_only_balances_classes_and_defaults_to_the_training_rows(trained, tmp_path, capsys):
    layout, _ = trained
    copy = OutputLayout(tmp_path / "copy")
    shutil.copytree(layout.root, copy.root)
    status, err = _run_in_process(capsys, "--output-dir", str(copy.root), "--generate-only", "--models", "ctgan",
                                  "--balance-classes", "--num-rows", "60")
    assert status == 0, err

    def latest_output() -> Path:   # each generation writes a new file, recorded in the manifest
        return Path(json.loads(copy.manifest_json.read_text())["generations"][-1]["output"])

    counts = pd.read_csv(latest_output())["Label"].value_counts()
    assert counts.sum() == 60 and counts.max() - counts.min() <= 1
    status, err = _run_in_process(capsys, "--output-dir", str(copy.root), "--generate-only", "--models", "ctgan")
    assert status == 0, err
    manifest = json.loads(copy.manifest_json.read_text())
    assert len(pd.read_csv(latest_output())) == manifest["split"]["train_rows"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--class-counts", "NoSuchClass=5"], "unknown class 'NoSuchClass'"),
    (["--class-counts", "x"], "CLASS=N"),
    (["--output", "a.csv"], "exactly one model"),
    (["--balance-classes", "--class-counts", "A=1"], "exclude each other"),
])
def test_generate_only_refuses_bad_requests_in_one_line(trained, tmp_path, capsys, argv, message):
    layout, _ = trained
    copy = OutputLayout(tmp_path / "copy")
    shutil.copytree(layout.root, copy.root)
    status, err = _run_in_process(capsys, "--output-dir", str(copy.root), "--generate-only", *argv)
    assert status == 2 and message in err and "Traceback" not in err
    if "unknown class" in message:
        assert "the training rows hold:" in err


def test_generate_only_refuses_a_tampered_or_missing_model(trained, tmp_path, capsys):
    layout, _ = trained
    copy = OutputLayout(tmp_path / "copy")
    shutil.copytree(layout.root, copy.root)
    (copy.models_dir / "tvae_rules.json").write_text("{}")
    status, err = _run_in_process(capsys, "--output-dir", str(copy.root), "--generate-only", "--models", "tvae")
    assert status == 2 and "SHA-256" in err and len(err.strip().splitlines()) == 1
    copy.model_pickle("ctgan").unlink()
    status, err = _run_in_process(capsys, "--output-dir", str(copy.root), "--generate-only", "--models", "ctgan")
    assert status == 2 and "not found" in err


def test_a_loaded_model_keeps_the_guard(trained):
    """The rules travel with the saved model: a loaded model samples only valid rows, in the
    training class shares (this failed before the rules were saved beside the model)."""
    from common.synth import load_trained

    layout, _ = trained
    for model in MODEL_NAMES:
        flow = load_trained(layout, model)
        assert flow.rules is not None and len(flow.rules) > 0 and flow.target == "Label"
        rows = pd.concat(flow.sample(200, 80, seed=5), ignore_index=True)
        assert flow.rules.validity(rows).valid_share == 1.0
        assert flow.validity.rows_invalid_delivered == 0 and flow.validity.rows_sampled == 200
        shares = rows["Label"].astype(str).value_counts(normalize=True)
        for label, share in flow.class_shares.items():
            assert abs(shares.get(label, 0.0) - share) <= 1 / 200 + 1e-9, label
