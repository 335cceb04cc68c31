"""Domain layer (common.domain) and the "auto" hyper-parameters (common.synth.autotune).

The by-construction guarantee is tested by decoding arbitrary points of the encoded space
(Gaussian noise far outside the training ranges, and every column shuffled independently):
every decoded row must satisfy every detected rule.
"""
from __future__ import annotations

import re

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.synth.autotune import MAX_BATCH, auto_batch_size, resolve_hyperparameters, steps_per_epoch
from common.synth.config import TrainingConfig
from common.synth.models import resolve_auto
from common.synth.params import CTGANParams, TVAEParams
from common.core.errors import UserError
from common.core.io import read_table
from common.data.pipeline import detect_rules
from common.rules import RuleSet
from common.data.schema import infer_schema, modelling_frame
from data.simulator import simulate_flows
from common.synth.sampling import NO_CLASS, class_plan, class_quotas, generate
from common.domain import PATTERN_COLUMN, DomainTransformer, is_heavy_tailed, valid_rows
from tests.flow_tables import make_cicflowmeter_csv, make_kdd_csv


def load(path: Path):
    frame, _ = read_table(path, min_rows=10)
    schema = infer_schema(frame, None, None)
    return modelling_frame(frame, schema), schema, detect_rules(frame, schema)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "flows.csv"
    simulate_flows(1500, seed=3).to_csv(path, index=False)
    return load(path)


@pytest.fixture(scope="module")
def cic(tmp_path_factory):
    return load(make_cicflowmeter_csv(tmp_path_factory.mktemp("cic") / "cic.csv"))


@pytest.fixture(scope="module")
def kdd(tmp_path_factory):
    return load(make_kdd_csv(tmp_path_factory.mktemp("kdd") / "kdd.csv"))


@pytest.fixture(scope="module")
def real(request):
    from tests.conftest import REAL_OSYN

    if not REAL_OSYN.exists():
        pytest.skip(f"real sample not present at {REAL_OSYN}")
    return load(REAL_OSYN)


TABLES = ["simulated", "cic", "kdd", "real"]


def assert_round_trip(frame: pd.DataFrame, decoded: pd.DataFrame, rules: RuleSet, moved_with: dict | None = None) -> None:
    """Every cell of every rule-abiding row comes back: categories, integers and grid values
    exactly, other numbers to 1e-6 relative, placeholder cells as placeholders inside the
    observed band. A real row that keeps a rule only within the data's rounding (a mode stored
    with 4 decimals, a step above its unrounded median) decodes exactly ordered, so its cells
    may move by up to one such step; a column derived from others (`moved_with`: column -> the
    columns it is computed from, a rate from its duration) is compared where those came back."""
    assert list(decoded.columns) == list(frame.columns)
    ok = valid_rows(frame, rules)
    for column, sources in (moved_with or {}).items():
        for source in sources:
            a = frame[source].to_numpy(dtype=float, na_value=np.nan)
            b = decoded[source].to_numpy(dtype=float, na_value=np.nan)
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            frame, decoded = frame.copy(), decoded.copy()
            frame.loc[~same, column] = decoded.loc[~same, column]
    assert ok.mean() > 0.99
    placeholders = rules.placeholders
    for column in frame.columns:
        real, back = frame[column][ok], decoded[column][ok]
        if not pd.api.types.is_numeric_dtype(real) or pd.api.types.is_bool_dtype(real):
            assert (real.astype(str).to_numpy() == back.astype(str).to_numpy()).all(), column
            continue
        a, b = real.to_numpy(dtype=float, na_value=np.nan), back.to_numpy(dtype=float, na_value=np.nan)
        assert (np.isnan(a) == np.isnan(b)).all(), column
        rule = placeholders.get(column)
        is_ph = np.asarray(rule.is_placeholder(a), dtype=bool) if rule else np.zeros(len(a), bool)
        if rule:
            assert (np.asarray(rule.is_placeholder(b), dtype=bool) == is_ph).all(), column
            assert ((b[is_ph] >= rule.lo) & (b[is_ph] <= rule.hi)).all(), column
        measured = ~is_ph & ~np.isnan(a)
        if pd.api.types.is_integer_dtype(real.dtype) or np.all(a[measured] == np.rint(a[measured])):
            assert (a[measured] == b[measured]).all(), column
        else:
            step = max(rules.meta.get("quanta", {}).values(), default=0.0)
            assert np.allclose(a[measured], b[measured], rtol=1e-6, atol=1e-12 + 1.0001 * step), column


