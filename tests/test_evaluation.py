"""Evaluation: fidelity, validity, signatures, utility, privacy, comparison and report.html."""
from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace

import numpy as np
import pandas as pd
import pytest

from common.core.errors import UserError
from common.evaluation import evaluate_models, privacy, summary_text
from common.evaluation.comparison import _in_row_order, recommend, recommendation_score
from common.evaluation.fidelity import column_fidelity, correlation_matrices, correlation_structure, quality_reports
from common.evaluation.privacy import TrainNeighbours, copy_share, row_hashes
from common.evaluation.signatures_check import check_signatures, saved_signatures
from common.evaluation.tables import make_inputs, prepare_candidate
from common.evaluation.utility import trtr, utility_section
from common.evaluation.validity import placeholder_section, rule_validity, stranded_mask
from common.core.io import write_csv
from common.core.layout import OutputLayout
from common.data.pipeline import detect_rules, load_context
from common.rules import PlaceholderRule
from common.data.schema import infer_schema
from data.simulator import simulate_flows

EPOCH = 1_703_000_700.0


def flow_table(rows: int = 300, seed: int = 0, classes: tuple[str, ...] = ("Benign", "Attack-SYN", "Attack-RST")) -> pd.DataFrame:
    """A small flow table: a min <= mean <= max header family, flag counts, an IAT column with
    an epoch placeholder for one-packet flows, a rate, and a class column."""
    rng = np.random.default_rng(seed)
    activity = rng.choice(classes, rows)
    packets = rng.integers(1, 30, rows)
    low = rng.choice([20, 32], rows)
    high = low + rng.choice([0, 8, 20], rows)
    iat = np.where(packets == 1, EPOCH, np.round(rng.exponential(0.5, rows), 4))
    return pd.DataFrame({
        "fwd_min_header_bytes": low,
        "fwd_mean_header_bytes": np.round((low + high) / 2, 2),
        "fwd_max_header_bytes": high,
        "syn_flag_counts": np.where(activity == "Attack-SYN", packets, rng.integers(0, 2, rows)),
        "rst_flag_counts": np.where(activity == "Attack-RST", 1, 0),
        "fwd_packets_IAT_mean": iat,
        "packets_rate": np.round(packets / rng.uniform(0.1, 10, rows), 3),
        "activity": activity,
    })


def inputs_for(frame: pd.DataFrame, seed: int = 0, holdout_share: float = 0.3):
    schema = infer_schema(frame)
    rules = detect_rules(frame, schema, seed=seed)
    cut = int(len(frame) * (1 - holdout_share))
    return make_inputs(frame.iloc[:cut], frame.iloc[cut:], schema, rules, seed)


# ----------------------------------------------------------------------------- fidelity


def test_identical_tables_score_perfectly():
    inputs = inputs_for(flow_table(300))
    same = prepare_candidate(inputs.train.copy(), inputs, "copy")
    columns = column_fidelity(inputs, same)
    assert all(v["ks_statistic"] == 0 and v["wasserstein_normalised"] == 0 for v in columns.numeric.values())
    assert columns.categorical["activity"]["total_variation_distance"] == 0
    assert columns.summary.mean_ks_statistic == 0
    assert all(s["relative_difference"] in (0.0, None) and s["absolute_difference"] in (0.0, None)
               for v in columns.numeric.values() for s in v["statistics"].values())
    scores = quality_reports(inputs, same)
    assert scores.overall == pytest.approx(1.0)
    assert scores.column_shapes == pytest.approx(1.0)
    assert scores.diagnostic_overall == pytest.approx(1.0)
    assert scores.to_json()["quality_report"]["overall"] == scores.overall   # the JSON keeps its shape
    columns_used = [c for c in inputs.numeric_columns if inputs.train[c].nunique() > 1]
    real = correlation_matrices(inputs.train, inputs, columns_used)
    correlations, _ = correlation_structure(inputs, same, real, columns_used)
    assert correlations.pearson.mean_absolute_difference == pytest.approx(0.0, abs=1e-12)
    assert correlations.pearson.strong_real_count > 0
    assert correlations.pearson.strong_kept_share == 1.0
    validity = rule_validity(inputs, same)
    assert validity.valid_share == 1.0 and validity.violating_rows == 0


