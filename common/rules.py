"""Discovering, from the data alone, the exact relationships that real flow rows obey.

`discover_rules(frame)` returns a `RuleSet`: small, JSON-serialisable rule objects found and
verified on the data, never taken from a list of known column names. Column names are used
only to *propose* ordered families (columns whose names differ by min/max/mean/median/mode);
every proposal is verified on the data, and all other searches (pairs, sums, determinations)
are purely data-driven, so they work with opaque column names.

Rule kinds
----------
placeholder    a tight cluster of constants that means "not applicable" (an epoch-like value
               ~1.7e9 in an inter-arrival column, orders of magnitude above every real value;
               or a single negative sentinel such as -1 in a column otherwise >= 0)
family         low <= {middles} <= high (min <= mean/median/mode <= max)
pair           A <= B (or A == B), non-trivial and not implied by other rules
sum            A + B = C within a relative tolerance
bounds         a fraction in [0, 1], or a non-negative column
grid           values in {0} U {offset + k*step : k = 0..kmax} (e.g. TCP header lengths)
multiple       values are multiples of q (e.g. sums of TCP header lengths: multiples of 4)
integer        integer values only
determines     categorical A determines categorical B (with the mapping)

Conventions shared by every rule
--------------------------------
* A cell that is NaN or +-inf makes its row *not evaluable* for a rule that reads it: such rows
  count as satisfied in `check()` and are left out of `support` (= satisfied / evaluable rows).
* Single-column rules (bounds, grid, integer) are about measurements: placeholder cells of the
  column are not evaluable for them (the placeholder rule checks those cells).
* Multi-column numeric rules carry `placeholders`: "values" (placeholders compared as plain
  numbers; this is how the real file's IAT families hold, since a one-packet direction holds the
  same placeholder in every IAT column) or "excluded" (rows where any member is a placeholder are
  not evaluable), with the placeholder ranges they use stored in the rule (self-contained).
* Checks are exact up to the data's own rounding, never looser: a comparison allows `rtol`
  (relative; the smallest step of RTOL_LADDER under which the real rows hold as well as under
  the search tolerance RTOL, so 0 for data stored exactly, ~1e-8 for values stored to 8
  significant digits) plus half the decimal rounding step (`quanta`) of each column that is
  stored rounded (e.g. 4 decimals). Bounds are exact; grids, multiples and integers allow only
  float representation error.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Iterable, Iterator

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


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# rule classes
# --------------------------------------------------------------------------------------------
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

    @property
    def id(self) -> str:
        return f"placeholder:{self.column}"

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

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.column}"

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
        table = {_key(x): _key(y) for x, y in self.mapping}
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
    keys = [_key(u) for u in uniques]
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


def _key(v: Any) -> Any:
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


# --------------------------------------------------------------------------------------------
# rule set
# --------------------------------------------------------------------------------------------
@dataclass
class RuleSet:
    """An ordered list of rules plus `meta` (how they were found)."""

    rules: list[Rule] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __getitem__(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def by_kind(self, kind: str) -> list[Rule]:
        """Rules of one kind ("placeholder", "family", "pair", "sum", "bounds", "grid",
        "integer", "determines")."""
        return [r for r in self.rules if r.kind == kind]

    @property
    def placeholders(self) -> dict[str, PlaceholderRule]:
        """column -> its PlaceholderRule."""
        return {r.column: r for r in self.rules if isinstance(r, PlaceholderRule)}

    def describe(self) -> list[str]:
        return [r.describe() for r in self.rules]

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "meta": _jsonify(self.meta), "rules": [r.to_dict() for r in self.rules]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RuleSet":
        return cls(rules=[rule_from_dict(r) for r in d.get("rules", [])], meta=dict(d.get("meta", {})))

    def _masks(self, frame: pd.DataFrame) -> Iterable[tuple[Rule, np.ndarray]]:
        get = _getter(frame)
        for r in self.rules:
            if isinstance(r, DeterminationRule):
                ok, ev = r._evaluate_frame(frame)
            else:
                ok, ev = r._evaluate(get)
            yield r, ok | ~ev

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Boolean frame (index of `frame`, one column per rule id): True where the row satisfies
        the rule; rows not evaluable for a rule (NaN/inf cells, excluded placeholders) are True."""
        return pd.DataFrame({r.id: m for r, m in self._masks(frame)}, index=frame.index)

    def validity(self, frame: pd.DataFrame) -> dict[str, Any]:
        """{"n_rows", "valid_share" (rows satisfying every rule), "violation_rate" {rule id: share
        of rows violating it}, "kind_valid_share" {kind: rows satisfying every rule of that kind}}."""
        n = len(frame)
        all_ok = np.ones(n, dtype=bool)
        by_kind: dict[str, np.ndarray] = {}
        rates: dict[str, float] = {}
        for r, m in self._masks(frame):
            all_ok &= m
            by_kind[r.kind] = by_kind.get(r.kind, np.ones(n, dtype=bool)) & m
            rates[r.id] = float(1.0 - m.mean()) if n else 0.0
        return {
            "n_rows": n,
            "valid_share": float(all_ok.mean()) if n else 1.0,
            "violation_rate": rates,
            "kind_valid_share": {k: float(v.mean()) if n else 1.0 for k, v in by_kind.items()},
        }