@pytest.mark.parametrize("table", TABLES)
def test_round_trip_reproduces_the_real_rows(table, request):
    frame, schema, rules = request.getfixturevalue(table)
    layer = DomainTransformer(rules, schema).fit(frame)
    encoded = layer.transform(frame)
    assert not encoded.isna().any().any(), "SDV must not see missing cells: they become a pattern"
    assert_round_trip(frame, layer.inverse_transform(encoded), rules, moved_with(layer, frame))


def moved_with(layer: DomainTransformer, frame: pd.DataFrame) -> dict[str, list[str]]:
    """Columns derived from others by a product (a rate from its packet count and duration), and
    the other members of a sum holding one, with the table columns they are computed from."""
    sources = {d.column: [c for c in d.reads if c in frame.columns]
               for d in layer.count_plan.derivations if d.kind == "product"}
    for plan in layer.sums:   # a sum with a derived member is solved again for another member
        members = [*plan.parts, plan.total]
        found = [c for m in members for c in sources.get(m, [])]
        sources.update({m: found for m in members if found and m not in sources})
    return sources


def scramble(encoded: pd.DataFrame, seed: int, noise: bool) -> pd.DataFrame:
    """Arbitrary points of the encoded space: wide Gaussian noise or independent shuffles."""
    rng = np.random.default_rng(seed)
    out = encoded.copy()
    for column in out.columns:
        values = out[column].to_numpy()
        if noise and pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column]):
            spread = float(np.nanstd(values)) or 1.0
            out[column] = np.nanmean(values) + rng.normal(0.0, 5.0 * spread, len(values))
        else:
            out[column] = rng.permutation(values)
    return out


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("noise", [True, False], ids=["noise", "shuffle"])
def test_arbitrary_encoded_values_decode_into_valid_rows(table, noise, request):
    frame, schema, rules = request.getfixturevalue(table)
    layer = DomainTransformer(rules, schema).fit(frame)
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=1, noise=noise))
    validity = rules.validity(decoded)
    broken = {k: v for k, v in validity.violation_rate.items() if v > 0}
    assert validity.valid_share == 1.0, broken
    # the placeholder cells hold real placeholder values, never stranded ones
    for column, rule in rules.placeholders.items():
        values = decoded[column].to_numpy(dtype=float)
        inside = np.asarray(rule.is_placeholder(values), dtype=bool) | ((values >= rule.real_lo) & (values <= rule.real_hi))
        assert inside[np.isfinite(values)].all(), column


def test_label_is_generated_from_activity(simulated):
    frame, schema, rules = simulated
    determination = rules.by_kind("determines")[0]
    source, target = determination.columns
    layer = DomainTransformer(rules, schema).fit(frame)
    encoded = layer.transform(frame)
    assert target not in encoded.columns
    # the class is learned jointly with the placeholder pattern (one category per real combination)
    assert layer.describe()["pattern_joined_with_class"] == source and source not in encoded.columns
    assert set(encoded[PATTERN_COLUMN].str.split("|").str[1]) == set(frame[source])
    decoded = layer.inverse_transform(scramble(encoded, seed=5, noise=False))
    mapping = determination.as_dict()
    assert (decoded[target] == decoded[source].map(mapping)).all()


