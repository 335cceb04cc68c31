"""tcp_pattern_analyzer.py and common.analysis: known values on hand-made tables, signatures on
the bundled sample, the real single-class file, CICFlowMeter and KDD tables, offline HTML."""
from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import tcp_pattern_analyzer
from common.analysis.directions import direction_pairs, split_direction
from common.analysis.flag_patterns import flag_cooccurrence, sequential_flag_patterns
from common.analysis.groups import find_reference, is_benign_value
from common.analysis.importance import agreement, top_features
from common.analysis.information import discretise_numeric
from common.analysis.network import correlation_graph, node_link, spearman_matrix
from common.analysis.signatures import attack_signatures, cliffs_delta
from common.analysis.traffic import robust_outliers, timing_distributions
from common.analysis.values import class_capped_sample
from common.core.errors import UserError
from common.data.flags import flag_columns
from common.core.layout import OutputLayout
from common.data.pipeline import detect_rules
from common.rules import PlaceholderRule, RuleSet
from common.data.schema import infer_schema
from data.simulator import simulate_flows

from tests.scripts import ANALYZER, REPO_ROOT, run_in_subprocess

SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"
FAST = ["--trees", "15", "--max-rows-for-costly-steps", "3000", "--seed", "3"]


def analyse(data: Path, output: Path, *extra: str) -> dict:
    """Run the analyzer in-process (imports already paid) and return its JSON report."""
    assert tcp_pattern_analyzer.main(["--data", str(data), "--output-dir", str(output), *FAST, *extra]) == 0
    return json.loads(OutputLayout(output).comprehensive_analysis_json.read_text())


# ----------------------------------------------------------------------------- hand-made tables


