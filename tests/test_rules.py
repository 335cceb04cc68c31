"""Tests of common.rules: rule discovery from data, checking, and JSON round trips."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.rules import (
    COUNT_RULE_TYPES,
    BoundsRule,
    DeterminationRule,
    FamilyRule,
    GridRule,
    PairRule,
    PlaceholderRule,
    RuleSet,
    SumRule,
    discover_rules,
    rule_from_dict,
)

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "cpacket_attack_tcp_flag_osyn.csv"


def _sig(x: np.ndarray, digits: int = 8) -> np.ndarray:
    """Round to `digits` significant digits, as the flow extractor stores values."""
    x = np.asarray(x, dtype=float)
    out = x.copy()
    nz = x != 0
    mag = np.floor(np.log10(np.abs(x[nz])))
    scale = 10.0 ** (digits - 1 - mag)
    out[nz] = np.round(x[nz] * scale) / scale
    return out


def _flows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A small flow-like frame with known relationships."""
    rng = np.random.default_rng(seed)
    packets = rng.integers(1, 6, n)
    lo = rng.choice([20, 24, 32], n)
    hi = lo + 4 * rng.integers(0, 3, n)
    mean = np.round(lo + (hi - lo) * rng.random(n), 4)
    fwd = rng.gamma(2.0, 50.0, n) * (rng.random(n) < 0.8)
    bwd = rng.gamma(2.0, 30.0, n) * (rng.random(n) < 0.7)
    fwd_rst = rng.integers(0, 2, n)
    iat = np.round(rng.exponential(2.0, n), 6)
    one = packets == 1
    iat[one] = np.round(1.7030e9 + rng.integers(0, 30, one.sum()) * 100.0)
    win = rng.integers(0, 65536, n).astype(float)
    win[rng.random(n) < 0.2] = -1
    return pd.DataFrame({
        "hdr_min": lo,
        "hdr_mean": mean,
        "hdr_max": hi,
        "hdr_total": hi * packets,
        "fwd_rate": _sig(fwd),
        "bwd_rate": _sig(bwd),
        "rate": _sig(fwd + bwd),
        "fwd_rst": fwd_rst,
        "rst": fwd_rst + rng.integers(0, 2, n),
        "share": np.round(rng.random(n), 6),
        "iat": iat,
        "win": win,
        "zeros_often": np.where(rng.random(n) < 0.5, 0.0, rng.random(n) * 10),
    })


@pytest.fixture(scope="module")
def flows() -> pd.DataFrame:
    return _flows()


@pytest.fixture(scope="module")
def flow_rules(flows) -> RuleSet:
    return discover_rules(flows)


def test_family_found_with_members(flow_rules):
    fam = flow_rules["family:hdr_min<=hdr_mean<=hdr_max"]
    assert isinstance(fam, FamilyRule)
    assert (fam.low, fam.middles, fam.high) == ("hdr_min", ["hdr_mean"], "hdr_max")
    assert fam.support == 1.0


def test_pairs_found_and_trivial_ones_dropped(flow_rules):
    ids = set(flow_rules.ids)
    assert "pair:fwd_rst<=rst" in ids
    assert "pair:hdr_max<=hdr_total" in ids
    # implied by the family + hdr_max <= hdr_total
    assert "pair:hdr_min<=hdr_total" not in ids
    # a fraction is below a header length only because the ranges do not overlap
    assert "pair:share<=hdr_min" not in ids
    # fwd_rate <= rate is implied by the sum of non-negative columns
    assert "pair:fwd_rate<=rate" not in ids


def test_sum_found(flow_rules):
    sums = flow_rules.by_kind("sum")
    assert [s.columns for s in sums] == [["fwd_rate", "bwd_rate", "rate"]]


def test_placeholders(flows, flow_rules):
    ph = flow_rules.placeholders
    assert set(ph) == {"iat", "win"}
    iat = ph["iat"]
    assert iat.lo == pytest.approx(1.7030e9) and 1.7030e9 < iat.hi < 1.7031e9
    assert iat.share == pytest.approx((flows["iat"] > 1e9).mean())
    assert iat.real_hi < 100 and iat.real_lo >= 0
    mask = iat.is_placeholder(flows["iat"])
    assert isinstance(mask, pd.Series) and mask.sum() == (flows["iat"] > 1e9).sum()
    win = ph["win"]
    assert (win.lo, win.hi) == (-1.0, -1.0) and win.real_lo >= 0
    # zero is a legitimate value, never a placeholder
    assert "zeros_often" not in ph


def test_single_column_rules(flow_rules):
    share = flow_rules["bounds:share"]
    assert isinstance(share, BoundsRule) and share.fraction and (share.lo, share.hi) == (0.0, 1.0)
    assert flow_rules["bounds:fwd_rate"].hi is None
    # the placeholder -1 does not stop the window from being non-negative and integer
    assert "bounds:win" in flow_rules.ids and "integer:win" in flow_rules.ids
    assert "integer:hdr_max" in flow_rules.ids and "integer:hdr_mean" not in flow_rules.ids
    grid = flow_rules["grid:hdr_max"]
    assert isinstance(grid, GridRule)
    assert (grid.offset, grid.step, grid.allow_zero) == (20.0, 4.0, False)
    assert list(grid.values()) == [20.0, 24.0, 28.0, 32.0, 36.0, 40.0]
    assert "grid:hdr_mean" not in flow_rules.ids


