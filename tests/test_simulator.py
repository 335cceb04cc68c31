"""Tests of the packet-level simulator (data/simulator.py) and the bundled sample CSV."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from data.simulator import (  # noqa: E402
    ACK, ACTIVITIES, CLASS_MIX, FEATURE_COLUMNS, FIN, FLOW_COLUMNS, IAT_COLUMNS, INT_COLUMNS,
    PLACEHOLDER_MIN, PSH, RST, SYN, flow_features, like_float32_text, packet_counts_from_headers,
    simulate_flows, simulate_flows_with_counts, simulate_packets, split_flows,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_OSYN = SHARED_DATA / "cpacket_attack_tcp_flag_osyn.csv"
SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"
HEADER_GRID = {0, *range(20, 61, 4)}
COUNT_OF_FAMILY = {"all": "packets", "fwd": "fwd_packets", "bwd": "bwd_packets"}


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate_flows_with_counts(2000, seed=3)


def invariant_problems(frame: pd.DataFrame, counts: pd.DataFrame) -> list[str]:
    """Per-row rules every NTLFlowLyzer-style flow table of ours must satisfy."""
    problems = []

    def check(name: str, ok) -> None:
        bad = int((~np.asarray(ok, dtype=bool)).sum())
        if bad:
            problems.append(f"{name}: {bad} rows")

    eps = 1e-6
    for prefix, count in (("", counts["packets"]), ("fwd_", counts["fwd_packets"])):
        lo, hi = frame[f"{prefix}min_header_bytes"], frame[f"{prefix}max_header_bytes"]
        present = count > 0
        for stat in ("mean", "median", "mode"):
            v = frame[f"{prefix}{stat}_header_bytes"]
            check(f"{prefix}min <= {stat} <= max", ~present | ((lo - eps <= v) & (v <= hi + eps)))
            check(f"{prefix}{stat} is 0 without packets", present | (v == 0))
        for stat in ("min", "max", "mode"):
            check(f"{prefix}{stat}_header_bytes on the 20..60 grid", frame[f"{prefix}{stat}_header_bytes"].isin(HEADER_GRID))
        check(f"{prefix}total = mean * packets",
              np.isclose(frame[f"{prefix}total_header_bytes"], frame[f"{prefix}mean_header_bytes"] * count, rtol=1e-5))
    check("fwd total <= total", frame["fwd_total_header_bytes"] <= frame["total_header_bytes"])
    check("fwd max <= max", frame["fwd_max_header_bytes"] <= frame["max_header_bytes"])
    check("fwd min >= min", (counts["fwd_packets"] == 0) | (frame["fwd_min_header_bytes"] >= frame["min_header_bytes"]))
    check("fwd syn <= syn", frame["fwd_syn_flag_percentage_in_total"] <= frame["syn_flag_percentage_in_total"] + eps)
    check("bwd rst <= rst", frame["bwd_rst_flag_percentage_in_total"] <= frame["rst_flag_percentage_in_total"] + eps)
    check("bwd rst counts <= rst counts", frame["bwd_rst_flag_counts"] <= frame["rst_flag_counts"])
    check("rst counts <= packets", frame["rst_flag_counts"] <= counts["packets"])
    check("rst share = count / packets",
          np.isclose(frame["rst_flag_percentage_in_total"] * counts["packets"], frame["rst_flag_counts"], atol=1e-4))
    for name in FEATURE_COLUMNS:
        if "percentage" in name:
            check(f"{name} in [0, 1]", frame[name].between(0, 1))
    check("fwd rate <= rate", frame["fwd_packets_rate"] <= frame["packets_rate"] * (1 + eps))
    check("fwd + bwd rate = rate", np.isclose(frame["fwd_packets_rate"] + frame["bwd_packets_rate"],
                                              frame["packets_rate"], rtol=1e-6, atol=1e-9))
    check("rate 0 for one packet", (counts["packets"] > 1) | (frame["packets_rate"] == 0))
    check("packets = fwd + bwd", counts["packets"] == counts["fwd_packets"] + counts["bwd_packets"])
    for family, columns in IAT_COLUMNS.items():
        n = counts[COUNT_OF_FAMILY[family]]
        for name in columns:
            v = frame[name]
            check(f"{name}: epoch placeholder for one packet", (n != 1) | (v >= PLACEHOLDER_MIN))
            check(f"{name}: 0 without packets", (n != 0) | (v == 0))
            check(f"{name}: real gaps from two packets", (n < 2) | ((v >= 0) & (v < PLACEHOLDER_MIN)))
    return problems


def test_columns_dtypes_and_row_count(simulated):
    frame, counts = simulated
    assert list(frame.columns) == list(FLOW_COLUMNS)
    assert len(frame) == len(counts) == 2000
    for name in FEATURE_COLUMNS:
        assert frame[name].dtype == (np.int64 if name in INT_COLUMNS else np.float64), name
    assert not frame.isna().any().any()
    assert set(frame["activity"]) == set(CLASS_MIX)
    benign = frame["activity"].str.startswith("Benign")
    assert (frame.loc[benign, "label"] == "Benign").all() and (frame.loc[~benign, "label"] == "Attack").all()


def test_per_row_invariants(simulated):
    frame, counts = simulated
    assert invariant_problems(frame, counts) == []


def test_counts_recovered_from_headers(simulated):
    frame, counts = simulated
    pd.testing.assert_frame_equal(packet_counts_from_headers(frame), counts)


def test_class_mix_is_followed_and_imbalanced(simulated):
    frame, _ = simulated
    shares = frame["activity"].value_counts(normalize=True)
    for activity, share in CLASS_MIX.items():
        assert abs(shares[activity] - share) < 0.002
    assert (frame["label"] == "Benign").mean() > 0.5
    assert 0.02 <= shares.min() <= 0.04
    custom = simulate_flows(101, seed=1, class_mix={"Attack-TCP-Flag-SYN": 1, "Benign-SSH": 2})
    assert custom["activity"].value_counts().to_dict() == {"Benign-SSH": 67, "Attack-TCP-Flag-SYN": 34}
    with pytest.raises(ValueError):
        simulate_flows(10, class_mix={"No-Such-Class": 1.0})


def test_attack_signatures(simulated):
    frame, counts = simulated
    by = frame.groupby("activity")
    syn = by["syn_flag_percentage_in_total"].mean()
    assert syn["Attack-TCP-Flag-SYN"] > 0.85 and syn["Attack-TCP-Flag-SYN-ACK"] > 0.7
    assert by["fwd_psh_flag_percentage_in_fwd_packets"].mean()["Attack-TCP-Flag-ACK-PSH"] == 1.0
    assert by["rst_flag_percentage_in_total"].mean()["Attack-TCP-Flag-RST-ACK"] > 0.8
    no_bwd = (counts["bwd_packets"] == 0).groupby(frame["activity"]).mean()
    assert no_bwd["Attack-TCP-Flag-SYN"] > 0.6
    osyn = frame[frame["activity"] == "Attack-TCP-Flag-OSYN"]
    assert (osyn["fwd_max_header_bytes"] >= 40).mean() > 0.05  # SYNs with options
    benign = frame[frame["label"] == "Benign"]
    assert benign["syn_flag_percentage_in_total"].mean() < 0.2
    assert (benign["fwd_psh_flag_percentage_in_fwd_packets"] > 0).mean() > 0.3


def test_deterministic_for_a_seed():
    a = simulate_flows(2000, seed=11)
    pd.testing.assert_frame_equal(a, simulate_flows(2000, seed=11))
    assert not a.equals(simulate_flows(2000, seed=12))


def test_hand_made_packet_table():
    t0, t1, t2 = 1703000000.0, 1703000300.25, 1703000600.0
    rows = [  # flow, timestamp, forward, flags, header_len, window
        ("A", t0, True, SYN, 40, 64240),
        ("A", t0 + 0.5, False, SYN | ACK, 40, 65160),
        ("A", t0 + 1.5, True, ACK | PSH, 32, 502),
        ("B", t1, False, RST | ACK, 20, 0),
        ("C", t2 + 0.75, True, RST, 20, 0),
        ("C", t2, True, SYN, 20, 1024),
        ("C", t2 + 0.25, True, SYN, 20, 1024),
        ("C", t2 + 0.5, True, SYN, 20, 1024),
    ]
    packets = pd.DataFrame(rows, columns=["flow", "timestamp", "forward", "flags", "header_len", "window"])
    got = flow_features(packets.sample(frac=1, random_state=0))
    assert list(got.index) == ["A", "B", "C"] and list(got.columns) == list(FEATURE_COLUMNS)
    epoch_a_bwd, epoch_b = 1703000000.0, 1703000300.0  # str(np.float32(t0 + 0.5)), str(np.float32(t1))
    expected = {
        "A": dict(total_header_bytes=112, max_header_bytes=40, min_header_bytes=32, mean_header_bytes=37.3333,
                  median_header_bytes=40.0, mode_header_bytes=40.0, fwd_total_header_bytes=72,
                  fwd_max_header_bytes=40, fwd_min_header_bytes=32, fwd_mean_header_bytes=36.0,
                  fwd_median_header_bytes=36.0, fwd_mode_header_bytes=32.0,
                  syn_flag_percentage_in_total=0.6666667, fwd_syn_flag_percentage_in_total=0.33333334,
                  fwd_syn_flag_percentage_in_fwd_packets=0.5, fwd_psh_flag_percentage_in_fwd_packets=0.5,
                  bwd_psh_flag_percentage_in_bwd_packets=0.0, rst_flag_percentage_in_total=0.0,
                  rst_flag_counts=0, fwd_init_win_bytes=64240, bwd_init_win_bytes=65160,
                  packets_rate=2.0, fwd_packets_rate=1.3333334, bwd_packets_rate=0.6666667,
                  packets_IAT_mean=0.75, packets_IAT_median=0.75, packets_IAT_mode=0.5,
                  packet_IAT_max=1.0, packet_IAT_min=0.5, packet_IAT_total=1.5,
                  fwd_packets_IAT_mean=1.5, fwd_packets_IAT_total=1.5, fwd_packets_IAT_mode=1.5,
                  bwd_packets_IAT_total=epoch_a_bwd, bwd_packets_IAT_mode=epoch_a_bwd),
        "B": dict(total_header_bytes=20, fwd_total_header_bytes=0, fwd_mean_header_bytes=0.0,
                  rst_flag_percentage_in_total=1.0, bwd_rst_flag_percentage_in_total=1.0,
                  rst_flag_counts=1, bwd_rst_flag_counts=1, fwd_init_win_bytes=0, bwd_init_win_bytes=0,
                  packets_rate=0.0, bwd_packets_rate=0.0, packets_IAT_mean=epoch_b,
                  packet_IAT_total=epoch_b, fwd_packets_IAT_mean=0.0, fwd_packets_IAT_max=0.0,
                  bwd_packets_IAT_total=epoch_b, bwd_packets_IAT_mode=epoch_b),
        "C": dict(total_header_bytes=80, syn_flag_percentage_in_total=0.75, rst_flag_percentage_in_total=0.25,
                  fwd_syn_flag_percentage_in_fwd_packets=0.75, fwd_init_win_bytes=1024, bwd_init_win_bytes=0,
                  packets_rate=5.3333335, fwd_packets_rate=5.3333335, bwd_packets_rate=0.0,
                  packets_IAT_mean=0.25, packets_IAT_mode=0.25, packet_IAT_total=0.75,
                  fwd_packets_IAT_median=0.25, bwd_packets_IAT_total=0.0, bwd_packets_IAT_mode=0.0),
    }
    for flow, values in expected.items():
        for name, value in values.items():
            assert got.loc[flow, name] == value, (flow, name, got.loc[flow, name], value)


def reference_features(packets: pd.DataFrame) -> pd.DataFrame:
    """Plain per-flow re-implementation of NTLFlowLyzer's definitions, for cross-checking."""
    def iat(times):
        return [float(times[0])] if len(times) == 1 else list(np.diff(times))

    def smallest_mode(values):
        counts = pd.Series(values).value_counts()
        return float(min(counts.index[counts == counts.max()]))

    out = {}
    for flow, p in packets.sort_values(["flow", "timestamp"], kind="stable").groupby("flow"):
        row = {}
        for prefix, part in (("", p), ("fwd_", p[p.forward]), ("bwd_", p[~p.forward])):
            h, times = list(part["header_len"]), part["timestamp"].to_numpy()
            row[prefix + "n"] = len(part)
            row[prefix + "total_header_bytes"] = sum(h)
            row[prefix + "max_header_bytes"] = max(h, default=0)
            row[prefix + "min_header_bytes"] = min(h, default=0)
            row[prefix + "mean_header_bytes"] = round(statistics.mean(h), 4) if h else 0
            row[prefix + "median_header_bytes"] = round(statistics.median(h), 4) if h else 0
            row[prefix + "mode_header_bytes"] = smallest_mode(h) if h else 0
            gaps = iat(times) if len(times) else []
            stats = {"mean": round(statistics.mean(gaps), 4) if gaps else 0,
                     "median": round(statistics.median(gaps), 4) if gaps else 0,
                     "mode": round(smallest_mode(gaps), 4) if gaps else 0,
                     "max": max(gaps, default=0), "min": min(gaps, default=0), "total": sum(gaps)}
            for stat, value in stats.items():
                row[f"{prefix}IAT_{stat}"] = value
            row[prefix + "init_win_bytes"] = int(part["window"].iloc[0]) if len(part) else 0
            for flag, bit in (("syn", SYN), ("rst", RST), ("psh", PSH)):
                row[f"{prefix}{flag}"] = int(((part["flags"] & bit) != 0).sum())
        duration = p["timestamp"].max() - p["timestamp"].min()
        n, nf, nb = row["n"], row["fwd_n"], row["bwd_n"]
        out[flow] = {
            **{k: row[k] for k in ("total_header_bytes", "max_header_bytes", "min_header_bytes", "mean_header_bytes",
                                  "median_header_bytes", "mode_header_bytes", "fwd_total_header_bytes",
                                  "fwd_max_header_bytes", "fwd_min_header_bytes", "fwd_mean_header_bytes",
                                  "fwd_median_header_bytes", "fwd_mode_header_bytes", "fwd_init_win_bytes",
                                  "bwd_init_win_bytes")},
            "rst_flag_percentage_in_total": row["rst"] / n, "bwd_rst_flag_percentage_in_total": row["bwd_rst"] / n,
            "syn_flag_percentage_in_total": row["syn"] / n, "fwd_syn_flag_percentage_in_total": row["fwd_syn"] / n,
            "fwd_syn_flag_percentage_in_fwd_packets": row["fwd_syn"] / nf if nf else 0,
            "fwd_psh_flag_percentage_in_fwd_packets": row["fwd_psh"] / nf if nf else 0,
            "bwd_psh_flag_percentage_in_bwd_packets": row["bwd_psh"] / nb if nb else 0,
            "rst_flag_counts": row["rst"], "bwd_rst_flag_counts": row["bwd_rst"],
            "packets_rate": n / duration if duration else 0, "fwd_packets_rate": nf / duration if duration else 0,
            "bwd_packets_rate": nb / duration if duration else 0,
            "packets_IAT_mean": row["IAT_mean"], "packets_IAT_median": row["IAT_median"],
            "packets_IAT_mode": row["IAT_mode"], "packet_IAT_max": row["IAT_max"], "packet_IAT_min": row["IAT_min"],
            "packet_IAT_total": row["IAT_total"],
            **{f"fwd_packets_IAT_{s}": row[f"fwd_IAT_{s}"] for s in ("mean", "median", "mode", "max", "min", "total")},
            "bwd_packets_IAT_total": row["bwd_IAT_total"], "bwd_packets_IAT_mode": row["bwd_IAT_mode"],
        }
    frame = pd.DataFrame.from_dict(out, orient="index")[list(FEATURE_COLUMNS)]
    for name in FEATURE_COLUMNS:
        if name not in INT_COLUMNS:
            frame[name] = like_float32_text(frame[name].to_numpy(np.float64))
    return frame


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_vectorised_features_match_plain_definitions(activity):
    packets = simulate_packets(activity, 40, seed=5)
    got = flow_features(packets)
    want = reference_features(packets)
    assert len(got) == packets["flow"].nunique()
    for name in FEATURE_COLUMNS:
        np.testing.assert_allclose(got[name].to_numpy(np.float64), want[name].to_numpy(np.float64),
                                   rtol=1e-6, atol=1e-9, err_msg=name)


