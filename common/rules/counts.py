"""Multiplicative rule kinds: whole counts implied by the data (the packet count behind a mean, the
flag count behind a share) and the exact products, quotients, orders and bounds built on them.

Part of common.rules (its docstring describes every rule kind and the conventions they share).

A *term* is a JSON list naming one quantity of a row:

    ["col", c]            the value of column c
    ["ratio", x, y]       the whole count x / y (a total over its mean: the packet count), rounded
                          to the nearest integer; 0 where x = y = 0 (an empty direction)
    ["share", s, term]    the whole count s * term (a share of a count: the flag count), rounded
    ["diff", term, term]  the first count less the second (all packets less the forward ones:
                          the backward packets), for counts ordered that way on every row
    ["sum", c1, c2]       the sum of two columns (both directions' bytes: what a byte rate over
                          the flow's duration counts)

Every rule here treats a row as *not evaluable* where one of its cells is NaN/inf or a placeholder
(the ranges it stores), and where a divisor is 0 (a rate over a zero duration). Counts are exact
integers; a column's value carries its storage uncertainty: half its decimal step (`quanta`) plus
`rtol` relative (float32 storage, ~1e-7), and for a cell of RENDERED_FROM or more half the step its
own digits show (see `rendered_step`), nothing more.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from common.rules.base import FLOAT_REPRESENTATION, Getter, _fmt, _in_ranges
from common.rules.kinds import RULE_TYPES, _Comparing

Term = list[Any]

# At 1e7 Java's Double.toString (CICFlowMeter is Java) turns to scientific notation, and an export
# can keep as few as three of its digits: CIC-IDS2017 writes 43 bytes in 4 us as 10800000.0 and a
# 39,529,252 us flow's IAT mean as 39500000.0, beside 8-digit cells of the same columns.
RENDERED_FROM = 1e7


def rendered_step(x: np.ndarray) -> np.ndarray:
    """The step of each cell's own last digit where |x| >= RENDERED_FROM and x is whole (10800000.0:
    1e5; 39529252.0: 1), 0 elsewhere: a cell is exact to the digits it shows, not further."""
    step = np.zeros(np.shape(x), dtype=float)
    with np.errstate(invalid="ignore"):
        big = np.isfinite(x) & (np.abs(x) >= RENDERED_FROM) & (x == np.rint(x))
    if not big.any():
        return step
    values = np.abs(x[big])
    found = np.ones(values.shape)
    for k in range(1, 16):
        unit = 10.0 ** k
        found = np.where(np.fmod(values, unit) == 0, unit, found)
    step[big] = found
    return step


def col(name: str) -> Term:
    """The term of a plain column."""
    return ["col", name]


def term_columns(term: Term) -> list[str]:
    """The columns a term reads, in order, without repeats."""
    kind = term[0]
    if kind == "col":
        found = [term[1]]
    elif kind == "ratio":
        found = [term[1], term[2]]
    elif kind == "share":
        found = [term[1]] + term_columns(term[2])
    elif kind == "diff":
        found = term_columns(term[1]) + term_columns(term[2])
    elif kind == "sum":
        found = [term[1], term[2]]
    else:
        raise ValueError(f"unknown term kind {kind!r}")
    return list(dict.fromkeys(found))


def term_name(term: Term) -> str:
    """A readable name: the column, n(x/y) for a ratio count, k(s*...) for a share count."""
    kind = term[0]
    if kind == "col":
        return str(term[1])
    if kind == "ratio":
        return f"n({term[1]}/{term[2]})"
    if kind == "diff":
        return f"({term_name(term[1])}-{term_name(term[2])})"
    if kind == "sum":
        return f"({term[1]}+{term[2]})"
    return f"k({term[1]}*{term_name(term[2])})"


def is_count(term: Term) -> bool:
    """True for the implied whole counts (ratio and share terms)."""
    return term[0] in ("ratio", "share", "diff")


@dataclass
class _TermRule(_Comparing):
    """A rule over terms: evaluates each with its validity mask and storage uncertainty.
    `rendered`: its columns that hold fractional values, whose cells of RENDERED_FROM or more are
    exact only to the digits they show (a column of whole numbers is written in full)."""

    rendered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.placeholders = "excluded"

    def _column(self, get: Getter, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, evaluable, absolute uncertainty) of one column's cells."""
        x = get(name)
        ev = np.isfinite(x)
        if name in self.placeholder_ranges:
            ev &= ~_in_ranges(x, self.placeholder_ranges[name])
        with np.errstate(invalid="ignore"):
            err = self.rtol * np.abs(x) + 0.5 * self.quanta.get(name, 0.0)
            if name in self.rendered:
                err = err + 0.5 * rendered_step(x)
        return x, ev, err

    def term(self, get: Getter, term: Term) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value, evaluable, absolute uncertainty) of a term on every row; counts are exact."""
        kind = term[0]
        if kind == "col":
            return self._column(get, term[1])
        if kind == "ratio":
            x, ev_x, _ = self._column(get, term[1])
            y, ev_y, _ = self._column(get, term[2])
            with np.errstate(invalid="ignore", divide="ignore"):
                n = np.where(y > 0, np.rint(x / np.where(y > 0, y, 1.0)), 0.0)
            ev = ev_x & ev_y & ((y > 0) | ((y == 0) & (x == 0)))
            return n, ev, np.zeros_like(n)
        if kind == "diff":
            (m, ev_m, _), (n, ev_n, _) = self.term(get, term[1]), self.term(get, term[2])
            return m - n, ev_m & ev_n, np.zeros_like(m)
        if kind == "sum":
            (x, ev_x, err_x), (y, ev_y, err_y) = self._column(get, term[1]), self._column(get, term[2])
            return x + y, ev_x & ev_y, err_x + err_y
        s, ev_s, _ = self._column(get, term[1])
        base, ev_b, _ = self.term(get, term[2])
        with np.errstate(invalid="ignore"):
            k = np.rint(s * base)
        return k, ev_s & ev_b, np.zeros_like(k)


@dataclass
class WholeRatioRule(_TermRule):
    """columns = [x, y]: x / y is a whole number n >= 1 where y > 0 (y = x / n within y's
    storage), and x = 0 where y = 0: a total over its mean is the packet count."""

    kind: ClassVar[str] = "whole_ratio"

    @property
    def id(self) -> str:
        return f"whole_ratio:{self.columns[0]}/{self.columns[1]}"

    def _evaluate(self, get):
        x, ev_x, err_x = self._column(get, self.columns[0])
        y, ev_y, err_y = self._column(get, self.columns[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            n = np.rint(x / np.where(y > 0, y, 1.0))
            whole = (y > 0) & (n >= 1) & (np.abs(x / np.maximum(n, 1.0) - y)
                                         <= err_y + err_x / np.maximum(n, 1.0) + FLOAT_REPRESENTATION * np.abs(y))
        ok = whole | ((y == 0) & (x == 0))
        return ok, ev_x & ev_y

    def describe(self) -> str:
        x, y = self.columns
        return f"{x} / {y} is a whole count where {y} > 0 ({x} = 0 where {y} = 0)" + self._support_text()


@dataclass
class WholeShareRule(_TermRule):
    """columns[0] is a share s of the count `count`: s * count is a whole number (within the
    share's storage times the count)."""

    kind: ClassVar[str] = "whole_share"
    count: Term = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"whole_share:{self.columns[0]}*{term_name(self.count)}"

    def _evaluate(self, get):
        s, ev_s, err_s = self._column(get, self.columns[0])
        n, ev_n, _ = self.term(get, self.count)
        with np.errstate(invalid="ignore"):
            k = s * n
            ok = np.abs(k - np.rint(k)) <= err_s * np.abs(n) + FLOAT_REPRESENTATION * np.maximum(1.0, np.abs(k))
        return ok, ev_s & ev_n

    def describe(self) -> str:
        return f"{self.columns[0]} * {term_name(self.count)} is a whole count" + self._support_text()


@dataclass
class ProductRule(_TermRule):
    """terms = [a, b, c]: a = scale * b * c (power 1) or a = scale * b / c (power -1, rows with
    c = 0 not evaluable): means x counts = totals, rates x durations = counts."""

    kind: ClassVar[str] = "product"
    terms: list[Term] = field(default_factory=list)
    power: int = 1
    scale: float = 1.0

    @property
    def id(self) -> str:
        a, b, c = (term_name(t) for t in self.terms)
        op = "*" if self.power == 1 else "/"
        k = "" if self.scale == 1 else f"{_fmt(self.scale)}*"
        return f"product:{a}={k}{b}{op}{c}"

    def _evaluate(self, get):
        (a, ev_a, err_a), (b, ev_b, err_b), (c, ev_c, err_c) = (self.term(get, t) for t in self.terms)
        ev = ev_a & ev_b & ev_c
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.power == 1:
                g, err_g = c, err_c
            else:
                ev &= c != 0
                safe = np.where(c != 0, c, 1.0)
                g = 1.0 / safe
                err_g = err_c / np.maximum(np.abs(safe) * (np.abs(safe) - err_c), 1e-300)
            product = self.scale * b * g
            err = (err_a + abs(self.scale) * (np.abs(g) * err_b + np.abs(b) * err_g)
                   + FLOAT_REPRESENTATION * np.maximum(np.abs(a), np.abs(product)))
            ok = np.abs(a - product) <= err
        return ok, ev

    def describe(self) -> str:
        a, b, c = (term_name(t) for t in self.terms)
        op = "*" if self.power == 1 else "/"
        k = "" if self.scale == 1 else f"{_fmt(self.scale)} * "
        rows = " (rows with a zero divisor excluded)" if self.power == -1 else ""
        return f"{a} = {k}{b} {op} {c}{rows}" + self._support_text()


@dataclass
class CountOrderRule(_TermRule):
    """terms = [m, n]: the whole count m <= n (op "<=") or m == n (op "==")."""

    kind: ClassVar[str] = "count_order"
    terms: list[Term] = field(default_factory=list)
    op: str = "<="

    @property
    def id(self) -> str:
        return f"count_order:{term_name(self.terms[0])}{self.op}{term_name(self.terms[1])}"

    def _evaluate(self, get):
        (m, ev_m, _), (n, ev_n, _) = (self.term(get, t) for t in self.terms)
        with np.errstate(invalid="ignore"):
            ok = (m == n) if self.op == "==" else (m <= n)
        return ok, ev_m & ev_n

    def describe(self) -> str:
        return f"{term_name(self.terms[0])} {self.op} {term_name(self.terms[1])}" + self._support_text()


@dataclass
class CountBoundRule(_TermRule):
    """columns = [bound, total] with a count n: bound * n <= total (side "low", the minimum's
    bound) or total <= bound * n (side "high", the maximum's)."""

    kind: ClassVar[str] = "count_bound"
    count: Term = field(default_factory=list)
    side: str = "low"

    @property
    def id(self) -> str:
        bound, total = self.columns[:2]
        n = term_name(self.count)
        return f"count_bound:{bound}*{n}<={total}" if self.side == "low" else f"count_bound:{total}<={bound}*{n}"

    def _evaluate(self, get):
        bound, ev_b, err_b = self._column(get, self.columns[0])
        total, ev_t, err_t = self._column(get, self.columns[1])
        n, ev_n, _ = self.term(get, self.count)
        with np.errstate(invalid="ignore"):
            scaled = bound * n
            slack = err_b * np.abs(n) + err_t + FLOAT_REPRESENTATION * np.maximum(np.abs(scaled), np.abs(total))
            ok = scaled <= total + slack if self.side == "low" else total <= scaled + slack
        return ok, ev_b & ev_t & ev_n

    def describe(self) -> str:
        bound, total = self.columns[:2]
        n = term_name(self.count)
        text = f"{bound} * {n} <= {total}" if self.side == "low" else f"{total} <= {bound} * {n}"
        return text + self._support_text()


COUNT_RULE_TYPES = (WholeRatioRule, WholeShareRule, ProductRule, CountOrderRule, CountBoundRule)


def count_rule_columns(terms: list[Term]) -> list[str]:
    """The columns read by a list of terms (for a rule's `columns`)."""
    found: list[str] = []
    for t in terms:
        found += term_columns(t)
    return list(dict.fromkeys(found))


RULE_TYPES.update({cls.kind: cls for cls in COUNT_RULE_TYPES})
