"""The rule kinds: small JSON-serialisable objects that check one relationship exactly
(placeholder, family, pair, sum, bounds, grid, integer, multiple, determines).

Part of common.rules (its docstring describes every rule kind and the conventions they share).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from common.rules.base import (
    ATOL, FLOAT_REPRESENTATION, Getter, RTOL, _fmt, _getter, _in_ranges, _numeric, _py, _tol,
)


@dataclass
class Rule:
    """Base of every rule: `columns` it reads and `support` (share of evaluable rows satisfying it).

    Subclasses implement `_evaluate(get) -> (satisfied, evaluable)` on float arrays.
    """

    kind: ClassVar[str] = "rule"
    columns: list[str]
    support: float = 1.0

    # -- identity / serialisation ------------------------------------------------------------
    @property
    def id(self) -> str:
        return f"{self.kind}:{','.join(self.columns)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: kind, id, then every dataclass field."""
        out: dict[str, Any] = {"kind": self.kind, "id": self.id}
        for f in fields(self):
            out[f.name] = _jsonify(getattr(self, f.name))
        return out

    # -- evaluation ----------------------------------------------------------------------------
    def _evaluate(self, get: Getter) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def check(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean Series aligned on frame.index: True where the row satisfies the rule
        (rows that are not evaluable, e.g. a NaN/inf cell, count as satisfied)."""
        ok, ev = self._evaluate(_getter(frame))
        return pd.Series(ok | ~ev, index=frame.index, name=self.id)

    def measure_support(self, get: Getter) -> tuple[float, int]:
        ok, ev = self._evaluate(get)
        n = int(ev.sum())
        return (float((ok & ev).sum() / n) if n else 1.0), n

    def describe(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def _support_text(self) -> str:
        return f" [support {self.support:.4f}]"


def _jsonify(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonify(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonify(x) for x in v]
    return _py(v)


@dataclass
class PlaceholderRule(Rule):
    """Values within [lo, hi] of `columns[0]` stand for "not applicable", not a measurement.

    `share`: share of finite cells that are placeholders; `real_lo`/`real_hi`: range of the real
    values. check(): a cell is valid when it is a placeholder or a real value within
    [real_lo, real_hi] (so a value in the gap between both is invalid).
    """

    kind: ClassVar[str] = "placeholder"
    lo: float = 0.0
    hi: float = 0.0
    share: float = 0.0
    real_lo: float | None = None
    real_hi: float | None = None
    # the step placeholder values are stored on (e.g. 100 for epoch seconds written as 1.7030007e9;
    # 0 when none was found or there is a single value)
    quantum: float = 0.0

    @property
    def column(self) -> str:
        return self.columns[0]

    def is_placeholder(self, series: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
        """Boolean mask (a Series for a Series input) of the placeholder cells."""
        x = _numeric(series)
        mask = (x >= self.lo) & (x <= self.hi)
        if isinstance(series, pd.Series):
            return pd.Series(mask, index=series.index, name=series.name)
        return mask

    def _evaluate(self, get):
        x = get(self.column)
        ev = np.isfinite(x)
        ok = (x >= self.lo) & (x <= self.hi)
        if self.real_lo is not None and self.real_hi is not None:
            ok |= (x >= self.real_lo) & (x <= self.real_hi)
        return ok, ev

    def describe(self) -> str:
        real = (f"real values lie in [{_fmt(self.real_lo)}, {_fmt(self.real_hi)}]"
                if self.real_lo is not None else "no real values")
        return (f"{self.column}: values in [{_fmt(self.lo)}, {_fmt(self.hi)}] ({self.share:.1%} of rows) "
                f"are a 'not applicable' placeholder; {real}" + self._support_text())


@dataclass
class _Comparing(Rule):
    """Shared parameters of multi-column numeric rules (tolerances and placeholder policy)."""

    rtol: float = RTOL
    quanta: dict[str, float] = field(default_factory=dict)
    placeholders: str = "values"
    placeholder_ranges: dict[str, list[list[float]]] = field(default_factory=dict)

    def _atol(self, *cols: str) -> float:
        return ATOL + 0.5 * sum(self.quanta.get(c, 0.0) for c in cols)

    def _arrays(self, get) -> tuple[list[np.ndarray], np.ndarray]:
        arrays = [get(c) for c in self.columns]
        ev = np.ones(arrays[0].shape, dtype=bool)
        for c, x in zip(self.columns, arrays):
            ev &= np.isfinite(x)
            if self.placeholders == "excluded" and c in self.placeholder_ranges:
                ev &= ~_in_ranges(x, self.placeholder_ranges[c])
        return arrays, ev

    def _policy_text(self) -> str:
        if self.placeholders == "excluded" and self.placeholder_ranges:
            return " (rows holding a placeholder excluded)"
        return ""


def _le(a, b, rtol, atol) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return a <= b + _tol(a, b, rtol, atol)


@dataclass
class FamilyRule(_Comparing):
    """columns = [low, *middles, high]: low <= every middle <= high (and low <= high)."""

    kind: ClassVar[str] = "family"

    @property
    def low(self) -> str:
        return self.columns[0]

    @property
    def high(self) -> str:
        return self.columns[-1]

    @property
    def middles(self) -> list[str]:
        return self.columns[1:-1]

    @property
    def id(self) -> str:
        return f"family:{self.low}<={'|'.join(self.middles)}<={self.high}"

    def _evaluate(self, get):
        arrays, ev = self._arrays(get)
        lo, hi = arrays[0], arrays[-1]
        ok = _le(lo, hi, self.rtol, self._atol(self.low, self.high))
        for c, m in zip(self.middles, arrays[1:-1]):
            ok &= _le(lo, m, self.rtol, self._atol(self.low, c))
            ok &= _le(m, hi, self.rtol, self._atol(c, self.high))
        return ok, ev

    def describe(self) -> str:
        return (f"{self.low} <= {{{', '.join(self.middles)}}} <= {self.high}"
                + self._policy_text() + self._support_text())


@dataclass
class PairRule(_Comparing):
    """columns = [A, B]: A <= B (op "<=") or A == B (op "==")."""

    kind: ClassVar[str] = "pair"
    op: str = "<="
    equal_share: float = 0.0

    @property
    def id(self) -> str:
        return f"pair:{self.columns[0]}{self.op}{self.columns[1]}"

    def _evaluate(self, get):
        (a, b), ev = self._arrays(get)
        atol = self._atol(*self.columns)
        if self.op == "==":
            with np.errstate(invalid="ignore"):
                ok = np.abs(a - b) <= _tol(a, b, self.rtol, atol)
        else:
            ok = _le(a, b, self.rtol, atol)
        return ok, ev

    def describe(self) -> str:
        a, b = self.columns
        extra = f"; equal in {self.equal_share:.1%} of rows" if self.op == "<=" else ""
        return f"{a} {self.op} {b}" + extra + self._policy_text() + self._support_text()


@dataclass
class SumRule(_Comparing):
    """columns = [A, B, C]: A + B = C within rtol * max(|C|, |A| + |B|) + rounding steps."""

    kind: ClassVar[str] = "sum"

    @property
    def id(self) -> str:
        a, b, c = self.columns
        return f"sum:{a}+{b}={c}"

    def _evaluate(self, get):
        (a, b, c), ev = self._arrays(get)
        with np.errstate(invalid="ignore"):
            tol = self.rtol * np.maximum(np.abs(c), np.abs(a) + np.abs(b)) + self._atol(*self.columns)
            ok = np.abs(a + b - c) <= tol
        return ok, ev

    def describe(self) -> str:
        a, b, c = self.columns
        return f"{a} + {b} = {c} (relative tolerance {self.rtol:g})" + self._policy_text() + self._support_text()


@dataclass
class _Single(Rule):
    """A rule about one column's measurements: its placeholder cells are not evaluable."""

    placeholder_ranges: list[list[float]] = field(default_factory=list)

    @property
    def column(self) -> str:
        return self.columns[0]

    def _values(self, get) -> tuple[np.ndarray, np.ndarray]:
        x = get(self.column)
        ev = np.isfinite(x)
        if self.placeholder_ranges:
            ev &= ~_in_ranges(x, self.placeholder_ranges)
        return x, ev


@dataclass
class BoundsRule(_Single):
    """lo <= value <= hi (hi None = unbounded); `fraction` marks [0, 1] share columns."""

    kind: ClassVar[str] = "bounds"
    lo: float = 0.0
    hi: float | None = None
    fraction: bool = False

    def _evaluate(self, get):
        x, ev = self._values(get)
        with np.errstate(invalid="ignore"):
            ok = x >= self.lo
            if self.hi is not None:
                ok &= x <= self.hi
        return ok, ev

    def describe(self) -> str:
        if self.fraction:
            text = f"{self.column} is a fraction in [{_fmt(self.lo)}, {_fmt(self.hi)}]"
        elif self.hi is None:
            text = f"{self.column} >= {_fmt(self.lo)}"
        else:
            text = f"{self.column} in [{_fmt(self.lo)}, {_fmt(self.hi)}]"
        return text + self._support_text()


@dataclass
class GridRule(_Single):
    """value in {0 if allow_zero} U {offset + k*step : k = 0..kmax} (within a float tolerance)."""

    kind: ClassVar[str] = "grid"
    offset: float = 0.0
    step: float = 1.0
    kmax: int = 0
    allow_zero: bool = False

    def _k(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore"):
            k = (x - self.offset) / self.step
            kr = np.rint(k)
            on = np.abs(k - kr) <= FLOAT_REPRESENTATION * np.maximum(1.0, np.abs(k))
        return kr, on

    def _evaluate(self, get):
        x, ev = self._values(get)
        kr, on = self._k(x)
        ok = on & (kr >= 0) & (kr <= self.kmax)
        if self.allow_zero:
            ok |= x == 0
        return ok, ev

    def values(self) -> np.ndarray:
        """The allowed values (zero first when allowed)."""
        grid = self.offset + self.step * np.arange(self.kmax + 1)
        return np.concatenate([[0.0], grid]) if self.allow_zero else grid

    def describe(self) -> str:
        zero = "{0} U " if self.allow_zero else ""
        top = self.offset + self.kmax * self.step
        return (f"{self.column} in {zero}{{{_fmt(self.offset)} + {_fmt(self.step)}*k : k = 0..{self.kmax}}}"
                f" (up to {_fmt(top)})" + self._support_text())


@dataclass
class IntegerRule(_Single):
    """The column holds integer values only."""

    kind: ClassVar[str] = "integer"

    def _evaluate(self, get):
        x, ev = self._values(get)
        with np.errstate(invalid="ignore"):
            ok = np.abs(x - np.rint(x)) <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(x))
        return ok, ev

    def describe(self) -> str:
        return f"{self.column} takes integer values only" + self._support_text()


@dataclass
class MultipleRule(_Single):
    """Every value is a multiple of `quantum` (zero included): sums of values on a grid, such as
    the total header bytes of a flow, which add TCP header lengths that are multiples of 4."""

    kind: ClassVar[str] = "multiple"
    quantum: float = 1.0

    def _evaluate(self, get):
        x, ev = self._values(get)
        with np.errstate(invalid="ignore"):
            k = x / self.quantum
            ok = np.abs(k - np.rint(k)) <= FLOAT_REPRESENTATION * np.maximum(1.0, np.abs(k))
        return ok, ev

    def describe(self) -> str:
        return f"{self.column} is a multiple of {_fmt(self.quantum)}" + self._support_text()


@dataclass
class DeterminationRule(Rule):
    """columns = [A, B]: each value of A maps to one value of B. `mapping`: [[a, b], ...]
    (values as str when not JSON-native). A value of A absent from the mapping, or a missing
    cell, makes the row not evaluable."""

    kind: ClassVar[str] = "determines"
    mapping: list[list[Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"determines:{self.columns[0]}->{self.columns[1]}"

    def _evaluate(self, get):  # categorical: needs the frame, see check()
        raise TypeError("DeterminationRule is evaluated on a frame")

    def _evaluate_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        a_col, b_col = self.columns
        for c in (a_col, b_col):
            if c not in frame.columns:
                raise KeyError(f"column {c!r} needed by a rule is not in the frame")
        ca, ka = _factorize_keys(frame[a_col])
        cb, kb = _factorize_keys(frame[b_col])
        table = {category_key(x): category_key(y) for x, y in self.mapping}
        b_code = {k: j for j, k in enumerate(kb)}
        # per distinct A value: the code of the B value it must have (-1: A value not mapped,
        # -2: mapped to a B value absent from this frame)
        want = np.array([b_code.get(table[k], -2) if k in table else -1 for k in ka] + [-1], dtype=np.int64)
        expected = want[ca]                       # ca == -1 (missing) picks the trailing -1
        ev = (ca >= 0) & (cb >= 0) & (expected != -1)
        ok = expected == cb
        return ok, ev

    def check(self, frame: pd.DataFrame) -> pd.Series:
        ok, ev = self._evaluate_frame(frame)
        return pd.Series(ok | ~ev, index=frame.index, name=self.id)

    def as_dict(self) -> dict[Any, Any]:
        """The mapping as a dict A value -> B value."""
        return {a: b for a, b in self.mapping}

    def describe(self) -> str:
        a, b = self.columns
        shown = ", ".join(f"{x!s}->{y!s}" for x, y in self.mapping[:4])
        more = ", ..." if len(self.mapping) > 4 else ""
        return (f"{a} determines {b} ({len(self.mapping)} value(s): {shown}{more})" + self._support_text())


def _factorize_keys(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 = missing) and the distinct `_key` values of a categorical column."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keys = [category_key(u) for u in uniques]
    index: dict[Any, int] = {}
    remap = np.empty(len(keys) + 1, dtype=np.int64)
    out: list[Any] = []
    for j, k in enumerate(keys):
        if k is None:
            remap[j] = -1
            continue
        if k not in index:
            index[k] = len(out)
            out.append(k)
        remap[j] = index[k]
    remap[-1] = -1
    return remap[codes], out


def category_key(v: Any) -> Any:
    """A hashable, JSON-comparable form of a categorical cell (None for missing)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    v = _py(v)
    if isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


RULE_TYPES: dict[str, type[Rule]] = {
    cls.kind: cls for cls in (PlaceholderRule, FamilyRule, PairRule, SumRule, BoundsRule, GridRule,
                              MultipleRule, IntegerRule, DeterminationRule)
}


def rule_from_dict(d: dict[str, Any]) -> Rule:
    """Rebuild a rule from its `to_dict()` form (the `id` key is derived, so it is ignored)."""
    d = dict(d)
    kind = d.pop("kind")
    d.pop("id", None)
    if kind not in RULE_TYPES:
        raise ValueError(f"unknown rule kind {kind!r}")
    return RULE_TYPES[kind](**d)