def test_split_flows_reproduces_extractor_quirks():
    # 1: server closes first; the client's FIN completes the FIN pair, so the server's
    #    final ACK opens a flow of its own, marked backward.
    # 2: SYN refused by RST; the victim's late ACK and the attacker's RST form a flow of
    #    backward packets only.
    # 3: a silence over the activity timeout starts a new (forward) flow.
    conns = [
        [(0, SYN, 0.0), (1, SYN | ACK, 0.01), (0, ACK, 0.02), (1, FIN | ACK, 5.0), (0, FIN | ACK, 5.01), (1, ACK, 5.02)],
        [(0, SYN, 0.0), (1, RST | ACK, 1e-4), (1, ACK, 0.01), (0, RST, 0.0101)],
        [(0, PSH | ACK, 0.0), (1, ACK, 0.1), (0, PSH | ACK, 400.0)],
    ]
    flat = [p for conn in conns for p in conn]
    direction = np.array([p[0] for p in flat], np.int8)
    flags = np.array([p[1] for p in flat], np.uint8)
    ts = np.array([p[2] for p in flat])
    flow, forward = split_flows(np.array([len(c) for c in conns]), direction, flags, ts)
    assert flow.tolist() == [0, 0, 0, 0, 0, 1, 2, 2, 3, 3, 4, 4, 5]
    assert forward.tolist() == [True, False, True, False, True, False,
                                True, False, False, False, True, False, True]


