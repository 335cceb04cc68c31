"""Packet-level TCP traffic simulator that makes the bundled sample flow table.

The sample (`data/tcp_flag_sample.csv`) must look like the BCCC-cPacket-Cloud-DDoS-2024 files
without copying them, so nothing here draws a feature value directly. Instead:

1. each class generator simulates TCP *connections* as packets (direction, time, flags,
   TCP header length, window), benign ones following TCP, attack ones as the tools send them;
2. `split_flows` cuts connections into flows the way NTLFlowLyzer does (a flow ends at the
   packet after an RST or after FINs from both sides, or after 300 s of silence) and marks
   packets forward/backward with the extractor's quirks;
3. `flow_features` computes the 40 top-40 features from the packets with NTLFlowLyzer's
   definitions, and rounds them as the published files are rounded.

Everything is vectorised over flat packet arrays (one entry per packet plus a connection or
flow index), so a million rows take well under two minutes on two cores.

Packet tables (input of `flow_features`) have the columns in `PACKET_COLUMNS`:
flow (int id), timestamp (epoch seconds), forward (bool), flags (TCP flag bits, see FIN..ACK),
header_len (TCP header bytes) and window (TCP window field).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Callable, Mapping

import numpy as np
import pandas as pd

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

FLOW_COLUMNS: tuple[str, ...] = (
    "total_header_bytes", "fwd_median_header_bytes", "rst_flag_percentage_in_total",
    "packets_IAT_median", "max_header_bytes", "fwd_mode_header_bytes",
    "fwd_syn_flag_percentage_in_total", "packets_IAT_mode", "min_header_bytes",
    "fwd_init_win_bytes", "bwd_rst_flag_percentage_in_total", "fwd_packets_IAT_mean",
    "mean_header_bytes", "bwd_init_win_bytes", "fwd_psh_flag_percentage_in_fwd_packets",
    "fwd_packets_IAT_max", "median_header_bytes", "packets_rate",
    "fwd_syn_flag_percentage_in_fwd_packets", "fwd_packets_IAT_min", "mode_header_bytes",
    "bwd_packets_rate", "bwd_psh_flag_percentage_in_bwd_packets", "fwd_packets_IAT_total",
    "fwd_total_header_bytes", "fwd_packets_rate", "packets_IAT_mean", "fwd_packets_IAT_median",
    "fwd_max_header_bytes", "rst_flag_counts", "packet_IAT_max", "fwd_packets_IAT_mode",
    "fwd_min_header_bytes", "bwd_rst_flag_counts", "packet_IAT_min", "bwd_packets_IAT_total",
    "fwd_mean_header_bytes", "syn_flag_percentage_in_total", "packet_IAT_total",
    "bwd_packets_IAT_mode", "label", "activity",
)
FEATURE_COLUMNS: tuple[str, ...] = FLOW_COLUMNS[:40]
INT_COLUMNS = frozenset({
    "total_header_bytes", "max_header_bytes", "min_header_bytes", "fwd_init_win_bytes",
    "bwd_init_win_bytes", "fwd_total_header_bytes", "fwd_max_header_bytes", "rst_flag_counts",
    "fwd_min_header_bytes", "bwd_rst_flag_counts",
})
# NTLFlowLyzer formats means, medians and modes with its ".4f" floating_point_unit.
FOUR_DECIMAL_COLUMNS = frozenset({
    "fwd_median_header_bytes", "fwd_mode_header_bytes", "mean_header_bytes", "median_header_bytes",
    "mode_header_bytes", "fwd_mean_header_bytes", "packets_IAT_median", "packets_IAT_mode",
    "packets_IAT_mean", "fwd_packets_IAT_mean", "fwd_packets_IAT_median", "fwd_packets_IAT_mode",
    "bwd_packets_IAT_mode",
})
IAT_COLUMNS: dict[str, tuple[str, ...]] = {
    "all": ("packets_IAT_median", "packets_IAT_mode", "packets_IAT_mean", "packet_IAT_max",
            "packet_IAT_min", "packet_IAT_total"),
    "fwd": ("fwd_packets_IAT_mean", "fwd_packets_IAT_max", "fwd_packets_IAT_min",
            "fwd_packets_IAT_total", "fwd_packets_IAT_median", "fwd_packets_IAT_mode"),
    "bwd": ("bwd_packets_IAT_total", "bwd_packets_IAT_mode"),
}
PACKET_COLUMNS = ("flow", "timestamp", "forward", "flags", "header_len", "window")

CLASS_MIX: dict[str, float] = {
    "Benign-Web_Browsing_HTTP-S": 0.44,
    "Benign-SSH": 0.16,
    "Attack-TCP-Flag-SYN": 0.13,
    "Attack-TCP-Flag-ACK-PSH": 0.09,
    "Attack-TCP-Flag-OSYN": 0.08,
    "Attack-TCP-Flag-RST-ACK": 0.07,
    "Attack-TCP-Flag-SYN-ACK": 0.03,
}

ACTIVITY_TIMEOUT_S = 300.0  # NTLFlowLyzer's default activity_timeout
PLACEHOLDER_MIN = 1e9       # IAT values at or above this are the extractor's epoch placeholder


# --------------------------------------------------------------------------- random helpers

def _lognormal(rng, median, sigma, size, low=None, high=None) -> np.ndarray:
    """Positive draws around `median` (times, windows); clipped when bounds are given."""
    x = np.asarray(median, dtype=np.float64) * np.exp(sigma * rng.standard_normal(size))
    if low is not None or high is not None:
        x = np.clip(x, low, high)
    return x


def _scenario(rng, size: int, shares: Mapping[str, float]) -> np.ndarray:
    """Scenario name of each connection, drawn with the given shares."""
    names = np.array(list(shares))
    p = np.array(list(shares.values()), dtype=np.float64)
    return names[rng.choice(len(names), size=size, p=p / p.sum())]


def _draw_profile(rng, table, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(header length, window) per packet from rows (header, window, share).

    A window of -1 stands for a random 16-bit window (tools with --rand window options)."""
    header = np.array([row[0] for row in table])
    window = np.array([row[1] for row in table])
    share = np.array([row[2] for row in table], dtype=np.float64)
    pick = rng.choice(len(table), size=size, p=share / share.sum())
    hdr, win = header[pick], window[pick].astype(np.int64)
    random = win < 0
    win[random] = rng.integers(1000, 65536, int(random.sum()))
    return hdr, win


