"""The search for multiplicative structure (common.rules.counts): implied whole counts, shares of
counts, products and quotients with a power-of-ten scale, orders and bounds between counts.

Part of common.rules. Everything is found from the values alone: screened on a few hundred rows
(products in log space, all column pairs against all columns at once), then confirmed on every
row of the search sample, where a rule must hold on *every* evaluable row (no support below 1).
A relation that could hold by chance is not claimed: a rule needs COUNT_MIN_ROWS informative rows
and, where a shuffle of its columns can satisfy it, a shuffle rate p with p ** rows < COUNT_CHANCE.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from common.rules.base import FLOAT_REPRESENTATION, RTOL
from common.rules.counts import (
    CountBoundRule, CountOrderRule, ProductRule, Term, WholeRatioRule, WholeShareRule, _TermRule, col,
    count_rule_columns, rendered_step, term_columns,
)

COUNT_MIN_ROWS = 20          # evaluable rows a multiplicative rule needs
CHANCE_MIN_ROWS = 8          # informative rows a chance test needs (with p ** rows < COUNT_CHANCE)
COUNT_CHANCE = 1e-6          # largest chance that shuffled columns satisfy a rule on all those rows
PRODUCT_SCREEN_ROWS = 400    # rows of the log-space screen of products
SCREEN_BLOCK_CELLS = 2_000_000   # rows x terms x pairs screened in one array operation
COUNT_SEARCH_ROWS = 20_000   # rows the whole search runs on (its rules are verified on every row after)
MAX_SCALE_DECADES = 9        # a product's constant scale is 10**m with |m| <= this


@dataclass
class Frame:
    """The search sample as the count search sees it: X (NaN for non-finite cells), Xex (also NaN
    for placeholder cells), the column names, their decimal steps and placeholder ranges, and the
    columns holding fractional values (exact to their cells' shown digits from RENDERED_FROM on)."""

    X: np.ndarray
    Xex: np.ndarray
    columns: list[str]
    quanta: dict[str, float]
    ranges: dict[str, list[list[float]]]
    rendered: set[str] = field(default_factory=set)

    def get(self, name: str) -> np.ndarray:
        """Raw values (placeholders included: the rules exclude them with their ranges)."""
        return self.X[:, self.columns.index(name)]

    def rule(self, cls, **kwargs) -> _TermRule:
        """A rule of class `cls` carrying the quanta and placeholder ranges of its columns."""
        rule = cls(**kwargs)
        cols = rule.columns
        rule.quanta = {c: self.quanta[c] for c in cols if c in self.quanta}
        rule.placeholder_ranges = {c: self.ranges[c] for c in cols if c in self.ranges}
        rule.rendered = [c for c in cols if c in self.rendered]
        return rule

    def probe(self) -> _TermRule:
        """A rule object that evaluates terms with every column's decimals and placeholders."""
        return WholeRatioRule(columns=["", ""], rtol=RTOL, quanta=dict(self.quanta), placeholder_ranges=dict(self.ranges),
                              rendered=sorted(self.rendered))

    def holds(self, rule: _TermRule, min_rows: int = COUNT_MIN_ROWS) -> bool:
        """The rule holds on every evaluable row of the sample, and at least min_rows are evaluable."""
        ok, ev = rule._evaluate(self.get)
        return int(ev.sum()) >= min_rows and bool(ok[ev].all())


def _chance_ok(shuffle_rate: float, rows: int) -> bool:
    return rows >= CHANCE_MIN_ROWS and (shuffle_rate <= 0 or rows * math.log(shuffle_rate) < math.log(COUNT_CHANCE))


def _shuffled(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return values[rng.permutation(len(values))]


def search_counts(frame: Frame, integral: set[str], fractions: set[str], nonneg: set[str],
                  rng: np.random.Generator) -> list[_TermRule]:
    """Every multiplicative rule of the sample (see the module docstring).

    In:  `frame`; `integral` columns holding integers only, `fractions` non-integral columns in
         [0, 1], `nonneg` columns >= 0 (each of them varying); `rng` for screens and shuffles.
    Out: WholeRatio, WholeShare, Product, CountOrder and CountBound rules, each holding on every
         evaluable row of the sample.
    """
    kept = set(_representatives(frame, [c for c in frame.columns if c in nonneg]))
    ratios, rules = _ratio_counts(frame, integral, nonneg & kept, rng)
    integer_counts = [col(c) for c in sorted(integral & nonneg, key=frame.columns.index)]
    shares, share_rules = _share_counts(frame, fractions, ratios + integer_counts + _differences(frame, ratios), rng)
    chance = _ratios_of_shares(frame, ratios, share_rules, rng)
    if chance:      # search the shares again without them: a share of a chance count is no share
        ratios = [t for t in ratios if str(t) not in chance]
        rules = [r for r in rules if not _reads_term(r, chance)]
        shares, share_rules = _share_counts(frame, fractions, ratios + integer_counts + _differences(frame, ratios), rng)
    rules += share_rules
    rules += _products(frame, ratios, shares, rng)
    rules += _count_orders(frame, ratios, shares, integral & nonneg)
    rules += _count_bounds(frame, ratios, nonneg & kept, rng)
    return rules


# ----------------------------------------------------------------------------- whole ratios


def _ratio_counts(frame: Frame, integral: set[str], nonneg: set[str], rng) -> tuple[list[Term], list[_TermRule]]:
    """Counts x / y (y a non-integral column: a mean), whole on every row; equal counts merged
    (an == rule for each duplicate)."""
    found: list[Term] = []
    rules: list[_TermRule] = []
    values: list[np.ndarray] = []
    for y in [c for c in frame.columns if c in nonneg and c not in integral]:
        vy = frame.Xex[:, frame.columns.index(y)]
        for x in [c for c in frame.columns if c in nonneg and c != y]:
            vx = frame.Xex[:, frame.columns.index(x)]
            if not _ratio_screen(vx, vy, frame.quanta.get(y, 0.0), rng):
                continue
            rule = frame.rule(WholeRatioRule, columns=[x, y], rtol=RTOL)
            if not frame.holds(rule):
                continue
            term: Term = ["ratio", x, y]
            n, ev, _ = rule.term(frame.get, term)
            n = np.where(ev, n, np.nan)
            twin = next((t for t, v in zip(found, values) if np.array_equal(v, n, equal_nan=True)), None)
            rules.append(rule)
            if twin is not None:
                rules.append(frame.rule(CountOrderRule, columns=count_rule_columns([twin, term]), terms=[twin, term], op="=="))
                continue
            found.append(term)
            values.append(n)
    return found, rules


def _ratio_screen(x: np.ndarray, y: np.ndarray, quantum: float, rng) -> bool:
    """x / y whole within y's storage on every row with y > 0, for at least two counts >= 1, and
    not by chance (x shuffled against y rarely is)."""
    rows = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if rows.sum() < COUNT_MIN_ROWS:
        return False
    x, y = x[rows], y[rows]

    def whole(xs: np.ndarray) -> np.ndarray:
        n = np.rint(xs / y)
        return (n >= 1) & (np.abs(xs / np.maximum(n, 1) - y) <= RTOL * y + 0.5 * quantum + 1e-12)

    ok = whole(x)
    if not ok.all() or np.unique(np.rint(x / y)).size < 2:
        return False
    return _chance_ok(float(whole(_shuffled(x, rng)).mean()), int(rows.sum()))


def _ratios_of_shares(frame: Frame, ratios: list[Term], share_rules: list[_TermRule], rng) -> set[str]:
    """The ratio counts x / y whose x and y are both shares of one count c (x = k1 / c, y = k2 / c:
    the ratio is k1 / k2) without evidence beyond the trivial rows: where k2 = 1 every k1 is a
    whole multiple, so only rows with k2 >= 2 count, and there the ratio must be whole on at
    least COUNT_MIN_ROWS rows and not by chance (x shuffled over them). On a 360-row table SYN
    packets were a whole multiple of forward SYN packets because there was one forward SYN."""
    share_of: dict[str, list[Term]] = {}
    for r in share_rules:
        share_of.setdefault(r.columns[0], []).append(r.count)
    probe = frame.probe()
    chance: set[str] = set()
    for term in ratios:
        x, y = term[1], term[2]
        common = [c for c in share_of.get(x, []) if c in share_of.get(y, [])]
        if not common:
            continue
        vx, vy = frame.Xex[:, frame.columns.index(x)], frame.Xex[:, frame.columns.index(y)]
        evidence = np.zeros(len(vx), dtype=bool)
        for count in common:
            n, ev, _ = probe.term(frame.get, count)
            with np.errstate(invalid="ignore"):
                evidence |= ev & (np.rint(vy * n) >= 2)
        evidence &= np.isfinite(vx) & np.isfinite(vy)
        if evidence.sum() < COUNT_MIN_ROWS or not _ratio_screen(vx[evidence], vy[evidence], frame.quanta.get(y, 0.0), rng):
            chance.add(str(term))
    return chance


def _reads_term(rule: _TermRule, terms: set[str]) -> bool:
    """The rule is about one of `terms` (given as str(term)): its own ratio, or a term it reads."""
    if isinstance(rule, WholeRatioRule) and str(["ratio", *rule.columns]) in terms:
        return True
    read = list(getattr(rule, "terms", [])) + ([rule.count] if getattr(rule, "count", None) else [])
    return any(t in str(r) for r in read for t in terms)


# ----------------------------------------------------------------------------- shares of counts


def _differences(frame: Frame, ratios: list[Term]) -> list[Term]:
    """n - m for implied counts m <= n on every row (strictly below in some): the packets of the
    other direction, a count shares can be of."""
    probe = frame.probe()
    values = {str(t): probe.term(frame.get, t) for t in ratios}
    out: list[Term] = []
    for m in ratios:
        for n in ratios:
            (vm, em, _), (vn, en, _) = values[str(m)], values[str(n)]
            ev = em & en
            if m is not n and ev.sum() >= COUNT_MIN_ROWS and (vm[ev] <= vn[ev]).all() and (vm[ev] < vn[ev]).any():
                out.append(["diff", n, m])
    return out



def _share_counts(frame: Frame, fractions: set[str], counts: list[Term], rng) -> tuple[list[Term], list[_TermRule]]:
    """Shares s in [0, 1] whose product with a count is whole on every row (informative rows:
    0 < s < 1), and not by chance."""
    terms: list[Term] = []
    rules: list[_TermRule] = []
    probe = frame.probe()
    for s in [c for c in frame.columns if c in fractions]:
        vs = frame.Xex[:, frame.columns.index(s)]
        for count in counts:
            if s in term_columns(count):
                continue
            n, ev, _ = probe.term(frame.get, count)
            rows = ev & np.isfinite(vs) & (vs > 0) & (vs < 1) & (n > 0)
            if rows.sum() < CHANCE_MIN_ROWS:
                continue
            tol = RTOL * vs[rows] * n[rows] + 0.5 * frame.quanta.get(s, 0.0) * n[rows] + 1e-9
            k = vs[rows] * n[rows]
            if not (np.abs(k - np.rint(k)) <= tol).all():
                continue
            k_shuffled = vs[rows] * _shuffled(n[rows], rng)
            rate = float((np.abs(k_shuffled - np.rint(k_shuffled)) <= tol).mean())
            if not _chance_ok(rate, int(rows.sum())):
                continue
            rule = frame.rule(WholeShareRule, columns=count_rule_columns([col(s), count]), count=count, rtol=RTOL)
            if frame.holds(rule):
                rules.append(rule)
                terms.append(["share", s, count])
    return terms, rules


# ----------------------------------------------------------------------------- products


def _log_matrix(frame: Frame, terms: list[Term]) -> tuple[np.ndarray, np.ndarray]:
    """log of each term on the screen rows (NaN where not positive or not evaluable) and the
    half-width of its storage uncertainty in log space."""
    probe = frame.probe()
    logs, rel = [], []
    for t in terms:
        if t[0] == "col":
            x = frame.Xex[:, frame.columns.index(t[1])]
            ev = np.isfinite(x)
            err = RTOL * np.abs(x) + 0.5 * frame.quanta.get(t[1], 0.0)
            if t[1] in frame.rendered:
                err = err + 0.5 * rendered_step(x)
        else:
            x, ev, err = probe.term(frame.get, t)
        with np.errstate(invalid="ignore", divide="ignore"):
            good = ev & (x > 0)
            logs.append(np.where(good, np.log(np.where(good, x, 1.0)), np.nan))
            # half-width of [log(x - err), log(x + err)] on its wider side, -log(1 - err/x): err/x alone
            # is narrower, and a cell rounded by exactly half its shown step (10750000 shown as
            # 10800000.0) fell outside it by 1e-5
            share = np.minimum(err / np.where(good, x, 1.0), 1.0 - 1e-12)
            rel.append(np.where(good, -np.log1p(-share), np.nan))
    return np.column_stack(logs), np.column_stack(rel)


def _products(frame: Frame, ratios: list[Term], shares: list[Term], rng) -> list[_TermRule]:
    """a = 10**m * b * c on the positive rows (log screen), then the form that holds on every
    row: the product itself, or a quotient b = a / c (c = a / b) where zero divisors are left out.
    Products that follow from the counts are left to the count rules (see _definitional)."""
    varying = [c for j, c in enumerate(frame.columns) if np.unique(frame.Xex[:, j][np.isfinite(frame.Xex[:, j])]).size >= 2]
    terms = [col(c) for c in _representatives(frame, varying)] + list(ratios) + _total_sums(frame, ratios)
    if len(terms) < 3:
        return []
    rows = rng.choice(len(frame.X), size=min(len(frame.X), PRODUCT_SCREEN_ROWS), replace=False)
    sub = Frame(frame.X[rows], frame.Xex[rows], frame.columns, frame.quanta, frame.ranges, frame.rendered)
    L, E = _log_matrix(sub, terms)
    out: list[_TermRule] = []
    seen: set[frozenset] = set()
    integral = {c for j, c in enumerate(frame.columns)
                if np.all(np.abs(frame.Xex[:, j] - np.rint(frame.Xex[:, j]))[np.isfinite(frame.Xex[:, j])] == 0)}
    screen = _LogScreen(L, E)
    for b in range(len(terms)):
        for c, a, m in screen.products_with(b):
            key = frozenset(map(str, (terms[a], terms[b], terms[c])))
            if key in seen or _definitional((terms[a], terms[b], terms[c]), ratios, shares, integral):
                continue
            seen.add(key)
            rule = _product_form(frame, terms[a], terms[b], terms[c], 10.0 ** m, rng)
            if rule is not None:
                out.append(rule)
    # a product c = s * n with c an integer column makes s a share of n: products of such shares
    # follow from their counts too
    counted = shares + [["share", r.terms[1][1], r.terms[2]] for r in out if _counts_a_share(r, integral)]
    return [r for r in out if _counts_a_share(r, integral) or not _definitional(tuple(r.terms), ratios, counted, integral)]


def _total_sums(frame: Frame, ratios: list[Term]) -> list[Term]:
    """["sum", x1, x2] for two totals of ratio counts (x of n = x / mean): both directions' bytes,
    what a byte rate over the flow's duration counts. A sum equal to a column on every row is
    left out (that column is already a term)."""
    totals = list(dict.fromkeys(t[1] for t in ratios))
    values = {c: frame.X[:, frame.columns.index(c)] for c in totals}
    sums: list[Term] = []
    for i, first in enumerate(totals):
        for second in totals[i + 1:]:
            total = values[first] + values[second]
            if not any(np.array_equal(total, frame.X[:, j], equal_nan=True) for j in range(len(frame.columns))):
                sums.append(["sum", first, second])
    return sums


def _counts_a_share(rule: ProductRule, integral: set[str]) -> bool:
    """c = s * n: an integer column, a non-integer column, a count, unit scale."""
    left, share, count = rule.terms
    return (rule.power == 1 and rule.scale == 1 and left[0] == "col" and left[1] in integral
            and share[0] == "col" and share[1] not in integral and count[0] != "col")


def _representatives(frame: Frame, columns: list[str]) -> list[str]:
    """The columns less those equal to an earlier one on every row (their products are the same);
    compared in full only where a cheap fingerprint (NaN count, sums) agrees."""
    kept: list[str] = []
    prints: dict[tuple, list[str]] = {}
    for c in columns:
        x = frame.X[:, frame.columns.index(c)]
        key = (int(np.isnan(x).sum()), float(np.nansum(x)), float(np.nansum(x * x)))
        same = prints.setdefault(key, [])
        if not any(np.array_equal(x, frame.X[:, frame.columns.index(k)], equal_nan=True) for k in same):
            kept.append(c)
            same.append(c)
    return kept


class _LogScreen:
    """Which terms a can be 10**m * b * c on every screen row: log a - log b - log c must lie in
    one interval [lo, hi] (each row's value give or take its storage uncertainty) on every row
    where the three are positive, at least 5 of them, and the interval must hold m * ln 10 for
    an integer |m| <= MAX_SCALE_DECADES.

    In:  L, E (rows x terms): log of each term (NaN where not positive) and its relative
         uncertainty, from _log_matrix.
    The c of one b are screened together, in blocks of SCREEN_BLOCK_CELLS: on a 520-column table
    one numpy call per pair (135,000 of them) took 20 s. NaN rows drop out of the interval
    through fmax/fmin, and the rows counted are a product of finite-indicator matrices."""

    def __init__(self, L: np.ndarray, E: np.ndarray):
        self.L, self.E = L, E
        self.low, self.high = L - E, L + E          # NaN where the term is not positive
        self.finite = np.isfinite(L).astype(np.float32)

    def products_with(self, b: int) -> list[tuple[int, int, int]]:
        """(c, a, m) for every c > b and a screened in, ordered by c then a."""
        rows, terms = self.L.shape
        block = max(1, SCREEN_BLOCK_CELLS // max(rows * terms, 1))
        found: list[tuple[int, int, int]] = []
        for start in range(b + 1, terms, block):
            cs = np.arange(start, min(start + block, terms))
            pair = self.L[:, [b]] + self.L[:, cs]                        # rows x pairs
            spread = self.E[:, [b]] + self.E[:, cs] + 1e-12
            with np.errstate(invalid="ignore"):
                lo = np.fmax.reduce(self.low[:, :, None] - (pair + spread)[:, None, :], axis=0)   # terms x pairs
                hi = np.fmin.reduce(self.high[:, :, None] - (pair - spread)[:, None, :], axis=0)
                open_ = lo <= hi
            shared = self.finite.T @ np.isfinite(pair).astype(np.float32)   # rows where a, b and c are positive
            open_ &= shared >= 5
            open_[b, :] = False
            open_[cs, np.arange(cs.size)] = False
            for j, a in zip(*np.nonzero(open_.T)):
                m = math.ceil(lo[a, j] / math.log(10) - 1e-12)
                if abs(m) <= MAX_SCALE_DECADES and m * math.log(10) <= hi[a, j] + 1e-12:
                    found.append((int(cs[j]), int(a), m))
        return found


def _definitional(triple: tuple[Term, Term, Term], ratios: list[Term], shares: list[Term], integral: set[str]) -> bool:
    """True when the product follows from the counts rather than adding to them: both columns
    of a ratio count with the count itself (x = y * n(x/y)) or with a non-integer column (x = y / s:
    s * n(x/y) = 1 wherever s > 0), or two shares of one count (b / c is the ratio of their whole
    counts). x = y * c for an integer column c is kept: it says the count is c."""
    names = {str(t) for t in triple}
    integer_columns = {str(col(c)) for c in integral}
    for r in ratios:
        pair = {str(col(r[1])), str(col(r[2]))}
        if pair <= names and not (names - pair) <= integer_columns:
            return True
    bases = [str(s[2]) for s in shares if str(col(s[1])) in names]
    return len(bases) != len(set(bases))


def _product_form(frame: Frame, a: Term, b: Term, c: Term, scale: float, rng: np.random.Generator) -> _TermRule | None:
    """The strongest form holding on every row: a = k*b*c, else b = a/(k*c) or c = a/(k*b) (the
    one with more evaluable rows); None when none holds or the positive rows do not vary."""
    forms = [(a, b, c, 1, scale), (b, a, c, -1, 1.0 / scale), (c, a, b, -1, 1.0 / scale)]
    best, best_rows = None, -1
    for k, (left, f1, f2, power, s) in enumerate(forms):
        rule = frame.rule(ProductRule, columns=count_rule_columns([left, f1, f2]), terms=[left, f1, f2],
                          power=power, scale=float(s), rtol=RTOL)
        ok, ev = rule._evaluate(frame.get)
        if not ok[ev].all() or not _varies(rule, frame, ev, rng):
            continue
        if k == 0:
            return rule
        if ev.sum() > best_rows:
            best, best_rows = rule, int(ev.sum())
    return best


def _varies(rule: ProductRule, frame: Frame, ev: np.ndarray, rng: np.random.Generator) -> bool:
    """At least COUNT_MIN_ROWS rows where every term is positive, both factors take >= 2 values
    there (else the 'product' is an equality or a constant ratio), and the product is no accident
    of few values: with the second factor shuffled over those rows it would rarely hold (on 27
    rows of a small table, total = median / share held because the share was 1/2 on 24 of them
    and the median was the mean)."""
    values = [rule.term(frame.get, t)[0] for t in rule.terms]
    positive = ev & np.all([v > 0 for v in values], axis=0)
    if positive.sum() < COUNT_MIN_ROWS:
        return False
    if not all(np.unique(v[positive]).size >= 2 for v in values[1:]):
        return False
    rows = np.nonzero(positive)[0]
    return _chance_ok(_shuffled_product_rate(rule, frame, rows, rng), rows.size)


def _shuffled_product_rate(rule: ProductRule, frame: Frame, rows: np.ndarray, rng: np.random.Generator) -> float:
    """Share of `rows` on which the product still holds with its second factor's values (and
    their uncertainties) shuffled over those rows, under the rule's own storage tolerances."""
    (a, _, err_a), (b, _, err_b), (c, _, err_c) = (rule.term(frame.get, t) for t in rule.terms)
    order = rng.permutation(rows.size)
    a, b, err_a, err_b = a[rows], b[rows], err_a[rows], err_b[rows]
    c, err_c = c[rows][order], err_c[rows][order]
    with np.errstate(invalid="ignore", divide="ignore"):
        if rule.power == 1:
            g, err_g = c, err_c
        else:
            g = 1.0 / c
            err_g = err_c / np.maximum(np.abs(c) * (np.abs(c) - err_c), 1e-300)
        product = rule.scale * b * g
        err = (err_a + abs(rule.scale) * (np.abs(g) * err_b + np.abs(b) * err_g)
               + FLOAT_REPRESENTATION * np.maximum(np.abs(a), np.abs(product)))
        return float((np.abs(a - product) <= err).mean())


# ----------------------------------------------------------------------------- orders and bounds


def _count_orders(frame: Frame, ratios: list[Term], shares: list[Term], integers: set[str]) -> list[_TermRule]:
    """n1 <= n2 between implied packet counts (strict in some row, equal in another); share
    counts equal to another share count or to an integer column (the flag count behind two
    shares: of all packets and of the direction's)."""
    out: list[_TermRule] = []
    probe = frame.probe()
    value = {str(t): probe.term(frame.get, t) for t in ratios + shares}
    for i, m in enumerate(ratios):
        for n in ratios:
            if m is n:
                continue
            (vm, em, _), (vn, en, _) = value[str(m)], value[str(n)]
            ev = em & en
            if ev.sum() >= COUNT_MIN_ROWS and (vm[ev] <= vn[ev]).all() and (vm[ev] < vn[ev]).any() and (vm[ev] == vn[ev]).any():
                out.append(frame.rule(CountOrderRule, columns=count_rule_columns([m, n]), terms=[m, n], op="<="))
    others = shares + [col(c) for c in sorted(integers, key=frame.columns.index)]
    for i, m in enumerate(shares):
        vm, em, _ = value[str(m)]
        for n in others[i + 1:]:
            if set(term_columns(m)) & set(term_columns(n)) and n[0] == "col":
                continue
            vn, en, _ = value[str(n)] if str(n) in value else probe.term(frame.get, n)
            ev = em & en
            if ev.sum() >= COUNT_MIN_ROWS and (vm[ev] == vn[ev]).all() and (vm[ev] > 0).any():
                out.append(frame.rule(CountOrderRule, columns=count_rule_columns([m, n]), terms=[m, n], op="=="))
    return out


def _count_bounds(frame: Frame, ratios: list[Term], nonneg: set[str], rng) -> list[_TermRule]:
    """bound * n <= total (bound <= the mean on every row: a minimum) and total <= bound * n
    (bound >= the mean: a maximum), for n = total / mean, tight in some row with n >= 2."""
    out: list[_TermRule] = []
    for count in ratios:
        total, mean = count[1], count[2]
        vm = frame.X[:, frame.columns.index(mean)]
        for bound in [c for c in frame.columns if c in nonneg and c not in (total, mean)]:
            vb = frame.X[:, frame.columns.index(bound)]
            both = np.isfinite(vm) & np.isfinite(vb)
            for side, ordered in (("low", vb <= vm), ("high", vb >= vm)):
                if not ordered[both].all():
                    continue
                rule = frame.rule(CountBoundRule, columns=[bound, total, mean], count=count, side=side, rtol=RTOL)
                if frame.holds(rule) and _tight(rule, frame):
                    out.append(rule)
    return out


def _tight(rule: CountBoundRule, frame: Frame) -> bool:
    """Equality bound * n == total in some row with n >= 2 (the bound is reached, not loose)."""
    bound, _, _ = rule._column(frame.get, rule.columns[0])
    total, _, _ = rule._column(frame.get, rule.columns[1])
    n, ev, _ = rule.term(frame.get, rule.count)
    with np.errstate(invalid="ignore"):
        return bool((ev & (n >= 2) & np.isclose(bound * n, total, rtol=1e-9, atol=0)).any())