def test_structure_is_found_from_the_rules(real):
    frame, schema, rules = real
    layer = DomainTransformer(rules, schema).fit(frame)
    plan = layer.describe()
    # one state pattern column for the three IAT placeholder groups (total, fwd, bwd directions)
    assert len(plan["state_groups"]) == 3 and plan["state_patterns"] >= 3
    assert PATTERN_COLUMN in layer.transform(frame).columns
    assert {"bwd_packets_rate", "fwd_packets_rate"} == set(plan["sums"][0]["parts"])
    assert set(plan["grid_columns"]) >= {"min_header_bytes", "max_header_bytes"}
    # NTLFlowLyzer writes one epoch into every placeholder cell of a row: one learned column
    learned = plan["placeholder_values_learned"]
    assert len(learned) == 1 and set(next(iter(learned.values()))) == set(rules.placeholders)


def test_placeholder_values_are_learned_per_row_not_copied(real):
    """A row's placeholder cells share the value generated for that row (inside every column's
    placeholder band, on the data's step), whatever SDV samples for it."""
    frame, schema, rules = real
    layer = DomainTransformer(rules, schema).fit(frame)
    encoded = layer.transform(frame)
    (name,) = layer.describe()["placeholder_values_learned"]
    rng = np.random.default_rng(3)
    encoded[name] = rng.uniform(encoded[name].min() - 1e4, encoded[name].max() + 1e4, len(encoded))
    decoded = layer.inverse_transform(encoded)
    placeholders = rules.placeholders
    cells = np.column_stack([np.where(placeholders[c].is_placeholder(decoded[c]), decoded[c], np.nan)
                             for c in placeholders])
    rows = np.isfinite(cells).any(axis=1)
    assert rows.mean() > 0.3
    assert (np.nanmax(cells[rows], axis=1) == np.nanmin(cells[rows], axis=1)).all()
    step = max(rule.quantum for rule in placeholders.values())
    assert step == 100.0 and (np.nanmax(cells[rows], axis=1) % step == 0).all()


def test_frame_without_rules_passes_through_unchanged(kdd):
    frame, schema, _ = kdd
    layer = DomainTransformer(RuleSet(), schema).fit(frame)
    encoded = layer.transform(frame)
    pd.testing.assert_frame_equal(encoded, frame)
    pd.testing.assert_frame_equal(layer.inverse_transform(encoded), frame)


def test_heavy_tailed_columns_are_modelled_on_a_log_scale(real):
    frame, schema, rules = real
    chosen = DomainTransformer(rules, schema, heavy_tailed=[{"column": "fwd_init_win_bytes"}]).fit(frame)
    assert chosen.describe()["log_scale_columns"] == ["fwd_init_win_bytes"]
    assert DomainTransformer(rules, schema, heavy_tailed=[]).fit(frame).describe()["log_scale_columns"] == []
    rng = np.random.default_rng(0)
    assert is_heavy_tailed(rng.lognormal(0, 3, 2000)) and not is_heavy_tailed(rng.uniform(1, 2, 2000))


def test_sdv_metadata_describes_the_encoded_frame(simulated):
    from sdv.metadata import Metadata

    frame, schema, rules = simulated
    layer = DomainTransformer(rules, schema).fit(frame)
    metadata = layer.sdv_metadata_dict()
    columns = metadata["tables"]["flows"]["columns"]
    assert list(columns) == list(layer.transform(frame).columns)
    assert columns[PATTERN_COLUMN]["sdtype"] == "categorical"
    Metadata.load_from_dict(metadata).validate_data({"flows": layer.transform(frame)})


# ----------------------------------------------------------------------------- the guard


