"""The training subsample (common/data/subsample.py): every row of the rarest classes kept, the
exact total, the other classes in proportion, the same rows for the same seed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.data.subsample import stratified_subsample, subsample_plan, subsample_training


def _table(counts: dict[str, int], seed: int = 0) -> pd.DataFrame:
    labels = np.concatenate([np.full(n, label, dtype=object) for label, n in counts.items()])
    np.random.default_rng(seed).shuffle(labels)
    return pd.DataFrame({"label": labels, "x": np.arange(len(labels))})


COUNTS = {"benign": 90_000, "dos": 8_000, "scan": 1_500, "rare": 37, "rarest": 3}


def test_plan_keeps_the_rare_classes_whole_and_splits_the_rest_in_proportion():
    plan = subsample_plan(COUNTS, 5_000)
    assert plan.total == 5_000
    # even share of 5,000 over 5 classes is 1,000: rarest, rare kept whole; then 4,960 / 3 = 1,653 > 1,500: scan too
    assert set(plan.kept_whole) == {"rarest", "rare", "scan"}
    assert [plan.rows_per_class[k] for k in ("rarest", "rare", "scan")] == [3, 37, 1_500]
    rest = 5_000 - 1_540
    assert plan.rows_per_class["benign"] == round(rest * 90_000 / 98_000)
    assert plan.rows_per_class["dos"] == rest - plan.rows_per_class["benign"]
    assert subsample_plan(COUNTS, 10**6).rows_per_class == COUNTS      # nothing to cut


def test_subsample_keeps_every_rare_row_exact_total_and_is_seeded():
    frame = _table(COUNTS)
    rows, record = subsample_training(frame, "label", 5_000, seed=7)
    assert len(rows) == 5_000 and record["rows_before"] == len(frame) and record["rows_after"] == 5_000
    for label in ("rarest", "rare", "scan"):       # every row of the rarest classes, by identity
        assert set(rows.loc[rows["label"] == label, "x"]) == set(frame.loc[frame["label"] == label, "x"])
    assert record["classes_kept_whole"] == ["rare", "rarest", "scan"]
    assert "5,000 of the 99,540" in record["notice"] and "max_training_rows 5,000" in record["notice"]
    again, _ = subsample_training(frame, "label", 5_000, seed=7)
    pd.testing.assert_frame_equal(rows, again)
    other, _ = subsample_training(frame, "label", 5_000, seed=8)
    assert not other["x"].equals(rows["x"])
    assert rows["x"].is_monotonic_increasing       # the table's order


def test_no_subsample_below_the_limit_and_a_plain_sample_without_classes():
    frame = _table({"a": 50, "b": 50})
    same, record = subsample_training(frame, "label", 100, seed=1)
    assert same is frame and record is None
    assert subsample_training(frame, "label", None, seed=1)[1] is None
    positions = stratified_subsample(None, 100, 30, seed=1)
    assert len(positions) == len(set(positions)) == 30 and positions.max() < 100
    rows, record = subsample_training(frame.drop(columns="label"), None, 30, seed=1)
    assert len(rows) == 30 and "no class column" in record["notice"]
    with pytest.raises(ValueError):
        subsample_plan({"a": 3}, 0)


def test_a_model_trained_on_the_subsample_delivers_the_full_splits_shares():
    from common.synth import FlowSynthesizer, choose_device

    full = _table({"big": 900, "small": 90, "tiny": 10})
    learnt, _ = subsample_training(full, "label", 200, seed=1)
    flow = FlowSynthesizer("tvae", {}, choose_device("cpu"), {}, target="label")
    flow._note_classes(learnt)               # what fit() records of the rows it learns
    assert flow.class_shares["tiny"] == 10 / 200
    flow.note_population(full)
    assert flow.class_shares == {"big": 0.9, "small": 0.09, "tiny": 0.01} and flow.training_rows == 1_000
    flow._note_classes(learnt[learnt["label"] != "small"])   # a class absent from the learnt rows
    flow.note_population(full)
    assert set(flow.class_shares) == {"big", "tiny"} and sum(flow.class_shares.values()) == pytest.approx(1)