@pytest.fixture
def tiny_flags() -> pd.DataFrame:
    """Six flows with known flags: SYN in 1-4, RST in 3-5, PSH (a fraction) in 4 and 6."""
    return pd.DataFrame({
        "syn_flag_counts": [1, 2, 1, 1, 0, 0],
        "rst_flag_counts": [0, 0, 1, 3, 1, 0],
        "fwd_psh_flag_percentage_in_fwd_packets": [0.0, 0.0, 0.0, 0.5, 0.0, 0.25],
        "duration": [1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
        "label": ["a", "a", "a", "b", "b", "b"],
    })


def test_cooccurrence_and_conditional_probabilities_equal_known_values(tiny_flags):
    schema = infer_schema(tiny_flags)
    result = flag_cooccurrence(tiny_flags, schema, tiny_flags["label"])
    overall = result["overall"]
    assert result["flags"] == ["SYN", "RST", "PSH"]
    assert overall["counts"]["SYN"] == {"SYN": 4, "RST": 2, "PSH": 1}
    assert overall["presence_share"] == {"SYN": round(4 / 6, 4), "RST": 0.5, "PSH": round(2 / 6, 4)}
    conditional = overall["conditional_probability"]
    assert conditional["SYN"]["RST"] == 0.5          # 2 of the 4 SYN flows have RST
    assert conditional["RST"]["SYN"] == round(2 / 3, 4)
    assert conditional["PSH"]["RST"] == 0.5
    assert overall["jaccard"]["SYN"]["RST"] == 0.4    # |{3,4}| / |{1,2,3,4,5}|
    assert overall["jaccard"]["SYN"]["PSH"] == 0.2    # |{4}| / |{1,2,3,4,6}|
    per_class = result["per_class"]
    assert per_class["a"]["counts"]["SYN"]["SYN"] == 3
    assert per_class["a"]["conditional_probability"]["PSH"]["SYN"] is None  # PSH never occurs in class a
    assert per_class["b"]["conditional_probability"]["PSH"]["RST"] == 0.5


def test_handshake_indicators_say_what_flags_support_and_what_they_cannot(tiny_flags):
    frame = tiny_flags.assign(bwd_packets_rate=[0.0, 3.0, 0.0, 2.0, 0.0, 1.0])
    result = sequential_flag_patterns(frame, infer_schema(frame), None, frame["label"])
    assert result["backward_evidence_columns"] == ["bwd_packets_rate"]
    assert result["overall_share"]["syn_without_reply"] == round(2 / 6, 4)  # flows 1 and 3
    assert result["overall_share"]["no_syn"] == round(2 / 6, 4)
    assert any(line.startswith("syn_answered_with_rst") for line in result["not_derivable_here"])
    assert any("order" in line for line in result["cannot_be_known_from_flow_table"])
    assert result["outcome"]["overall_share"]["SYN, no reply"] == round(2 / 6, 4)


def test_direction_pairs_are_found_from_name_tokens():
    columns = ["fwd_packets_rate", "bwd_packets_rate", "Init_Win_bytes_forward", "Init_Win_bytes_backward",
               "Total Fwd Packets", "Total Backward Packets", "fwd_psh_flag_percentage_in_fwd_packets",
               "bwd_psh_flag_percentage_in_bwd_packets", "fwd_only_thing", "Flow Bytes/s"]
    pairs = {(p.forward, p.backward) for p in direction_pairs(columns)}
    assert pairs == {
        ("fwd_packets_rate", "bwd_packets_rate"), ("Init_Win_bytes_forward", "Init_Win_bytes_backward"),
        ("Total Fwd Packets", "Total Backward Packets"),
        ("fwd_psh_flag_percentage_in_fwd_packets", "bwd_psh_flag_percentage_in_bwd_packets"),
    }
    assert split_direction("fwd_to_bwd_ratio")[0] is None  # names both directions: not one side of a pair


def test_placeholders_are_set_apart_in_timing_and_discretisation():
    iat = np.array([0.1, 0.2, 0.3, 1.7e9, 1.7e9, 0.4])
    frame = pd.DataFrame({"fwd_packets_IAT_mean": iat, "label": list("aaabbb")})
    rules = RuleSet([PlaceholderRule(columns=["fwd_packets_IAT_mean"], lo=1.6e9, hi=1.8e9, share=2 / 6)])
    timing = timing_distributions(frame, infer_schema(frame), rules, frame["label"])["fwd_packets_IAT_mean"]
    assert timing["overall"]["n"] == 4 and timing["overall"]["max"] == 0.4
    assert timing["overall"]["placeholder_share"] == round(2 / 6, 4)
    assert timing["per_class"]["b"]["p50"] == 0.4 and timing["per_class"]["b"]["placeholder_share"] == round(2 / 3, 4)
    codes = discretise_numeric(frame, "fwd_packets_IAT_mean", rules)
    assert list(codes[[3, 4]]) == [-1, -1] and (codes[[0, 1, 2, 5]] >= 0).all()


def test_robust_outliers_fall_back_when_the_spread_is_zero():
    spread = robust_outliers(np.array([1.0, 1.1, 0.9, 1.05, 0.95, 50.0]))
    assert spread["outlier_count"] == 1 and spread["method"].startswith("robust z")
    flat = robust_outliers(np.array([0.0] * 9 + [5.0]))
    assert flat["outlier_count"] == 1 and "median" in flat["method"]


def test_cliffs_delta_matches_its_definition():
    values, reference = np.array([3.0, 4.0, 5.0]), np.array([1.0, 2.0, 3.0, 4.0])
    pairs = [np.sign(v - r) for v in values for r in reference]
    assert cliffs_delta(values, reference) == pytest.approx(np.mean(pairs))


def test_reference_class_is_found_from_values():
    benign_in_target = pd.DataFrame({"Label": ["BENIGN", "DDoS", "BENIGN"], "x": [1, 2, 3]})
    assert find_reference(benign_in_target, infer_schema(benign_in_target)).name == "BENIGN"
    finer = pd.DataFrame({"label": ["Benign", "Benign", "Attack"], "x": [1, 2, 3],
                          "activity": ["Benign-SSH", "Benign-Web", "Attack-SYN"]})
    reference = find_reference(finer, infer_schema(finer))
    assert (reference.name, reference.column, list(reference.mask)) == ("Benign", "label", [True, True, False])
    no_benign = pd.DataFrame({"class": ["x", "y", "y"], "v": [1, 2, 3]})
    assert find_reference(no_benign, infer_schema(no_benign)).name == "y"
    assert is_benign_value("normal.") and not is_benign_value("abnormality")
    with pytest.raises(UserError, match="reference class 'nope'"):
        find_reference(no_benign, infer_schema(no_benign), "nope")


def test_class_capped_sample_keeps_rare_classes_and_is_seeded():
    frame = pd.DataFrame({"label": ["big"] * 950 + ["rare"] * 50, "x": np.arange(1000)})
    sample, description = class_capped_sample(frame, "label", 200, seed=1)
    assert (sample["label"] == "rare").sum() == 50 and len(sample) == 200
    assert description["rows_used"] == 200 and description["seed"] == 1
    again, _ = class_capped_sample(frame, "label", 200, seed=1)
    assert sample.index.equals(again.index)


def test_agreement_of_importance_rankings():
    a = {"f1": 3.0, "f2": 2.0, "f3": 1.0, "f4": 0.0}
    b = {"f1": 30.0, "f2": 20.0, "f3": 10.0, "f4": 0.0}
    c = {"f1": 0.0, "f2": 1.0, "f3": 2.0, "f4": 3.0}
    pairs = {tuple(p["methods"]): p for p in agreement({"a": a, "b": b, "c": c}, k=2)}
    assert pairs[("a", "b")]["spearman_rho"] == 1.0 and pairs[("a", "b")]["top_k_overlap"] == 2
    assert pairs[("a", "c")]["spearman_rho"] == -1.0 and pairs[("a", "c")]["top_k_overlap"] == 0
    assert top_features(a, 2) == ["f1", "f2"]


def test_correlation_network_joins_strongly_correlated_features():
    rng = np.random.default_rng(0)
    base = rng.random(300)
    frame = pd.DataFrame({"a_rate": base, "b_rate": base * 2 + 0.01 * rng.random(300),
                          "c_rate": -base, "noise": rng.random(300), "label": ["x"] * 300})
    schema = infer_schema(frame)
    graph = correlation_graph(spearman_matrix(frame, schema, None), schema, threshold=0.7, seed=0)
    assert graph.has_edge("a_rate", "b_rate") and graph.edges["a_rate", "c_rate"]["r"] < 0
    assert "noise" in graph and graph.degree("noise") == 0
    restored = nx.node_link_graph(json.loads(json.dumps(node_link(graph))), edges="edges")
    assert set(restored.edges) == set(graph.edges)


# ----------------------------------------------------------------------------- the bundled sample


@pytest.fixture(scope="module")
def sample_context():
    """The bundled sample (or, before it is generated, the same simulator's rows) with schema and rules."""
    frame = pd.read_csv(SAMPLE) if SAMPLE.exists() else simulate_flows(6000, seed=42)
    schema = infer_schema(frame)
    return frame, schema, detect_rules(frame, schema)


def _strongest_flag(signature: dict, flag_of: dict[str, str]) -> str:
    flags = [flag_of[f["feature"]] for f in signature["features"] if f["feature"] in flag_of]
    assert flags, f"no flag feature in {signature['summary']}"
    return flags[0]


def test_signatures_name_the_flags_of_each_attack(sample_context):
    frame, schema, rules = sample_context
    result = attack_signatures(frame, schema, rules, seed=0)
    assert result["skipped"] is None and result["reference_class"] == "Benign"
    classes = result["classes"]
    flag_of = {item.column: item.flag for item in flag_columns(schema)}
    present_flags = set(flag_of.values())
    assert _strongest_flag(classes["Attack-TCP-Flag-SYN"], flag_of) == "SYN"
    assert _strongest_flag(classes["Attack-TCP-Flag-RST-ACK"], flag_of) == "RST"
    ack_psh = classes["Attack-TCP-Flag-ACK-PSH"]
    named = {flag_of[f["feature"]] for f in ack_psh["features"] if f["feature"] in flag_of}
    assert "PSH" in named and ("ACK" in named or "ACK" not in present_flags)  # the 42-column schema has no ACK column
    assert "SYN:" in classes["Attack-TCP-Flag-SYN"]["summary"]
    assert "RST:" in classes["Attack-TCP-Flag-RST-ACK"]["summary"]
    for entry in classes.values():
        for feature in entry["features"]:
            assert set(feature) >= {"feature", "class_median", "class_iqr", "reference_median", "reference_iqr",
                                    "cliffs_delta", "ks_statistic", "ks_pvalue"}
            assert -1 <= feature["cliffs_delta"] <= 1 and 0 <= feature["ks_statistic"] <= 1
            rule = rules.placeholders.get(feature["feature"])
            if rule is not None:  # medians are of real values only
                assert not rule.lo <= feature["class_median"] <= rule.hi
    assert classes["Benign-SSH"]["compared_with"] == "other Benign rows"


def test_signatures_skip_a_single_class_or_an_absent_reference(sample_context):
    frame, schema, rules = sample_context
    one_class = frame[frame["activity"] == "Attack-TCP-Flag-SYN"]
    skipped = attack_signatures(one_class, infer_schema(one_class), rules)
    assert skipped["classes"] == {} and "single class" in skipped["skipped"]
    without_benign = frame[frame["label"] != "Benign"]
    absent = attack_signatures(without_benign, infer_schema(without_benign), rules, reference_class="Benign")
    assert absent["classes"] == {} and "reference class 'Benign'" in absent["skipped"]
    with pytest.raises(UserError, match="max_features"):
        attack_signatures(frame, schema, rules, max_features=0)


# ----------------------------------------------------------------------------- the script


@pytest.mark.slow
def test_script_in_subprocess_writes_json_png_and_offline_html(tmp_path):
    data = tmp_path / "flows.csv"
    simulate_flows(350, seed=11).to_csv(data, index=False)
    output = tmp_path / "out"
    completed = run_in_subprocess(ANALYZER, "--data", str(data), "--output-dir", str(output), *FAST, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "computing schema and rules the same way" in completed.stdout
    assert re.search(r"feature importance done in [\d.]+ s", completed.stdout)
    layout = OutputLayout(output)
    report = json.loads(layout.comprehensive_analysis_json.read_text())
    assert report["dataset"]["setup_outputs_used"] is False
    assert report["sampling_for_costly_steps"]["rows_used"] <= 3000
    assert set(report["timings_s"]) >= {"flag co-occurrence", "attack signatures", "feature importance"}
    assert json.loads(layout.correlation_network_json.read_text())["nodes"]
    pngs = [output / p for p in report["artifacts"]["png"]]
    pages = [output / p for p in report["artifacts"]["html"]]
    assert len(pngs) == 5 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    index = layout.interactive_index_html.read_text()
    for path in pngs + pages + [layout.comprehensive_analysis_json]:
        assert path.name in index
    for page in pages:
        text = page.read_text()
        assert not re.search(r"<script[^>]+src=[\"']?https?:", text), page
        assert "Plotly.newPlot" in text
    assert "Attack-TCP-Flag-SYN" in pages[1].read_text()             # flag signatures hold the classes
    assert report["feature_importance"]["top_features"]["impurity"][0] in pages[2].read_text()


def test_real_single_class_file_runs_and_says_what_was_skipped(real_osyn_path, tmp_path):
    report = analyse(real_osyn_path, tmp_path)
    skipped = report["skipped"]
    for section in ("attack_signatures", "feature_importance", "feature_vs_class_mutual_information"):
        assert "single class" in skipped[section]
    assert report["flag_cooccurrence"]["overall"]["presence_share"]["SYN"] > 0.5
    timing = report["traffic_patterns"]["timing"]
    assert max(entry["overall"]["placeholder_share"] for entry in timing.values()) > 0.3
    # the epoch placeholders (about 1.7e9) never enter a summary of real values
    assert all((entry["overall"].get("max") or 0) < 1e6 for entry in timing.values())
    assert OutputLayout(tmp_path).interactive_index_html.exists()


def test_cicflowmeter_table_runs(cicflowmeter_csv, tmp_path):
    report = analyse(cicflowmeter_csv, tmp_path)
    assert report["dataset"]["reference_class"]["name"] == "BENIGN"
    assert {"SYN", "ACK", "RST", "PSH"} <= set(report["flag_cooccurrence"]["flags"])
    pairs = report["traffic_patterns"]["directional_asymmetry"]["pairs"]
    assert {(p["forward"], p["backward"]) for p in pairs.values()} >= {
        ("Init_Win_bytes_forward", "Init_Win_bytes_backward"), ("Total Fwd Packets", "Total Backward Packets")}
    rates = report["traffic_patterns"]["rate_anomalies"]["Flow Bytes/s"]["overall"]
    assert rates["infinite_share"] > 0 and rates["n"] > 0
    assert set(report["attack_signatures"]["classes"]) == {"DDoS", "PortScan"}


def test_kdd_table_runs_with_connection_states(kdd_csv, tmp_path):
    report = analyse(kdd_csv, tmp_path)
    states = report["sequential_flag_patterns"]["connection_states"]
    assert states["column"] == "flag" and states["cramers_v_with_class"] > 0.5
    assert states["meaning"]["S0"].startswith("connection attempt seen")
    assert "connection state" in report["skipped"]["flag_cooccurrence"]
    assert "flag=" in report["attack_signatures"]["classes"]["neptune"]["summary"]
    assert report["mutual_information"]["cramers_v"]["flag_column_vs"]["class"] > 0.5