def test_shifting_one_column_raises_its_ks_and_lowers_its_shape_score():
    inputs = inputs_for(flow_table(300))
    shifted = inputs.train.copy()
    shifted["packets_rate"] = shifted["packets_rate"] + shifted["packets_rate"].std() * 2
    shifted = prepare_candidate(shifted, inputs, "shifted")
    same = prepare_candidate(inputs.train.copy(), inputs, "copy")
    ks_same = column_fidelity(inputs, same).ks_by_column()["packets_rate"]
    ks_shifted = column_fidelity(inputs, shifted).ks_by_column()
    assert ks_shifted["packets_rate"] > ks_same + 0.3
    assert ks_shifted["syn_flag_counts"] == 0  # the other columns did not move
    shape_same = quality_reports(inputs, same).column_shape_scores["packets_rate"]
    shape_shifted = quality_reports(inputs, shifted).column_shape_scores
    assert shape_shifted["packets_rate"] < shape_same - 0.3
    assert shape_shifted["syn_flag_counts"] == pytest.approx(1.0)


def test_placeholders_are_kept_out_of_column_statistics():
    inputs = inputs_for(flow_table(300))
    assert "fwd_packets_IAT_mean" in inputs.rules.placeholders
    stats = column_fidelity(inputs, inputs.holdout).numeric["fwd_packets_IAT_mean"]
    assert stats["placeholders_excluded"]
    assert stats["statistics"]["max"]["real"] < 1e3  # the epoch placeholder is not a measurement


# ----------------------------------------------------------------------------- validity


def test_one_row_breaking_min_le_max_lowers_validity_by_exactly_that_row():
    inputs = inputs_for(flow_table(300))
    assert any(r.kind == "family" and "fwd_min_header_bytes" in r.columns for r in inputs.rules)
    broken = inputs.train.copy()
    row = 7
    broken.loc[row, "fwd_min_header_bytes"] = broken.loc[row, "fwd_max_header_bytes"] + 4
    broken = prepare_candidate(broken, inputs, "broken")
    before, after = rule_validity(inputs, inputs.train), rule_validity(inputs, broken)
    assert before.valid_share == 1.0
    assert after.violating_rows == 1
    assert after.valid_share == pytest.approx(1.0 - 1.0 / len(broken))
    family = next(r.id for r in inputs.rules if r.kind == "family" and "fwd_min_header_bytes" in r.columns)
    assert after.violation_rate[family] == pytest.approx(1.0 / len(broken))


def test_stranded_values_between_real_range_and_placeholder_are_counted():
    rule = PlaceholderRule(columns=["iat"], lo=1.70e9, hi=1.71e9, share=0.5, real_lo=0.0, real_hi=70.0)
    values = np.array([0.5, 70.0, 1.705e9, 8.0e8, 100.0, np.nan, 2e9])
    assert stranded_mask(values, rule).tolist() == [False, False, False, True, True, False, False]
    below = PlaceholderRule(columns=["win"], lo=-1.0, hi=-1.0, share=0.2, real_lo=64.0, real_hi=65535.0)
    assert stranded_mask(np.array([-1.0, 10.0, 64.0, -5.0]), below).tolist() == [False, True, False, False]


def test_placeholder_section_compares_shares():
    inputs = inputs_for(flow_table(300))
    candidate = inputs.train.copy()
    candidate["fwd_packets_IAT_mean"] = 5.0e8  # every cell stranded, no placeholder left
    section = placeholder_section(inputs, prepare_candidate(candidate, inputs, "stranded"))
    column = section.columns["fwd_packets_IAT_mean"]
    assert column["placeholder_share"]["synthetic"] == 0.0 and column["placeholder_share"]["real"] > 0
    assert column["stranded_share"]["synthetic"] == 1.0 and column["stranded_share"]["holdout"] == 0.0
    assert section.summary.max_stranded_share == 1.0