# --------------------------------------------------------------------------------------------
# discovery: column profiles
# --------------------------------------------------------------------------------------------
@dataclass
class _Profile:
    name: str
    n: int = 0                  # finite, non-placeholder values
    distinct: int = 0
    lo: float = math.nan
    hi: float = math.nan
    integral: bool = False
    quantum: float = 0.0        # decimal rounding step of a non-integer column (0 = none found)
    raw_constant: bool = True   # constant over all finite values (placeholders included)


def _is_integral(v: np.ndarray) -> bool:
    return bool(np.all(np.abs(v - np.rint(v)) <= 1e-9 * np.maximum(1.0, np.abs(v))))


def _quantum(u: np.ndarray) -> float:
    """Largest 10**-k (k = 1..10) of which every distinct value is a multiple; 0 if none, or if
    there are too few distinct values to tell storage rounding from the values themselves."""
    if len(u) < 10:
        return 0.0
    for k in range(1, 11):
        s = u * 10.0 ** k
        if np.all(np.abs(s - np.rint(s)) <= 1e-6 * np.maximum(1.0, np.abs(s)) + 1e-6):
            return 10.0 ** -k
    return 0.0


def _detect_placeholder(v: np.ndarray) -> tuple[float, float] | None:
    """(lo, hi) of a placeholder cluster in finite values `v`, or None.

    Negative sentinel: one single negative value, all others >= 0 with >= 2 distinct values.
    High cluster: the values within PLACEHOLDER_SPREAD (relative) of the maximum, with every
    other positive value at least PLACEHOLDER_DECADES orders of magnitude lower (zeros allowed).
    Either needs >= max(3, 0.1% of rows) cells.
    """
    n = len(v)
    min_count = max(3, int(math.ceil(0.001 * n)))
    neg = v[v < 0]
    if len(neg) >= min_count:
        u = np.unique(neg)
        if len(u) == 1 and len(np.unique(v[v >= 0])) >= 2:
            return float(u[0]), float(u[0])
    pos = v[v > 0]
    if len(pos) < min_count + 1:
        return None
    top = pos.max()
    in_cluster = pos >= top * (1 - PLACEHOLDER_SPREAD)
    rest = pos[~in_cluster]
    if in_cluster.sum() < min_count or len(rest) == 0:
        return None
    lo = float(pos[in_cluster].min())
    if rest.max() * 10 ** PLACEHOLDER_DECADES <= lo:
        return lo, float(top)
    return None


def _detect_shared_placeholder(v: np.ndarray, known: list[tuple[float, float]]) -> tuple[float, float] | None:
    """A cluster inside the range of placeholders found in other columns, with no positive bulk
    needed (a column whose only non-zero values are placeholders)."""
    highs = [(lo, hi) for lo, hi in known if lo > 0]
    if not highs:
        return None
    L = min(lo for lo, _ in highs) * (1 - PLACEHOLDER_SPREAD)
    H = max(hi for _, hi in highs) * (1 + PLACEHOLDER_SPREAD)
    inside = (v >= L) & (v <= H)
    if inside.sum() < max(3, int(math.ceil(0.001 * len(v)))) or inside.all():
        return None
    rest = np.abs(v[~inside])
    if rest.size and rest.max() * 10 ** PLACEHOLDER_DECADES > L:
        return None
    return float(v[inside].min()), float(v[inside].max())


def _grid(u: np.ndarray) -> tuple[float, float, int] | None:
    """(offset, step, kmax) of an evenly spaced grid holding the distinct non-zero values `u`."""
    if len(u) < 4:
        return None
    scale = float(np.max(np.abs(u)))
    tol = 1e-6 * scale
    diffs = np.diff(u)
    g = 0.0
    for d in diffs:
        a, b = max(g, d), min(g, d)
        while b > tol:
            a, b = b, math.fmod(a, b)
            if a - b <= tol and b > tol:   # remainder almost the whole divisor
                b = 0.0
        g = a
    if g <= 10 * tol:
        return None
    offset = float(u[0])
    k = (u - offset) / g
    if not np.all(np.abs(k - np.rint(k)) <= 1e-5):
        return None
    kmax = int(np.rint(k[-1]))
    if kmax + 1 > 4 * len(u) + 4:           # sparse grid: the gcd is a resolution, not a grid
        return None
    exp = math.log10(g)
    if abs(exp - round(exp)) < 1e-9 and round(exp) <= 0:   # 1, 0.1, ...: decimal resolution
        if abs(offset / g - round(offset / g)) < 1e-6:
            return None
    return offset, float(g), kmax


