"""Multiplicative structure: implied whole counts, shares of counts, products and quotients are
discovered exactly from the data (opaque column names), a relation broken on one row is not
claimed, and the domain layer decodes any encoded row into one that obeys all of them, also
after the CSV is written and read back (checked here with plain formulas)."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.core.io import read_table
from common.data.pipeline import detect_rules
from common.data.schema import infer_schema, modelling_frame
from common.domain import DomainTransformer
from common.rules.base import RTOL
from common.rules import CountBoundRule, CountOrderRule, PlaceholderRule, ProductRule, WholeRatioRule, WholeShareRule, discover_rules
from tests.conftest import SHARED_DATA
from tests.test_transforms import scramble

CPACKET = ("cpacket_attack_tcp_flag_osyn.csv", "cpacket_benign_web_browsing_part2.csv",
           "cpacket_attack_tcp_flag_ack_psh_part2.csv")


def counted_flows(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Flows built from whole counts, under names that say nothing: `p` packets of which `q`
    forward, header lengths on a grid (sum `t`, mean `m` to 4 decimals, min `lo`, max `hi`;
    forward sum `ft`, mean `fm`), `k` flagged packets as a float32 share `s` of all packets,
    a duration `d` in seconds (0 for some flows) with the rate `r` = packets / d (0 where d = 0),
    a byte count `b` per packet, and a microsecond duration `u` with `ur` = 1e6 * `q` / `u`."""
    rng = np.random.default_rng(seed)
    cls = rng.choice(["x", "y", "z"], rows, p=[0.5, 0.3, 0.2])
    packets = np.where(cls == "x", rng.integers(1, 40, rows), rng.integers(1, 6, rows))
    forward = np.minimum(packets, rng.integers(1, 40, rows))
    lengths = [rng.choice([20, 24, 32, 40], n) for n in packets]
    first_fwd = [h[:f] for h, f in zip(lengths, forward)]
    total = np.array([h.sum() for h in lengths])
    fwd_total = np.array([h.sum() for h in first_fwd])
    flagged = rng.binomial(packets, 0.3)
    duration = np.where(rng.random(rows) < 0.1, 0.0, np.round(rng.exponential(2.0, rows), 6) + 1e-6 * (packets > 1))
    duration = np.where(packets == 1, 0.0, duration)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(duration > 0, packets / np.where(duration > 0, duration, 1.0), 0.0)
    micro = rng.integers(1, 10_000_000, rows)
    frame = pd.DataFrame({
        "t": total, "m": np.round(total / packets, 4),
        "lo": [h.min() for h in lengths], "hi": [h.max() for h in lengths],
        "ft": fwd_total, "fm": np.round(fwd_total / forward, 4),
        "k": flagged, "s": (flagged / packets).astype(np.float32).astype(float),
        "d": duration, "r": np.array([float(f"{v:.7g}") for v in rate]),
        "q": forward, "u": micro, "ur": np.array([float(f"{v:.10g}") for v in 1e6 * forward / micro]),
        "w": rng.integers(0, 65535, rows), "cls": cls,
    })
    return frame


@pytest.fixture(scope="module")
def flows():
    return counted_flows()


@pytest.fixture(scope="module")
def flow_rules(flows):
    return discover_rules(flows)


def _kinds(rules, kind):
    return [r for r in rules if isinstance(r, kind)]


def test_products_quotients_and_implied_counts_are_found_exactly(flow_rules):
    ratios = {tuple(r.columns) for r in _kinds(flow_rules, WholeRatioRule)}
    assert ("t", "m") in ratios and ("ft", "fm") in ratios
    shares = {(r.columns[0], str(r.count)) for r in _kinds(flow_rules, WholeShareRule)}
    assert ("s", str(["ratio", "t", "m"])) in shares
    products = {r.id: r for r in _kinds(flow_rules, ProductRule)}
    # the rate is the implied packet count over the duration; zero durations are left out
    rate = [r for r in products.values() if {"r", "d", "t", "m"} <= set(r.columns)]
    assert len(rate) == 1 and rate[0].support == 1.0
    # a microsecond rate: the scale 1e6 is found, not given
    micro = [r for r in products.values() if set(r.columns) == {"ur", "q", "u"}]
    assert len(micro) == 1 and micro[0].scale in (1e6, 1e-6)
    # the flag count is the share's whole count of packets
    assert any(r.id == "count_order:k(s*n(t/m))==k" for r in _kinds(flow_rules, CountOrderRule))
    bounds = {(r.columns[0], r.columns[1], r.side) for r in _kinds(flow_rules, CountBoundRule)}
    assert {("lo", "t", "low"), ("hi", "t", "high")} <= bounds
    orders = {r.id for r in _kinds(flow_rules, CountOrderRule)}
    assert "count_order:n(ft/fm)<=n(t/m)" in orders
    # every one of them holds on every row, and nothing is claimed about the unrelated column
    assert all(r.support == 1.0 for r in flow_rules if r.kind in ("whole_ratio", "whole_share", "product",
                                                                   "count_order", "count_bound"))
    assert not any("w" in r.columns for r in flow_rules if r.kind in ("product", "whole_ratio", "whole_share"))


