"""Forward/backward column pairs, found from name tokens rather than from a list of names.

NTLFlowLyzer (`fwd_packets_rate` / `bwd_packets_rate`), CICFlowMeter (`Fwd Header Length` /
`Bwd Header Length`, `Init_Win_bytes_forward` / `Init_Win_bytes_backward`, `Total Fwd Packets`
/ `Total Backward Packets`) all mark the direction with one of fwd, forward, bwd, backward;
replacing that word by a slot gives the same key for both members of a pair.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from common.data.schema import normalise_name

_DIRECTION_WORD = re.compile(r"(?:^|_)(fwd|forward|bwd|backward)(?=_|$)")


@dataclass(frozen=True)
class DirectionPair:
    """Two columns that measure the same thing in the forward and the backward direction."""

    key: str
    forward: str
    backward: str


def split_direction(column: str) -> tuple[str | None, str]:
    """("fwd" | "bwd" | None, the normalised name with every direction word replaced by '{dir}')."""
    normalised = normalise_name(column)
    words = [match.group(1) for match in _DIRECTION_WORD.finditer(normalised)]
    if not words:
        return None, normalised
    directions = {"fwd" if word.startswith("f") else "bwd" for word in words}
    if len(directions) > 1:  # e.g. "fwd_to_bwd_ratio": about both directions, not one
        return None, normalised
    key = _DIRECTION_WORD.sub(lambda m: m.group(0).replace(m.group(1), "{dir}"), normalised)
    return directions.pop(), key


def direction_pairs(columns: list[str]) -> list[DirectionPair]:
    """Forward/backward pairs among `columns`, in the order the forward member appears."""
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for column in columns:
        direction, key = split_direction(column)
        if direction == "fwd":
            forward.setdefault(key, column)
        elif direction == "bwd":
            backward.setdefault(key, column)
    return [DirectionPair(key, column, backward[key]) for key, column in forward.items() if key in backward]


def backward_columns(columns: list[str]) -> list[str]:
    """Columns about the backward direction only."""
    return [column for column in columns if split_direction(column)[0] == "bwd"]