# --------------------------------------------------------------------------------------------
# discovery
# --------------------------------------------------------------------------------------------
def discover_rules(
    frame: pd.DataFrame,
    numeric_columns: list[str] | None = None,
    categorical_columns: list[str] | None = None,
    min_support: float = 0.999,
    sample_rows: int | None = 200_000,
    seed: int = 0,
) -> RuleSet:
    """Find the relationships that hold in at least `min_support` of the (evaluable) rows.

    In:  `frame` (identifier columns already removed by the caller); `numeric_columns` /
         `categorical_columns` (default: numeric dtypes / object, category, bool dtypes);
         `min_support` (share of evaluable rows a rule must satisfy); `sample_rows` (the search
         runs on a seeded sample of that many rows when the frame is larger; None = all rows);
         `seed`.
    Out: a RuleSet whose every rule's support was measured on the full frame.

    How each kind is searched (all on the search sample, then verified on the full frame):
    placeholders per column (then shared ranges for columns with no real positive values);
    bounds/integer/grid per column on the non-placeholder values; families from name groups
    (min/max/mean/median/mode tokens, plural 's' ignored) verified member by member; pairs by a
    vectorised all-pairs screen, kept when non-trivial (equality occurs in some row with B != 0,
    and a shuffle of the two columns would break A <= B in >= 1% of draws) and not implied by
    families, sums or chains of pairs (transitive reduction); sums A + B = C among columns that
    are each <= C, kept only when they also hold on the rows where each summand is non-zero;
    determinations by co-occurrence counts of factorised codes. Multi-column rules are first
    tried with placeholders compared as values, then with placeholder rows excluded.

    Cost caps: pairs are screened on at most PAIR_SCREEN_ROWS rows and on fewer rows when
    rows * columns**2 would exceed PAIR_SCREEN_BUDGET (never fewer than 2,000), then confirmed
    on at most PAIR_CONFIRM_ROWS rows (fewer when candidates * rows > PAIR_CONFIRM_BUDGET);
    sums are screened on SUM_SCREEN_ROWS rows with at most MAX_SUM_CANDIDATES summands per total
    column (those most correlated with it). Only two-term sums are searched.
    """
    if numeric_columns is None:
        numeric_columns = [c for c in frame.columns
                           if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    if categorical_columns is None:
        categorical_columns = [c for c in frame.columns if c not in numeric_columns and (
            pd.api.types.is_object_dtype(frame[c]) or isinstance(frame[c].dtype, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c]))]
    numeric_columns = list(numeric_columns)
    categorical_columns = list(categorical_columns)

    sampled = sample_rows is not None and len(frame) > sample_rows
    sample = frame.sample(n=sample_rows, random_state=seed) if sampled else frame
    rng = np.random.default_rng(seed)

    rules: list[Rule] = []
    found_quanta: dict[str, float] = {}
    if numeric_columns:
        rules += _discover_numeric(sample, numeric_columns, min_support, rng, found_quanta)
    if categorical_columns:
        rules += _discover_categorical(sample, categorical_columns, min_support)

    # verification (and refit of data-fitted parameters) on the full frame
    get = _getter(frame)
    final: list[Rule] = []
    for r in rules:
        if isinstance(r, PlaceholderRule):
            r = _refit_placeholder(r, get(r.column))
        elif isinstance(r, GridRule):
            r = _refit_grid(r, get)
        if isinstance(r, DeterminationRule):
            r = _refit_mapping(r, frame)
            ok, ev = r._evaluate_frame(frame)
            n_ev = int(ev.sum())
            support = float((ok & ev).sum() / n_ev) if n_ev else 1.0
        else:
            support, n_ev = r.measure_support(get)
        if n_ev == 0 or support < min_support:
            continue
        if isinstance(r, _Comparing):
            r.rtol, support = _tightest_rtol(r, get, support)
        r.support = round(support, 6)
        final.append(r)

    meta = {
        "n_rows": int(len(frame)),
        "search_rows": int(len(sample)),
        "sampled": bool(sampled),
        "seed": int(seed),
        "min_support": float(min_support),
        "numeric_columns": numeric_columns,
        "categorical_columns": categorical_columns,
        # the decimal step each non-integer column is stored with (where one was found; the
        # rules compare within half of it): the domain layer rounds generated values to it
        "quanta": found_quanta,
    }
    return RuleSet(rules=final, meta=meta)


def _tightest_rtol(rule: "_Comparing", get: Getter, support: float) -> tuple[float, float]:
    """The smallest RTOL_LADDER tolerance under which `rule` holds on as many rows as under the
    search tolerance (the data's own rounding, nothing more), and the support under it."""
    searched = rule.rtol
    for rtol in RTOL_LADDER:
        if rtol >= searched:
            break
        rule.rtol = rtol
        tightened, _ = rule.measure_support(get)
        if tightened >= support - 1e-12:
            return rtol, tightened
    rule.rtol = searched
    return searched, support


