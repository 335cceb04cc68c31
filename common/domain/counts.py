"""Counts first: the whole counts behind a flow's means, shares and rates are learned as integers,
and the columns the count rules (common.rules.counts) tie to them are derived from them exactly.

Built from the RuleSet and the training rows only (no column names):

* every count of a WholeRatioRule (total / mean) and of a WholeShareRule (share x count) is a
  learned integer column, `COUNT_PREFIX + its name`, unless its values equal an integer column
  of the table on every training row (CICFlowMeter's `Total Fwd Packets`, NTLFlowLyzer's
  `rst_flag_counts`): then that column is the count; equal counts are one column;
* a ratio's mean is not learned: mean = total / n (0 where n = 0), exactly;
* a share is k / n (0 where n = 0), k its whole count: derived from the table's count column
  where one holds k (`rst_flag_counts`); otherwise the share stays learned (each class keeps its
  share distribution) and k is the nearest whole count to it, within every count it is a share
  of; a share of one direction's packets is of a difference of counts (packets less forward);
* a product's least constrained non-integer column (a rate beside its duration) is derived from
  the others where they are evaluable (a non-zero divisor), and learned for the other rows; a
  product can read the sum of two totals (a byte rate over both directions' bytes), and where its
  other factor is 0 and the product is not, the derived column is missing when it was missing on
  every such training row (CICFlowMeter's byte rate of a flow with bytes and no duration);
* a count never exceeds the count it is a share of, nor one a CountOrderRule puts above it; the
  larger count is decoded first (the flow's packets, then its forward packets, then the flag
  counts within them), and a total is decoded after its count and its bounds, inside
  [minimum x n, maximum x n] (CountBoundRule), so the derived mean lies between min and max.

`CountPlan.with_counts(frame)` adds the learned count columns to a frame (for fitting and
encoding); `CountPlan.derive(out, ...)` computes the derived columns from decoded values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from common.rules import (
    CountBoundRule, CountOrderRule, IntegerRule, PairRule, PlaceholderRule, ProductRule, Rule, RuleSet,
    WholeRatioRule, WholeShareRule,
)
from common.rules.counts import Term, term_name

COUNT_PREFIX = "__count:"


@dataclass
class Derivation:
    """`column` computed from decoded values: "ratio" (total / count), "share" (count / base),
    "snap" (a flag count: the nearest whole count to a learned share of its base, within every
    base it is a share of) or "product" (solved from ProductRule `rule` for term `solve`).
    `learned`: the column is also learned (its value kept where the formula does not apply, or
    the source of a snapped count)."""

    column: str
    kind: str
    reads: list[str]                    # columns / count columns it reads, in formula order
    rule: ProductRule | None = None
    solve: int = 0
    learned: bool = False
    bounds: list[tuple[str, str, str]] = field(default_factory=list)  # snap: (t, base, "low"/"high")
    # product: missing where the other factor is 0 and the product is not (no value can hold),
    # as on every such training row (a byte rate over a zero duration)
    undefined_missing: bool = False


@dataclass
class CountPlan:
    """What the domain layer learns and derives for the count rules (see the module docstring)."""

    virtual: dict[str, Term] = field(default_factory=dict)       # learned count column -> its term
    diffs: dict[str, tuple[str, str]] = field(default_factory=dict)  # count a - b -> (a, b), not learned
    sums: dict[str, tuple[str, str]] = field(default_factory=dict)   # column a + b -> (a, b), read as that sum
    offsets: list[tuple[str, str, str]] = field(default_factory=list)  # (k, a, b): k <= a - b
    alias: dict[str, str] = field(default_factory=dict)          # str(term) -> column holding the count
    derivations: list[Derivation] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)   # (low, high) count columns, high first
    scaled: list[tuple[str, str, str, str]] = field(default_factory=list)  # (bound, count, total, side)
    # (count, column, floor): column = 0 where count = 0, and >= floor (> 0) where count > 0 when
    # the training rows say so (floor 0 otherwise)
    zero_with: list[tuple[str, str, float]] = field(default_factory=list)
    lowest: dict[str, float] = field(default_factory=dict)         # count column -> its smallest training value
    placeholder_ranges: dict[str, list[list[float]]] = field(default_factory=dict)

    @property
    def dropped(self) -> set[str]:
        """Derived columns that are not learned (means, shares of a table's count column)."""
        return {d.column for d in self.derivations if d.kind in ("ratio", "share") and not d.learned}

    @property
    def derived(self) -> set[str]:
        return {d.column for d in self.derivations}

    def count_column(self, term: Term) -> str:
        """The column holding a count term (a learned count column or an integer column)."""
        return self.alias[str(term)]

    # ------------------------------------------------------------------ counts on a frame
    def _probe(self) -> WholeRatioRule:
        return WholeRatioRule(columns=["", ""], rtol=0.0, placeholder_ranges=self.placeholder_ranges)

    def term_values(self, frame: pd.DataFrame, term: Term) -> np.ndarray:
        """A count term's values on `frame` (NaN where not evaluable)."""
        values, ev, _ = self._probe().term(_getter(frame), term)
        return np.where(ev, values, np.nan)

    def with_counts(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` with every learned count column added (NaN where its columns are not evaluable)."""
        if not self.virtual:
            return frame
        frame = frame.copy()
        for name, term in self.virtual.items():
            frame[name] = self.term_values(frame, term)
        return frame

    # ------------------------------------------------------------------ decoding
    def derive(self, out: dict[str, np.ndarray], read: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
        """Compute every derived column into `out` from decoded values (`read(column)`), exactly,
        not rounded to the decimal step found for the column (that step can be coarser than the
        file's precision, e.g. 1e-6 for CICFlowMeter's 10 significant digits, and rounding to it
        would break mean x count = total). Returns {column: rows where it was derived}."""
        done: dict[str, np.ndarray] = {}
        plain = read

        sums = getattr(self, "sums", {})     # models saved before sums were read have none

        def read(column: str) -> np.ndarray:
            if column in self.diffs:
                a, b = self.diffs[column]
                return plain(a) - plain(b)
            if column in sums:
                a, b = sums[column]
                return plain(a) + plain(b)
            return plain(column)

        for d in self.derivations:
            if d.kind == "snap":
                value, rows = _snap(*(read(c) for c in d.reads))
                value = _snap_bounds(value, d.bounds, read)
            elif d.kind == "ratio":
                value, rows = _quotient(read(d.reads[0]), read(d.reads[1]))
            elif d.kind == "share":
                value, rows = _quotient(read(d.reads[0]), read(d.reads[1]))
            else:
                value, rows = _solve(d.rule, d.solve, read, self, getattr(d, "undefined_missing", False))
            current = out.get(d.column)
            out[d.column] = value if current is None else np.where(rows, value, current)
            done[d.column] = rows
        return done


def _getter(frame: pd.DataFrame):
    def get(column: str) -> np.ndarray:
        return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return get


def _snap(share: np.ndarray, base: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The whole count nearest to share x base, within [0, every base]. The product is first put
    on 1e-6 so that two shares equal within their float32 storage (1/14 stored as 0.071428575 and
    as 0.07142857) round to the same count, and rounding keeps their order."""
    rows = np.isfinite(share) & np.isfinite(base)
    with np.errstate(invalid="ignore"):
        count = np.rint(np.round(np.clip(share, 0.0, 1.0) * base, 6))
        for other in others:
            count = np.fmin(count, other)
        count = np.maximum(count, 0.0)
    return np.where(rows, count, np.nan), rows


def _snap_bounds(count: np.ndarray, bounds: list[tuple[str, str, str]], read) -> np.ndarray:
    """A snapped count kept on the side of a learned column t its share is ordered with: t * base
    <= count ("low", rounded up) or count <= t * base ("high", rounded down), where t is finite."""
    with np.errstate(invalid="ignore"):
        for column, base, side in bounds:
            limit = read(column) * read(base)
            if side == "low":
                count = np.where(np.isfinite(limit), np.fmax(count, np.ceil(limit)), count)
            else:
                count = np.where(np.isfinite(limit), np.fmin(count, np.floor(limit)), count)
    return count


def _quotient(top: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """top / count, 0 where the count is 0; rows with both finite."""
    rows = np.isfinite(top) & np.isfinite(count)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(count > 0, top / np.where(count > 0, count, 1.0), 0.0)
    return np.where(rows, value, np.nan), rows


def _solve(rule: ProductRule, solve: int, read: Callable[[str], np.ndarray], plan: CountPlan,
           undefined_missing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Term `solve` of a ProductRule (a = k * b * c**p) from the other two, where they are finite
    and no divisor is 0; with `undefined_missing`, a factor is missing where the other factor is
    0 and a is not."""
    values = [None if i == solve else read(_holder(t, plan)) for i, t in enumerate(rule.terms)]
    a, b, c = values
    k, p = rule.scale, rule.power
    with np.errstate(invalid="ignore", divide="ignore"):
        if solve == 0:
            value = k * b * c if p == 1 else k * b / c
            rows = np.isfinite(b) & np.isfinite(c) & ((c != 0) if p == -1 else True)
        elif solve == 1:
            value = a / (k * c) if p == 1 else a * c / k
            rows = np.isfinite(a) & np.isfinite(c) & (c != 0)
        elif p == 1:
            value = a / (k * b)
            rows = np.isfinite(a) & np.isfinite(b) & (b != 0)
        else:   # the divisor: 0 where the quotient is 0 (a rate over no time), then not evaluable
            value = np.where(a != 0, k * b / np.where(a != 0, a, 1.0), 0.0)
            rows = np.isfinite(a) & np.isfinite(b)
    rows = np.asarray(rows, dtype=bool) & np.isfinite(value)
    if undefined_missing and p == 1 and solve in (1, 2):
        undefined = _undefined_where_zero(a, c if solve == 1 else b)
        rows |= undefined
        value = np.where(undefined, np.nan, value)
    return np.where(rows, value, np.nan), rows


def _undefined_where_zero(a: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Rows where a factor of a = k * f * other has no value: `other` is 0 and a is not (a byte
    rate over a zero duration; the real tables hold Infinity or nothing there). The factor is
    derived as missing there."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(a) & (a != 0) & (other == 0)


def _holder(term: Term, plan: CountPlan) -> str:
    """The name `derive` reads a term's values under: the column, the sum of two columns, or the
    column holding a count."""
    if term[0] == "col":
        return term[1]
    if term[0] == "sum":
        return f"__sum:{term[1]}+{term[2]}"
    return plan.count_column(term)


# ----------------------------------------------------------------------------- fitting


def plan_counts(rules: RuleSet, frame: pd.DataFrame, numeric: list[str]) -> CountPlan:
    """The CountPlan of the count rules whose columns are all numeric columns of `frame`."""
    present = set(numeric)
    kept = [r for r in rules if all(c in present for c in r.columns)]
    plan = CountPlan(placeholder_ranges={r.column: [[r.lo, r.hi]] for r in kept if isinstance(r, PlaceholderRule)})
    ratios = [r for r in kept if isinstance(r, WholeRatioRule)]
    shares = [r for r in kept if isinstance(r, WholeShareRule)]
    if not ratios and not shares:
        return plan
    integers = [r.column for r in kept if isinstance(r, IntegerRule)]
    terms = [["ratio", *r.columns] for r in ratios] + [["share", r.columns[0], r.count] for r in shares]
    _assign_counts(plan, frame, terms, integers)
    for r in ratios:
        _derive_once(plan, Derivation(r.columns[1], "ratio", [r.columns[0], plan.count_column(["ratio", *r.columns])]))
    snapped = _snapped_counts(plan, shares)
    for r in shares:
        k, base = plan.count_column(["share", r.columns[0], r.count]), plan.count_column(r.count)
        _derive_once(plan, Derivation(r.columns[0], "share", [k, base], learned=k in snapped))
        if k not in snapped:
            _add_edge(plan, k, base)
    for share, k, base in _counted_shares(kept, plan, set(integers)):
        _derive_once(plan, Derivation(share, "share", [k, base]))
        _add_edge(plan, k, base)
    _order_edges(plan, kept)
    _snap_orders(plan, kept)
    _products(plan, kept, frame)
    for r in kept:
        if isinstance(r, CountBoundRule) and str(r.count) in plan.alias:
            plan.scaled.append((r.columns[0], plan.count_column(r.count), r.columns[1], r.side))
    _share_bounds(plan, kept)
    _zero_links(plan, frame, [["ratio", *r.columns] for r in ratios])
    plan.derivations = _in_dependency_order(plan.derivations, plan.sums)
    return plan


def _in_dependency_order(derivations: list[Derivation], sums: dict[str, tuple[str, str]]) -> list[Derivation]:
    """The derivations with each one after those that derive a column it reads (a count snapped
    from shares can also be the divisor of a mean; the columns of a sum it reads, `sums`), and
    after the earlier ones writing its own column (a later one overwrites rows of an earlier one);
    stable otherwise; a cycle keeps its order."""
    # only a column that exists nowhere but in its derivation is waited for: a learned column is
    # read as decoded (a snapped count reads the learned share that its derivation overwrites later)
    derived = {d.column for d in derivations if not d.learned}
    needs = []
    for i, d in enumerate(derivations):
        reads = set(d.reads).union(*(sums[c] for c in d.reads if c in sums))
        writers = {j for j, e in enumerate(derivations) if e.column in derived and e.column in reads
                   and e.column != d.column}
        needs.append(writers | {j for j in range(i) if derivations[j].column == d.column})
    done: list[int] = []
    pending = list(range(len(derivations)))
    while pending:
        ready = [i for i in pending if needs[i] <= set(done)]
        if not ready:
            done += pending
            break
        done.append(ready[0])     # one at a time, the earliest ready: the original order where it is valid
        pending.remove(ready[0])
    return [derivations[i] for i in done]


def _assign_counts(plan: CountPlan, frame: pd.DataFrame, terms: list[Term], integers: list[str]) -> None:
    """Each count term's column: an integer column or an earlier count with the same values on
    every row, else a new learned count column."""
    known: list[tuple[str, np.ndarray]] = [(c, _getter(frame)(c)) for c in integers]
    for term in terms:
        _assign_differences(plan, frame, term, known)
        if str(term) in plan.alias:
            continue
        values = plan.term_values(frame, term)
        # a ratio count is 0 where its total and mean are (a direction that sent no bytes): it
        # is the packet count if it equals it wherever it is defined
        where = values > 0 if term[0] == "ratio" else np.isfinite(values)
        twin = next((name for name, v in known if np.array_equal(v[where], values[where])
                     and np.isfinite(v).all() == np.isfinite(values).all()), None)
        if twin is None:
            twin = COUNT_PREFIX + term_name(term)
            plan.virtual[twin] = term
            known.append((twin, values))
        plan.alias[str(term)] = twin


def _snapped_counts(plan: CountPlan, shares: list[WholeShareRule]) -> set[str]:
    """Flag counts that no table column holds are not learned: the shares stay learned (each
    class keeps its share distributions) and the count is the nearest whole number to the first
    share times its base, at most every base it is a share of; the shares are then derived from
    it. Rounding keeps the order of two shares of one base. Returns the snapped counts."""
    sources: dict[str, list[tuple[str, str]]] = {}
    for r in shares:
        k = plan.count_column(["share", r.columns[0], r.count])
        if k in plan.virtual:
            sources.setdefault(k, []).append((r.columns[0], plan.count_column(r.count)))
    for k, pairs in sources.items():
        del plan.virtual[k]
        share, base = pairs[0]
        plan.derivations.append(Derivation(k, "snap", [share, base] + [b for _, b in pairs[1:]]))
    return set(sources)


def _snap_orders(plan: CountPlan, rules: list[Rule]) -> None:
    """A pair t <= s (s <= t) between a share s of a snapped count and a column t that is not
    derived bounds the count: t * base <= k (k <= t * base)."""
    snap = {d.column: d for d in plan.derivations if d.kind == "snap"}
    share_of = {d.column: d.reads for d in plan.derivations if d.kind == "share" and d.reads[0] in snap}
    for r in rules:
        if not isinstance(r, PairRule) or r.op != "<=":
            continue
        low, high = r.columns
        for share, other, side in ((high, low, "low"), (low, high, "high")):
            if share in share_of and other not in plan.derived:
                k, base = share_of[share]
                snap[k].bounds.append((other, base, side))


def _assign_differences(plan: CountPlan, frame: pd.DataFrame, term: Term, known: list) -> None:
    """A share's base that is a difference of counts (packets less forward packets) is read as
    the difference of their columns; its counts get their columns first."""
    if term[0] != "share" or term[2][0] != "diff":
        return
    base = term[2]
    for part in base[1:]:
        if str(part) not in plan.alias:
            _assign_counts(plan, frame, [part], [name for name, _ in known if name not in plan.virtual])
    name = COUNT_PREFIX + term_name(base)
    plan.diffs[name] = (plan.count_column(base[1]), plan.count_column(base[2]))
    plan.alias[str(base)] = name


def _derive_once(plan: CountPlan, derivation: Derivation) -> None:
    if derivation.column not in plan.derived and derivation.column not in derivation.reads:
        plan.derivations.append(derivation)


def _add_edge(plan: CountPlan, low: str, high: str) -> None:
    if high in plan.diffs:
        plan.offsets.append((low, *plan.diffs[high]))
    elif low != high and (low, high) not in plan.edges:
        plan.edges.append((low, high))


def _order_edges(plan: CountPlan, rules: list[Rule]) -> None:
    """Count orders, and pairs s1 <= s2 of two shares of one count (then k1 <= k2)."""
    share_of = {d.column: d.reads for d in plan.derivations if d.kind == "share"}
    for r in rules:
        if isinstance(r, CountOrderRule) and r.op == "<=" and all(str(t) in plan.alias for t in r.terms):
            _add_edge(plan, plan.count_column(r.terms[0]), plan.count_column(r.terms[1]))
        elif isinstance(r, PairRule) and r.op == "<=" and all(c in share_of for c in r.columns):
            (k1, base1), (k2, base2) = share_of[r.columns[0]], share_of[r.columns[1]]
            if base1 == base2:
                _add_edge(plan, k1, k2)


def _products(plan: CountPlan, rules: list[Rule], frame: pd.DataFrame) -> None:
    """Products not already implied by derived means and shares (every non-integer column of
    them derived): derive their least constrained other non-integer column (fewest rules read
    it), where the other terms allow."""
    integers = {r.column for r in rules if isinstance(r, IntegerRule)}
    involved: dict[str, int] = {}
    for r in rules:
        for c in r.columns:
            involved[c] = involved.get(c, 0) + 1
    for r in rules:
        if not isinstance(r, ProductRule) or not all(t[0] in ("col", "sum") or str(t) in plan.alias for t in r.terms):
            continue
        for t in r.terms:
            if t[0] == "sum":      # a byte rate over both directions' totals: read as their sum
                plan.sums[_holder(t, plan)] = (t[1], t[2])
        free = [(involved.get(c, 0), -frame.columns.get_loc(c), i) for i, t in enumerate(r.terms)
                if t[0] == "col" and (c := t[1]) not in integers and c not in plan.derived]
        if not free:
            continue
        _, _, solve = min(free)
        reads = [_holder(t, plan) for i, t in enumerate(r.terms) if i != solve]
        _derive_once(plan, Derivation(r.terms[solve][1], "product", reads, rule=r, solve=solve,
                                      undefined_missing=_missing_where_undefined(r, solve, frame, plan)))


def _missing_where_undefined(rule: ProductRule, solve: int, frame: pd.DataFrame, plan: CountPlan) -> bool:
    """True when factor `solve` of a = k * b * c has training rows where the other factor is 0 and
    a is not, and it is missing on every one of them (CICFlowMeter's byte rate of a flow with bytes
    and no duration is Infinity, read as missing)."""
    if rule.power != 1 or solve == 0:
        return False
    get = _getter(frame)

    def values(term: Term) -> np.ndarray:
        if term[0] == "col":
            return get(term[1])
        if term[0] == "sum":
            return get(term[1]) + get(term[2])
        return plan.term_values(frame, term)

    a, other = values(rule.terms[0]), values(rule.terms[2 if solve == 1 else 1])
    undefined = _undefined_where_zero(a, other)
    return bool(undefined.any()) and bool(np.isnan(get(rule.terms[solve][1])[undefined]).all())


def _zero_links(plan: CountPlan, frame: pd.DataFrame, ratios: list[Term]) -> None:
    """The total and the bounds of a packet count (a ratio count) that are 0 on every training
    row where the count is 0 (an empty direction has no header bytes, no minimum, no maximum),
    with their smallest value where the count is not 0 when they are never 0 there. Learned
    counts keep their smallest training value as a lower bound (a flow has a packet)."""
    get = _getter(frame)
    snapped = plan.derived
    for name in dict.fromkeys(n for n in plan.alias.values() if n not in plan.diffs and n not in snapped):
        values = plan.term_values(frame, plan.virtual[name]) if name in plan.virtual else get(name)
        if np.isfinite(values).any():
            plan.lowest[name] = float(np.nanmin(values))
    counts = dict.fromkeys(plan.count_column(t) for t in ratios)
    for count in counts:
        if count in plan.virtual:
            values = plan.term_values(frame, plan.virtual[count])
        elif count in frame.columns:
            values = get(count)
        else:   # a count no column holds and none learns (snapped from shares): its values from its ratio
            values = plan.term_values(frame, next(t for t in ratios if plan.count_column(t) == count))
        empty = values == 0
        if not empty.any():
            continue
        tied = [t[1] for t in ratios if plan.count_column(t) == count]
        tied += [bound for bound, n, total, _ in plan.scaled if n == count and total in tied]
        for column in dict.fromkeys(tied):
            if column == count or column in plan.dropped or column in counts:
                continue
            x = get(column)
            if np.isfinite(x[empty]).all() and (x[empty] == 0).all():
                busy = x[(values > 0) & np.isfinite(values)]
                floor = float(busy.min()) if busy.size and (busy > 0).all() else 0.0
                plan.zero_with.append((count, column, floor))


def _share_bounds(plan: CountPlan, rules: list[Rule]) -> None:
    """A pair t <= s (s <= t) between a derived quotient s = x / n (a share k / n, a mean
    total / n) and a learned column t becomes t * n <= x (x <= t * n): x is decoded after t
    and n, inside those bounds."""
    share_of = {d.column: d.reads for d in plan.derivations if d.kind in ("share", "ratio") and not d.learned}
    for r in rules:
        if not isinstance(r, PairRule) or r.op != "<=":
            continue
        low, high = r.columns
        for share, other, side in ((high, low, "low"), (low, high, "high")):
            if share in share_of and other not in plan.derived and other not in share_of[share]:
                k, n = share_of[share]
                plan.scaled.append((other, n, k, side))


def _counted_shares(rules: list[Rule], plan: CountPlan, integers: set[str]) -> list[tuple[str, str, str]]:
    """(share, count column, base) for each product c = s * n with c an integer column and n a
    count: s is the share c / n (a flag count over the packet count)."""
    found = []
    for r in rules:
        if not isinstance(r, ProductRule) or r.power != 1 or r.scale != 1:
            continue
        left, f1, f2 = r.terms
        for share, count in ((f1, f2), (f2, f1)):
            if (left[0] == "col" and left[1] in integers and share[0] == "col" and share[1] not in integers
                    and count[0] != "col" and str(count) in plan.alias):
                found.append((share[1], left[1], plan.count_column(count)))
    return found