# ----------------------------------------------------------------------------- signatures and utility


def test_identical_rows_keep_every_signature_median():
    inputs = inputs_for(flow_table(400))
    signatures = {"reference_class": "Benign", "skipped": None, "classes": {
        "Attack-SYN": {"features": [{"feature": "syn_flag_counts", "kind": "numeric"}]},
        "Attack-RST": {"features": [{"feature": "rst_flag_counts", "kind": "numeric"}]}}}
    kept = check_signatures(inputs, inputs.train, signatures)
    assert kept.summary.share_inside_real_iqr == 1.0
    assert kept.summary.median_of_median_relative_errors == 0.0
    swapped = inputs.train.copy()
    swapped["rst_flag_counts"] = 1 - swapped["rst_flag_counts"]  # the RST attack loses its RST flag
    lost = check_signatures(inputs, swapped, signatures)
    assert lost.classes["Attack-RST"]["features"][0]["median_inside_real_iqr"] is False
    assert lost.classes["Attack-SYN"]["summary"]["share_inside_real_iqr"] == 1.0


def test_saved_analyzer_signatures_are_used_only_for_the_same_file(tmp_path):
    inputs = inputs_for(flow_table(300))
    signatures = {"reference_class": "Benign", "skipped": None,
                  "classes": {"Attack-SYN": {"features": [{"feature": "syn_flag_counts", "kind": "numeric"}]}}}
    path = tmp_path / "comprehensive_tcp_analysis.json"
    path.write_text(json.dumps({"dataset": {"source_sha256": "abc"}, "attack_signatures": signatures}))
    assert saved_signatures(path, inputs, "abc") == signatures
    assert saved_signatures(path, inputs, "another file") is None
    assert saved_signatures(tmp_path / "absent.json", inputs, "abc") is None
    signatures["classes"]["Attack-SYN"]["features"][0]["feature"] = "not_a_column"
    path.write_text(json.dumps({"dataset": {"source_sha256": "abc"}, "attack_signatures": signatures}))
    assert saved_signatures(path, inputs, "abc") is None


def test_single_class_skips_tstr_with_a_reason():
    inputs = inputs_for(flow_table(200, classes=("Attack-OSYN",)))
    assert trtr(inputs) is None
    section = utility_section(inputs, inputs.train, None)
    assert section.tstr is None and section.trtr is None
    assert "single class" in section.skipped and "Attack-OSYN" in section.skipped
    assert section.to_json()["skipped"] == section.skipped


def test_synthetic_collapsed_to_one_class_is_scored_not_skipped():
    inputs = inputs_for(flow_table(300))
    one_class = inputs.train.copy()
    one_class["activity"] = "Benign"
    section = utility_section(inputs, one_class, trtr(inputs))
    assert section.skipped is None
    assert "synthetic data holds a single class" in section.tstr.note
    assert section.tstr.macro_f1 < 0.5 * section.trtr.macro_f1
    assert section.tstr_to_trtr_macro_f1 < 0.5


# ----------------------------------------------------------------------------- privacy


def test_exact_copies_and_dcr_see_memorised_rows():
    inputs = inputs_for(flow_table(300))
    neighbours = TrainNeighbours(inputs)
    copies, _ = neighbours.distances(inputs.train)
    assert np.all(copies == 0)
    hashes = set(row_hashes(inputs.train).tolist())
    assert copy_share(inputs.train, hashes) == 1.0
    # Near copies (one column nudged by 0.1%) are no exact copies but sit closer to train
    # than unseen real rows do: range scaling must not hide them.
    near = inputs.train.copy()
    near["packets_rate"] *= 1.001
    assert copy_share(near, hashes) == pytest.approx(float((inputs.train["packets_rate"] == 0).mean()))
    near_distances = neighbours.distances(near)[0]
    holdout_distances = neighbours.distances(inputs.holdout)[0]
    assert 0 < np.median(near_distances) < np.median(holdout_distances)