def _power_of_ten_step(values: np.ndarray) -> float:
    """The largest 10**k (k from 12 down to -10) of which every value is a multiple; 0 if none."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    for k in range(12, -11, -1):
        step = 10.0 ** k
        scaled = values / step
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled)) * 1e-3):
            return step
    return 0.0


def _multiple_of(u: np.ndarray) -> float | None:
    """q > 1 of which every distinct integral value `u` is a multiple (their gcd), when the
    values are too many for that to be chance (q**-len(u) < MULTIPLE_CHANCE); else None."""
    nonzero = np.abs(u[u != 0])
    if nonzero.size < 2 or not _is_integral(nonzero) or nonzero.max() > 2**53:
        return None
    q = int(np.gcd.reduce(np.rint(nonzero).astype(np.int64)))
    if q <= 1 or float(q) ** -len(nonzero) >= MULTIPLE_CHANCE:
        return None
    return float(q)


def _refit_placeholder(r: PlaceholderRule, x: np.ndarray) -> PlaceholderRule:
    fin = x[np.isfinite(x)]
    if r.lo < 0 and r.lo == r.hi:
        ph = fin == r.lo
    else:
        pad = PLACEHOLDER_SPREAD * abs(r.hi)
        ph = (fin >= r.lo - pad) & (fin <= r.hi + pad)
    if not ph.any():
        return r
    real = fin[~ph]
    values = np.unique(fin[ph])
    return PlaceholderRule(
        columns=list(r.columns), lo=float(fin[ph].min()), hi=float(fin[ph].max()),
        share=round(float(ph.mean()), 6),
        real_lo=float(real.min()) if real.size else None, real_hi=float(real.max()) if real.size else None,
        quantum=_power_of_ten_step(values) if values.size > 1 else 0.0,
    )


def _refit_grid(r: GridRule, get: Getter) -> GridRule:
    x, ev = r._values(get)
    x = x[ev & (x != 0)]
    if x.size == 0:
        return r
    kr, on = r._k(x)
    if not on.any():
        return r
    kmin, kmax = int(kr[on].min()), int(kr[on].max())
    return GridRule(columns=list(r.columns), placeholder_ranges=r.placeholder_ranges,
                    offset=float(r.offset + kmin * r.step), step=r.step, kmax=kmax - kmin, allow_zero=r.allow_zero)


def _refit_mapping(r: DeterminationRule, frame: pd.DataFrame) -> DeterminationRule:
    a_col, b_col = r.columns
    ca, ka = _factorize_keys(frame[a_col])
    cb, kb = _factorize_keys(frame[b_col])
    ok = (ca >= 0) & (cb >= 0)
    if not ok.any():
        return r
    pairs = pd.DataFrame({"a": ca[ok], "b": cb[ok]}).value_counts(sort=False).reset_index(name="n")
    best = pairs.sort_values(["a", "n", "b"], ascending=[True, False, True], kind="stable").drop_duplicates("a")
    mapping = sorted(([ka[a], kb[b]] for a, b in zip(best["a"], best["b"])), key=lambda p: str(p[0]))
    return DeterminationRule(columns=list(r.columns), mapping=mapping)


def _discover_numeric(sample: pd.DataFrame, columns: list[str], min_support: float,
                      rng: np.random.Generator, found_quanta: dict[str, float]) -> list[Rule]:
    """Numeric rules found on `sample`; the columns' decimal steps are added to `found_quanta`."""
    n = len(sample)
    X = np.column_stack([_numeric(sample[c]) for c in columns]) if n else np.empty((0, len(columns)))
    X[~np.isfinite(X)] = np.nan

    # 1. placeholders --------------------------------------------------------------------------
    ph: dict[str, tuple[float, float]] = {}
    for j, c in enumerate(columns):
        v = X[:, j][~np.isnan(X[:, j])]
        if v.size:
            found = _detect_placeholder(v)
            if found:
                ph[c] = found
    for j, c in enumerate(columns):
        if c not in ph:
            v = X[:, j][~np.isnan(X[:, j])]
            found = _detect_shared_placeholder(v, list(ph.values())) if v.size else None
            if found:
                ph[c] = found
    Xex = X.copy()
    for j, c in enumerate(columns):
        if c in ph:
            lo, hi = ph[c]
            Xex[(X[:, j] >= lo) & (X[:, j] <= hi), j] = np.nan
    ranges = {c: [[lo, hi]] for c, (lo, hi) in ph.items()}

    rules: list[Rule] = []
    for c, (lo, hi) in ph.items():
        rules.append(PlaceholderRule(columns=[c], lo=lo, hi=hi))   # refit on the full frame later

    # 2. profiles and single-column rules ------------------------------------------------------
    prof: dict[str, _Profile] = {}
    for j, c in enumerate(columns):
        raw = X[:, j][~np.isnan(X[:, j])]
        v = Xex[:, j][~np.isnan(Xex[:, j])]
        p = _Profile(c, n=v.size)
        p.raw_constant = raw.size == 0 or bool(raw.min() == raw.max())
        if v.size:
            u = np.unique(v)
            p.distinct, p.lo, p.hi = len(u), float(u[0]), float(u[-1])
            p.integral = _is_integral(u)
            p.quantum = 0.0 if p.integral else _quantum(u)
            if p.distinct >= 2:
                pr = ranges.get(c, [])
                if p.lo >= 0 and p.hi <= 1 and not p.integral:
                    rules.append(BoundsRule(columns=[c], placeholder_ranges=pr, lo=0.0, hi=1.0, fraction=True))
                elif p.lo >= 0:
                    rules.append(BoundsRule(columns=[c], placeholder_ranges=pr, lo=0.0, hi=None))
                if p.integral:
                    rules.append(IntegerRule(columns=[c], placeholder_ranges=pr))
                g = _grid(u[u != 0])
                if g is not None:
                    off, step, kmax = g
                    rules.append(GridRule(columns=[c], placeholder_ranges=pr, offset=off, step=step,
                                          kmax=kmax, allow_zero=bool((u == 0).any())))
                elif p.integral:
                    q = _multiple_of(u)
                    if q is not None:
                        rules.append(MultipleRule(columns=[c], placeholder_ranges=pr, quantum=q))
        prof[c] = p
    quanta = {c: p.quantum for c, p in prof.items() if p.quantum > 0}
    found_quanta.update(quanta)

    active = [j for j, c in enumerate(columns) if not prof[c].raw_constant and prof[c].n > 0]
    nonneg = {c for c, p in prof.items() if p.n and p.lo >= 0 and (c not in ph or ph[c][0] >= 0)}
    if len(active) < 2:
        return rules

    # 3. families proposed by names, verified on the data --------------------------------------
    families = _families([columns[j] for j in active], X, Xex, columns, quanta, ranges, min_support)
    rules += families

    # 4. pairs ---------------------------------------------------------------------------------
    pairs, holds = _search_pairs(X, Xex, columns, active, quanta, ranges, min_support, rng)

    # 5. sums ----------------------------------------------------------------------------------
    sums = _search_sums(X, Xex, columns, active, holds, quanta, ranges, min_support, rng)
    rules += sums

    # 6. reduction of pairs --------------------------------------------------------------------
    rules += _reduce_pairs(pairs, families, sums, nonneg, columns, quanta, ranges)
    return rules


