"""TCP flags in a flow table: which columns describe which flag, and per-flow flag presence.

Used by the analyzer (co-occurrence, signatures) and by the evaluation (co-occurrence real vs
synthetic), so both read flags the same way. Columns are recognised from their names
(NTLFlowLyzer `fwd_syn_flag_percentage_in_total`, CICFlowMeter `SYN Flag Count`,
`Fwd PSH Flags`, CSE-CIC-IDS2018 `Fwd PSH Flags`); a KDD-style categorical `flag` column
(SF, S0, REJ ...) is a connection state, not a set of flags, and is handled apart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.data.schema import Schema, normalise_name

TCP_FLAGS = ("SYN", "ACK", "FIN", "RST", "PSH", "URG", "ECE", "CWR")
_FLAG_TOKEN = re.compile(r"(?:^|_)(syn|ack|fin|rst|psh|urg|ece|cwr|cwe)_flags?(?:_|$)")
_DIRECTION_TOKEN = re.compile(r"(?:^|_)(fwd|forward|bwd|backward)(?:_|$)")


@dataclass(frozen=True)
class FlagColumn:
    """One numeric column about one TCP flag."""

    column: str
    flag: str        # "SYN", "RST", ...
    direction: str   # "fwd", "bwd" or "both"
    measure: str     # "count" or "fraction"


def flag_columns(schema: Schema) -> list[FlagColumn]:
    """Numeric columns that count or measure the share of one TCP flag."""
    found = []
    for name in schema.numeric_columns:
        normalised = normalise_name(name)
        match = _FLAG_TOKEN.search(normalised)
        if not match:
            continue
        flag = match.group(1).upper().replace("CWE", "CWR")
        direction_match = _DIRECTION_TOKEN.search(normalised)
        direction = "both"
        if direction_match:
            direction = "fwd" if direction_match.group(1).startswith("f") else "bwd"
        measure = "fraction" if schema.kind(name) == "fraction" else "count"
        found.append(FlagColumn(name, flag, direction, measure))
    return found


def categorical_flag_column(schema: Schema) -> str | None:
    """A KDD-style single categorical column of connection states (named `flag`/`flags`)."""
    for name in schema.categorical_columns:
        if normalise_name(name) in ("flag", "flags", "tcp_flag", "tcp_flags", "conn_state"):
            return name
    return None


def flag_presence(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Per flow, whether each TCP flag was seen: any of its columns > 0.

    Returns a boolean frame (same index as `frame`) with one column per flag found, in the
    order of TCP_FLAGS; empty (no columns) when the table has no flag columns.
    """
    by_flag: dict[str, list[str]] = {}
    for item in flag_columns(schema):
        by_flag.setdefault(item.flag, []).append(item.column)
    return _presence(frame, by_flag)


def _presence(frame: pd.DataFrame, columns_by_flag: dict[str, list[str]]) -> pd.DataFrame:
    """One boolean column per flag (TCP_FLAGS order): any of that flag's columns is > 0."""
    presence = {}
    for flag in TCP_FLAGS:
        columns = columns_by_flag.get(flag)
        if columns:
            values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            presence[flag] = np.nan_to_num(values, nan=0.0).max(axis=1) > 0
    return pd.DataFrame(presence, index=frame.index)


def cooccurrence_counts(presence: pd.DataFrame) -> pd.DataFrame:
    """Flows in which flag A and flag B were both seen (diagonal: flows with A)."""
    values = presence.to_numpy(dtype=np.int64)
    return pd.DataFrame(values.T @ values, index=presence.columns, columns=presence.columns)


def cooccurrence_share(presence: pd.DataFrame) -> pd.DataFrame:
    """Share of flows in which A and B were both seen (diagonal: share of flows with A)."""
    return cooccurrence_counts(presence) / max(len(presence), 1)


def conditional_probability(presence: pd.DataFrame) -> pd.DataFrame:
    """P(column flag | row flag): of the flows with the row's flag, the share with the column's.

    Rows whose flag never occurs are NaN (the condition is never met).
    """
    counts = cooccurrence_counts(presence).astype(float)
    diagonal = np.diag(counts.to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        result = counts.to_numpy() / diagonal[:, None]
    result[diagonal == 0, :] = np.nan
    return pd.DataFrame(result, index=counts.index, columns=counts.columns)


def jaccard_similarity(presence: pd.DataFrame) -> pd.DataFrame:
    """|A and B| / |A or B| per flag pair; NaN where neither flag ever occurs."""
    counts = cooccurrence_counts(presence).astype(float).to_numpy()
    diagonal = np.diag(counts)
    union = diagonal[:, None] + diagonal[None, :] - counts
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(union > 0, counts / union, np.nan)
    return pd.DataFrame(result, index=presence.columns, columns=presence.columns)


def directional_flag_presence(frame: pd.DataFrame, schema: Schema) -> dict[str, pd.DataFrame]:
    """Per flow and per direction, whether each TCP flag was seen: any of its columns > 0.

    Returns {"fwd": frame, "bwd": frame, "both": frame}, each a boolean frame (same index as
    `frame`) with one column per flag that has a column of that direction, in TCP_FLAGS order.
    "both" holds the columns that do not name a direction (e.g. `syn_flag_counts`, i.e. seen in
    either direction). Directions without any flag column are left out of the dict.
    """
    by_direction: dict[str, dict[str, list[str]]] = {}
    for item in flag_columns(schema):
        if item.column in frame.columns:
            by_direction.setdefault(item.direction, {}).setdefault(item.flag, []).append(item.column)
    return {direction: _presence(frame, by_flag) for direction, by_flag in by_direction.items()}