def test_guard_replaces_invalid_rows_by_new_draws(real):
    frame, schema, rules = real
    rng = np.random.default_rng(0)
    calls = []

    def draw(n):  # the first draw has 10 rows breaking a family (max below min), later ones are clean
        rows = frame.sample(n, replace=True, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
        if not calls:
            rows.loc[:9, "max_header_bytes"] = rows.loc[:9, "min_header_bytes"] - 4
        calls.append(n)
        return rows

    rows, counts = generate(draw, {NO_CLASS: 200}, rules)
    assert len(rows) == 200 and valid_rows(rows, rules).all()
    assert counts.rows_invalid_drawn == 10 and counts.rows_repaired == 0 and counts.rows_invalid_delivered == 0
    assert counts.valid_share_before_resampling == pytest.approx(190 / 200)


def test_guard_repairs_what_redrawing_cannot(real):
    frame, schema, rules = real
    layer = DomainTransformer(rules, schema).fit(frame)
    broken = frame.head(30).copy()
    broken["max_header_bytes"] = broken["min_header_bytes"] - 4     # always invalid
    broken["min_header_bytes"] = broken["min_header_bytes"] + 1      # off the TCP grid too
    rows, counts = generate(lambda n: broken.sample(n, replace=True, random_state=n), {NO_CLASS: 30}, rules,
                            repair=layer.repair)
    assert counts.rows_repaired == 30 and counts.rows_invalid_delivered == 0 and valid_rows(rows, rules).all()
    assert counts.to_dict()["valid_share_before_resampling"] == 0.0


def test_guard_stops_naming_the_rule_instead_of_delivering_invalid_rows(real):
    frame, schema, rules = real
    broken = frame[frame["max_header_bytes"] > frame["min_header_bytes"]].head(30).copy()
    broken["min_header_bytes"], broken["max_header_bytes"] = broken["max_header_bytes"], broken["min_header_bytes"]
    assert len(broken) == 30
    rows, counts = generate(lambda n: broken.sample(n, replace=True, random_state=n), {NO_CLASS: 30}, rules)
    assert len(rows) == 0 and counts.rows_missing == 30       # no invalid row is delivered, ever
    short = counts.shortfalls[NO_CLASS]
    assert (short.asked, short.delivered) == (30, 0)
    assert re.search(r"break rule '[a-z]+:.*max_header_bytes", short.reason), short.reason


def test_guard_without_rules_keeps_every_row(kdd):
    frame, _, _ = kdd
    rows, counts = generate(lambda n: frame.head(n), {NO_CLASS: 50}, RuleSet())
    assert len(rows) == 50 and counts.rows_invalid_drawn == 0 and counts.valid_share_before_resampling == 1.0
    assert sorted(map(tuple, rows.astype(str).to_numpy())) == sorted(map(tuple, frame.head(50).astype(str).to_numpy()))


def test_class_quotas_are_exact_whatever_the_model_prefers(simulated):
    """A model that makes one class 10 times too often still delivers the asked counts; a class
    it never makes unconditionally comes from the class draw; one it cannot make at all stops."""
    frame, schema, rules = simulated
    target = schema.target
    common_class, rare_class = frame[target].value_counts().index[[0, -1]]
    skewed = pd.concat([frame[frame[target] == common_class]] * 10 + [frame[frame[target] != rare_class]])

    def draw(n):
        return skewed.sample(n, replace=True, random_state=n).reset_index(drop=True)

    def draw_class(label, n):
        return frame[frame[target].astype(str) == label].sample(n, replace=True, random_state=n)

    quotas = class_quotas(frame[target].astype(str).value_counts(normalize=True).to_dict(), 500)
    rows, counts = generate(draw, quotas, rules, target=target, draw_class=draw_class)
    assert rows[target].astype(str).value_counts().to_dict() == {k: v for k, v in quotas.items() if v}
    assert valid_rows(rows, rules).all()
    assert counts.classes[str(rare_class)].conditional_drawn > 0
    assert counts.to_dict()["classes"][str(common_class)]["draws_per_delivered_row"] >= 1.0
    rows, counts = generate(draw, quotas, rules, target=target)        # no class draw: the rare class falls short
    assert str(rare_class) not in set(rows[target].astype(str)) and valid_rows(rows, rules).all()
    short = counts.shortfalls[str(rare_class)]
    assert short.delivered == 0 and short.asked == quotas[str(rare_class)] and "did not generate it" in short.reason
    assert len(rows) == 500 - short.asked and set(counts.shortfalls) == {str(rare_class)}
    assert counts.classes[str(rare_class)].delivered == 0
    assert f"class '{rare_class}'" in short.sentence(str(rare_class), target) and "train longer" in short.advice


def test_class_quotas_add_up_and_follow_the_shares():
    quotas = class_quotas({"a": 0.5, "b": 0.3333, "c": 0.1667}, 1001)
    assert sum(quotas.values()) == 1001 and abs(quotas["a"] - 500.5) <= 1 and abs(quotas["c"] - 166.9) <= 1
    plan = class_plan(quotas, seed=1)
    assert len(plan) == 1001 and (plan[:100] != plan[0]).any()   # shuffled: every batch gets a share


@pytest.mark.slow
def test_a_small_tvae_fit_samples_only_valid_rows(real):
    """End to end with SDV: fit TVAE for 2 epochs on the encoded frame, decode, check."""
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import TVAESynthesizer

    torch.set_num_threads(1)
    frame, schema, rules = real
    layer = DomainTransformer(rules, schema).fit(frame)
    synthesizer = TVAESynthesizer(Metadata.load_from_dict(layer.sdv_metadata_dict()), epochs=2, batch_size=100)
    synthesizer.fit({"flows": layer.transform(frame)})      # SDV 2.0 takes {table: frame}
    sampled = synthesizer.sample(num_rows=300)
    decoded = layer.inverse_transform(sampled["flows"] if isinstance(sampled, dict) else sampled)
    assert rules.validity(decoded).valid_share == 1.0


# ----------------------------------------------------------------------------- autotune


def test_auto_batch_size_gives_several_steps_per_epoch():
    for rows in (240, 605, 4800, 1_000_000):
        batch = auto_batch_size(CTGANParams(pac=10), rows)
        assert batch % 10 == 0 and batch <= MAX_BATCH
        assert steps_per_epoch("ctgan", rows, batch) >= min(4, rows // 50)
    assert auto_batch_size(CTGANParams(), 605) == 60        # seed's 500 would give 1 step per epoch
    assert auto_batch_size(CTGANParams(pac=7), 605) == 56   # a multiple of pac
    assert auto_batch_size(TVAEParams(), 605) == 60


def test_resolve_hyperparameters_keeps_numbers_and_respects_the_budget():
    seed_params = CTGANParams(epochs=300, batch_size=500)
    resolved, note = resolve_hyperparameters(seed_params, 605, 240, "cpu")
    assert resolved == seed_params and "as configured" in note
    auto = CTGANParams()
    small, _ = resolve_hyperparameters(auto, 605, 240, "cpu")
    assert auto.epochs == "auto"                              # "auto" resolves to a new params object
    assert small.batch_size == 60 and small.epochs * steps_per_epoch("ctgan", 605, 60) >= 3000
    tight, note = resolve_hyperparameters(auto, 50_000, 30, "cpu")
    assert tight.epochs < small.epochs and "budget" in note
    with pytest.raises(UserError, match="unknown model 'gan'; choose from ctgan, tvae"):
        resolve_auto("gan", TrainingConfig(), 10, "cpu", 10)


def test_a_pickled_layer_decodes_the_same_rows(real):
    """The layer is pickled beside the model; the copy must decode identically."""
    import pickle

    frame, schema, rules = real
    layer = DomainTransformer(rules, schema).fit(frame)
    encoded = scramble(layer.transform(frame), seed=2, noise=True)
    copy = pickle.loads(pickle.dumps(layer))
    pd.testing.assert_frame_equal(copy.inverse_transform(encoded), layer.inverse_transform(encoded))
    assert dict(layer.dtypes) == {c: frame[c].dtype for c in frame.columns}


@pytest.mark.parametrize("model", ["ctgan", "tvae"])
def test_model_settings_keep_the_guarantee(model, simulated):
    """Each synthesizer's spec picks its encoding; validity by construction holds either way."""
    from common.synth.registry import model_spec

    frame, schema, rules = simulated
    layer = DomainTransformer.with_settings(model_spec(model).domain_settings, rules, schema).fit(frame)
    plan = layer.describe()
    assert plan["pattern_joined_with_class"] == schema.target
    if model == "ctgan":   # the joint pattern|class column is CTGAN's one discrete column
        assert plan["categorical_encoded_columns"] == []
    else:
        assert plan["categorical_encoded_columns"]
    assert set(layer.gaussian_columns()) >= set(plan["class_conditional_columns"]) and layer.gaussian_columns()
    encoded = layer.transform(frame)
    decoded = layer.inverse_transform(scramble(encoded, seed=4, noise=True), calibrate=True)
    assert rules.validity(decoded).valid_share == 1.0
    assert_round_trip(frame, layer.inverse_transform(encoded), rules, moved_with(layer, frame))


def test_class_positions_keep_each_class_marginals(simulated):
    """Continuous columns are learned as positions within the row's class: encoded values from
    one class decode into that class's range, and calibrated draws get the class's marginal."""
    frame, schema, rules = simulated
    layer = DomainTransformer(rules, schema).fit(frame)
    target = schema.target
    # a learned column that no count rule derives (a rate is computed from its count and duration)
    column = next(c for c in ("packets_rate", "bwd_init_win_bytes", "fwd_init_win_bytes")
                  if c in layer.class_positions and c not in layer.count_plan.derived)
    encoded = layer.transform(frame)
    flipped = encoded.copy()
    rng = np.random.default_rng(0)
    flipped[column] = rng.normal(0.0, 0.3, len(flipped))    # a model squeezing every position
    decoded = layer.inverse_transform(flipped, calibrate=True)
    for label, rows in frame.groupby(target).groups.items():
        real = frame.loc[rows, column]
        synthetic = decoded.loc[decoded[target] == label, column]
        if len(real) < 50:
            continue
        assert synthetic.min() >= real.min() and synthetic.max() <= real.max(), label
        assert abs(synthetic.median() - real.median()) <= 0.05 * (real.max() - real.min()) + 1e-9, label


def test_positions_keep_each_class_in_each_pattern(simulated):
    """A class's rows in one state pattern keep that pattern's marginals: a one-packet SSH flow
    (no inter-arrival time measured) gets a one-packet flow's window, not one drawn from all the
    class's flows, whatever order the model puts the positions in."""
    from common.domain.parts import GROUP_MIN_ROWS

    frame, schema, rules = simulated
    layer = DomainTransformer(rules, schema).fit(frame)
    column = next(c for c in ("bwd_init_win_bytes", "fwd_init_win_bytes", "packets_rate")
                  if c in layer.class_positions and c not in layer.count_plan.derived)
    encoded = layer.transform(frame)
    squeezed = encoded.copy()
    squeezed[column] = np.random.default_rng(0).normal(0.0, 0.3, len(squeezed))   # any order at all
    decoded = layer.inverse_transform(squeezed, calibrate=True)
    pattern = layer._row_patterns(layer.count_plan.with_counts(frame)).to_numpy()
    checked = 0
    for (label, state), rows in frame.groupby([frame[schema.target], pattern]).groups.items():
        real = frame.loc[rows, column]
        if len(real) < GROUP_MIN_ROWS or real.nunique() < 2 and real.iloc[0] != real.iloc[0]:
            continue
        synthetic = decoded.loc[rows, column]     # the pattern column was kept, so the rows are the same
        assert synthetic.min() >= real.min() and synthetic.max() <= real.max(), (label, state)
        assert abs(synthetic.median() - real.median()) <= 0.05 * (real.max() - real.min()) + 1e-9, (label, state)
        checked += 1
    assert checked >= 3 and layer.describe()["class_pattern_groups"] >= checked
    # and each class as a whole, its small patterns included, keeps its marginal
    for label, rows in frame.groupby(schema.target).groups.items():
        real, synthetic = frame.loc[rows, column], decoded.loc[rows, column]
        if len(real) >= 50:
            assert abs(synthetic.median() - real.median()) <= 0.05 * (real.max() - real.min()) + 1e-9, label


def test_counts_keep_the_range_their_pattern_shows(simulated):
    """A pattern with measured inter-arrival times had at least two packets: whatever count
    the model pairs with it, the decoded count stays in the pattern's training range."""
    frame, schema, rules = simulated
    layer = DomainTransformer(rules, schema).fit(frame)
    counts = [c for c in dict.fromkeys(layer.count_plan.alias.values()) if c in [n.column for n in layer.nodes]]
    assert counts
    with_counts = layer.count_plan.with_counts(frame)
    pattern = layer._row_patterns(with_counts).to_numpy()
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=5, noise=False))
    decoded_counts = layer.count_plan.with_counts(decoded)
    decoded_pattern = layer._row_patterns(decoded_counts).to_numpy()
    floors_above_one = 0
    for column in counts:
        for state in np.unique(pattern):
            real = with_counts.loc[pattern == state, column].dropna()
            if len(real) < 20:
                continue
            made = decoded_counts.loc[decoded_pattern == state, column].dropna()
            assert made.empty or made.min() >= real.min(), (column, state)
            # the pattern's largest count too, unless a rule puts the count above a column that
            # is larger there (rst >= bwd_rst: the rule wins)
            step = next(st for st in layer.steps[state] if layer.nodes[st.index].column == column)
            if not step.below:
                assert made.empty or made.max() <= real.max(), (column, state)
            floors_above_one += real.min() >= 2
    assert floors_above_one, "the simulator has patterns of flows with two packets or more"