def _support_of(ok: np.ndarray, ev: np.ndarray) -> tuple[float, int]:
    n = int(ev.sum())
    return (float((ok & ev).sum() / n) if n else 0.0), n


def _families(cands: list[str], X, Xex, columns, quanta, ranges, min_support) -> list[FamilyRule]:
    groups: dict[tuple[str, ...], dict[str, list[str]]] = {}
    for c in cands:
        toks = _tokens(c)
        stats = [t for t in toks if t in _STAT_LOW | _STAT_HIGH | _STAT_MID]
        if len(stats) != 1:
            continue
        key = tuple(sorted(t for t in toks if t != stats[0]))
        role = "low" if stats[0] in _STAT_LOW else "high" if stats[0] in _STAT_HIGH else "mid"
        groups.setdefault(key, {"low": [], "high": [], "mid": []})[role].append(c)
    idx = {c: j for j, c in enumerate(columns)}
    out = []
    for key, g in groups.items():
        if len(g["low"]) != 1 or len(g["high"]) != 1 or not g["mid"]:
            continue
        lo_c, hi_c = g["low"][0], g["high"][0]
        for policy, M in (("values", X), ("excluded", Xex)):
            members = [lo_c] + g["mid"] + [hi_c]
            sub = M[:, [idx[c] for c in members]]
            ev_all = np.all(np.isfinite(sub), axis=1)
            if ev_all.sum() < (1 if policy == "values" else MIN_EVALUABLE_ROWS):
                continue
            lo, hi = sub[:, 0], sub[:, -1]
            base = _le(lo, hi, RTOL, ATOL + 0.5 * (quanta.get(lo_c, 0) + quanta.get(hi_c, 0)))
            if _support_of(base, ev_all)[0] < min_support:
                continue
            mids = []
            ok = base.copy()
            for t, m_c in enumerate(g["mid"], start=1):
                m = sub[:, t]
                okm = (_le(lo, m, RTOL, ATOL + 0.5 * (quanta.get(lo_c, 0) + quanta.get(m_c, 0)))
                       & _le(m, hi, RTOL, ATOL + 0.5 * (quanta.get(m_c, 0) + quanta.get(hi_c, 0))))
                if _support_of(ok & okm, ev_all)[0] >= min_support:
                    ok &= okm
                    mids.append(m_c)
            if not mids:
                continue
            cols = [lo_c] + mids + [hi_c]
            used = {c: quanta[c] for c in cols if c in quanta}
            pr = {c: ranges[c] for c in cols if c in ranges} if policy == "excluded" else {}
            if policy == "excluded" and not pr:
                continue
            out.append(FamilyRule(columns=cols, quanta=used, placeholders=policy, placeholder_ranges=pr))
            break
    return out