def test_grid_with_zero_and_half_steps():
    rng = np.random.default_rng(3)
    hdr = rng.choice([0, 20, 24, 28, 40, 60], 300)
    med = rng.choice([20, 22, 26, 30, 40], 300)
    rs = discover_rules(pd.DataFrame({"h": hdr, "m": med, "r": rng.random(300) * 1000}))
    g = rs["grid:h"]
    assert (g.offset, g.step, g.kmax, g.allow_zero) == (20.0, 4.0, 10, True)
    assert (rs["grid:m"].offset, rs["grid:m"].step) == (20.0, 2.0)
    assert "grid:r" not in rs.ids


def test_violated_relationship_not_found():
    rng = np.random.default_rng(1)
    a = rng.random(500)
    b = a + rng.random(500)
    b[:25] = a[:25] - 0.5          # 5% of rows break a <= b
    rs = discover_rules(pd.DataFrame({"a": a, "b": b}))
    assert not rs.by_kind("pair")
    # ... and held to the letter when min_support allows no violation at all
    b2 = a + rng.random(500)
    b2[0] = a[0] - 0.5
    assert not discover_rules(pd.DataFrame({"a": a, "b": b2}), min_support=1.0).by_kind("pair")


def test_opaque_names_still_give_pairs_and_sums():
    rng = np.random.default_rng(2)
    n = 300
    x = rng.gamma(2, 10, n) * (rng.random(n) < 0.7)
    y = rng.gamma(2, 10, n) * (rng.random(n) < 0.7)
    z = rng.integers(0, 4, n)
    frame = pd.DataFrame({"c0": _sig(x + y), "c1": _sig(x), "c2": _sig(y), "c3": z, "c4": z + rng.integers(0, 3, n)})
    rs = discover_rules(frame)
    assert [s.columns for s in rs.by_kind("sum")] == [["c1", "c2", "c0"]]
    assert "pair:c3<=c4" in rs.ids


def test_determination():
    rng = np.random.default_rng(4)
    acts = np.array(["Benign", "Attack-SYN", "Attack-ACK", "Attack-RST"])
    act = rng.choice(acts, 200)
    frame = pd.DataFrame({"activity": act, "label": np.where(act == "Benign", "Benign", "Attack"),
                          "noise": rng.choice(["x", "y"], 200), "v": rng.random(200)})
    rs = discover_rules(frame)
    det = rs.by_kind("determines")
    assert [d.columns for d in det] == [["activity", "label"]]
    assert det[0].as_dict() == {"Attack-ACK": "Attack", "Attack-RST": "Attack", "Attack-SYN": "Attack",
                                "Benign": "Benign"}
    broken = frame.copy()
    broken.loc[5, "label"] = "Benign" if broken.loc[5, "label"] == "Attack" else "Attack"
    assert rs.check(broken)["determines:activity->label"].sum() == len(frame) - 1


def test_json_round_trip(flows, flow_rules):
    d = flow_rules.to_dict()
    text = json.dumps(d, allow_nan=False)
    again = RuleSet.from_dict(json.loads(text))
    assert again.to_dict() == d
    assert again.ids == flow_rules.ids
    pd.testing.assert_frame_equal(again.check(flows), flow_rules.check(flows))
    for rule in flow_rules:
        assert rule_from_dict(json.loads(json.dumps(rule.to_dict()))) == rule
        assert isinstance(rule.describe(), str) and rule.describe()


def test_check_flags_exactly_the_violating_row(flows, flow_rules):
    assert flow_rules.validity(flows).valid_share == 1.0
    bad = flows.copy()
    bad.loc[7, "hdr_min"] = 60          # min above max in one row
    fam_id = "family:hdr_min<=hdr_mean<=hdr_max"
    checked = flow_rules.check(bad)
    assert list(checked.index[~checked[fam_id]]) == [7]
    assert list(checked.index[~checked.all(axis=1)]) == [7]
    v = flow_rules.validity(bad)
    assert v.valid_share == pytest.approx(1 - 1 / len(flows)) and v.violating_rows == 1
    assert v.violation_rate[fam_id] == pytest.approx(1 / len(flows))
    # reports add up: the two halves merged give the whole
    halves = flow_rules.validity(bad.iloc[:10]).merge(flow_rules.validity(bad.iloc[10:]))
    assert halves.to_dict() == v.to_dict()


def test_nan_and_inf_cells_count_as_satisfied(flow_rules, flows):
    bad = flows.copy()
    bad.loc[3, "hdr_min"] = np.nan
    bad.loc[4, "rate"] = np.inf
    assert flow_rules.check(bad).all().all()


def test_placeholder_gap_value_is_invalid(flow_rules, flows):
    bad = flows.copy()
    bad.loc[0, "iat"] = 5e8            # neither a real gap nor the placeholder
    checked = flow_rules.check(bad)
    assert not checked.loc[0, "placeholder:iat"]