def test_class_joins_the_pattern_only_when_asked(simulated):
    frame, schema, rules = simulated
    apart = DomainTransformer(rules, schema, join_class=False).fit(frame)
    assert apart.describe()["pattern_joined_with_class"] is None
    encoded = apart.transform(frame)
    assert schema.target in encoded.columns and not encoded[PATTERN_COLUMN].str.contains("|", regex=False).any()
    assert_round_trip(frame, apart.inverse_transform(encoded), rules, moved_with(apart, frame))


@pytest.mark.parametrize("table", ["simulated", "real"])
def test_decoded_rows_hold_plain_inequalities_exactly(table, request):
    """Checked without the rules' code: plain comparisons on decoded rows of arbitrary encoded
    values. Orderings between columns stored unrounded hold with no tolerance at all; where a
    family's low equals its high every middle equals them; multiples stay multiples."""
    frame, schema, rules = request.getfixturevalue(table)
    layer = DomainTransformer(rules, schema).fit(frame)
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=7, noise=True), calibrate=True)
    quanta = rules.meta.get("quanta", {})
    placeholders = rules.placeholders
    checked = 0
    for rule in rules:
        if rule.kind not in ("family", "pair") or getattr(rule, "op", "<=") != "<=":
            continue
        if any(c in quanta for c in rule.columns) or rule.placeholders == "excluded":
            continue
        values = decoded[rule.columns].to_numpy(dtype=float)
        measured = np.isfinite(values).all(axis=1)
        for c in rule.columns:
            if c in placeholders:
                measured &= ~np.asarray(placeholders[c].is_placeholder(decoded[c]), dtype=bool)
        low, high = values[measured, 0], values[measured, -1]
        for k in range(1, values.shape[1]):
            assert (values[measured, k - 1 if rule.kind == "pair" else 0] <= values[measured, k]).all(), rule.id
        if rule.kind == "family":
            for k in range(1, values.shape[1] - 1):
                middle = values[measured, k]
                assert (middle <= high).all(), rule.id
                assert (middle[low == high] == low[low == high]).all(), rule.id
        checked += 1
    assert checked >= 3
    # families of integer columns (header lengths): min == max leaves the mean, median, mode no
    # room at all, whatever decimals they are stored with (the 31.99995 between 32 and 32)
    integral = {r.column for r in rules if r.kind in ("grid", "integer")}
    families = [r for r in rules.by_kind("family") if r.low in integral and r.high in integral]
    assert families
    for rule in families:
        low, high = decoded[rule.low].to_numpy(dtype=float), decoded[rule.high].to_numpy(dtype=float)
        same = np.isfinite(low) & (low == high)
        assert same.any()
        for middle in rule.middles:
            assert (decoded[middle].to_numpy(dtype=float)[same] == low[same]).all(), (rule.id, middle)
    for rule in rules.by_kind("multiple"):
        values = decoded[rule.column].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        assert (np.mod(values, rule.quantum) == 0).all(), rule.id
