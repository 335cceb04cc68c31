"""The numeric searches behind discovery: ordered families, pairs and sums, and the reduction
of pairs implied by other rules.

Part of common.rules (its docstring describes every rule kind and the conventions they share).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from common.rules.base import (
    ATOL, MAX_SUM_CANDIDATES, MIN_EVALUABLE_ROWS, PAIR_CONFIRM_BUDGET, PAIR_CONFIRM_ROWS,
    PAIR_SCREEN_BUDGET, PAIR_SCREEN_ROWS, RTOL, SUM_SCREEN_ROWS, _STAT_HIGH, _STAT_LOW, _STAT_MID,
    _tokens, _tol, transitive_closure,
)
from common.rules.kinds import FamilyRule, PairRule, SumRule, _le


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
    R_val, R_all = transitive_closure(edge_val), transitive_closure(edge_all)

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