@pytest.mark.parametrize("column, change", [("m", 0.01), ("r", 1.001), ("ur", 1.0001)])
def test_a_relation_broken_on_one_row_is_not_claimed(flows, column, change):
    broken = flows.copy()
    row = int(np.nonzero((broken[column] > 0).to_numpy())[0][7])
    broken.loc[row, column] = broken.loc[row, column] + change if column == "m" else broken.loc[row, column] * change
    rules = discover_rules(broken)
    claimed = [r for r in rules if r.kind in ("whole_ratio", "product") and column in r.columns]
    assert claimed == [] or all(r.measure_support(lambda c: broken[c].to_numpy(float))[0] == 1.0 for r in claimed)
    if column == "m":
        assert not any(tuple(r.columns) == ("t", "m") for r in _kinds(rules, WholeRatioRule))
    if column == "ur":
        assert not any(set(r.columns) == {"ur", "q", "u"} for r in _kinds(rules, ProductRule))


def _fitted(frame: pd.DataFrame, tmp_path: Path):
    path = tmp_path / "flows.csv"
    frame.to_csv(path, index=False)
    table, _ = read_table(path, min_rows=10)
    schema = infer_schema(table, None, None)
    rules = detect_rules(table, schema)
    modelled = modelling_frame(table, schema)
    return modelled, rules, DomainTransformer(rules, schema).fit(modelled)


@pytest.mark.parametrize("noise", [True, False], ids=["noise", "shuffle"])
def test_scrambled_encodings_decode_into_rows_obeying_every_relation(flows, tmp_path, noise):
    frame, rules, layer = _fitted(flows, tmp_path)
    assert layer.count_plan.virtual, "the packet count is learned as a column of its own"
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=3, noise=noise))
    validity = rules.validity(decoded)
    assert validity.valid_share == 1.0, {k: v for k, v in validity.violation_rate.items() if v > 0}


def plain_arithmetic(f: pd.DataFrame) -> pd.Series:
    """The fixture's relations written out: the rows that add up."""
    n = (f["t"] / f["m"]).round()
    nf = (f["ft"] / f["fm"].where(f["fm"] > 0)).round().fillna(0)
    ok = (n >= 1) & ((f["t"] / n - f["m"]).abs() <= 0.5e-4 + 1e-9)
    ok &= (nf <= n) & ((f["fm"] == 0) & (f["ft"] == 0) | ((f["ft"] / nf - f["fm"]).abs() <= 0.5e-4 + 1e-9))
    ok &= (f["lo"] * n <= f["t"]) & (f["t"] <= f["hi"] * n)
    ok &= ((f["s"] * n - (f["s"] * n).round()).abs() <= 1e-5) & ((f["s"] * n - f["k"]).abs() <= 1e-5)
    ok &= (f["d"] <= 0) | ((f["r"] * f["d"] - n).abs() <= 1e-6 * n)
    ok &= (f["ur"] * f["u"] - 1e6 * f["q"]).abs() <= 1e-8 * 1e6 * f["q"]
    return ok


def test_the_written_csv_obeys_the_relations_when_read_back(flows, tmp_path):
    assert plain_arithmetic(flows).all()
    frame, rules, layer = _fitted(flows, tmp_path)
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=5, noise=True))
    path = tmp_path / "synthetic.csv"
    decoded.to_csv(path, index=False)
    back = pd.read_csv(path)
    assert plain_arithmetic(back).all()
    assert rules.validity(back).valid_share == 1.0


def _real_tables():
    out = []
    if all((SHARED_DATA / name).exists() for name in CPACKET):
        out.append(pytest.param(CPACKET, id="cpacket"))
    if (SHARED_DATA / "cicids2017_sample_half.csv").exists():
        out.append(pytest.param(("cicids2017_sample_half.csv",), id="cic"))
    return out or [pytest.param(None, marks=pytest.mark.skip(reason="no real tables in ../shared/data"))]


@pytest.mark.parametrize("names", _real_tables())
def test_real_tables_decode_into_rows_obeying_every_relation(names, tmp_path):
    frame = pd.concat([pd.read_csv(SHARED_DATA / name) for name in names], ignore_index=True)
    frame, rules, layer = _fitted(frame, tmp_path)
    assert [r for r in rules if r.kind in ("whole_ratio", "product")]
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=2, noise=False))
    validity = rules.validity(decoded)
    assert validity.valid_share == 1.0, {k: v for k, v in validity.violation_rate.items() if v > 0}