def test_schema_matches_real_file():
    if not REAL_OSYN.exists():
        pytest.skip(f"real file not present at {REAL_OSYN}")
    real = pd.read_csv(REAL_OSYN)
    ours = simulate_flows(200, seed=1)
    assert list(real.columns) == list(ours.columns) == list(FLOW_COLUMNS)
    assert real.dtypes.astype(str).to_dict() == ours.dtypes.astype(str).to_dict()
    # The placeholder rule we reproduce holds in the real file too.
    assert invariant_problems(real, packet_counts_from_headers(real)) == []


def test_committed_sample():
    frame = pd.read_csv(SAMPLE)
    assert list(frame.columns) == list(FLOW_COLUMNS)
    assert frame["activity"].nunique() >= 7
    assert 5900 <= len(frame) <= 6100
    assert SAMPLE.stat().st_size < 3_000_000
    for name in FEATURE_COLUMNS:
        assert frame[name].dtype == (np.int64 if name in INT_COLUMNS else np.float64), name
    assert invariant_problems(frame, packet_counts_from_headers(frame)) == []
    # Regenerable: the file is exactly what the simulator makes with the defaults.
    fresh = simulate_flows(len(frame), seed=42)
    pd.testing.assert_frame_equal(frame, fresh, check_exact=False, rtol=1e-9)
