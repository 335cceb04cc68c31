"""Every class, every run: a class a model cannot make never sinks the run, tiny classes follow
min_class_rows / small_classes, and the split gives every class a training row."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from common.core.cli import EXIT_SHORTFALL
from common.core.layout import OutputLayout
from common.data.classes import apply_small_class_policy
from common.data.split import make_split
from data.simulator import simulate_flows
from tests.scripts import SETUP, TRAINER, run_in_process


# ----------------------------------------------------------------------------- split and small classes


@pytest.mark.parametrize("seed", range(8))
def test_split_gives_every_class_a_training_row_even_unstratified(seed):
    # 10 classes of 2 rows and a holdout of 4 rows: too few to stratify, so the split is plain random
    frame = pd.DataFrame({"x": range(20), "label": [f"c{i // 2}" for i in range(20)]})
    split = make_split(frame, "label", 0.2, seed, "sha")
    assert not split.stratified
    assert set(frame.loc[split.train_index, "label"]) == set(frame["label"])
    assert len(np.intersect1d(split.train_index, split.holdout_index)) == 0
    assert len(split.train_index) + len(split.holdout_index) == 20


def _table(rows_per_class: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, rows in rows_per_class.items() for _ in range(rows)]
    return pd.DataFrame({"x": np.arange(len(labels), dtype=float), "label": labels})


def test_small_classes_are_dropped_merged_or_kept_as_configured():
    train = _table({"big": 50, "mid": 12, "tiny": 3, "one": 1})
    dropped, record = apply_small_class_policy(train, "label", 10, "drop")
    assert set(dropped["label"]) == {"big", "mid"} and len(dropped) == 62
    assert record["classes"] == {"one": 1, "tiny": 3} and "left out" in record["notice"]
    merged, record = apply_small_class_policy(train, "label", 10, "merge")
    assert merged["label"].value_counts().to_dict() == {"big": 50, "mid": 12, "other": 4}
    assert record["merged_into"] == "other" and len(train) == 66 and set(train["label"]) == {"big", "mid", "tiny", "one"}
    kept, record = apply_small_class_policy(train, "label", 10, "generate")
    assert kept is train and record["policy"] == "generate" and "imitated" in record["notice"]
    assert apply_small_class_policy(train, "label", 0, "drop") == (train, None)
    assert apply_small_class_policy(_table({"a": 20, "b": 30}), "label", 10, "drop")[1] is None
    # a table whose every class is small is learned all the same (nothing would be left)
    everything, record = apply_small_class_policy(_table({"a": 3, "b": 4}), "label", 10, "drop")
    assert len(everything) == 7 and record["policy"] == "generate"


# ----------------------------------------------------------------------------- a model that cannot make a class


@pytest.fixture(scope="module")
def never_made(tmp_path_factory):
    """A table, its setup, and the class that the patched models will never make (the rarest)."""
    data = tmp_path_factory.mktemp("data") / "flows.csv"
    frame = simulate_flows(360, seed=21)
    frame.to_csv(data, index=False)
    out = tmp_path_factory.mktemp("out")
    assert run_in_process(SETUP, "--data", str(data), "--output-dir", str(out)).returncode == 0
    target = json.loads(OutputLayout(out).schema_json.read_text())["schema"]["target"]
    counts = frame[target].astype(str).value_counts()
    return OutputLayout(out), target, str(counts[counts >= 20].index[-1])


def _never_make(monkeypatch, target: str, label: str) -> None:
    """Patch FlowSynthesizer so that neither its draws nor its class draws ever yield `label`."""
    from common.synth.synthesizer import FlowSynthesizer

    draw, draw_class = FlowSynthesizer._draw, FlowSynthesizer._draw_class

    def without(rows: pd.DataFrame) -> pd.DataFrame:
        return rows[rows[target].astype(str) != label].reset_index(drop=True)

    monkeypatch.setattr(FlowSynthesizer, "_draw", lambda self, n: without(draw(self, n)))
    monkeypatch.setattr(FlowSynthesizer, "_draw_class", lambda self, cls, n: without(draw_class(self, cls, n)))


@pytest.mark.slow
def test_a_class_the_model_never_makes_still_gives_a_finished_run(never_made, monkeypatch, small_privacy_samples):
    layout, target, label = never_made
    _never_make(monkeypatch, target, label)
    result = run_in_process(TRAINER, "--output-dir", str(layout.root), "--models", "ctgan", "--epochs", "5")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = pd.read_csv(layout.synthetic_csv("ctgan"))
    assert label not in set(rows[target].astype(str)) and len(rows) > 0
    entry = json.loads(layout.manifest_json.read_text())["models"]["ctgan"]
    short = entry["sampling"]["shortfalls"][label]
    assert short["delivered"] == 0 and short["asked"] > 0 and "did not generate it" in short["reason"]
    assert entry["sampling"]["rows"] == entry["sampling"]["asked"] - short["asked"]
    assert f"class '{label}'" in entry["shortfall"] and "WARNING" in result.stdout
    # evaluated, and the report says so before anything else
    assert layout.evaluation_json("ctgan").exists()
    html = layout.report_html.read_text()
    notices = html[html.index("class='notices'"):html.index("id='verdict'")]
    assert f"class &#x27;{label}&#x27;" in notices or f"class '{label}'" in notices
    assert json.loads(layout.model_comparison_json.read_text())["notices"]


@pytest.mark.slow
def test_generate_only_short_of_asked_counts_exits_3_and_strict_writes_nothing(never_made, monkeypatch):
    layout, target, label = never_made
    if not layout.model_pickle("ctgan").exists():
        assert run_in_process(TRAINER, "--output-dir", str(layout.root), "--models", "ctgan", "--epochs", "5",
                              "--skip-evaluation").returncode == 0
    _never_make(monkeypatch, target, label)
    shares = json.loads(layout.manifest_json.read_text())["models"]["ctgan"]["description"]["class_shares"]
    other = next(c for c in shares if c != label)
    before = set(layout.generated_dir.glob("*.csv")) if layout.generated_dir.exists() else set()
    ask = ("--output-dir", str(layout.root), "--generate-only", "--models", "ctgan",
           "--class-counts", f"{label}=7,{other}=5")
    strict = run_in_process(TRAINER, *ask, "--strict")
    assert strict.returncode == EXIT_SHORTFALL and "nothing written" in strict.stderr and "Traceback" not in strict.stderr
    assert (set(layout.generated_dir.glob("*.csv")) if layout.generated_dir.exists() else set()) == before
    result = run_in_process(TRAINER, *ask)
    assert result.returncode == EXIT_SHORTFALL and "Traceback" not in result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and f"class '{label}'" in warning[0] and "0 of 7" in warning[0]
    (written,) = set(layout.generated_dir.glob("*.csv")) - before
    rows = pd.read_csv(written)
    assert rows[target].astype(str).value_counts().to_dict() == {other: 5}
    record = json.loads(layout.manifest_json.read_text())["generations"][-1]
    assert record["output"] == str(written) and record["sampling"]["shortfalls"][label]["missing"] == 7


def test_setup_lists_small_classes(tmp_path):
    frame = simulate_flows(300, seed=4)
    target = "activity"
    rare = frame[target].value_counts().index[-1]
    frame = pd.concat([frame[frame[target] != rare], frame[frame[target] == rare].head(3)], ignore_index=True)
    data = tmp_path / "flows.csv"
    frame.to_csv(data, index=False)
    result = run_in_process(SETUP, "--data", str(data), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    small = json.loads(OutputLayout(tmp_path / "out").detected_patterns_json.read_text())["small_classes"]
    assert small["classes"] == {str(rare): 3} and small["policy"] == "drop" and small["min_class_rows"] == 10
    assert f"{rare} (3 rows)" in result.stdout
