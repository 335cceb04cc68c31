"""`discover_rules(frame)`: find, verify and tighten the rules of a table from its data alone.

Part of common.rules (its docstring describes every rule kind and the conventions they share).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.rules.base import (
    Getter, MULTIPLE_CHANCE, PLACEHOLDER_DECADES, PLACEHOLDER_SPREAD, RTOL_LADDER, _getter, _numeric,
)
from common.rules.kinds import (
    BoundsRule, DeterminationRule, GridRule, IntegerRule, MultipleRule, PlaceholderRule, Rule,
    _Comparing, _factorize_keys,
)
from common.rules.ruleset import RuleSet
from common.rules.count_search import COUNT_SEARCH_ROWS, Frame, search_counts
from common.rules.counts import COUNT_RULE_TYPES
from common.rules.search import _families, _reduce_pairs, _search_pairs, _search_sums


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


_EXACT_INTEGERS = 2.0 ** 53   # float64 holds every integer below this exactly


def _quantum(u: np.ndarray) -> float:
    """The decimal step the values are stored with: the largest 10**-k (k = 1..10) such that every
    distinct value is exactly the float a k-decimal text parses to (rint(u * 10**k) / 10**k == u,
    with u * 10**k inside float64's exact integers); 0 if none (the file carries more decimals or
    full float64 precision, e.g. CICFlowMeter's means written to 17 digits), or if there are too
    few distinct values to tell storage rounding from the values themselves. No relative slack:
    a tolerance relative to the value would accept 1234.5678912 as a 1e-6 step."""
    if len(u) < 10:
        return 0.0
    for k in range(1, 11):
        scale = 10.0 ** k
        s = u * scale
        if np.all(np.abs(s) < _EXACT_INTEGERS) and np.all(np.rint(s) / scale == u):
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
        if n_ev == 0 or support < (1.0 if isinstance(r, COUNT_RULE_TYPES) else min_support):
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

    # 7. multiplicative structure: implied counts, shares of counts, products, count orders --------
    rules += _discover_counts(X, Xex, columns, prof, quanta, ranges, rng)
    return rules


def _discover_counts(X, Xex, columns, prof: dict[str, "_Profile"], quanta, ranges, rng) -> list[Rule]:
    """The count search (common.rules.count_search) over the varying columns, on at most
    COUNT_SEARCH_ROWS rows of the sample (every rule it finds is then verified on all rows)."""
    if len(X) > COUNT_SEARCH_ROWS:
        rows = np.sort(rng.choice(len(X), size=COUNT_SEARCH_ROWS, replace=False))
        X, Xex = X[rows], Xex[rows]
    varying = {c for c, p in prof.items() if p.n > 0 and p.distinct >= 2}
    integral = {c for c in varying if prof[c].integral}
    fractions = {c for c in varying if not prof[c].integral and prof[c].lo >= 0 and prof[c].hi <= 1}
    nonneg = {c for c in varying if prof[c].lo >= 0}
    frame = Frame(X=X, Xex=Xex, columns=list(columns), quanta=quanta, ranges=ranges,
                  rendered={c for c in columns if c in prof and not prof[c].integral})
    return search_counts(frame, integral, fractions, nonneg, rng)


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