def _screen_pairs(M: np.ndarray, q: np.ndarray, min_support: float, min_ev: int) -> np.ndarray:
    """Boolean p x p matrix: column i <= column j on (almost) every evaluable row of M."""
    p = M.shape[1]
    fin = np.isfinite(M)
    absM = np.abs(M)
    holds = np.zeros((p, p), dtype=bool)
    with np.errstate(invalid="ignore"):
        for i in range(p):
            a = M[:, i:i + 1]
            tol = RTOL * np.maximum(absM[:, i:i + 1], absM) + (ATOL + 0.5 * (q[i] + q))
            le = a <= M + tol
            ev = fin[:, i:i + 1] & fin
            n_ev = ev.sum(0)
            viol = (ev & ~le).sum(0)
            allowed = np.floor((1 - min_support) * 3 * n_ev) + 2
            holds[i] = (n_ev >= min_ev) & (viol <= allowed)
    np.fill_diagonal(holds, False)
    return holds


def _search_pairs(X, Xex, columns, active, quanta, ranges, min_support, rng):
    """Candidate pairs A <= B with their statistics (verified on the whole search sample)."""
    n = X.shape[0]
    p_act = len(active)
    n_screen = int(min(n, PAIR_SCREEN_ROWS, max(2000, PAIR_SCREEN_BUDGET / max(1, p_act) ** 2)))
    rows = rng.choice(n, size=n_screen, replace=False) if n_screen < n else np.arange(n)
    q = np.array([quanta.get(columns[j], 0.0) for j in active])
    Xa, Xea = X[np.ix_(rows, active)], Xex[np.ix_(rows, active)]
    h_val = _screen_pairs(Xa, q, min_support, 1)
    has_ph = np.array([columns[j] in ranges for j in active])
    h_ex = _screen_pairs(Xea, q, min_support, min(MIN_EVALUABLE_ROWS, n_screen)) & ~h_val
    h_ex &= has_ph[:, None] | has_ph[None, :]

    # confirmation (support, equality share) on at most PAIR_CONFIRM_ROWS rows, fewer when there
    # are many candidates; reported rules are verified on the full frame afterwards anyway
    n_cand = int(h_val.sum() + h_ex.sum())
    n_conf = int(min(n, max(n_screen, min(PAIR_CONFIRM_ROWS, PAIR_CONFIRM_BUDGET // max(1, n_cand)))))
    if n_conf < n:
        conf = np.sort(rng.choice(n, size=n_conf, replace=False))
        X, Xex = X[conf], Xex[conf]
        n = n_conf
    # sorted sub-samples for the "independent shuffle" violation rate
    sub_rows = rng.choice(n, size=min(n, 2000), replace=False)
    pairs: list[dict[str, Any]] = []
    holds: dict[tuple[int, int], str] = {}
    for policy, H, M in (("values", h_val, X), ("excluded", h_ex, Xex)):
        for ii, jj in zip(*np.nonzero(H)):
            i, j = active[ii], active[jj]
            a, b = M[:, i], M[:, j]
            ev = np.isfinite(a) & np.isfinite(b)
            ca, cb = columns[i], columns[j]
            atol = ATOL + 0.5 * (quanta.get(ca, 0.0) + quanta.get(cb, 0.0))
            tol = _tol(a, b, RTOL, atol)
            with np.errstate(invalid="ignore"):
                ok = a <= b + tol
                eq = (np.abs(a - b) <= tol) & (b != 0) & ev
            support, n_ev = _support_of(ok, ev)
            if support < min_support or n_ev < (1 if policy == "values" else MIN_EVALUABLE_ROWS):
                continue
            holds[(i, j)] = policy
            sa = np.sort(a[sub_rows][np.isfinite(a[sub_rows])])
            sb = b[sub_rows][np.isfinite(b[sub_rows])]
            shuffle_viol = (1.0 - np.searchsorted(sa, sb, side="right").mean() / len(sa)) if sa.size and sb.size else 0.0
            pairs.append({"i": i, "j": j, "policy": policy, "eq": int(eq.sum()), "eq_share": float(eq.sum() / n_ev),
                          "shuffle": float(shuffle_viol)})
    return pairs, holds


def _search_sums(X, Xex, columns, active, holds, quanta, ranges, min_support, rng) -> list[SumRule]:
    n = X.shape[0]
    m = min(n, SUM_SCREEN_ROWS)
    rows = rng.choice(n, size=m, replace=False) if m < n else np.arange(n)
    out: list[SumRule] = []
    seen: set[tuple[int, int, int]] = set()
    for policy, M in (("values", X), ("excluded", Xex)):
        S = M[rows]
        for c in active:
            cand = [a for a in active if a != c and holds.get((a, c)) is not None]
            if len(cand) < 2:
                continue
            if len(cand) > MAX_SUM_CANDIDATES:
                # keep the candidates most correlated with C (missing cells as the column mean)
                Z = S[:, cand + [c]]
                fin = np.isfinite(Z)
                mean = np.where(fin, Z, 0.0).sum(axis=0) / np.maximum(fin.sum(axis=0), 1)
                Z = np.where(fin, Z - mean, 0.0)
                norm = np.sqrt((Z ** 2).sum(axis=0))
                norm[norm == 0] = np.inf
                cc = (Z[:, :-1] * Z[:, -1:]).sum(axis=0) / (norm[:-1] * norm[-1])
                cand = [cand[k] for k in np.argsort(-cc, kind="stable")[:MAX_SUM_CANDIDATES]]
            K = S[:, cand]
            C = S[:, c:c + 1, None]
            qk = np.array([quanta.get(columns[a], 0.0) for a in cand])
            with np.errstate(invalid="ignore"):
                tot = K[:, :, None] + K[:, None, :]
                tol = (RTOL * np.maximum(np.abs(C), np.abs(K)[:, :, None] + np.abs(K)[:, None, :])
                       + ATOL + 0.5 * (qk[:, None] + qk[None, :] + quanta.get(columns[c], 0.0)))
                ok = np.abs(tot - C) <= tol
            ev = np.isfinite(tot) & np.isfinite(C)
            viol = (ev & ~ok).sum(0)
            n_ev = ev.sum(0)
            good = (viol <= np.floor((1 - min_support) * 3 * n_ev) + 1) & (n_ev >= 1)
            for x, y in zip(*np.nonzero(np.triu(good, 1))):
                a, b = cand[x], cand[y]
                key = (min(a, b), max(a, b), c)
                if key in seen:
                    continue
                cols = [columns[key[0]], columns[key[1]], columns[c]]
                used = {k: quanta[k] for k in cols if k in quanta}
                pr = {k: ranges[k] for k in cols if k in ranges} if policy == "excluded" else {}
                if policy == "excluded" and not pr:
                    continue
                rule = SumRule(columns=cols, quanta=used, placeholders=policy, placeholder_ranges=pr)
                full = {k: M[:, columns.index(k)] for k in cols}
                okr, evr = rule._evaluate(lambda k: full[k])
                support, n_ev_full = _support_of(okr, evr)
                if support < min_support or n_ev_full < (1 if policy == "values" else MIN_EVALUABLE_ROWS):
                    continue
                # each summand must matter: the sum must also hold where that summand is non-zero
                # (else "C = A + B" is just C == A plus a column that is almost always 0)
                if any(_support_of(okr, evr & (full[k] != 0))[0] < min_support
                       or (evr & (full[k] != 0)).sum() < 2 for k in cols[:2]):
                    continue
                seen.add(key)
                out.append(rule)
    return out


def _closure(adj: np.ndarray) -> np.ndarray:
    R = adj.copy()
    while True:
        R2 = R | ((R.astype(np.int32) @ R.astype(np.int32)) > 0)
        if (R2 == R).all():
            return R
        R = R2


def _reduce_pairs(pairs, families: list[FamilyRule], sums: list[SumRule], nonneg: set[str],
                  columns: list[str], quanta: dict[str, float], ranges: dict[str, list[list[float]]]) -> list[PairRule]:
    """Keep non-trivial pairs not implied by families, sums or chains of other pairs.

    Non-trivial: equality (A == B with B != 0) occurs in some row, and an independent shuffle of
    the two columns would violate A <= B in >= 1% of draws (the ranges overlap). A pair holding in
    both directions becomes one A == B rule (equal columns are merged for the reduction).
    """
    p = len(columns)
    idx = {c: j for j, c in enumerate(columns)}
    by_key = {(d["i"], d["j"]): d for d in pairs}

    def make(a: int, b: int, op: str, d: dict) -> PairRule:
        cols = [columns[a], columns[b]]
        pr = {c: ranges[c] for c in cols if c in ranges} if d["policy"] == "excluded" else {}
        return PairRule(columns=cols, quanta={c: quanta[c] for c in cols if c in quanta},
                        placeholders=d["policy"], placeholder_ranges=pr, op=op,
                        equal_share=round(d["eq_share"], 6))

    rep = list(range(p))

    def find(x: int) -> int:
        while rep[x] != x:
            x = rep[x]
        return x

    out: list[PairRule] = []
    kept: list[dict] = []
    for d in pairs:
        i, j = d["i"], d["j"]
        back = by_key.get((j, i))
        if back is None:
            if d["eq"] >= 1 and d["shuffle"] >= 0.01:
                kept.append(d)
        elif i < j and d["policy"] == "values" and back["policy"] == "values":
            ri, rj = find(i), find(j)
            if ri != rj:
                rep[max(ri, rj)] = min(ri, rj)
                out.append(make(min(ri, rj), max(ri, rj), "==", d))
        elif i < j:
            out.append(make(i, j, "==", d))

    # edges implied by families and by sums of non-negative summands
    implied_val = np.zeros((p, p), dtype=bool)
    implied_all = np.zeros((p, p), dtype=bool)

    def imply(a: int, b: int, values: bool) -> None:
        a, b = find(a), find(b)
        if a == b:
            return
        implied_all[a, b] = True
        if values:
            implied_val[a, b] = True

    for f in families:
        ids = [idx[c] for c in f.columns]
        for a, b in [(ids[0], ids[-1])] + [(ids[0], m) for m in ids[1:-1]] + [(m, ids[-1]) for m in ids[1:-1]]:
            imply(a, b, f.placeholders == "values")
    for s in sums:
        a, b, c = (idx[x] for x in s.columns)
        if s.columns[0] in nonneg and s.columns[1] in nonneg:
            imply(a, c, s.placeholders == "values")
            imply(b, c, s.placeholders == "values")

    edge_val, edge_all = implied_val.copy(), implied_all.copy()
    for d in kept:
        a, b = find(d["i"]), find(d["j"])
        if a != b:
            edge_all[a, b] = True
            if d["policy"] == "values":
                edge_val[a, b] = True
    R_val, R_all = _closure(edge_val), _closure(edge_all)

    done: set[tuple[int, int]] = set()
    for d in sorted(kept, key=lambda d: (d["policy"] != "values", d["i"], d["j"])):
        a, b = find(d["i"]), find(d["j"])
        if a == b or (a, b) in done:
            continue
        if d["policy"] == "values":
            E, R, implied = edge_val, R_val, implied_val[a, b]
        else:
            E, R, implied = edge_all, R_all, implied_all[a, b] or R_val[a, b]
        cyclic = R[a, a] or R[b, b]
        if implied or (not cyclic and _two_step(E, R, a, b)):
            continue
        done.add((a, b))
        out.append(make(a, b, "<=", d))
    return out


def _two_step(edge: np.ndarray, R: np.ndarray, a: int, b: int) -> bool:
    """True when a reaches b through some other node w (a -> w ->* b)."""
    return any(w != b and w != a and R[w, b] for w in np.nonzero(edge[a])[0])


# --------------------------------------------------------------------------------------------
# categorical determination
# --------------------------------------------------------------------------------------------
def _discover_categorical(sample: pd.DataFrame, columns: list[str], min_support: float) -> list[DeterminationRule]:
    """A -> B when each value of A co-occurs with one value of B in >= min_support of rows.

    Identifier-like A (distinct values > half the rows, and > 50) are skipped; a constant B is
    only reported from another constant column (the most specific one: more distinct values,
    then longer values). Mutually determining columns give one rule (from the more specific
    column), and A -> B implied by A -> C -> B is dropped.
    """
    n = len(sample)
    codes, uniq, spec = {}, {}, {}
    for c in columns:
        cd, u = _factorize_keys(sample[c])
        codes[c], uniq[c] = cd, u
        lengths = pd.Series(u, dtype=object).astype(str).str.len()
        spec[c] = (len(u), float(lengths.mean()) if len(u) else 0.0)
    cols = [c for c in columns if len(uniq[c]) >= 1 and not (len(uniq[c]) > 50 and len(uniq[c]) > n / 2)]
    det: dict[tuple[str, str], float] = {}
    for a in cols:
        for b in cols:
            if a == b:
                continue
            if len(uniq[b]) == 1 and len(uniq[a]) > 1:
                continue
            ca, cb = codes[a], codes[b]
            ok = (ca >= 0) & (cb >= 0)
            if not ok.any():
                continue
            na, nb = len(uniq[a]), len(uniq[b])
            if na * nb <= 5_000_000:
                counts = np.bincount(ca[ok] * nb + cb[ok], minlength=na * nb).reshape(na, nb)
                support = counts.max(axis=1).sum() / ok.sum()
            else:
                s = pd.DataFrame({"a": ca[ok], "b": cb[ok]}).value_counts()
                support = s.groupby(level=0).max().sum() / ok.sum()
            if support >= min_support:
                det[(a, b)] = float(support)

    order = {c: k for k, c in enumerate(columns)}

    def specificity(c):
        return (spec[c][0], spec[c][1], -order[c])

    # equivalence classes (mutual determination): representative = most specific column
    rep = {c: c for c in cols}
    for (a, b) in det:
        if (b, a) in det:
            ra, rb = rep[a], rep[b]
            top = max(ra, rb, key=specificity)
            for c in cols:
                if rep[c] in (ra, rb):
                    rep[c] = top
    edges = {(rep[a], rep[b]) for (a, b) in det if rep[a] != rep[b]}
    out = []
    for c in cols:
        if rep[c] != c:
            out.append((rep[c], c))
    for a, b in sorted(edges, key=lambda e: (order[e[0]], order[e[1]])):
        if any((a, w) in edges and (w, b) in edges for w in {rep[c] for c in cols} - {a, b}):
            continue
        out.append((a, b))
    return [DeterminationRule(columns=[a, b]) for a, b in out]