def test_a_count_snapped_from_shares_that_is_also_a_mean_divisor_decodes():
    """On this small simulated table one flag count is both a whole ratio of two shares and a count
    snapped from a share: its derivation must run before the ones that divide by it (this raised a
    KeyError in the domain layer before the derivations were put in dependency order)."""
    from data.simulator import simulate_flows

    frame = simulate_flows(360, seed=21)
    schema = infer_schema(frame)
    modelled = modelling_frame(frame, schema)
    rules = detect_rules(frame, schema)
    layer = DomainTransformer(rules, schema).fit(modelled)
    plan = layer.count_plan
    snapped = {d.column for d in plan.derivations if d.kind == "snap"}
    readers = [d for d in plan.derivations if snapped & set(d.reads) and d.kind != "snap"]
    assert readers, "the fixture no longer has a count that is snapped and read by another derivation"
    position = {id(d): i for i, d in enumerate(plan.derivations)}
    for reader in readers:
        for d in plan.derivations:
            if d.kind == "snap" and d.column in reader.reads:
                assert position[id(d)] < position[id(reader)]
    decoded = layer.inverse_transform(scramble(layer.transform(modelled), seed=5, noise=0.3))
    assert list(decoded.columns) == list(modelled.columns) and len(decoded) == len(modelled)
    snapped_values = decoded[[c for c in snapped if c in decoded.columns]]
    assert snapped_values.notna().all().all()


COUNT_KINDS = ("whole_ratio", "whole_share", "product", "count_order", "count_bound")


def test_a_small_table_claims_only_relations_its_generator_keeps():
    """On 360 simulated rows, relations that hold by accident of few values (a flag count that is
    a whole multiple of another because the other is 1, a total equal to a median over a share
    that is 1/2 on nearly every row where it is not 0) must not be claimed: every multiplicative
    relation found there holds on every row of a larger table from the same simulator, and the
    real rows come back from encoding and decoding obeying every rule (not only after the guard)."""
    from data.simulator import simulate_flows

    small = simulate_flows(360, seed=21)
    schema = infer_schema(small)
    rules = detect_rules(small, schema)
    claimed = [r for r in rules if r.kind in COUNT_KINDS]
    assert any(r.kind == "whole_ratio" for r in claimed) and any(r.kind == "product" for r in claimed)
    large = simulate_flows(4000, seed=22)
    # placeholder cells (the capture epoch in an IAT) as the larger table shows them
    placeholders = {r.column: [[r.lo, r.hi]] for r in detect_rules(large, infer_schema(large))
                    if isinstance(r, PlaceholderRule)}
    for rule in claimed:
        # the relation, not the tolerance the 360 rows needed: at the search's own tolerance
        loose = copy.deepcopy(rule)
        loose.rtol = RTOL
        loose.placeholder_ranges = {c: placeholders[c] for c in loose.columns if c in placeholders}
        support, _ = loose.measure_support(lambda c: large[c].to_numpy(float))
        assert support == 1.0, f"{rule.id} was claimed on 360 rows but breaks on a larger table"
    modelled = modelling_frame(small, schema)
    layer = DomainTransformer(rules, schema).fit(modelled)
    validity = rules.validity(layer.inverse_transform(layer.transform(modelled)))
    assert validity.valid_share == 1.0, {k: v for k, v in validity.violation_rate.items() if v > 0}


def test_the_decimal_step_is_the_one_the_file_carries():
    """Tolerances are the source's own rounding: 3 decimals on large values is a 1e-3 step (not
    the 0.1 a tolerance relative to the value accepted), 4 decimals a 1e-4 step, float32 shares
    written to 9 decimals a 1e-9 step, and values written to full float64 precision (CICFlowMeter
    means) have no step at all."""
    from common.rules.discovery import _quantum

    rng = np.random.default_rng(4)
    large = np.unique(np.round(rng.uniform(1e5, 1e6, 200), 3))
    assert _quantum(large) == 1e-3
    assert _quantum(np.unique(np.round(rng.uniform(0, 100, 200), 4))) == 1e-4
    shares = np.unique([float(f"{v:.9f}") for v in (rng.integers(1, 9, 200) / rng.integers(9, 40, 200)).astype(np.float32)])
    assert _quantum(shares) == 1e-9
    assert _quantum(np.unique(rng.integers(1, 4000, 200) / rng.integers(1, 60, 200))) == 0.0
    assert _quantum(np.unique(rng.uniform(1e3, 1e4, 200))) == 0.0


