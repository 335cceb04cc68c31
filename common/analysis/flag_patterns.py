"""TCP flag co-occurrence, KDD connection states, and what a flow table says about handshakes.

A flag is *present* in a flow when any of its columns is > 0 (a count, or a fraction of the
flow's packets). Co-occurrence, P(B | A) and Jaccard similarity are computed with the
primitives of common.data.flags, overall and per class.

A flow table has no packet order. The handshake section therefore reports only what the
presence of flags per direction supports (a SYN with no backward packet, a SYN answered by a
responder RST, ...) and lists what cannot be known from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats.contingency import association

from common.analysis.directions import backward_columns
from common.analysis.values import analysis_categorical_columns, feature_values
from common.data.flags import (
    TCP_FLAGS,
    categorical_flag_column,
    conditional_probability,
    cooccurrence_counts,
    cooccurrence_share,
    directional_flag_presence,
    flag_columns,
    flag_presence,
    jaccard_similarity,
)
from common.rules import RuleSet
from common.data.schema import Schema

PRESENCE_RULE = "a flag is present in a flow when any of its columns is > 0 (a count or a fraction of packets)"
DIRECTION_NAMES = {"fwd": "fwd", "bwd": "bwd", "both": "any"}
MAX_COOCCURRENCE_LEVELS = 12

# Connection states of a KDD-style `flag` column are Bro/Zeek conn_state codes; their meaning
# is fixed by that tool's documentation, so it is stated here rather than learned.
CONNECTION_STATE_MEANING = {
    "S0": "connection attempt seen, no reply",
    "S1": "connection established, not terminated",
    "SF": "normal establishment and termination",
    "REJ": "connection attempt rejected",
    "S2": "established, close attempt by originator seen (no reply from responder)",
    "S3": "established, close attempt by responder seen (no reply from originator)",
    "RSTO": "established, originator aborted (sent a RST)",
    "RSTR": "established, responder aborted (sent a RST)",
    "RSTOS0": "originator sent a SYN then a RST, no SYN-ACK from the responder",
    "RSTRH": "responder sent a SYN-ACK then a RST, no SYN from the originator",
    "SH": "originator sent a SYN then a FIN, no SYN-ACK from the responder (half open)",
    "SHR": "responder sent a SYN-ACK then a FIN, no SYN from the originator",
    "OTH": "no SYN seen, midstream traffic",
}

CANNOT_BE_KNOWN = [
    "the order of packets inside a flow: whether SYN came before ACK, or RST before data",
    "whether the third packet of the handshake (the originator's ACK) was sent",
    "which packet carried a RST or FIN (the first, the last, or one in between)",
    "retransmissions and the time between the flag-carrying packets",
    "whether several flows belong to one connection (flows are cut by timeouts)",
]


def _rounded(values: dict, digits: int = 4, drop_zero: bool = False) -> dict:
    """{key: rounded float}; NaN becomes None (null in JSON); zeros left out with drop_zero."""
    return {
        str(key): (None if pd.isna(value) else round(float(value), digits))
        for key, value in values.items() if not (drop_zero and value == 0)
    }


def rows_dict(frame: pd.DataFrame, digits: int = 4, drop_zero: bool = False) -> dict[str, dict]:
    """A frame as {row: {column: rounded value}}."""
    return {str(row): _rounded(values, digits, drop_zero) for row, values in frame.iterrows()}


# ----------------------------------------------------------------------------- co-occurrence


def cooccurrence_summary(presence: pd.DataFrame) -> dict:
    """Co-occurrence counts and shares, P(column | row) and Jaccard similarity of one group of flows."""
    counts = cooccurrence_counts(presence)
    return {
        "flows": int(len(presence)),
        "presence_share": _rounded(presence.mean()),
        "counts": {str(r): {str(c): int(v) for c, v in row.items()} for r, row in counts.iterrows()},
        "share": rows_dict(cooccurrence_share(presence)),
        "conditional_probability": rows_dict(conditional_probability(presence)),
        "jaccard": rows_dict(jaccard_similarity(presence)),
    }


def directional_presence_shares(directional: dict[str, pd.DataFrame], labels: pd.Series | None) -> dict:
    """{"overall": {"SYN fwd": share, ...}, "per_class": {class: {...}}} from directional presence.

    Keys are "<flag> <fwd|bwd|any>", ordered by flag (TCP_FLAGS order) then direction; "any"
    comes from columns that do not name a direction (seen in either direction).
    """
    columns = {}
    for flag in TCP_FLAGS:
        for direction in ("fwd", "bwd", "both"):
            presence = directional.get(direction)
            if presence is not None and flag in presence.columns:
                columns[f"{flag} {DIRECTION_NAMES[direction]}"] = presence[flag]
    table = pd.DataFrame(columns)
    if table.empty:
        return {"overall": {}, "per_class": {}}
    per_class = {} if labels is None else rows_dict(table.groupby(labels.to_numpy(), sort=True).mean())
    return {"overall": _rounded(table.mean()), "per_class": per_class}


def flag_cooccurrence(frame: pd.DataFrame, schema: Schema, labels: pd.Series | None,
                      presence: pd.DataFrame | None = None,
                      directional: dict[str, pd.DataFrame] | None = None) -> dict:
    """Flag presence, co-occurrence, P(B | A) and Jaccard, overall and per class.

    `labels` is the class of each row (same index as `frame`) or None. `presence` and
    `directional` (flag_presence / directional_flag_presence of the whole table, with `labels`
    for the same rows) are given when the table is read out of core and `frame` is its sample;
    by default they come from `frame`. Returns a dict with "skipped" set (and no matrices) when
    the table has no per-flag numeric columns.
    """
    columns = [item for item in flag_columns(schema) if item.column in frame.columns]
    if not columns:
        return {"skipped": "no numeric TCP flag columns (counts or fractions) in this table", "flag_columns": []}
    if presence is None:
        presence = flag_presence(frame, schema)
    if directional is None:
        directional = directional_flag_presence(frame, schema)
    per_class = {}
    if labels is not None:
        per_class = {str(name): cooccurrence_summary(group)
                     for name, group in presence.groupby(labels.to_numpy(), sort=True)}
    return {
        "presence_rule": PRESENCE_RULE,
        "flag_columns": [vars(item) for item in columns],
        "flags": list(presence.columns),
        "overall": cooccurrence_summary(presence),
        "per_class": per_class,
        "directional_presence_share": directional_presence_shares(directional, labels),
        "skipped": None,
    }


# ----------------------------------------------------------------------------- connection states


def state_cooccurrence(frame: pd.DataFrame, schema: Schema, state_column: str) -> dict:
    """For each other categorical column with few levels (e.g. protocol_type): P(level | state).

    The connection-state counterpart of flag co-occurrence: which protocols or services each
    state comes with. {column: {state: {level: share}}}.
    """
    states = frame[state_column].astype(str)
    result = {}
    for column in analysis_categorical_columns(frame, schema):
        if column != state_column and frame[column].nunique() <= MAX_COOCCURRENCE_LEVELS:
            result[column] = rows_dict(pd.crosstab(states, frame[column].astype(str), normalize="index"))
    return result


def connection_states(frame: pd.DataFrame, schema: Schema, labels: pd.Series | None) -> dict | None:
    """Shares of a KDD-style categorical `flag` column, overall and per class, with Cramér's V to
    the class and co-occurrence with the other categorical columns. None without such a column."""
    column = categorical_flag_column(schema)
    if column is None or column not in frame.columns:
        return None
    states = frame[column].astype(str)
    result = {
        "column": column,
        "meaning": {state: CONNECTION_STATE_MEANING.get(state, "not a standard Bro/Zeek state")
                    for state in sorted(states.unique())},
        "overall_share": _rounded(states.value_counts(normalize=True)),
        "per_class_share": {},
        "cramers_v_with_class": None,
        "cooccurrence_with": state_cooccurrence(frame, schema, column),
    }
    if labels is not None:
        table = pd.crosstab(labels, states)
        result["per_class_share"] = rows_dict(table.div(table.sum(axis=1), axis=0), drop_zero=True)
        if table.shape[0] > 1 and table.shape[1] > 1:
            result["cramers_v_with_class"] = round(float(association(table.to_numpy(), method="cramer")), 4)
    return result


# ----------------------------------------------------------------------------- handshakes


def backward_packet_evidence(frame: pd.DataFrame, schema: Schema,
                             rules: RuleSet | None) -> tuple[np.ndarray | None, list[str]]:
    """Per flow, whether any backward-only column shows a backward packet (a value > 0).

    Timing columns are not used (a backward IAT may be a placeholder), nor placeholders or
    negative "not applicable" values. Returns (mask, or None without such a column; columns used).
    """
    timing = set(schema.feature_categories.get("timing", []))
    used = backward_columns([c for c in schema.numeric_columns if c in frame.columns and c not in timing])
    if not used:
        return None, []
    seen = np.zeros(len(frame), dtype=bool)
    for column in used:
        seen |= np.nan_to_num(feature_values(frame, column, rules).values, nan=0.0) > 0
    return seen, used


@dataclass(frozen=True)
class Indicator:
    """A per-flow fact derived from flag presence: its inputs, how they combine, what it means."""

    name: str
    inputs: tuple[str, ...]
    combine: Callable[..., np.ndarray]
    definition: str


# Inputs: "<FLAG> <fwd|bwd|any>" (flag presence) and "backward" (any backward packet).
INDICATORS = (
    Indicator("syn_seen", ("SYN any",), lambda s: s, "a SYN in either direction"),
    Indicator("no_syn", ("SYN any",), lambda s: ~s,
              "no SYN at all: the flow began before the capture, or its packets were crafted without SYN"),
    Indicator("backward_packets_seen", ("backward",), lambda b: b, "some backward-only column is > 0"),
    Indicator("syn_without_reply", ("SYN any", "backward"), lambda s, b: s & ~b,
              "a SYN and no evidence of any backward packet (unanswered: scan, flood or filtered port)"),
    Indicator("syn_answered_with_rst", ("SYN any", "RST bwd"), lambda s, r: s & r,
              "a SYN and a RST from the responder (port closed or connection refused)"),
    Indicator("syn_answered_with_syn", ("SYN fwd", "SYN bwd"), lambda f, b: f & b,
              "SYN from the originator and SYN(-ACK) from the responder (handshake at least two-thirds done)"),
    Indicator("syn_reply_and_data", ("SYN any", "backward", "PSH any"), lambda s, b, p: s & b & p,
              "a SYN, a backward packet and PSH data: consistent with a completed handshake (order unknown)"),
    Indicator("data_without_syn", ("SYN any", "PSH any"), lambda s, p: ~s & p,
              "PSH data but no SYN (midstream flow or crafted packets)"),
    Indicator("reset_seen", ("RST any",), lambda r: r, "a RST in either direction"),
    Indicator("reset_by_originator", ("RST fwd",), lambda r: r, "a RST from the originator"),
    Indicator("reset_by_responder", ("RST bwd",), lambda r: r, "a RST from the responder"),
    Indicator("fin_seen", ("FIN any",), lambda f: f, "a FIN in either direction (orderly close started)"),
    Indicator("fin_both_directions", ("FIN fwd", "FIN bwd"), lambda f, b: f & b,
              "FIN from both sides (orderly close on both sides, order unknown)"),
    Indicator("ack_without_syn", ("SYN any", "ACK any"), lambda s, a: ~s & a,
              "ACK but no SYN (midstream flow, or an ACK flood)"),
)


def _evidence(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None) -> tuple[dict[str, np.ndarray], list[str]]:
    """The inputs of INDICATORS that this table has: flag presence per direction, backward packets.

    "<FLAG> any" is true when any column of the flag (of either direction, or of none) is > 0.
    """
    evidence: dict[str, np.ndarray] = {}
    for direction, presence in directional_flag_presence(frame, schema).items():
        for flag in presence.columns:
            key = f"{flag} {DIRECTION_NAMES[direction]}"
            evidence[key] = presence[flag].to_numpy()
    for flag in TCP_FLAGS:
        parts = [evidence[f"{flag} {d}"] for d in ("fwd", "bwd", "any") if f"{flag} {d}" in evidence]
        if parts:
            evidence[f"{flag} any"] = np.logical_or.reduce(parts)
    backward, used = backward_packet_evidence(frame, schema, rules)
    if backward is not None:
        evidence["backward"] = backward
    return evidence, used


def _input_wording(name: str) -> str:
    """'SYN bwd' -> 'a backward SYN column', for the list of what a table cannot tell."""
    if name == "backward":
        return "backward-direction columns"
    flag, direction = name.split()
    side = {"fwd": "forward ", "bwd": "backward ", "any": ""}[direction]
    words = f"{side}{flag}"
    return f"{'an' if words[0] in 'AEIOU' else 'a'} {words} column"


def handshake_indicators(frame: pd.DataFrame, schema: Schema,
                         rules: RuleSet | None) -> tuple[dict, list[str], list[str]]:
    """Per-flow indicators that flag presence per direction honestly supports.

    Returns ({name: (mask, definition)}, ["name: needs ..." for each indicator this table cannot
    give], backward evidence columns used).
    """
    evidence, backward_used = _evidence(frame, schema, rules)
    indicators, missing = {}, []
    for indicator in INDICATORS:
        absent = [name for name in indicator.inputs if name not in evidence]
        if absent:
            needs = " and ".join(_input_wording(name) for name in absent)
            missing.append(f"{indicator.name}: needs {needs}")
        else:
            mask = indicator.combine(*(evidence[n] for n in indicator.inputs))
            indicators[indicator.name] = (mask, indicator.definition)
    return indicators, missing, backward_used


def handshake_outcome(indicators: dict[str, tuple[np.ndarray, str]]) -> tuple[np.ndarray | None, dict[str, str]]:
    """One exclusive outcome per flow from the available indicators, or None without a SYN column.

    Later assignments refine earlier ones: "SYN, reply seen" becomes "refused by RST" or
    "reply and data" where those indicators hold.
    """
    if "syn_seen" not in indicators:
        return None, {}
    syn = indicators["syn_seen"][0]
    outcome = np.where(syn, "SYN seen", "no SYN").astype(object)
    meaning = {"no SYN": indicators["no_syn"][1]}
    if "backward_packets_seen" not in indicators:
        meaning["SYN seen"] = "a SYN; no backward-direction columns to say more"
        return outcome, meaning
    backward = indicators["backward_packets_seen"][0]
    outcome[syn & ~backward] = "SYN, no reply"
    outcome[syn & backward] = "SYN, reply seen"
    meaning["SYN, no reply"] = indicators["syn_without_reply"][1]
    meaning["SYN, reply seen"] = "a SYN and some backward packet, neither refused by RST nor followed by data"
    refused = np.zeros_like(syn)
    if "syn_answered_with_rst" in indicators:
        refused = syn & backward & indicators["syn_answered_with_rst"][0]
        outcome[refused] = "SYN, refused by RST"
        meaning["SYN, refused by RST"] = indicators["syn_answered_with_rst"][1]
    if "syn_reply_and_data" in indicators:
        outcome[indicators["syn_reply_and_data"][0] & ~refused] = "SYN, reply and data"
        meaning["SYN, reply and data"] = indicators["syn_reply_and_data"][1]
    return outcome, meaning


def sequential_flag_patterns(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None,
                             labels: pd.Series | None) -> dict:
    """Handshake evidence per class from flag presence per direction (see the module docstring)."""
    indicators, missing, backward_used = handshake_indicators(frame, schema, rules)
    result = {
        "basis": "presence of each flag per direction in each flow; a flow table holds no packet order",
        "backward_evidence_columns": backward_used,
        "indicator_definitions": {name: definition for name, (_, definition) in indicators.items()},
        "overall_share": {name: round(float(mask.mean()), 4) for name, (mask, _) in indicators.items()},
        "per_class_share": {},
        "outcome": None,
        "not_derivable_here": missing,
        "cannot_be_known_from_flow_table": CANNOT_BE_KNOWN,
        "connection_states": connection_states(frame, schema, labels),
    }
    if labels is not None and indicators:
        table = pd.DataFrame({name: mask for name, (mask, _) in indicators.items()}, index=frame.index)
        result["per_class_share"] = rows_dict(table.groupby(labels.to_numpy(), sort=True).mean())
    outcome, meaning = handshake_outcome(indicators)
    if outcome is not None:
        outcome = pd.Series(outcome, index=frame.index)
        per_class = {} if labels is None else rows_dict(pd.crosstab(labels, outcome, normalize="index"), drop_zero=True)
        result["outcome"] = {
            "meaning": meaning,
            "overall_share": _rounded(outcome.value_counts(normalize=True)),
            "per_class_share": per_class,
        }
    return result