def _expand(counts) -> tuple[np.ndarray, np.ndarray]:
    """For owners with `counts` items each: owner index and position of every item."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def _rank_in_runs(keys: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal (sorted) keys."""
    idx = np.arange(keys.size)
    new = np.ones(keys.size, dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    return idx - np.maximum.accumulate(np.where(new, idx, 0))


# --------------------------------------------------------------------------- connections

class _Connections:
    """Accumulates the packets of n connections, piece by piece, in time order.

    Each `add` appends, to every listed connection (ascending ids, a connection may repeat),
    its next packets; a packet's time is the previous packet's time plus its gap, so pieces
    must be added in the order the packets happen."""

    def __init__(self, n: int):
        self.n = n
        self._filled = np.zeros(n, dtype=np.int64)
        self._pieces: list[tuple] = []

    def add(self, conn, direction, flags, header, window, gap_s) -> None:
        conn = np.asarray(conn, dtype=np.int64)
        m = conn.size
        if m == 0:
            return
        pos = self._filled[conn] + _rank_in_runs(conn)
        self._filled += np.bincount(conn, minlength=self.n)

        def full(value, dtype):
            return np.broadcast_to(np.asarray(value), (m,)).astype(dtype)

        gap_us = np.rint(full(gap_s, np.float64) * 1e6).astype(np.int64)
        self._pieces.append((conn, pos, full(direction, np.int8), full(flags, np.uint8),
                             full(header, np.uint8), full(window, np.int64), gap_us))

    def packets(self, start_s: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Packet arrays grouped by connection and the packet count of each connection.

        Times are whole microseconds (as pcap stores them) turned into epoch seconds."""
        length = self._filled
        first = np.cumsum(length) - length
        total = int(length.sum())
        out = {
            "direction": np.empty(total, np.int8), "flags": np.empty(total, np.uint8),
            "header_len": np.empty(total, np.uint8), "window": np.empty(total, np.int64),
        }
        gap_us = np.empty(total, np.int64)
        for conn, pos, direction, flags, header, window, gap in self._pieces:
            idx = first[conn] + pos
            out["direction"][idx], out["flags"][idx] = direction, flags
            out["header_len"][idx], out["window"][idx] = header, window
            gap_us[idx] = gap
        conn = np.repeat(np.arange(self.n), length)
        csum = np.cumsum(gap_us)
        has = length > 0
        base = np.zeros(self.n, np.int64)
        base[has] = csum[first[has]] - gap_us[first[has]]
        start_us = np.rint(np.asarray(start_s) * 1e6).astype(np.int64)
        out["timestamp"] = (start_us[conn] + csum - base[conn]) / 1e6
        return out, length


def _add_timeline(b: _Connections, conn, at_s, direction, flags, header, window) -> None:
    """Add packets given by offsets from the connection start, in any order.

    Only for a connection's first piece: the gaps are measured from the connection start."""
    conn = np.asarray(conn, dtype=np.int64)
    m = conn.size
    if m == 0:
        return
    cols = [np.broadcast_to(np.asarray(v), (m,)) for v in (at_s, direction, flags, header, window)]
    order = np.lexsort((cols[0], conn))
    conn, at, direction, flags, header, window = conn[order], *(c[order] for c in cols)
    gap = np.diff(at, prepend=0.0)
    first = np.r_[True, conn[1:] != conn[:-1]]
    gap[first] = at[first]
    b.add(conn, direction, flags, header, window, gap)


# --------------------------------------------------------------------------- benign TCP

# Client operating systems: SYN header (options), SYN windows, data header (timestamps
# option on or off), SYN-ACK header the (Linux) server answers with, share.
_CLIENT_OS = (
    # Windows: MSS, NOP, WS, NOP, NOP, SACK_PERM (12 bytes), no timestamps.
    (32, (64240, 65535), (0.85, 0.15), 20, 32, 0.40),
    # Linux / Android: MSS, SACK_PERM, TS, NOP, WS (20 bytes) -> timestamps on every segment.
    (40, (64240, 29200, 65535), (0.65, 0.25, 0.10), 32, 40, 0.35),
    # macOS / iOS: MSS, NOP, WS, NOP, NOP, TS, SACK_PERM, EOL (24 bytes).
    (44, (65535,), (1.0,), 32, 40, 0.25),
)
_SERVER_SYNACK_WIN = ((65160, 64240, 28960, 65535, 26847, 43690), (0.4, 0.2, 0.1, 0.2, 0.05, 0.05))


@dataclass
class _Endpoints:
    """Per-connection TCP parameters of a benign client/server pair."""

    syn_hdr: np.ndarray
    syn_win: np.ndarray
    synack_hdr: np.ndarray
    synack_win: np.ndarray
    data_hdr: np.ndarray
    cli_win: np.ndarray
    srv_win: np.ndarray
    rtt: np.ndarray


def _endpoints(rng, n: int, rtt_median: float) -> _Endpoints:
    share = np.array([row[-1] for row in _CLIENT_OS])
    os_pick = rng.choice(len(_CLIENT_OS), size=n, p=share / share.sum())
    syn_win = np.empty(n, np.int64)
    for k, (_, wins, p, *_rest) in enumerate(_CLIENT_OS):
        sel = os_pick == k
        syn_win[sel] = rng.choice(wins, size=int(sel.sum()), p=p)

    def pick(col: int) -> np.ndarray:
        return np.array([row[col] for row in _CLIENT_OS])[os_pick]

    return _Endpoints(
        syn_hdr=pick(0), syn_win=syn_win, synack_hdr=pick(4),
        synack_win=rng.choice(_SERVER_SYNACK_WIN[0], size=n, p=_SERVER_SYNACK_WIN[1]),
        data_hdr=pick(3),
        # Windows in data segments are scaled (RFC 7323), hence the small values.
        cli_win=np.rint(_lognormal(rng, 502, 0.8, n, 64, 65535)).astype(np.int64),
        srv_win=np.rint(_lognormal(rng, 300, 1.0, n, 16, 65535)).astype(np.int64),
        rtt=_lognormal(rng, rtt_median, 0.9, n, 0.0002, 0.5),
    )


def _handshake(rng, b: _Connections, ep: _Endpoints) -> None:
    conn = np.arange(b.n)
    b.add(conn, 0, SYN, ep.syn_hdr, ep.syn_win, 0.0)
    b.add(conn, 1, SYN | ACK, ep.synack_hdr, ep.synack_win, ep.rtt * rng.uniform(0.9, 1.1, b.n))
    b.add(conn, 0, ACK, ep.data_hdr, ep.cli_win, _lognormal(rng, 60e-6, 0.6, b.n))


def _exchange(rng, b: _Connections, ep: _Endpoints, round_conn, first_gap, q, s,
              last_ack_p: float, psh_p: float, service_median: float) -> None:
    """Request/response rounds (round_conn ascending, rounds of a connection in order).

    A round is q client segments (PSH on the last), then s server segments, the client
    ACKing every second one and the last one with probability last_ack_p (delayed ACK)."""
    item_round, item_pos = _expand(q + s)
    q_i, s_i = q[item_round], s[item_round]
    is_srv = item_pos >= q_i
    j = item_pos - q_i
    ack_after = is_srv & ((j % 2 == 1) | ((j == s_i - 1) & (rng.random(item_round.size) < last_ack_p)))
    it, pos = _expand(1 + ack_after)
    is_ack = pos == 1
    r, c = item_round[it], round_conn[item_round[it]]
    srv = is_srv[it] & ~is_ack
    cli_seg = ~is_srv[it]
    m = it.size
    last_cli = cli_seg & (item_pos[it] == q[r] - 1)
    last_srv = srv & (j[it] == s[r] - 1)
    push = last_cli | last_srv | (srv & (rng.random(m) < psh_p))
    flags = np.where(push & ~is_ack, ACK | PSH, ACK)

    gap = np.where(cli_seg & (item_pos[it] == 0), first_gap[r], _lognormal(rng, 30e-6, 0.5, m))
    first_srv = srv & (j[it] == 0)
    gap = np.where(first_srv, ep.rtt[c] + _lognormal(rng, service_median, 1.0, m, 1e-5, 5.0), gap)
    gap = np.where(srv & (j[it] > 0), _lognormal(rng, 80e-6, 0.8, m), gap)
    # The ACK of an odd last segment waits for the delayed-ACK timer.
    lone = is_ack & (j[it] == s[r] - 1) & (j[it] % 2 == 0)
    gap = np.where(is_ack, np.where(lone, rng.uniform(1e-3, 0.04, m), _lognormal(rng, 120e-6, 1.0, m)), gap)

    sack = is_ack & (rng.random(m) < 0.02)  # SACK blocks after a loss: +12 option bytes
    header = np.where(srv, ep.data_hdr[c], ep.data_hdr[c] + 12 * sack)
    window = np.where(srv, ep.srv_win[c], ep.cli_win[c])
    b.add(c, np.where(srv, 1, 0), flags, header, window, gap)


def _teardown(rng, b: _Connections, ep: _Endpoints, kind: np.ndarray, idle: np.ndarray) -> None:
    """Close connections: FIN from client or server (then FIN+ACK, ACK), client RST, or none."""
    conn = np.arange(b.n)
    for name, opener in (("client_fin", 0), ("server_fin", 1)):
        c = conn[kind == name]
        hdr, win = ep.data_hdr[c], (ep.cli_win[c], ep.srv_win[c])
        b.add(c, opener, FIN | ACK, hdr, win[opener], idle[c])
        b.add(c, 1 - opener, FIN | ACK, hdr, win[1 - opener],
              ep.rtt[c] * rng.uniform(0.5, 1.0, c.size) + _lognormal(rng, 1e-4, 1.0, c.size))
        b.add(c, opener, ACK, hdr, win[opener], ep.rtt[c] * rng.uniform(0.5, 1.0, c.size))
    c = conn[kind == "client_rst"]
    # Linux and Windows send RSTs without options and with a zero window.
    b.add(c, 0, RST | ACK, 20, 0, idle[c])


def _gen_web(rng, n: int) -> _Connections:
    """HTTPS browsing: handshake, keep-alive request/response rounds, FIN/RST or idle end."""
    b = _Connections(n)
    ep = _endpoints(rng, n, rtt_median=0.018)
    _handshake(rng, b, ep)
    # Pre-connected sockets a browser never uses, then mostly short keep-alive sessions.
    rounds = np.where(rng.random(n) < 0.08, 0, 1 + np.floor(_lognormal(rng, 1.0, 1.0, n, 0, 40)))
    round_conn, round_no = _expand(rounds.astype(np.int64))
    k = round_conn.size
    think = np.where(round_no == 0, _lognormal(rng, 3e-4, 0.8, k), _lognormal(rng, 1.5, 1.6, k, 0.01, 280))
    q = 1 + (rng.random(k) < 0.15)
    s = 1 + np.floor(_lognormal(rng, 2.0, 1.1, k, 0, 80)).astype(np.int64)
    _exchange(rng, b, ep, round_conn, think, q, s, last_ack_p=0.85, psh_p=0.25, service_median=3e-3)
    kind = _scenario(rng, n, {"client_fin": 0.33, "server_fin": 0.27, "client_rst": 0.15, "none": 0.25})
    keepalive = rng.choice([5.0, 15.0, 20.0, 60.0, 65.0, 75.0, 120.0], size=n)
    idle = np.where(kind == "server_fin", keepalive * rng.uniform(1.0, 1.01, n),
                    _lognormal(rng, 3.0, 1.5, n, 0.005, 280))
    _teardown(rng, b, ep, kind, idle)
    return b


# SSH session set-up after the handshake: (direction, flags, gap kind). Banners, KEXINIT,
# ECDH, NEWKEYS, service request, user authentication, channel open, pty and shell request.
_SSH_SETUP = (
    (1, PSH | ACK, "service"), (0, ACK, "ack"), (0, PSH | ACK, "local"), (0, PSH | ACK, "local"),
    (1, PSH | ACK, "rtt"), (0, PSH | ACK, "local"), (1, ACK, "service"), (1, PSH | ACK, "segment"),
    (0, ACK, "ack"), (0, PSH | ACK, "local"), (1, PSH | ACK, "rtt"), (0, PSH | ACK, "user"),
    (1, PSH | ACK, "service"), (0, PSH | ACK, "local"), (1, PSH | ACK, "rtt"),
    (0, PSH | ACK, "local"), (1, PSH | ACK, "rtt"), (0, ACK, "ack"),
)


def _ssh_gap(rng, kind: str, ep: _Endpoints) -> np.ndarray:
    n = ep.rtt.size
    if kind == "rtt":
        return ep.rtt + _lognormal(rng, 3e-4, 0.7, n)
    if kind == "service":  # server-side key exchange / authentication work
        return ep.rtt + _lognormal(rng, 4e-3, 0.8, n)
    if kind == "segment":
        return _lognormal(rng, 60e-6, 0.6, n)
    if kind == "ack":
        return _lognormal(rng, 8e-3, 1.2, n, 2e-5, 0.2)
    if kind == "user":  # key-based login is instant, a typed password takes seconds
        return np.where(rng.random(n) < 0.6, _lognormal(rng, 0.02, 1.0, n), _lognormal(rng, 4.0, 0.6, n))
    return _lognormal(rng, 2e-4, 0.7, n)


def _gen_ssh(rng, n: int) -> _Connections:
    """Interactive SSH: handshake, key exchange and login, keystroke/echo rounds, logout."""
    b = _Connections(n)
    ep = _endpoints(rng, n, rtt_median=0.03)
    _handshake(rng, b, ep)
    conn = np.arange(n)
    for direction, flags, gap_kind in _SSH_SETUP:
        win = ep.cli_win if direction == 0 else ep.srv_win
        b.add(conn, direction, flags, ep.data_hdr, win, _ssh_gap(rng, gap_kind, ep))
    rounds = np.floor(_lognormal(rng, 8.0, 1.1, n, 0, 120)).astype(np.int64)
    round_conn, _ = _expand(rounds)
    k = round_conn.size
    # Typing rhythm with occasional pauses to read output or think (rarely > 300 s).
    think = np.where(rng.random(k) < 0.1, _lognormal(rng, 6.0, 1.5, k, 0.5, 900),
                     _lognormal(rng, 0.18, 0.9, k, 0.02, 5))
    output = np.where(rng.random(k) < 0.15, np.floor(_lognormal(rng, 4.0, 1.0, k, 1, 40)), 0)
    s = 1 + output.astype(np.int64)
    _exchange(rng, b, ep, round_conn, think, np.ones(k, np.int64), s,
              last_ack_p=0.7, psh_p=0.6, service_median=2e-4)
    kind = _scenario(rng, n, {"server_fin": 0.6, "client_fin": 0.2, "client_rst": 0.05, "none": 0.15})
    idle = np.where(kind == "server_fin", _lognormal(rng, 0.01, 1.0, n), _lognormal(rng, 1.0, 1.2, n, 0.01, 280))
    _teardown(rng, b, ep, kind, idle)
    return b


# --------------------------------------------------------------------------- attacks

def _victim_reply_delay(rng, size: int) -> np.ndarray:
    """Kernel reply time of the victim (RST or SYN-ACK): ~0.1 ms, slower when loaded."""
    d = _lognormal(rng, 90e-6, 0.15, size)
    busy = rng.random(size) < 0.45
    d = np.where(busy, d * (1.0 + _lognormal(rng, 0.5, 0.9, size)), d)
    swamped = rng.random(size) < 0.07
    return np.where(swamped, d * _lognormal(rng, 25.0, 1.4, size, 2.0, 2e4), d)


def _synack_header(syn_header: np.ndarray) -> np.ndarray:
    """A server answers only the options the SYN offered: no options -> MSS only (24)."""
    return np.where(syn_header <= 24, 24, np.where(syn_header >= 40, 40, syn_header))


_VICTIM_SYNACK_WIN = ((64240, 64000, 65535, 28960, 65160), (0.4, 0.25, 0.15, 0.1, 0.1))


def _synack_retransmissions(rng, b: _Connections, conn, header, window, count, direction) -> None:
    """SYN-ACK retransmissions with the kernel's doubling timeout (1, 2, 4, 8, 16 s)."""
    for k in range(1, int(count.max(initial=0)) + 1):
        sel = count >= k
        c = conn[sel]
        b.add(c, direction, SYN | ACK, header[sel], window[sel],
              2.0 ** (k - 1) * rng.uniform(1.0, 1.015, c.size))


_FLOOD_SYN = ((20, 512, 0.50), (20, 64, 0.08), (20, -1, 0.27), (24, 1024, 0.10), (24, -1, 0.05))


def _gen_syn_flood(rng, n: int) -> _Connections:
    """hping3-style SYN flood: mostly spoofed single SYNs, some answered by the victim."""
    b = _Connections(n)
    conn = np.arange(n)
    hdr, win = _draw_profile(rng, _FLOOD_SYN, n)
    b.add(conn, 0, SYN, hdr, win, 0.0)
    kind = _scenario(rng, n, {"spoofed": 0.70, "rst": 0.12, "synack_rst": 0.08, "half_open": 0.10})
    c = conn[kind == "rst"]
    b.add(c, 1, RST | ACK, 20, 0, _victim_reply_delay(rng, c.size))
    victim_win = rng.choice(_VICTIM_SYNACK_WIN[0], size=n, p=_VICTIM_SYNACK_WIN[1])
    c = conn[(kind == "synack_rst") | (kind == "half_open")]
    b.add(c, 1, SYN | ACK, _synack_header(hdr[c]), victim_win[c], _victim_reply_delay(rng, c.size))
    c = conn[kind == "synack_rst"]  # the attacker's kernel never opened this connection
    b.add(c, 0, RST, 20, 0, _lognormal(rng, 40e-6, 0.5, c.size))
    c = conn[kind == "half_open"]
    _synack_retransmissions(rng, b, c, _synack_header(hdr[c]), victim_win[c],
                            rng.integers(1, 6, c.size), direction=1)
    return b


# SYN profiles of the OSYN capture, (header, window, share): bare tool SYNs (20), MSS only
# (24), Windows-like (32) and Linux-like (40) option sets, with the windows the real file
# shows. SYNs nobody answers are mostly bare or MSS-only; refused ones carry more options.
_OSYN_SYN_ALONE = (
    (20, 1024, 0.245), (20, 65535, 0.085), (20, -1, 0.02),
    (24, 1024, 0.17), (24, 1025, 0.27), (24, 65535, 0.15), (24, 14600, 0.005), (24, 29200, 0.005),
    (32, 65535, 0.02), (40, 29200, 0.018), (40, 5840, 0.006), (40, 5808, 0.006),
)
_OSYN_SYN_REFUSED = (
    (20, 1024, 0.27), (20, 65535, 0.195), (20, -1, 0.045),
    (24, 1024, 0.063), (24, 65535, 0.04), (24, -1, 0.007),
    (28, 8192, 0.015),
    (32, 8192, 0.048), (32, 64240, 0.015), (32, 29200, 0.004),
    (40, 64240, 0.09), (40, 29200, 0.063), (40, 29040, 0.048), (40, 65535, 0.033),
    (40, 28880, 0.011), (40, 14600, 0.008), (40, 5760, 0.008), (40, 62727, 0.008),
    (40, 0, 0.011), (40, 5656, 0.004), (40, 5808, 0.004), (40, 28200, 0.004), (40, 65280, 0.004),
)
_OSYN_SCENARIOS = {
    "syn_only": 0.32, "syn_rst": 0.346, "stray_rst": 0.153, "stray_ack": 0.074,
    "late_victim": 0.035, "half_open": 0.04, "syn_retrans": 0.012, "background": 0.02,
}


def _gen_osyn(rng, n: int) -> _Connections:
    """SYN-with-options flood as captured: single SYNs, SYN answered by RST, the tool's stray
    RSTs and ACKs, victim packets after the flow closed, half-open handshakes, background."""
    b = _Connections(n)
    conn = np.arange(n)
    kind = _scenario(rng, n, _OSYN_SCENARIOS)
    refused = np.isin(kind, ("syn_rst", "late_victim"))
    hdr, win = _draw_profile(rng, _OSYN_SYN_ALONE, n)
    hdr_r, win_r = _draw_profile(rng, _OSYN_SYN_REFUSED, n)
    hdr, win = np.where(refused, hdr_r, hdr), np.where(refused, win_r, win)

    c = conn[refused | (kind == "syn_only")]
    b.add(c, 0, SYN, hdr[c], win[c], 0.0)
    c = conn[refused]
    b.add(c, 1, RST | ACK, 20, 0, _victim_reply_delay(rng, c.size))
    _osyn_late_victim(rng, b, conn[kind == "late_victim"])

    c = conn[kind == "stray_rst"]
    b.add(c, 0, np.where(rng.random(c.size) < 0.5, RST, RST | ACK), 20,
          np.where(rng.random(c.size) < 0.42, 0, 1200), 0.0)
    c = conn[kind == "stray_ack"]
    b.add(c, 0, ACK, 20, 1021 + rng.integers(0, 9, c.size), 0.0)

    _osyn_half_open(rng, b, conn[kind == "half_open"])
    _osyn_syn_retrans(rng, b, conn[kind == "syn_retrans"])
    _osyn_background(rng, b, conn[kind == "background"])
    return b


def _osyn_late_victim(rng, b: _Connections, c: np.ndarray) -> None:
    """A victim packet after the flow was closed by an RST: a flow of backward packets only."""
    rst = rng.random(c.size) < 0.75
    window = np.where(rst, 0, np.rint(_lognormal(rng, 150, 1.2, c.size, 17, 9700))).astype(np.int64)
    b.add(c, 1, np.where(rst, RST | ACK, ACK), 20, window, _lognormal(rng, 3e-3, 1.5, c.size))
    c = c[rng.random(c.size) < 0.15]  # the attacker's kernel resets that packet
    b.add(c, 0, RST, 20, 0, _lognormal(rng, 100e-6, 0.5, c.size))


def _osyn_half_open(rng, b: _Connections, c: np.ndarray) -> None:
    """SYN answered by SYN-ACK and 4 retransmissions, then RST; the tool may resend its SYN."""
    m = c.size
    linux = rng.random(m) < 0.3
    syn_hdr = np.where(linux, 40, 32)
    syn_win = np.where(linux, rng.choice([42340, 64240], m), 8192)
    victim_win = rng.choice([64000, 65535, 64240], size=m, p=[0.7, 0.2, 0.1])
    reply = _victim_reply_delay(rng, m)
    offsets = np.array([0.0, 1.0, 3.0, 7.0, 15.0])
    at = [np.zeros(m)] + [reply + o * rng.uniform(1.0, 1.003, m) for o in offsets]
    at.append(reply + rng.uniform(20.9, 21.1, m))
    parts = [(0, SYN, syn_hdr, syn_win)] + [(1, SYN | ACK, syn_hdr, victim_win)] * 5 + [(1, RST, 20, 0)]
    resend = rng.integers(0, 3, m)
    for k in (1, 2):
        sel = resend >= k
        at.append(np.where(sel, rng.uniform(0.5, 12.0, m), np.nan))
        parts.append((0, SYN, syn_hdr, syn_win))
    # One (connection, time) row per packet and part; parts a connection lacks have NaN times.
    rows = np.concatenate([np.column_stack([np.arange(m), t]) for t in at])
    fields = [np.concatenate([np.broadcast_to(np.asarray(p[f]), (m,)) for p in parts]) for f in range(4)]
    keep = ~np.isnan(rows[:, 1])
    _add_timeline(b, c[rows[keep, 0].astype(np.int64)], rows[keep, 1], *(f[keep] for f in fields))


def _osyn_syn_retrans(rng, b: _Connections, c: np.ndarray) -> None:
    """An unanswered SYN the sender's kernel retransmits after 1, 2, 4 ... s."""
    win = rng.choice([29200, 64240, 14520, 17520, 24643], c.size)
    hdr = np.where(rng.random(c.size) < 0.6, 40, 20)
    b.add(c, 0, SYN, hdr, win, 0.0)
    extra = rng.choice([1, 2, 3, 4], c.size, p=[0.7, 0.1, 0.1, 0.1])
    for k in range(1, 5):
        sel = extra >= k
        b.add(c[sel], 0, SYN, hdr[sel], win[sel], 2.0 ** (k - 1) * rng.uniform(0.99, 1.01, int(sel.sum())))


def _osyn_background(rng, b: _Connections, c: np.ndarray) -> None:
    """Mid-connection ACK/PSH traffic of other hosts caught in the capture (no handshake)."""
    length = np.where(rng.random(c.size) < 0.6, rng.integers(2, 5, c.size), rng.integers(5, 20, c.size))
    owner, pos = _expand(length)
    m = owner.size
    direction = np.where(pos == 0, 0, rng.integers(0, 2, m))
    win_of = np.rint(_lognormal(rng, 900, 0.6, c.size, 17, 20000)).astype(np.int64)
    flags = np.where(rng.random(m) < 0.3, ACK | PSH, ACK)
    # Back-to-back segments and ACKs, then pauses of the application.
    gap = np.where(rng.random(m) < 0.6, _lognormal(rng, 2e-4, 1.0, m), _lognormal(rng, 0.2, 2.0, m, 0.0, 60.0))
    gap[pos == 0] = 0.0
    b.add(c[owner], direction, flags, 20, win_of[owner], gap)


_FLOOD_WIN = ((20, 512, 0.5), (20, 64, 0.1), (20, -1, 0.4))


def _gen_ack_psh(rng, n: int) -> _Connections:
    """ACK+PSH flood: spoofed single packets, RSTs from the victim, same-port bursts."""
    b = _Connections(n)
    conn = np.arange(n)
    _, win = _draw_profile(rng, _FLOOD_WIN, n)
    b.add(conn, 0, PSH | ACK, 20, win, 0.0)
    kind = _scenario(rng, n, {"spoofed": 0.55, "rst": 0.30, "burst": 0.15})
    c = conn[kind == "rst"]  # no such connection: the victim's kernel resets it
    b.add(c, 1, RST, 20, 0, _victim_reply_delay(rng, c.size))
    c = conn[kind == "burst"]
    more = np.minimum(1 + rng.geometric(0.2, c.size), 40)
    owner, _ = _expand(more)
    b.add(c[owner], 0, PSH | ACK, 20, win[c][owner], _lognormal(rng, 25e-6, 0.8, owner.size))
    return b


_RST_WIN = ((20, 0, 0.5), (20, 512, 0.2), (20, -1, 0.3))


def _gen_rst_ack(rng, n: int) -> _Connections:
    """RST+ACK flood: every RST ends its flow; injected ones leave the victim's late packet."""
    b = _Connections(n)
    conn = np.arange(n)
    _, win = _draw_profile(rng, _RST_WIN, n)
    b.add(conn, 0, np.where(rng.random(n) < 0.8, RST | ACK, RST), 20, win, 0.0)
    c = conn[rng.random(n) < 0.12]
    m = c.size
    b.add(c, 1, np.where(rng.random(m) < 0.5, ACK, PSH | ACK), np.where(rng.random(m) < 0.6, 32, 20),
          np.rint(_lognormal(rng, 500, 1.0, m, 16, 65535)).astype(np.int64), _lognormal(rng, 0.015, 1.2, m))
    return b


_SYNACK_PROFILE = (
    (20, 512, 0.3), (20, -1, 0.2),
    (24, 64240, 0.1), (24, 65535, 0.07), (24, 5840, 0.04), (24, 14600, 0.04),
    (40, 65160, 0.12), (40, 28960, 0.07), (40, 64240, 0.06),
)


def _gen_syn_ack(rng, n: int) -> _Connections:
    """SYN+ACK flood / reflection: the victim resets them or stays silent, reflectors retry."""
    b = _Connections(n)
    conn = np.arange(n)
    hdr, win = _draw_profile(rng, _SYNACK_PROFILE, n)
    b.add(conn, 0, SYN | ACK, hdr, win, 0.0)
    kind = _scenario(rng, n, {"single": 0.45, "rst": 0.40, "retrans": 0.15})
    c = conn[kind == "rst"]
    b.add(c, 1, RST, 20, 0, _victim_reply_delay(rng, c.size))
    c = conn[kind == "retrans"]
    _synack_retransmissions(rng, b, c, hdr[c], win[c], rng.integers(1, 6, c.size), direction=0)
    return b


@dataclass(frozen=True)
class _ClassSpec:
    label: str
    generate: Callable[[np.random.Generator, int], _Connections]
    capture_start: float        # epoch seconds of the class's capture session
    capture_seconds: float
    flows_per_connection: float  # only sizes the first batch of connections


_CLASSES: dict[str, _ClassSpec] = {
    "Benign-Web_Browsing_HTTP-S": _ClassSpec("Benign", _gen_web, 1702972800.0, 14400.0, 1.5),
    "Benign-SSH": _ClassSpec("Benign", _gen_ssh, 1702976400.0, 14400.0, 1.7),
    "Attack-TCP-Flag-SYN": _ClassSpec("Attack", _gen_syn_flood, 1702996200.0, 1800.0, 1.0),
    "Attack-TCP-Flag-OSYN": _ClassSpec("Attack", _gen_osyn, 1702999800.0, 1800.0, 1.04),
    "Attack-TCP-Flag-ACK-PSH": _ClassSpec("Attack", _gen_ack_psh, 1703003400.0, 1800.0, 1.0),
    "Attack-TCP-Flag-RST-ACK": _ClassSpec("Attack", _gen_rst_ack, 1703007000.0, 1800.0, 1.12),
    "Attack-TCP-Flag-SYN-ACK": _ClassSpec("Attack", _gen_syn_ack, 1703010600.0, 1800.0, 1.0),
}
ACTIVITIES: tuple[str, ...] = tuple(_CLASSES)


# --------------------------------------------------------------------------- flow extraction

def split_flows(conn_len: np.ndarray, direction: np.ndarray, flags: np.ndarray,
                timestamp: np.ndarray, activity_timeout: float = ACTIVITY_TIMEOUT_S
                ) -> tuple[np.ndarray, np.ndarray]:
    """Cut connections into flows as NTLFlowLyzer does; returns (flow id, forward) per packet.

    Input: packets grouped by connection in time order (conn_len packets each), `direction`
    0 from the connection's initiator, 1 towards it. A flow ends when the next packet arrives
    after it has seen an RST, a FIN in each direction, or `activity_timeout` seconds of
    silence; that packet opens a new flow. Forward means "from the flow's first sender",
    except that a flow's first packet keeps the backward mark it got while the extractor
    matched it against the flow it closed: so a reply arriving after an RST becomes a flow of
    backward packets only, as in the published files. Flow ids ascend with the packets."""
    conn_len = np.asarray(conn_len, dtype=np.int64)
    first = np.cumsum(conn_len) - conn_len
    order = np.argsort(-conn_len, kind="stable")
    sorted_first, sorted_len = first[order], conn_len[order]
    n, total = conn_len.size, int(conn_len.sum())
    forward = np.empty(total, dtype=bool)
    local = np.empty(total, dtype=np.int64)
    key_dir = np.zeros(n, np.int8)
    flow_no = np.zeros(n, np.int64)
    has_rst, fin_f, fin_b = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    last = np.zeros(n, np.float64)
    active = np.searchsorted(-sorted_len, -np.arange(int(sorted_len[0]) if n else 0), side="left")
    # One step per packet position, vectorised over all connections that long.
    for k, m in enumerate(active):
        idx = sorted_first[:m] + k
        d, f, t = direction[idx], flags[idx], timestamp[idx]
        if k == 0:
            fwd = np.ones(m, bool)
            key_dir[:m] = d
        else:
            fwd = d == key_dir[:m]
            ended = has_rst[:m] | (fin_f[:m] & fin_b[:m]) | (t - last[:m] > activity_timeout)
            flow_no[:m] += ended
            key_dir[:m] = np.where(ended, d, key_dir[:m])
            has_rst[:m] &= ~ended
            fin_f[:m] &= ~ended
            fin_b[:m] &= ~ended
        fin = (f & FIN) != 0
        has_rst[:m] |= (f & RST) != 0
        fin_f[:m] |= fin & fwd
        fin_b[:m] |= fin & ~fwd
        last[:m] = t
        forward[idx] = fwd
        local[idx] = flow_no[:m]
    flows_in_conn = np.zeros(n, np.int64)
    has = conn_len > 0
    flows_in_conn[has] = local[first[has] + conn_len[has] - 1] + 1
    offset = np.cumsum(flows_in_conn) - flows_in_conn
    return np.repeat(offset, conn_len) + local, forward


# --------------------------------------------------------------------------- segment statistics

def _starts(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def _seg_reduce(ufunc, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ufunc.reduceat over contiguous groups of `counts` values; 0 for empty groups."""
    out = np.zeros(counts.size, dtype=np.float64)
    nonempty = counts > 0
    if values.size:
        out[nonempty] = ufunc.reduceat(values, _starts(counts)[nonempty])
    return out


def _seg_median_mode(group: np.ndarray, values: np.ndarray, counts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Median (mean of the middle pair, like statistics.median) and mode (smallest of the
    most frequent values, like scipy.stats.mode) per group; `group` must be ascending."""
    n = counts.size
    median, mode = np.zeros(n), np.zeros(n)
    if values.size == 0:
        return median, mode
    vs = values[np.lexsort((values, group))]
    start = _starts(counts)
    ne = counts > 0
    lo, hi = start[ne] + (counts[ne] - 1) // 2, start[ne] + counts[ne] // 2
    median[ne] = (vs[lo] + vs[hi]) / 2.0
    new_run = np.ones(vs.size, bool)
    new_run[1:] = (group[1:] != group[:-1]) | (vs[1:] != vs[:-1])
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, vs.size))
    run_group = group[run_start]
    best = _seg_reduce(np.maximum, run_len, np.bincount(run_group, minlength=n))
    cand = np.flatnonzero(run_len == best[run_group])
    cand_group = run_group[cand]
    first = np.ones(cand.size, bool)
    first[1:] = cand_group[1:] != cand_group[:-1]
    mode[cand_group[first]] = vs[run_start[cand[first]]]
    return median, mode


def _header_stats(group, header, counts) -> dict[str, np.ndarray]:
    values = header.astype(np.float64)
    total = np.bincount(group, weights=values, minlength=counts.size)
    median, mode = _seg_median_mode(group, values, counts)
    mean = np.divide(total, counts, out=np.zeros(counts.size), where=counts > 0)
    return {"total": total, "min": _seg_reduce(np.minimum, values, counts),
            "max": _seg_reduce(np.maximum, values, counts), "mean": mean,
            "median": median, "mode": mode}


def _iat_stats(group, ts, counts) -> dict[str, np.ndarray]:
    """IAT statistics per group. NTLFlowLyzer's calculate_IAT returns the timestamp itself
    when there is a single packet, so every statistic is then that packet's epoch time."""
    n = counts.size
    same = group[1:] == group[:-1]
    iat = (ts[1:] - ts[:-1])[same]
    ig = group[1:][same]
    ic = np.bincount(ig, minlength=n)
    total = np.bincount(ig, weights=iat, minlength=n)
    median, mode = _seg_median_mode(ig, iat, ic)
    stats = {
        "mean": np.divide(total, ic, out=np.zeros(n), where=ic > 0), "median": median,
        "mode": mode, "max": _seg_reduce(np.maximum, iat, ic),
        "min": _seg_reduce(np.minimum, iat, ic), "total": total,
    }
    single = counts == 1
    epoch = ts[_starts(counts)[single]]
    for values in stats.values():
        values[single] = epoch
    return stats


def _first_value(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    out = np.zeros(counts.size, dtype=np.float64)
    ne = counts > 0
    out[ne] = values[_starts(counts)[ne]]
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (NTLFlowLyzer's ZeroDivisionError fallback)."""
    return np.divide(num, den, out=np.zeros(np.shape(num)), where=np.asarray(den) > 0)


def _direction_stats(group, ts, flags, header, window, n) -> dict:
    counts = np.bincount(group, minlength=n)

    def flagged(bit: int) -> np.ndarray:
        return np.bincount(group, weights=((flags & bit) != 0).astype(np.float64), minlength=n)

    return {"count": counts, "hdr": _header_stats(group, header, counts),
            "iat": _iat_stats(group, ts, counts), "syn": flagged(SYN), "rst": flagged(RST),
            "psh": flagged(PSH), "init_win": _first_value(window.astype(np.float64), counts)}


def _raw_features(group, ts, forward, flags, header, window, n) -> tuple[dict, np.ndarray]:
    """Unrounded features per flow plus (n, 3) packet counts (all, fwd, bwd).

    `group` is a dense ascending flow index; packets of a flow are in time order."""
    a = _direction_stats(group, ts, flags, header, window, n)
    f = _direction_stats(group[forward], ts[forward], flags[forward], header[forward], window[forward], n)
    bwd = ~forward
    b = _direction_stats(group[bwd], ts[bwd], flags[bwd], header[bwd], window[bwd], n)
    nall, nf, nb = a["count"], f["count"], b["count"]
    duration = _seg_reduce(np.maximum, ts, nall) - _seg_reduce(np.minimum, ts, nall)
    ah, fh, ai, fi, bi = a["hdr"], f["hdr"], a["iat"], f["iat"], b["iat"]
    raw = {
        "total_header_bytes": ah["total"], "fwd_median_header_bytes": fh["median"],
        "rst_flag_percentage_in_total": _ratio(a["rst"], nall), "packets_IAT_median": ai["median"],
        "max_header_bytes": ah["max"], "fwd_mode_header_bytes": fh["mode"],
        "fwd_syn_flag_percentage_in_total": _ratio(f["syn"], nall), "packets_IAT_mode": ai["mode"],
        "min_header_bytes": ah["min"], "fwd_init_win_bytes": f["init_win"],
        "bwd_rst_flag_percentage_in_total": _ratio(b["rst"], nall), "fwd_packets_IAT_mean": fi["mean"],
        "mean_header_bytes": ah["mean"], "bwd_init_win_bytes": b["init_win"],
        "fwd_psh_flag_percentage_in_fwd_packets": _ratio(f["psh"], nf), "fwd_packets_IAT_max": fi["max"],
        "median_header_bytes": ah["median"], "packets_rate": _ratio(nall, duration),
        "fwd_syn_flag_percentage_in_fwd_packets": _ratio(f["syn"], nf), "fwd_packets_IAT_min": fi["min"],
        "mode_header_bytes": ah["mode"], "bwd_packets_rate": _ratio(nb, duration),
        "bwd_psh_flag_percentage_in_bwd_packets": _ratio(b["psh"], nb),
        "fwd_packets_IAT_total": fi["total"], "fwd_total_header_bytes": fh["total"],
        "fwd_packets_rate": _ratio(nf, duration), "packets_IAT_mean": ai["mean"],
        "fwd_packets_IAT_median": fi["median"], "fwd_max_header_bytes": fh["max"],
        "rst_flag_counts": a["rst"], "packet_IAT_max": ai["max"], "fwd_packets_IAT_mode": fi["mode"],
        "fwd_min_header_bytes": fh["min"], "bwd_rst_flag_counts": b["rst"], "packet_IAT_min": ai["min"],
        "bwd_packets_IAT_total": bi["total"], "fwd_mean_header_bytes": fh["mean"],
        "syn_flag_percentage_in_total": _ratio(a["syn"], nall), "packet_IAT_total": ai["total"],
        "bwd_packets_IAT_mode": bi["mode"],
    }
    return raw, np.column_stack([nall, nf, nb])


# --------------------------------------------------------------------------- published rounding

_POW10 = 10.0 ** np.arange(0, 64)


def _round_significant(v: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Round each value to its own number of decimals (negative: tens, hundreds ...).

    Dividing (or multiplying) by an exact power of ten gives the double nearest to the
    decimal, which prints back as that decimal."""
    up = decimals >= 0
    scale = _POW10[np.abs(decimals)]
    return np.where(up, np.round(v * scale) / scale, np.round(v / scale) * scale)


def like_float32_text(x: np.ndarray) -> np.ndarray:
    """What a reader gets back from values stored as float32 and written in their shortest
    form, as the published files are (0.14285715, 30.6667, 1703000700.0, 16131.938)."""
    x32 = np.asarray(x, dtype=np.float64).astype(np.float32)
    out = x32.astype(np.float64)
    todo = np.flatnonzero(np.isfinite(out) & (out != 0))
    exponent = np.floor(np.log10(np.abs(out[todo]))).astype(np.int64)
    # The shortest decimal that reads back as the same float32. A float32 is within 6e-8
    # (relative) of its shortest decimal, so rounding to 6 digits already finds every
    # shortest form of up to 6 digits; longer ones are tried one digit at a time.
    for digits in (6, 7, 8, 9):
        if todo.size == 0:
            break
        candidate = _round_significant(out[todo], digits - 1 - exponent)
        same = candidate.astype(np.float32) == x32[todo]
        out[todo[same]] = candidate[same]
        todo, exponent = todo[~same], exponent[~same]
    return out


def _publish(raw: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The 40 feature columns typed and rounded like the published NTLFlowLyzer files."""
    columns = {}
    for name in FEATURE_COLUMNS:
        values = raw[name]
        if name in INT_COLUMNS:
            columns[name] = np.rint(values).astype(np.int64)
            continue
        if name in FOUR_DECIMAL_COLUMNS:
            values = np.round(values, 4)
        columns[name] = like_float32_text(values)
    return pd.DataFrame(columns)


def flow_features(packets) -> pd.DataFrame:
    """Features of each flow of a packet table, as NTLFlowLyzer computes and publishes them.

    Input: a DataFrame (or mapping of arrays) with PACKET_COLUMNS; rows in any order.
    Output: one row per distinct flow id (ascending, used as index) with the 40
    FEATURE_COLUMNS, int64 / float64 like the published files."""
    frame, counts = _features_and_counts(packets)
    return frame


def _features_and_counts(packets) -> tuple[pd.DataFrame, np.ndarray]:
    cols = {name: np.asarray(packets[name]) for name in PACKET_COLUMNS}
    ts = cols["timestamp"].astype(np.float64)
    ids, group = np.unique(cols["flow"], return_inverse=True)
    order = np.lexsort((ts, group))
    raw, counts = _raw_features(group[order], ts[order], cols["forward"].astype(bool)[order],
                                cols["flags"].astype(np.int64)[order], cols["header_len"].astype(np.int64)[order],
                                cols["window"].astype(np.int64)[order], ids.size)
    frame = _publish(raw)
    frame.index = pd.Index(ids, name="flow")
    return frame, counts


# --------------------------------------------------------------------------- simulation

def _allocate_rows(n_rows: int, mix: Mapping[str, float]) -> dict[str, int]:
    """Rows per activity, summing to n_rows (largest remainders get the leftover rows)."""
    names = list(mix)
    share = np.array([float(mix[a]) for a in names])
    if (share < 0).any() or share.sum() <= 0:
        raise ValueError("class_mix shares must be non-negative and not all zero")
    exact = n_rows * share / share.sum()
    rows = np.floor(exact).astype(np.int64)
    left = n_rows - int(rows.sum())
    rows[np.argsort(-(exact - rows), kind="stable")[:left]] += 1
    return dict(zip(names, rows.tolist()))


def _packets_of_connections(activity: str, n_conn: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate n_conn connections of one activity and cut them into flows: flat packet
    arrays (flow ascending, time order within a flow) plus the connection of each packet."""
    spec = _CLASSES[activity]
    b = spec.generate(rng, n_conn)
    start = spec.capture_start + rng.random(n_conn) * spec.capture_seconds
    pk, conn_len = b.packets(start)
    flow, forward = split_flows(conn_len, pk["direction"], pk["flags"], pk["timestamp"])
    return {"flow": flow, "timestamp": pk["timestamp"], "forward": forward, "flags": pk["flags"],
            "header_len": pk["header_len"], "window": pk["window"],
            "connection": np.repeat(np.arange(n_conn), conn_len)}


def simulate_packets(activity: str, n_connections: int, seed: int = 42) -> pd.DataFrame:
    """Packet table of n_connections simulated connections of one activity, already cut
    into flows: PACKET_COLUMNS plus `connection`; `flow_features` turns it into rows."""
    if activity not in _CLASSES:
        raise ValueError(f"unknown activity {activity!r}; known: {list(_CLASSES)}")
    rng = np.random.default_rng([seed, ACTIVITIES.index(activity)])
    return pd.DataFrame(_packets_of_connections(activity, n_connections, rng))


def _simulate_class(activity: str, n_rows: int, rng: np.random.Generator
                    ) -> tuple[pd.DataFrame, np.ndarray]:
    """n_rows flows of one activity: connections are simulated until they yield enough
    flows; the first n_rows flows (whole connections, bar the last) are kept."""
    spec = _CLASSES[activity]
    frames, counts, got = [], [], 0
    while got < n_rows:
        need = n_rows - got
        pk = _packets_of_connections(activity, max(1, ceil(need / spec.flows_per_connection)), rng)
        n_flows = min(need, int(pk["flow"][-1]) + 1)
        cut = int(np.searchsorted(pk["flow"], n_flows))
        raw, cnt = _raw_features(*(pk[k][:cut] for k in ("flow", "timestamp", "forward", "flags",
                                                         "header_len", "window")), n_flows)
        frames.append(_publish(raw))
        counts.append(cnt)
        got += n_flows
    frame = pd.concat(frames, ignore_index=True)
    frame["label"] = spec.label
    frame["activity"] = activity
    return frame, np.concatenate(counts)


def simulate_flows_with_counts(n_rows: int, seed: int = 42, class_mix: dict | None = None
                               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like `simulate_flows`, plus a frame (same row order) with each flow's packet counts:
    columns packets, fwd_packets, bwd_packets."""
    if n_rows < 0:
        raise ValueError("n_rows must be >= 0")
    mix = dict(CLASS_MIX if class_mix is None else class_mix)
    unknown = sorted(set(mix) - set(_CLASSES))
    if unknown:
        raise ValueError(f"unknown activities {unknown}; known: {list(_CLASSES)}")
    frames, counts = [], []
    for activity, rows in _allocate_rows(n_rows, mix).items():
        if rows == 0:
            continue
        # One stream per activity, so a class's flows do not depend on the other classes.
        rng = np.random.default_rng([seed, ACTIVITIES.index(activity)])
        frame, cnt = _simulate_class(activity, rows, rng)
        frames.append(frame)
        counts.append(cnt)
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in FLOW_COLUMNS})
        return empty, pd.DataFrame(columns=["packets", "fwd_packets", "bwd_packets"], dtype=np.int64)
    perm = np.random.default_rng([seed, len(ACTIVITIES)]).permutation(n_rows)
    frame = pd.concat(frames, ignore_index=True).iloc[perm].reset_index(drop=True)
    cnt = np.concatenate(counts)[perm]
    count_frame = pd.DataFrame(cnt.astype(np.int64), columns=["packets", "fwd_packets", "bwd_packets"])
    return frame[list(FLOW_COLUMNS)], count_frame


def _dtype(column: str) -> str:
    if column in ("label", "activity"):
        return "object"
    return "int64" if column in INT_COLUMNS else "float64"


def simulate_flows(n_rows: int, seed: int = 42, class_mix: dict | None = None) -> pd.DataFrame:
    """Simulate a labelled TCP flow table.

    n_rows: exact number of flows (rows); seed: makes the result reproducible; class_mix:
    activity -> share (defaults to CLASS_MIX; shares are normalised). Returns a DataFrame
    with the 42 FLOW_COLUMNS (40 features, label, activity), rows shuffled."""
    return simulate_flows_with_counts(n_rows, seed, class_mix)[0]


def packet_counts_from_headers(frame: pd.DataFrame) -> pd.DataFrame:
    """Packets per flow (packets, fwd_packets, bwd_packets) recovered from header totals and
    means, for tables (such as a CSV) that do not carry the counts."""
    total = frame["total_header_bytes"].to_numpy(np.float64)
    mean = frame["mean_header_bytes"].to_numpy(np.float64)
    fwd_total = frame["fwd_total_header_bytes"].to_numpy(np.float64)
    fwd_mean = frame["fwd_mean_header_bytes"].to_numpy(np.float64)
    n = np.rint(np.divide(total, mean, out=np.zeros(len(frame)), where=mean > 0)).astype(np.int64)
    nf = np.rint(np.divide(fwd_total, fwd_mean, out=np.zeros(len(frame)), where=fwd_mean > 0)).astype(np.int64)
    return pd.DataFrame({"packets": n, "fwd_packets": nf, "bwd_packets": n - nf}, index=frame.index)