@pytest.mark.parametrize("seed", [3, 7])
def test_a_total_holds_one_minimum_and_one_maximum(flows, tmp_path, seed):
    """n header lengths whose minimum and maximum are among them sum to at least max + min x (n - 1)
    and at most min + max x (n - 1); a one-packet flow has min = max = its total. Every real row
    obeys it; every decoded one-packet row has min = max (min x n <= total <= max x n alone let
    one packet have a 20-byte minimum beside a 44-byte maximum), and every decoded row obeys the
    interval wherever the forward total, decoded before the total, leaves room for it."""
    n = (flows["t"] / flows["m"]).round()
    assert ((flows["t"] >= flows["hi"] + flows["lo"] * (n - 1)) & (flows["t"] <= flows["lo"] + flows["hi"] * (n - 1))).all()
    frame, rules, layer = _fitted(flows, tmp_path)
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=seed, noise=True))
    n = (decoded["t"] / decoded["m"]).round()
    one = n == 1
    assert one.any() and (decoded.loc[one, "lo"] == decoded.loc[one, "hi"]).all()
    room = decoded["ft"] <= decoded["lo"] + decoded["hi"] * (n - 1)
    inside = (decoded["t"] >= decoded["hi"] + decoded["lo"] * (n - 1)) & (decoded["t"] <= decoded["lo"] + decoded["hi"] * (n - 1))
    assert room.mean() > 0.9 and inside[room].all()


def byte_rated_flows(rows: int = 1200, seed: int = 4) -> pd.DataFrame:
    """Two directions' packets `a`, `b` (whole), their byte totals `ta`, `tb` and means `ma`, `mb`
    (4 decimals), a microsecond duration `u` (0 for a few flows) and the byte rate `br` = 1e6 x
    (ta + tb) / u written as CICFlowMeter's export writes it: 10 significant digits, but 3 for some
    cells of 1e7 or more (10800000.0 for 10750000), and nothing where u = 0."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(1, 30, rows), rng.integers(0, 30, rows)
    ta = np.array([rng.integers(40, 1500, n).sum() for n in a])
    tb = np.array([rng.integers(40, 1500, n).sum() if n else 0 for n in b])
    u = np.where(rng.random(rows) < 0.03, 0, rng.integers(1, 5_000_000, rows))
    u[:40] = rng.integers(1, 40, 40)                       # fast flows: rates of 1e7 and more
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(u > 0, 1e6 * (ta + tb) / np.where(u > 0, u, 1), np.nan)
    shown = [np.nan if not np.isfinite(v) else float(f"{v:.3g}" if v >= 1e7 and i % 2 else f"{v:.10g}")
             for i, v in enumerate(rate)]
    return pd.DataFrame({"a": a, "b": b, "ta": ta, "tb": tb, "ma": np.round(ta / a, 4),
                         "mb": np.where(b > 0, np.round(tb / np.maximum(b, 1), 4), 0.0), "u": u, "br": shown,
                         "cls": rng.choice(["x", "y"], rows)})


def test_a_rate_of_two_totals_is_found_and_generated_within_the_shown_digits(tmp_path):
    flows = byte_rated_flows()
    rendered = flows["br"] >= 1e7
    assert (flows.loc[rendered, "br"] % 1e5 == 0).any()    # the fixture holds 3-digit cells
    frame, rules, layer = _fitted(flows, tmp_path)
    sums = [r for r in rules if isinstance(r, ProductRule) and ["sum", "ta", "tb"] in r.terms]
    assert len(sums) == 1 and set(sums[0].columns) == {"ta", "tb", "u", "br"} and sums[0].support == 1.0
    decoded = layer.inverse_transform(scramble(layer.transform(frame), seed=6, noise=True))
    assert rules.validity(decoded).valid_share == 1.0
    # plain formula: the rate over the duration is both directions' bytes, missing without a duration
    # (a row's state pattern may leave a cell missing, as for every derived column)
    timed, rate, total = decoded["u"] > 0, decoded["br"], decoded["ta"] + decoded["tb"]
    shown = timed & rate.notna()
    assert shown.sum() > 0.9 * timed.sum()
    assert np.allclose(rate[shown] * decoded.loc[shown, "u"], 1e6 * total[shown], rtol=1e-6, atol=0)
    assert rate[~timed & (total > 0)].isna().all()
    # a rate off by 1% on one row (far beyond its shown digits) is not claimed
    broken = flows.copy()
    row = int(np.nonzero((flows["u"] > 0) & (flows["br"] < 1e6))[0][0])
    broken.loc[row, "br"] *= 1.01
    (tmp_path / "broken").mkdir()
    _, broken_rules, _ = _fitted(broken, tmp_path / "broken")
    assert not [r for r in broken_rules if isinstance(r, ProductRule) and ["sum", "ta", "tb"] in r.terms]