def test_overfitting_protection_is_the_mean_of_its_draws():
    inputs = inputs_for(flow_table(240))
    one = [privacy.overfitting_protection(dataclass_replace(inputs, seed=inputs.seed + d), inputs.train, draws=1)
           for d in range(3)]
    several = privacy.overfitting_protection(inputs, inputs.train, draws=3)
    assert several.draws == 3 and several.sample["draws"] == 3
    assert several.score == pytest.approx(np.mean([o.score for o in one]))
    assert several.closer_to_train_share == pytest.approx(np.mean([o.closer_to_train_share for o in one]))
    assert several.score_range == (min(o.score for o in one), max(o.score for o in one))
    # train rows themselves lie nearer train in every draw
    assert several.closer_to_train_range[0] > 0.5
    with pytest.raises(ValueError, match="draws"):
        privacy.overfitting_protection(inputs, inputs.train, draws=0)


# ----------------------------------------------------------------------------- comparison


def test_headline_figures_are_exactly_the_rows_of_the_table(evaluated):
    context, comparison, _, _ = evaluated
    keys = [row["key"] for row in comparison["rows"]]
    for table in ("holdout_ceiling", "ctgan", "tvae"):
        assert set(comparison["headline"][table]) == set(keys) | {"score_terms"}
    with pytest.raises(KeyError, match="mean_ks_statistic"):
        _in_row_order({key: 0.0 for key in keys if key not in ("score", "mean_ks_statistic")})


def test_recommendation_rule_weights_and_privacy_floor():
    score, terms = recommendation_score({"quality_overall": 0.8, "rules_valid_share": 0.5, "tstr_to_trtr": 1.2})
    assert terms == {"quality": 0.8, "validity": 0.5, "utility": 1.0}
    assert score == pytest.approx(0.4 * 0.8 + 0.3 * 0.5 + 0.3 * 1.0)
    no_utility, _ = recommendation_score({"quality_overall": 0.8, "rules_valid_share": 0.5, "tstr_to_trtr": None})
    assert no_utility == pytest.approx((0.4 * 0.8 + 0.3 * 0.5) / 0.7)
    choice = recommend({"a": {"score": 0.9, "overfitting_protection": 0.2}, "b": {"score": 0.7, "overfitting_protection": 0.9}})
    assert choice["model"] == "b" and "DCROverfittingProtection" in choice["reason"]


# ----------------------------------------------------------------------------- end to end


