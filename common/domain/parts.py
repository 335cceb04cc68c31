"""The pieces the domain layer is made of: constants, per-column plan nodes and steps, class
quantile functions, per-row placeholder value classes, and the exact rounding helpers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from common.profiling.profiles import HEAVY_TAIL_RATIO, HEAVY_TAIL_SKEW, tail_ratio
from common.rules import FLOAT_REPRESENTATION, PlaceholderRule, RuleSet


PATTERN_COLUMN = "__domain_pattern"


MEASURED, PLACEHOLDER, MISSING = 0, 1, 2


PLACEHOLDER_PREFIX = "__placeholder:"   # encoded column of a per-row placeholder value


ALL_CLASSES = "\x00all"                  # key of the values of every row (no class column)


MAX_KNOTS = 4096                          # distinct values kept per class in a quantile function


NORMAL_SCORE_CLIP = 1e-6                  # positions kept inside (0, 1) before Phi^-1


STEP_VALUES = 32                          # a class with this few distinct values decodes to them only


CALIBRATION_MIN_ROWS = 20                 # sampled rows of a class needed to calibrate its marginals


# a class's rows in one state pattern get quantile functions of their own (see _ClassQuantiles)
# when they hold at least this many measured values; labels "class" + GROUP_SEPARATOR + "pattern"
GROUP_MIN_ROWS = 50
GROUP_SEPARATOR = "\x1f"
REST_OF_CLASS = "\x00rest"                # the group of a class's rows in patterns too small for their own


# encoded columns with at most max(20, min(50, rows / 10)) distinct values are categorical
DISCRETE_MIN_VALUES, DISCRETE_MAX_VALUES = 20, 50


LOG_SCALE_QUANTILE = 0.05  # the log's unit: this quantile of a heavy column's positive gaps


JOINT_SEPARATOR = "|"




# encodings of one column in one pattern
SHARE = "share"            # t = (x - L) / (U - L), U another column


GAP_UP = "gap_above"       # x - L (log1p when heavy), clipped at a constant U


GAP_DOWN = "gap_below"     # U - x (no lower bound known)


RAW = "raw"                # x itself, clipped to constant bounds


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def is_heavy_tailed(values: np.ndarray) -> bool:
    """The setup's criterion (common.profiling.heavy_tailed_columns) on an array of values:
    non-negative, and the 99th percentile of the positive values far above their median."""
    values = values[np.isfinite(values)]
    if values.size < 10 or values.min() < 0:
        return False
    positive = values[values > 0]
    ratio = tail_ratio(positive)
    if ratio is None:
        return False
    with np.errstate(all="ignore"):
        centred = positive - positive.mean()
        skew = float(np.mean(centred ** 3) / max(np.mean(centred ** 2), 1e-300) ** 1.5)
    return ratio > HEAVY_TAIL_RATIO or (skew > HEAVY_TAIL_SKEW and ratio > HEAVY_TAIL_RATIO / 4)


@dataclass
class _Node:
    """A learned numeric column: its constant bounds and the rounding its values need."""

    column: str
    lo: float = -np.inf
    hi: float = np.inf
    integer: bool = False
    grid: np.ndarray | None = None      # sorted allowed values
    multiple: float = 0.0   # values are multiples of this (0 = no such rule)
    quantum: float = 0.0    # the decimal step the column is stored with (0 = none found)
    heavy: bool = False
    scale: float = 1.0      # log scale: z = log1p(gap / scale), scale = a low quantile of the gaps


@dataclass
class _Step:
    """How node `index` is encoded in one pattern: the earlier-decoded nodes bounding it."""

    index: int
    below: list[int]        # decoded nodes that must be <= this one
    above: list[int]        # decoded nodes that must be >= this one
    lo: float
    hi: float
    mode: str
    scaled_below: list[tuple[int, int]] = field(default_factory=list)   # (bound, count): >= bound * count
    scaled_above: list[tuple[int, int]] = field(default_factory=list)   # (bound, count): <= bound * count
    # (count, floor): 0 where the count is 0, >= floor where it is not
    zero_with: list[tuple[int, float]] = field(default_factory=list)
    # (count, limit, "above"/"below"): <= limit / count ("above") or >= limit / count, where count > 0
    reciprocal: list[tuple[int, float, str]] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)      # (a, b): <= a - b
    # (low bound, high bound, count): a total of n values between a minimum and a maximum that are
    # among them, inside [high + low * (n - 1), low + high * (n - 1)] where that is not empty
    tight: list[tuple[int, int, int]] = field(default_factory=list)
    # (count, other bound): a maximum (minimum) equal to the minimum (maximum) where the count is 1
    single: list[tuple[int, int]] = field(default_factory=list)

    def reads(self) -> list[int]:
        """Every earlier-decoded node its interval depends on."""
        return (self.below + self.above + [j for pair in self.scaled_below + self.scaled_above for j in pair]
                + [n for n, _ in self.zero_with] + [n for n, _, _ in self.reciprocal]
                + [j for pair in self.offsets for j in pair] + [j for triple in self.tight for j in triple]
                + [j for pair in self.single for j in pair])


class _Labels:
    """Row labels as codes into their distinct values, sorted once for every column that reads
    them (a generated batch decodes dozens of columns by the same labels)."""

    def __init__(self, labels: np.ndarray | pd.Series) -> None:
        self.values, self.codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
        self.codes = self.codes.reshape(-1)

    @classmethod
    def of(cls, labels: np.ndarray | pd.Series | _Labels | None) -> _Labels | None:
        return labels if labels is None or isinstance(labels, _Labels) else cls(labels)


class _ClassQuantiles:
    """Per-class empirical quantile functions of one column (and per class and state pattern,
    for labels "class" + GROUP_SEPARATOR + "pattern" with GROUP_MIN_ROWS values; the class's other
    patterns share one; a class unseen falls back to every row): `positions` maps a value to its
    position u in [0, 1] among its class's training values (ties spread uniformly over their
    share), `values` maps u back (linear between observed values, flat over ties, so a
    training value comes back exactly). Fitted with at most MAX_KNOTS distinct values per class
    (evenly spaced order statistics beyond that)."""

    def __init__(self, values: np.ndarray, labels: np.ndarray | None) -> None:
        finite = np.isfinite(values)
        self.knots: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
            ALL_CLASSES: self._knots(values[finite])}
        index = _Labels.of(labels)
        if index is not None:
            class_names, class_of_label = np.unique([v.split(GROUP_SEPARATOR, 1)[0] for v in index.values],
                                                    return_inverse=True)
            classes = class_of_label.reshape(-1)[index.codes]
            for c, label in enumerate(class_names):
                rows = finite & (classes == c)
                if rows.any():
                    self.knots[str(label)] = self._knots(values[rows])
            # a class's rows in one state pattern (label "class<sep>pattern"), where they are
            # enough: the pattern is generated with the class, so each keeps its own marginals
            grouped = np.zeros(len(values), dtype=bool)
            for code, label in enumerate(index.values):
                rows = finite & (index.codes == code)
                if GROUP_SEPARATOR in label and rows.sum() >= GROUP_MIN_ROWS:
                    self.knots[str(label)] = self._knots(values[rows])
                    grouped |= rows
            # the rest of a class (its patterns too small for their own): one function, so
            # the class's marginal is still the sum of its groups'
            if grouped.any():
                for c, label in enumerate(class_names):
                    rest = finite & ~grouped & (classes == c)
                    if rest.any():
                        self.knots[str(label) + GROUP_SEPARATOR + REST_OF_CLASS] = self._knots(values[rest])

    @staticmethod
    def _knots(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(distinct values, u where each starts, u where each ends): plotting positions
        (k + 0.5) / n of the sorted values, a tied value spanning its block."""
        if values.size == 0:
            return np.zeros(1), np.full(1, 0.5), np.full(1, 0.5)
        ordered = np.sort(values)
        if ordered.size > MAX_KNOTS:
            ordered = ordered[np.linspace(0, ordered.size - 1, MAX_KNOTS).round().astype(int)]
        distinct, first, count = np.unique(ordered, return_index=True, return_counts=True)
        n = ordered.size
        return distinct, (first + 0.5) / n, (first + count - 0.5) / n

    def key_codes(self, labels: np.ndarray | _Labels | None, rows: int) -> tuple[list[str], np.ndarray]:
        """The quantile functions the rows' labels use (their own, their class's rest or class,
        or every row's), sorted, and each row's index into them."""
        index = _Labels.of(labels)
        if index is None:
            return [ALL_CLASSES], np.zeros(rows, dtype=int)
        resolved = [self._key_of(str(label)) for label in index.values]
        names = sorted(set(resolved))
        lookup = np.array([names.index(key) for key in resolved], dtype=int)
        return names, lookup[index.codes]

    def _key_of(self, label: str) -> str:
        if GROUP_SEPARATOR not in label:
            return label if label in self.knots else ALL_CLASSES
        group = label.split(GROUP_SEPARATOR, 1)[0]
        return next((k for k in (label, group + GROUP_SEPARATOR + REST_OF_CLASS, group) if k in self.knots),
                    ALL_CLASSES)

    def _groups(self, labels: np.ndarray | _Labels | None, rows: int):
        names, codes = self.key_codes(labels, rows)
        for j, name in enumerate(names):
            yield self.knots[name], codes == j

    def positions(self, values: np.ndarray, labels: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """u of each value among its class's values; NaN stays NaN."""
        u = np.full(len(values), np.nan)
        for (distinct, start, end), rows in self._groups(labels, len(values)):
            rows = rows & np.isfinite(values)
            if not rows.any():
                continue
            x = values[rows]
            # between observed values: linear between the end of one and the start of the next
            inner = np.interp(x, np.repeat(distinct, 2), np.column_stack([start, end]).ravel())
            at = np.clip(np.searchsorted(distinct, x), 0, len(distinct) - 1)
            tied = distinct[at] == x
            spread = start[at] + rng.uniform(0.0, 1.0, len(x)) * (end[at] - start[at])
            u[rows] = np.where(tied, spread, inner)
        return u

    def values(self, u: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        """The class's quantile function at u (within its observed range): linear between the
        observed values, or, for a class with at most STEP_VALUES distinct values (shares such
        as 1/2, window sizes), a step function that returns observed values only."""
        out = np.empty(len(u))
        for (distinct, start, end), rows in self._groups(labels, len(u)):
            if len(distinct) <= STEP_VALUES:
                # value j owns the positions from the middle of the gap before it to the middle after
                edges = (end[:-1] + start[1:]) / 2
                out[rows] = distinct[np.searchsorted(edges, u[rows], side="right")]
            else:
                out[rows] = np.interp(u[rows], np.column_stack([start, end]).ravel(), np.repeat(distinct, 2))
        return out


@dataclass
class _ValueClass:
    """Placeholder columns sharing one placeholder value per row, learned as column `name`:
    the value's position u in (0, 1) among the placeholder values of the row's class (a
    randomised probability integral transform per class), decoded through that class's
    quantile function. Whatever SDV samples for u, an OSYN row gets an OSYN capture time, and
    values between the observed ones are generated (then put on the data's step), not copied
    from a real row."""

    name: str
    columns: list[str]
    quantiles: _ClassQuantiles
    quantum: float = 0.0     # the step the placeholder values are stored on (0 = none)

    def snap(self, value: np.ndarray, rules: list[PlaceholderRule]) -> np.ndarray:
        """Values inside the placeholder range of every rule (their intersection; the first
        rule's range where they do not meet), on the data's step where one lies inside."""
        low, high = max(r.lo for r in rules), min(r.hi for r in rules)
        if low > high:
            low, high = rules[0].lo, rules[0].hi
        value = np.clip(value, low, high)
        if self.quantum > 0:
            lower, upper = math.ceil(low / self.quantum) * self.quantum, math.floor(high / self.quantum) * self.quantum
            if lower <= upper:
                value = np.clip(np.rint(value / self.quantum) * self.quantum, lower, upper)
        return value


@dataclass
class _SumPlan:
    parts: tuple[str, str]
    total: str
    mode: str               # "share" (total learned, first part as a share) or "derive" (total = a + b)
    integer: bool


def _normal_score(u: np.ndarray) -> np.ndarray:
    """Phi^-1(u): a position in [0, 1] as a standard normal score. A Gaussian marginal is what
    ctgan's mode-specific normalisation encodes narrowest (one mode instead of the many a uniform
    needs), which keeps CTGAN's one-hot width and epoch time down."""
    return special.ndtri(np.clip(u, NORMAL_SCORE_CLIP, 1.0 - NORMAL_SCORE_CLIP))


def _grid_span(grid: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first and last grid values inside [low, high] (first > last: none).
    Exact bounds first; only where nothing lies inside, a float-representation tolerance."""
    first = np.searchsorted(grid, low, side="left")
    last = np.searchsorted(grid, high, side="right") - 1
    empty = first > last
    if empty.any():
        with np.errstate(invalid="ignore"):
            tol_low = FLOAT_REPRESENTATION * np.maximum(1.0, np.abs(low))
            tol_high = FLOAT_REPRESENTATION * np.maximum(1.0, np.abs(high))
        loose_first = np.searchsorted(grid, low - tol_low, side="left")
        loose_last = np.searchsorted(grid, high + tol_high, side="right") - 1
        first, last = np.where(empty, loose_first, first), np.where(empty, loose_last, last)
    return np.clip(first, 0, len(grid)), np.clip(last, -1, len(grid) - 1)


def _multiples_inside(low: np.ndarray, high: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest multiples of `step` inside [low, high] (lower > upper: none)."""
    with np.errstate(invalid="ignore"):
        return np.ceil(low / step) * step, np.floor(high / step) * step


def _round_inside(x: np.ndarray, low: np.ndarray, high: np.ndarray, quantum: float) -> np.ndarray:
    """x rounded to `quantum` (a power of ten), a step up or down when rounding left [low, high],
    x itself when no value on the quantum lies inside (a zero-width interval off the grid)."""
    decimals = int(round(-math.log10(quantum)))
    rounded = np.round(x, decimals)
    rounded = np.where(rounded < low, np.round(rounded + quantum, decimals), rounded)
    rounded = np.where(rounded > high, np.round(rounded - quantum, decimals), rounded)
    return np.where((rounded >= low) & (rounded <= high), rounded, x)


def valid_rows(frame: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Boolean mask of the rows satisfying every rule (all True without rules)."""
    if len(rules) == 0 or len(frame) == 0:
        return np.ones(len(frame), dtype=bool)
    return rules.check(frame).all(axis=1).to_numpy()
