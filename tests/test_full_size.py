"""Full-size tables: the out-of-core path (Polars over the files) against the in-memory one,
per-activity folders against one file, and the decision between both."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.core.errors import UserError
from common.core.io import read_table
from common.core.layout import OutputLayout
from common.core.scan import capped_positions, plan_table
from common.data.fullsize import class_counts, confirm_rules, load_table, numeric_figures
from common.data.pipeline import detect_rules
from common.data.schema import infer_schema
from data.simulator import simulate_flows
from tests.scripts import ANALYZER, SETUP, run_in_process
from tests.test_bad_inputs import artifact_files, assert_user_error

SAME_OUTPUTS = ("metadata/metadata.json", "metadata/column_schema.json", "metadata/metadata_summary.json",
                "patterns/detected_rules.json")


@pytest.fixture(scope="module")
def flows() -> pd.DataFrame:
    return simulate_flows(300, seed=11)


@pytest.fixture(scope="module")
def split_folder(flows, tmp_path_factory) -> tuple[Path, Path]:
    """The simulated rows as one CSV and as one file per activity (CSV, CSV.gz and Parquet
    mixed), the files' rows in the same order as the single file's."""
    root = tmp_path_factory.mktemp("split")
    folder = root / "per_activity"
    folder.mkdir()
    parts = [part for _, part in flows.groupby("activity", sort=True)]
    suffixes = (".csv", ".csv.gz", ".parquet")
    for number, part in enumerate(parts):
        path = folder / f"{number:02d}{suffixes[number % 3]}"
        part.to_parquet(path, index=False) if path.suffix == ".parquet" else part.to_csv(path, index=False)
    single = root / "all.csv"
    pd.concat(parts).to_csv(single, index=False)
    return folder, single


def _json(root: Path, name: str) -> dict:
    return json.loads((root / name).read_text())


def _without_source(payload: dict) -> dict:
    """A JSON artifact without what names the files (paths, digests, per-file rows)."""
    payload = json.loads(json.dumps(payload))
    for key in ("source", "source_sha256", "loading", "timings_seconds", "plots"):
        payload.pop(key, None)
    payload.get("meta", {}).pop("confirmed_on_all_rows", None)
    return payload


def _close(a, b, path: str = "") -> list[str]:
    """Where two JSON values differ beyond float rounding (relative 1e-9)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in set(a) | set(b) for d in _close(a.get(key), b.get(key), f"{path}/{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _close(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        return [] if abs(a - b) <= 1e-9 * max(1.0, abs(a)) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_a_folder_of_per_activity_files_gives_what_one_file_gives(split_folder, tmp_path):
    folder, single = split_folder
    outputs = {}
    for name, data in (("folder", folder), ("single", single)):
        out = tmp_path / name
        result = run_in_process(SETUP, "--data", str(data), "--output-dir", str(out), "--seed", "3")
        assert result.returncode == 0, result.stderr[-2000:]
        outputs[name] = out
    for artifact in SAME_OUTPUTS:
        folder_json, single_json = (_without_source(_json(outputs[n], artifact)) for n in ("folder", "single"))
        assert folder_json == single_json, artifact
    folder_patterns = _json(outputs["folder"], "patterns/detected_patterns.json")
    single_patterns = _json(outputs["single"], "patterns/detected_patterns.json")
    assert _close(_without_source(folder_patterns), _without_source(single_patterns)) == []
    assert [entry["rows"] for entry in folder_patterns["loading"]["files"]] == [
        int(n) for n in pd.read_csv(single)["activity"].value_counts(sort=False).sort_index()]


def test_out_of_core_gives_the_in_memory_results_when_the_sample_holds_every_row(split_folder, tmp_path):
    folder, _ = split_folder
    outputs = {}
    for mode in ("never", "always"):
        out = tmp_path / mode
        result = run_in_process(SETUP, "--data", str(folder), "--output-dir", str(out), "--out-of-core", mode)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs[mode] = out
    for artifact in SAME_OUTPUTS:
        assert _without_source(_json(outputs["never"], artifact)) == _without_source(_json(outputs["always"], artifact))
    memory = _json(outputs["never"], "patterns/detected_patterns.json")
    scanned = _json(outputs["always"], "patterns/detected_patterns.json")
    assert memory["loading"] == scanned["loading"]          # rows, per-file rows, missing, inf, duplicates
    for profile in scanned["column_profiles"].values():
        profile.pop("sampled_fields", None)
    for key in ("column_profiles", "categorical_distributions", "tcp_flag_summary", "placeholders",
                "relationships", "high_correlations", "clustering", "heavy_tailed", "small_classes"):
        assert _close(memory[key], scanned[key]) == [], key
    assert memory["computed_on"]["out_of_core"] is False
    statement = scanned["computed_on"]
    assert statement["out_of_core"] and statement["sample"]["rows_used"] == statement["rows_total"] == 300
    confirmed = _json(outputs["always"], "patterns/detected_rules.json")["meta"]["confirmed_on_all_rows"]
    assert confirmed["rows"] == 300 and confirmed["dropped"] == {}


def test_the_analyzer_out_of_core_counts_every_row(split_folder, tmp_path):
    folder, _ = split_folder
    reports = {}
    for mode in ("never", "always"):
        out = tmp_path / mode
        result = run_in_process(ANALYZER, "--data", str(folder), "--output-dir", str(out), "--trees", "5",
                                "--out-of-core", mode)
        assert result.returncode == 0, result.stderr[-2000:]
        reports[mode] = _json(out, "patterns/comprehensive_tcp_analysis.json")
    memory, scanned = reports["never"], reports["always"]
    assert memory["dataset"]["class_counts"] == scanned["dataset"]["class_counts"]
    assert _close(memory["flag_cooccurrence"], scanned["flag_cooccurrence"]) == []
    assert scanned["computed_on"]["out_of_core"] and not memory["computed_on"]["out_of_core"]


def test_a_sample_is_stratified_and_exact_counts_come_from_every_row(flows, tmp_path):
    path = tmp_path / "flows.csv"
    flows.to_csv(path, index=False)
    sample, report, full = load_table(path, 10, mode="always", sample_rows=120, seed=4)
    frame, whole_report = read_table(path)
    assert len(sample) <= 120 and full.rows == len(frame) == report.rows
    assert report.missing_counts == whole_report.missing_counts
    assert report.infinite_counts == whole_report.infinite_counts
    assert report.duplicate_rows == whole_report.duplicate_rows
    counts = frame["activity"].value_counts()
    assert class_counts(full, "activity") == {str(k): int(v) for k, v in counts.items()}
    # every class is in the sample; the smallest keeps all its rows
    assert set(sample["activity"]) == set(counts.index)
    assert (sample["activity"] == counts.index[-1]).sum() == counts.iloc[-1]
    again, _, _ = load_table(path, 10, mode="always", sample_rows=120, seed=4)
    pd.testing.assert_frame_equal(sample, again)
    # a sample row is parsed as read_table parses the file
    schema = infer_schema(frame)
    assert infer_schema(sample).to_dict()["columns"].keys() == schema.to_dict()["columns"].keys()
    rules = detect_rules(frame, schema)
    plain = [c for c in schema.numeric_columns if c not in rules.placeholders]
    for column, figure in numeric_figures(full, plain, rules).items():
        values = frame[column][np.isfinite(frame[column])]
        assert figure["max"] == pytest.approx(float(values.max())) and figure["mean"] == pytest.approx(float(values.mean()))


def test_a_rule_broken_outside_the_sample_is_dropped_and_said(tmp_path, caplog):
    rng = np.random.default_rng(0)
    low = rng.integers(0, 100, 400).astype(float)
    frame = pd.DataFrame({"low": low, "high": low + rng.integers(0, 50, 400), "label": ["a"] * 400})
    clean = tmp_path / "clean.csv"
    frame.to_csv(clean, index=False)
    schema = infer_schema(frame)
    rules = detect_rules(frame, schema)
    pair = [rule for rule in rules.rules if rule.kind == "pair"]
    assert pair, rules.describe()
    broken = frame.copy()
    broken.loc[len(broken)] = {"low": 500.0, "high": 1.0, "label": "a"}     # low > high once
    path = tmp_path / "broken.csv"
    broken.to_csv(path, index=False)
    _, _, full = load_table(path, 10, mode="always", sample_rows=len(broken), seed=0)
    with caplog.at_level("INFO", logger="tcpsynth"):
        confirmed = confirm_rules(rules, full, schema, batch_rows=100)
    assert pair[0].id not in confirmed.ids
    assert confirmed.meta["confirmed_on_all_rows"]["dropped"][pair[0].id] == 1
    assert "rule dropped: broken on 1 of 401 rows" in caplog.text   # a pair rule: 1 row > 0.1 % of 401
    # ranges fitted on the sample grow to every row's (the larger 'low' is no break of a bound)
    assert all(rule.id in confirmed.ids for rule in rules.rules if rule.kind in ("bounds", "integer"))
    # one broken row in 2,001 is within discovery's min_support (0.999): kept, and said
    many = pd.concat([frame] * 5, ignore_index=True)
    many.loc[len(many)] = {"low": 500.0, "high": 1.0, "label": "a"}
    many.to_csv(path, index=False)
    _, _, full = load_table(path, 10, mode="always", sample_rows=100, seed=0)
    confirmed = confirm_rules(rules, full, schema, batch_rows=300)
    assert pair[0].id in confirmed.ids
    assert confirmed.meta["confirmed_on_all_rows"]["kept_though_broken"] == {pair[0].id: 1}


def test_a_mismatched_header_exits_2_naming_the_file_and_column_in_both_paths(split_folder, tmp_path):
    folder, _ = split_folder
    copy = tmp_path / "captures"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    odd = pd.read_csv(folder / "00.csv")
    renamed = odd.columns[1]
    odd.rename(columns={renamed: f"{renamed}_v2"}).to_csv(copy / "99.csv", index=False)
    for mode in ("never", "always"):
        out = tmp_path / f"out-{mode}"
        result = run_in_process(SETUP, "--data", str(copy), "--output-dir", str(out), "--out-of-core", mode)
        assert_user_error(result, "99.csv", "its header differs", f"'{renamed}'", f"'{renamed}_v2'")
        assert not OutputLayout(out).metadata_json.exists() and not any(
            p.suffix == ".json" for p in artifact_files(out))


def test_the_decision_follows_the_estimate_and_the_override(tmp_path, monkeypatch):
    path = tmp_path / "flows.csv"
    simulate_flows(50, seed=1).to_csv(path, index=False)
    assert not plan_table([path]).out_of_core
    assert plan_table([path], "always").out_of_core and not plan_table([path], "never").out_of_core
    monkeypatch.setattr("common.core.scan.IN_MEMORY_LIMIT_BYTES", 1000)
    plan = plan_table([path])
    assert plan.out_of_core and "over the" in plan.reason
    monkeypatch.setenv("TCPSYNTH_OUT_OF_CORE", "never")
    assert not plan_table([path]).out_of_core
    with pytest.raises(UserError, match="out-of-core mode must be one of"):
        plan_table([path], "sometimes")


def test_capped_positions_keep_rare_classes_whole():
    labels = np.array(["big"] * 900 + ["rare"] * 10 + ["mid"] * 90)
    positions, method = capped_positions(labels, len(labels), 100, seed=2)
    picked = labels[positions]
    assert len(positions) <= 100 and (picked == "rare").sum() == 10 and "rare classes keep all rows" in method
    assert np.array_equal(positions, capped_positions(labels, len(labels), 100, seed=2)[0])
    assert np.array_equal(capped_positions(labels, len(labels), 5000, seed=2)[0], np.arange(len(labels)))


def test_the_evaluation_sample_keeps_class_shares_and_small_tables_whole():
    from common.evaluation.tables import stratified_sample

    frame = pd.DataFrame({"x": np.arange(1000.0), "label": ["a"] * 700 + ["b"] * 295 + ["c"] * 5})
    same, note = stratified_sample(frame, "label", 1000, seed=1)
    assert same is frame and not note.sampled
    sample, note = stratified_sample(frame, "label", 100, seed=1)
    assert note.sampled and note.used == len(sample) and note.available == 1000
    assert sample["label"].value_counts().to_dict() == {"a": 70, "b": 30, "c": 1}
    assert sample.index.is_monotonic_increasing
    again, _ = stratified_sample(frame, "label", 100, seed=1)
    pd.testing.assert_frame_equal(sample, again)
    assert len(stratified_sample(frame, None, 100, seed=1)[0]) == 100


def test_the_evaluation_uses_and_reports_rows_within_its_caps(tmp_path, monkeypatch):
    import contextlib
    import io

    from common.data.pipeline import load_context
    from common.evaluation import privacy, runner
    from common.core.io import write_csv
    from tests.test_evaluation import PositionSplit

    data = tmp_path / "flows.csv"
    simulate_flows(400, 3).to_csv(data, index=False)
    context = load_context(data, tmp_path / "out", seed=0)
    split = PositionSplit(np.arange(300), np.arange(300, 400))
    write_csv(context.layout.synthetic_csv("ctgan"), split.train(context.modelled))
    monkeypatch.setattr(runner, "EVALUATION_ROWS", {"train": 150, "holdout": 60, "synthetic": 120})
    monkeypatch.setattr(privacy, "NEW_ROW_ROWS", 20)
    monkeypatch.setattr(privacy, "OVERFITTING_ROWS", 50)
    with contextlib.redirect_stdout(io.StringIO()):
        comparison = runner.evaluate_models(context, split, ["ctgan"], seed=0)
    rows = comparison["evaluation_rows"]
    assert rows["caps"] == {"train": 150, "holdout": 60, "synthetic": 120}
    assert rows["train"]["sampled"] and rows["train"]["rows_available"] == 300
    assert abs(rows["train"]["rows_used"] - 150) <= 8 and abs(rows["holdout"]["rows_used"] - 60) <= 8
    assert abs(rows["synthetic"]["ctgan"]["rows_used"] - 120) <= 8
    assert comparison["split"]["train_rows"] == rows["train"]["rows_used"]
    report = context.layout.report_html.read_text()
    assert f"Rows evaluated: train {rows['train']['rows_used']:,} of 300" in report


def test_a_ragged_file_out_of_core_is_one_line(tmp_path):
    path = tmp_path / "ragged.csv"
    rows = ["a,b,label"] + [f"{i},{i + 1},x" for i in range(40)] + ["1,2,x,extra,fields"]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(UserError, match=r"cannot parse .*ragged\.csv"):
        load_table(path, 10, mode="always")
    with pytest.raises(UserError, match=r"cannot parse .*ragged\.csv"):
        read_table(path)


def test_missing_markers_count_alike_in_both_paths(tmp_path):
    frame = simulate_flows(60, seed=2)
    frame["note"] = ["NA", "x", "", "null", "y", "N/A"] * 10
    path = tmp_path / "flows.csv"
    frame.to_csv(path, index=False)
    _, whole = read_table(path)
    _, scanned, _ = load_table(path, 10, mode="always")
    assert scanned.missing_counts == whole.missing_counts and scanned.missing_counts["note"] == 40
