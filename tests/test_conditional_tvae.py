"""The conditional TVAE (common.synth.conditional_tvae): a class is asked for, not hoped for.

A 1% class comes out on request after 3 epochs (every row of it, no row thrown away), with and
without the domain layer; unconditional sampling still draws every class; save/load gives the
same rows for the same seed; ctgan's loss values and the project's epoch hooks still apply."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.flow_tables import make_cicflowmeter_csv

EPOCHS = 3
RARE = "Infiltration"


def _table(rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Two numeric columns and a class column with a 1% class whose rows differ."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["a", "b"], size=rows, p=[0.6, 0.4]).astype(object)
    labels[rng.choice(rows, rows // 100, replace=False)] = RARE
    return pd.DataFrame({
        "x": rng.normal(size=rows) + np.where(labels == RARE, 4.0, 0.0),
        "y": rng.exponential(size=rows),
        "proto": rng.choice(["tcp", "udp"], size=rows),
        "cls": labels,
    })


def _metadata():
    from sdv.metadata import Metadata

    columns = {"x": {"sdtype": "numerical"}, "y": {"sdtype": "numerical"},
               "proto": {"sdtype": "categorical"}, "cls": {"sdtype": "categorical"}}
    return Metadata.load_from_dict({"tables": {"flows": {"columns": columns}}})


def _frame(sampled) -> pd.DataFrame:
    return next(iter(sampled.values())) if isinstance(sampled, dict) else sampled


@pytest.fixture(scope="module")
def sdv_model():
    """SDV's interface alone: ConditionalTVAESynthesizer on the class column, 3 epochs."""
    from common.synth.conditional_tvae import ConditionalTVAESynthesizer
    from common.synth.environment import seed_everything

    seed_everything(0)
    synthesizer = ConditionalTVAESynthesizer(_metadata(), epochs=EPOCHS, batch_size=100, enable_gpu=False,
                                             condition_column="cls")
    synthesizer.fit({"flows": _table()})
    return synthesizer


@pytest.mark.slow
def test_sdv_condition_on_a_one_percent_class_gives_every_row_of_it(sdv_model):
    from sdv.sampling import Condition

    assert sdv_model.conditioned_on == "cls"
    sampled = _frame(sdv_model.sample_from_conditions([Condition({"cls": RARE}, num_rows=300)]))
    assert len(sampled) == 300 and (sampled["cls"] == RARE).all()
    many = sdv_model.sample_values({RARE: 50, "a": 20})
    assert many["cls"].value_counts().to_dict() == {RARE: 50, "a": 20}
    # a condition on another discrete column is SDV's rejection sampling, as for plain TVAE
    other = _frame(sdv_model.sample_from_conditions([Condition({"proto": "udp"}, num_rows=20)]))
    assert (other["proto"] == "udp").all()


@pytest.mark.slow
def test_sdv_unconditional_sampling_draws_classes_in_their_training_shares(sdv_model):
    sampled = _frame(sdv_model.sample(4000))
    shares = sampled["cls"].value_counts(normalize=True)
    assert set(shares.index) == {"a", "b", RARE}
    assert abs(shares["a"] - 0.6) < 0.05 and abs(shares["b"] - 0.4) < 0.05 and shares[RARE] < 0.03
    assert sampled[["x", "y"]].notna().all().all()


@pytest.mark.slow
def test_loss_values_and_epoch_hooks_are_ctgans(tmp_path):
    """SDV's get_loss_values is ctgan's table; EpochClock times every epoch; single_mode_columns
    still swaps ctgan's DataTransformer (one mode for x)."""
    from common.synth.conditional_tvae import ConditionalTVAESynthesizer
    from common.synth.ctgan_hooks import ColumnwiseDataTransformer, single_mode_columns
    from common.synth.environment import EpochClock

    synthesizer = ConditionalTVAESynthesizer(_metadata(), epochs=2, batch_size=250, enable_gpu=False,
                                             condition_column="cls")
    processed = synthesizer.preprocess({"flows": _table(500)})
    with EpochClock() as clock, single_mode_columns(["x"]):
        synthesizer.fit_processed_data(processed)
    losses = synthesizer.get_loss_values()
    assert list(losses.columns) == ["Epoch", "Batch", "Loss"] and len(losses) == 2 * 2
    assert np.isfinite(losses["Loss"].astype(float)).all()
    assert len(clock.epoch_seconds) == 2
    transformer = synthesizer._model.transformer
    assert isinstance(transformer, ColumnwiseDataTransformer)
    spans = {info.column_name: info.output_dimensions for info in transformer._column_transform_info_list}
    assert spans["x"] == 2 and spans["cls"] == 3       # x: one mode (scalar + one-hot of 1); cls: 3 values