@dataclass
class PositionSplit:
    """A stand-in with the shared Split's duck type (.train / .holdout of the loaded table)."""

    train_index: np.ndarray
    holdout_index: np.ndarray
    fraction: float = 0.25
    seed: int = 0

    def train(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[self.train_index].reset_index(drop=True)

    def holdout(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[self.holdout_index].reset_index(drop=True)


def noisy_resample(train: pd.DataFrame, numeric: list[str], seed: int, scale: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sample = train.sample(n=len(train), replace=True, random_state=seed).reset_index(drop=True)
    sample[numeric] = sample[numeric] * (1 + rng.normal(0, scale, size=sample[numeric].shape))
    return sample


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """evaluate_models on 400 simulated flows with two fake 'synthetic' CSVs."""
    root = tmp_path_factory.mktemp("evaluation")
    data = root / "flows.csv"
    simulate_flows(400, 3).to_csv(data, index=False)
    output = root / "out"
    context = load_context(data, output, seed=0)
    positions = np.random.default_rng(0).permutation(len(context.frame))
    split = PositionSplit(np.sort(positions[:300]), np.sort(positions[300:]))
    train = split.train(context.modelled)
    numeric = [c for c in context.schema.numeric_columns if c in train.columns]
    write_csv(context.layout.synthetic_csv("ctgan"), noisy_resample(train, numeric, 1, 0.2))
    write_csv(context.layout.synthetic_csv("tvae"), noisy_resample(train, numeric, 2, 0.0))
    timings: dict[str, float] = {}
    with pytest.MonkeyPatch.context() as patch:
        # Smaller samples for the two row-by-row sdmetrics privacy metrics keep the test fast.
        patch.setattr(privacy, "NEW_ROW_ROWS", 40)
        patch.setattr(privacy, "OVERFITTING_ROWS", 100)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            comparison = evaluate_models(context, split, ["ctgan", "tvae", "missing_model"], seed=0, timings=timings)
    return context, comparison, timings, printed.getvalue()


def test_end_to_end_writes_every_artifact(evaluated):
    context, comparison, timings, printed = evaluated
    layout: OutputLayout = context.layout
    for path in (layout.evaluation_json("ctgan"), layout.evaluation_json("tvae"), layout.model_comparison_json,
                 layout.report_html):
        assert path.exists(), path
    assert comparison == json.loads(layout.model_comparison_json.read_text())
    assert comparison["models"] == ["ctgan", "tvae"] and comparison["models_not_evaluated"] == ["missing_model"]
    assert comparison["recommendation"]["model"] in ("ctgan", "tvae")
    assert "evaluation: ctgan" in timings
    assert printed == ""   # the evaluation returns its figures; the script prints the summary
    summary = summary_text(comparison, context.layout.report_html)
    assert "holdout (ceiling)" in summary and f"Recommended model: {comparison['recommendation']['model']}" in summary
    evaluation = json.loads(layout.evaluation_json("tvae").read_text())
    for section in ("fidelity", "validity", "signatures", "utility", "privacy", "timings_seconds"):
        assert section in evaluation
    assert evaluation["utility"]["tstr"]["macro_f1"] > 0
    # Resampled real rows are valid, noisy ones are not; the holdout is (nearly) valid. The
    # resample copies train rows, which privacy must see.
    headline = comparison["headline"]
    assert headline["tvae"]["rules_valid_share"] == 1.0 > headline["ctgan"]["rules_valid_share"]
    assert headline["holdout_ceiling"]["rules_valid_share"] > 0.95
    assert headline["tvae"]["exact_copy_share"] == 1.0 and headline["tvae"]["dcr_median"] == 0.0
    assert headline["tvae"]["quality_overall"] > headline["ctgan"]["quality_overall"]
    # copies of training rows are named over the re-identification goal, with a reason, in the JSON,
    # among the notices and in the report
    attacks = evaluation["privacy"]["reidentification_attacks"]
    if "skipped" not in attacks["synthetic"]:
        assert "singling_out" in [finding["attack"] for finding in attacks["above_goal"]]
        assert all(finding["why"] for finding in attacks["above_goal"])
        assert any(notice.startswith("Re-identification risk over the goal: tvae: singling out")
                   for notice in comparison["notices"])
        assert "Over the goal" in layout.report_html.read_text(encoding="utf-8")


def test_report_is_self_contained_and_references_existing_files(evaluated):
    context, comparison, _, _ = evaluated
    report = context.layout.report_html
    text = report.read_text(encoding="utf-8")
    assert "Verdict" in text and comparison["recommendation"]["model"] in text
    assert text.index("Verdict") < text.index("Fidelity:")  # the verdict comes first
    sources = re.findall(r"""src=['"]([^'"]+)['"]""", text)
    links = re.findall(r"""href=['"]([^'"]+)['"]""", text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert len(sources) == len(comparison["figures"])
    assert not re.search(r"""(src|href)=['"](https?:)?//""", text)
    assert "<script" not in text and "<link" not in text
    for link in links:
        if not link.startswith("#"):
            assert (report.parent / link).exists(), link
    for figure in comparison["figures"]:
        assert (context.layout.root / figure["path"]).exists()


def test_missing_or_malformed_synthetic_csv_is_a_user_error(tmp_path):
    data = tmp_path / "flows.csv"
    simulate_flows(200, 1).to_csv(data, index=False)
    context = load_context(data, tmp_path / "out", seed=0)
    split = PositionSplit(np.arange(150), np.arange(150, 200))
    with pytest.raises(UserError, match="no synthetic CSV"):
        evaluate_models(context, split, ["ctgan"], seed=0)
    write_csv(context.layout.synthetic_csv("ctgan"), split.train(context.modelled).drop(columns=["packets_rate"]))
    with pytest.raises(UserError, match="packets_rate"):
        evaluate_models(context, split, ["ctgan"], seed=0)
