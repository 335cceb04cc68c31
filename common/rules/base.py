"""Shared pieces of the rule kinds and their discovery: tolerances, search budgets, value helpers.

Part of common.rules (its docstring describes every rule kind and the conventions they share).
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np
import pandas as pd


RTOL = 1e-6         # the search tolerance; each found rule is then tightened to what the data needs


ATOL = 0.0


# Relative tolerances a comparison rule may keep (the first under which the real rows hold as
# well as under RTOL wins): exact, float representation error, then storage to 15..7 digits.
RTOL_LADDER = (0.0, 1e-15, 1e-13, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, RTOL)


FLOAT_REPRESENTATION = 1e-9   # relative error tolerated in "x is on a grid / a multiple / an integer"


# A "multiple of q" rule needs q**-distinct < this (chance that unrelated values share q).
MULTIPLE_CHANCE = 1e-3


# A placeholder cluster: relative spread at most this, at least this many decades above the bulk.
PLACEHOLDER_SPREAD = 0.01


PLACEHOLDER_DECADES = 2.0


# Cost caps for the searches (see discover_rules).
PAIR_SCREEN_BUDGET = 4e7      # rows * columns**2 for the pair screening pass


PAIR_SCREEN_ROWS = 20_000


PAIR_CONFIRM_ROWS = 50_000


PAIR_CONFIRM_BUDGET = 50_000_000  # candidate pairs * rows for the confirmation pass


SUM_SCREEN_ROWS = 512


MAX_SUM_CANDIDATES = 48       # summands considered per total column


MIN_EVALUABLE_ROWS = 20       # rows a rule needs under the "excluded" placeholder policy


Getter = Callable[[str], np.ndarray]


def _py(value: Any) -> Any:
    """A JSON-native Python value (numpy scalars unwrapped, non-finite floats -> None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(x: float | None) -> str:
    if x is None:
        return "inf"
    return f"{x:.8g}"


def _numeric(series: pd.Series | np.ndarray) -> np.ndarray:
    """float64 values with NaN for missing / non-numeric cells (inf kept)."""
    if isinstance(series, np.ndarray):
        return series.astype(float, copy=False)
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype=float, na_value=np.nan)


def _getter(frame: pd.DataFrame) -> Getter:
    def get(column: str) -> np.ndarray:
        if column not in frame.columns:
            raise KeyError(f"column {column!r} needed by a rule is not in the frame")
        return _numeric(frame[column])

    return get


def _in_ranges(x: np.ndarray, ranges: list[list[float]] | None) -> np.ndarray:
    mask = np.zeros(x.shape, dtype=bool)
    for lo, hi in ranges or ():
        mask |= (x >= lo) & (x <= hi)
    return mask


def _tol(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return rtol * np.maximum(np.abs(a), np.abs(b)) + atol


def _tokens(name: str) -> list[str]:
    """Lower-case name tokens: split on non-alphanumerics and camelCase, plural 's' dropped."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    out = []
    for t in re.split(r"[^A-Za-z0-9]+", s):
        t = t.lower()
        if not t:
            continue
        if len(t) > 3 and t.endswith("s") and not t.endswith("ss"):
            t = t[:-1]
        out.append(t)
    return out


_STAT_LOW = {"min", "minimum"}


_STAT_HIGH = {"max", "maximum"}


_STAT_MID = {"mean", "avg", "average", "median", "med", "mode"}


def transitive_closure(adjacency: np.ndarray) -> np.ndarray:
    """Transitive closure of a boolean adjacency matrix (Warshall): reach[i, j] when j can be
    reached from i by following edges."""
    reach = adjacency.copy()
    for k in range(len(reach)):
        reach |= reach[:, k:k + 1] & reach[k:k + 1, :]
    return reach