def test_sampled_search_verifies_on_full_frame():
    frame = _flows(3000, seed=5)
    rs = discover_rules(frame, sample_rows=500)
    assert rs.meta["sampled"] and rs.meta["search_rows"] == 500 and rs.meta["n_rows"] == 3000
    assert "sum:fwd_rate+bwd_rate=rate" in rs.ids
    assert rs.validity(frame).valid_share >= 0.999
    # placeholder ranges are refitted on the full frame
    iat = frame["iat"]
    assert rs.placeholders["iat"].hi == iat[iat > 1e9].max()


def test_cicflowmeter_like_frame():
    rng = np.random.default_rng(6)
    n = 300
    fwd_pkts = rng.integers(1, 20, n)
    bwd_pkts = rng.integers(0, 20, n)
    syn = rng.integers(0, 3, n)
    frame = pd.DataFrame({
        "Total Fwd Packets": fwd_pkts,
        "Total Backward Packets": bwd_pkts,
        " SYN Flag Count": np.minimum(syn, fwd_pkts),
        "Init_Win_bytes_forward": np.where(rng.random(n) < 0.3, -1, rng.integers(0, 65536, n)),
        "Flow Bytes/s": np.where(rng.random(n) < 0.05, np.inf, rng.gamma(2, 1e4, n)),
        "Fwd Packet Length Min": np.zeros(n),
        "Packet Length Mean": rng.random(n) * 100 + 10,
    })
    frame["Min Packet Length"] = frame["Packet Length Mean"] - rng.random(n) * 10
    frame["Max Packet Length"] = frame["Packet Length Mean"] + rng.random(n) * 10
    rs = discover_rules(frame)
    assert set(rs.placeholders) == {"Init_Win_bytes_forward"}
    assert "pair: SYN Flag Count<=Total Fwd Packets" in rs.ids
    fam = rs.by_kind("family")
    assert [f.columns for f in fam] == [["Min Packet Length", "Packet Length Mean", "Max Packet Length"]]
    assert not any("Fwd Packet Length Min" in r.columns for r in rs.by_kind("pair"))   # constant
    assert rs.validity(frame).valid_share == 1.0


# ----------------------------------------------------------------------------------------------
# the real NTLFlowLyzer sample
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real():
    if not REAL.exists():
        pytest.skip(f"real sample not available at {REAL}")
    frame = pd.read_csv(REAL)
    return frame, discover_rules(frame)


def test_real_file_rules(real):
    frame, rs = real
    print("\n" + "\n".join(rs.describe()))
    ids = set(rs.ids)
    fams = {(f.low, f.high): f for f in rs.by_kind("family")}
    hdr = fams[("min_header_bytes", "max_header_bytes")]
    assert set(hdr.middles) == {"mean_header_bytes", "median_header_bytes", "mode_header_bytes"}
    fwd = fams[("fwd_min_header_bytes", "fwd_max_header_bytes")]
    assert set(fwd.middles) == {"fwd_mean_header_bytes", "fwd_median_header_bytes", "fwd_mode_header_bytes"}
    assert "pair:fwd_total_header_bytes<=total_header_bytes" in ids
    assert "pair:bwd_rst_flag_counts<=rst_flag_counts" in ids
    assert any(set(s.columns[:2]) == {"fwd_packets_rate", "bwd_packets_rate"} and s.columns[2] == "packets_rate"
               for s in rs.by_kind("sum"))
    iat_cols = [c for c in frame.columns if "IAT" in c]
    ph = rs.placeholders
    assert set(ph) == set(iat_cols)
    for c in iat_cols:
        assert 1.69e9 < ph[c].lo <= ph[c].hi < 1.71e9 and ph[c].real_hi < 1e3
        assert ph[c].is_placeholder(frame[c]).sum() == (frame[c] > 1e9).sum()
    for c in ("min_header_bytes", "max_header_bytes", "mode_header_bytes",
              "fwd_min_header_bytes", "fwd_max_header_bytes", "fwd_mode_header_bytes"):
        g = rs[f"grid:{c}"]
        assert (g.offset, g.step) == (20.0, 4.0)
    assert "grid:mean_header_bytes" not in ids
    pct = [c for c in frame.columns if "percentage" in c]
    for c in pct:
        assert rs[f"bounds:{c}"].fraction
    det = rs["determines:activity->label"]
    assert isinstance(det, DeterminationRule) and det.as_dict() == {"Attack-TCP-Flag-OSYN": "Attack"}
    assert not rs.by_kind("pair") or len(rs.by_kind("pair")) < 40
    assert rs.validity(frame).valid_share >= rs.meta["min_support"]
    assert all(isinstance(r, (PlaceholderRule, FamilyRule, PairRule, SumRule, BoundsRule, GridRule,
                              DeterminationRule) + COUNT_RULE_TYPES) or r.kind == "integer" for r in rs)
    assert RuleSet.from_dict(json.loads(json.dumps(rs.to_dict()))).to_dict() == rs.to_dict()