@pytest.mark.slow
def test_without_a_condition_column_it_is_plain_tvae():
    from common.synth.conditional_tvae import ConditionalTVAESynthesizer

    synthesizer = ConditionalTVAESynthesizer(_metadata(), epochs=1, batch_size=500, enable_gpu=False)
    synthesizer.fit({"flows": _table(500)})
    assert synthesizer.conditioned_on is None
    assert len(_frame(synthesizer.sample(50))) == 50
    with pytest.raises(ValueError, match="without a condition column"):
        synthesizer.sample_values({"a": 3})


# ----------------------------------------------------------------------------- FlowSynthesizer


def _flow(model_frame: pd.DataFrame, transformer=None, target="cls", metadata=None):
    from common import synth

    hyper = synth.TVAEParams(epochs=EPOCHS, batch_size=100).sdv_kwargs()
    flow = synth.FlowSynthesizer("tvae", hyper, synth.choose_device("cpu"), metadata or _metadata().to_dict(),
                                 transformer, verbose=False, target=target)
    synth.seed_everything(1)
    flow.fit(model_frame)
    return flow


@pytest.mark.slow
def test_flow_without_domain_layer_delivers_the_rare_class_and_saves(tmp_path):
    from common import synth

    flow = _flow(_table())
    assert flow.synthesizer.conditioned_on == "cls" and flow.class_carrier() == "cls"
    rows = pd.concat(flow.sample(120, 60, seed=3, class_counts={RARE: 100, "b": 20}), ignore_index=True)
    assert rows["cls"].value_counts().to_dict() == {RARE: 100, "b": 20}
    counts = flow.validity.classes[RARE]
    assert counts.drawn == counts.conditional_drawn == 100     # asked for: nothing drawn in vain
    hashes = flow.save(tmp_path / "tvae_model.pkl")
    loaded = synth.FlowSynthesizer.load(tmp_path / "tvae_model.pkl", hashes, flow.describe())
    again = pd.concat(flow.sample(200, 200, seed=11), ignore_index=True)
    reloaded = pd.concat(loaded.sample(200, 200, seed=11), ignore_index=True)
    pd.testing.assert_frame_equal(again, reloaded)
    assert set(again["cls"]) == {"a", "b", RARE}


@pytest.fixture(scope="module")
def domain_context(tmp_path_factory):
    """A CICFlowMeter-style table whose 1% class (6 of 600 rows) is Infiltration."""
    from common.data.pipeline import load_context

    root = tmp_path_factory.mktemp("cvae")
    path = make_cicflowmeter_csv(root / "flows.csv", rows=600, seed=5)
    frame = pd.read_csv(path)
    label = next(c for c in frame.columns if c.strip() == "Label")
    frame.loc[frame.index[frame[label] == "BENIGN"][:6], label] = RARE
    frame.to_csv(path, index=False)
    return load_context(path, root / "out")


@pytest.mark.slow
def test_flow_with_domain_layer_conditions_on_the_encoded_class_carrier(domain_context, tmp_path):
    from common import synth
    from common.domain.parts import PATTERN_COLUMN

    context = domain_context
    target = context.schema.target
    transformer, _ = synth.build_domain_transformer(True, "tvae", context.rules, context.schema, seed=0)
    flow = _flow(context.modelled, transformer, target=target, metadata={})
    carrier = flow.class_carrier()
    assert carrier is not None and flow.synthesizer.conditioned_on == carrier
    assert carrier in (PATTERN_COLUMN, target) or carrier in context.modelled.columns
    rows = pd.concat(flow.sample(80, 80, seed=2, class_counts={RARE: 80}), ignore_index=True)
    assert len(rows) == 80 and (rows[target].astype(str) == RARE).all()
    counts = flow.validity.classes[RARE]
    assert counts.conditional_drawn == counts.drawn >= 80
    everything = pd.concat(flow.sample(300, 300, seed=4), ignore_index=True)
    assert everything[target].astype(str).value_counts().to_dict() == {
        label: count for label, count in flow.quotas(300).items() if count}
