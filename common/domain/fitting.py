"""Fitting the domain layer's plan from the real training rows (the `_Fitting` half of
DomainTransformer): states and patterns, placeholder values, class encodings, the decode
order of the numeric columns, sums, heavy tails, fillers.
"""
from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from common.data.classes import class_quotas
from common.domain.counts import plan_counts
from common.domain.parts import (
    DISCRETE_MIN_VALUES, GAP_DOWN, GAP_UP, GROUP_SEPARATOR, JOINT_SEPARATOR, LOG_SCALE_QUANTILE, MEASURED,
    MISSING, PATTERN_COLUMN, PLACEHOLDER, PLACEHOLDER_PREFIX, RAW, SHARE, _ClassQuantiles, _Labels, _Node,
    _Step, _SumPlan, _ValueClass, _normal_score, _values, is_heavy_tailed,
)
from common.rules import (
    BoundsRule, DeterminationRule, FamilyRule, GridRule, IntegerRule, MultipleRule, PairRule,
    PlaceholderRule, Rule, SumRule, category_key, transitive_closure,
)


# the training rows a state pattern needs before a count's range there is taken from them
COUNT_RANGE_MIN_ROWS = 20


class _Fitting:
    """What DomainTransformer learns in `fit` (methods that read the real training rows)."""

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame) -> Self:
        """Learn the plan from the real (modelled) training rows. Returns self."""
        if frame.empty:
            raise ValueError("cannot fit the domain layer on an empty frame")
        self.columns = [str(c) for c in frame.columns]
        self.dtypes = {str(c): frame[c].dtype for c in frame.columns}
        self.numeric = self._numeric_columns(frame)
        # counts first (common.domain.counts): the whole counts are learned columns of their own
        self.count_plan = plan_counts(self.rules, frame, self.numeric)
        frame = self.count_plan.with_counts(frame)
        self.numeric = self.numeric + list(self.count_plan.virtual)
        present = set(self.columns) | set(self.count_plan.virtual)
        rules = [r for r in self.rules if all(c in present for c in r.columns)]
        self._fit_determinations([r for r in rules if isinstance(r, DeterminationRule)])
        self._fit_states(frame, [r for r in rules if isinstance(r, PlaceholderRule) and r.column in self.numeric])
        self._fit_joint_class(frame)
        numeric_rules = [r for r in rules if all(c in self.numeric for c in r.columns)]
        self._fit_structure(frame, numeric_rules)
        self._fit_fillers(frame)
        self._fit_class_encodings(frame)
        self.fitted = True
        return self

    def _fit_class_encodings(self, frame: pd.DataFrame) -> None:
        """For each class (schema.target value, as text): the encoded column and values that
        carry it, with their training counts, so a class can be asked of SDV's conditional
        sampling (the class may sit in the joint pattern column, or be generated from the
        column that determines it)."""
        self.class_encodings: dict[str, list[tuple[str, Any, int]]] = {}
        target = getattr(self.schema, "target", None) if self.schema is not None else None
        if target is None or target not in self.columns:
            return
        sources = {b: (a, mapping) for a, b, mapping in self.determined}
        column, carrier = target, frame[target]
        if target in sources:     # generated from another column: condition on that one
            column = sources[target][0]
            carrier = frame[column]
        if column == self.joint_class:
            carrier = pd.Series(self._joint_labels(frame, self._row_patterns(frame)), index=frame.index)
            column = PATTERN_COLUMN
        table = pd.DataFrame({"label": frame[target].astype(str).to_numpy(), "value": carrier.to_numpy()})
        for (label, value), count in table.value_counts(sort=False).items():
            self.class_encodings.setdefault(str(label), []).append((column, value, int(count)))

    def class_conditions(self, label: str, rows: int) -> list[tuple[dict[str, Any], int]]:
        """SDV conditions ({encoded column: value}, rows) asking for `rows` rows of class `label`,
        split over the encoded values that carry it in proportion to the training rows; [] for
        a class the training rows do not hold."""
        self._require_fitted()
        carriers = self.class_encodings.get(str(label), [])
        if not carriers or rows <= 0:
            return []
        weights = {k: count for k, (_, _, count) in enumerate(carriers)}
        split = class_quotas({str(k): w for k, w in weights.items()}, rows)
        return [({carriers[int(k)][0]: carriers[int(k)][1]}, n) for k, n in split.items() if n > 0]

    def _numeric_columns(self, frame: pd.DataFrame) -> list[str]:
        if self.schema is not None:
            wanted = set(self.schema.numeric_columns)
            return [c for c in self.columns if c in wanted and pd.api.types.is_numeric_dtype(frame[c])
                    and not pd.api.types.is_bool_dtype(frame[c])]
        return [c for c in self.columns if pd.api.types.is_numeric_dtype(frame[c])
                and not pd.api.types.is_bool_dtype(frame[c])]

    def _fit_determinations(self, rules: list[DeterminationRule]) -> None:
        """Determined columns are not learned; order them so each source is decoded first."""
        pending = {r.columns[1]: r for r in rules if r.columns[1] not in self.numeric}
        self.determined: list[tuple[str, str, dict[Any, Any]]] = []
        done: set[str] = set()
        while pending:
            ready = [b for b, r in pending.items() if r.columns[0] not in pending]
            if not ready:   # a cycle of mutual determination: keep the rest learned
                break
            for b in ready:
                r = pending.pop(b)
                if b in done:
                    continue
                self.determined.append((r.columns[0], b, {a: v for a, v in r.mapping}))
                done.add(b)

    def _fit_states(self, frame: pd.DataFrame, placeholders: list[PlaceholderRule]) -> None:
        """State groups (columns with identical placeholder/missing masks) and their patterns."""
        self.placeholder_rules = {r.column: r for r in placeholders}
        states = self._states(frame)
        self.groups: list[list[str]] = []
        keys: dict[bytes, int] = {}
        for column, state in states.items():
            if not (state != MEASURED).any():
                continue
            key = state.tobytes()
            if key not in keys:
                keys[key] = len(self.groups)
                self.groups.append([])
            self.groups[keys[key]].append(column)
        self.state_columns = [c for g in self.groups for c in g]
        self.patterns: list[str] = []
        self.pattern_states: dict[str, dict[str, int]] = {}
        self.value_classes: list[_ValueClass] = []
        if not self.groups:
            return
        pattern = self._pattern_of(states)
        counts = pattern.value_counts()
        for name in counts.index:
            self.patterns.append(name)
            first = int(np.argmax((pattern == name).to_numpy()))
            self.pattern_states[name] = {c: int(states[c][first]) for c in self.state_columns}
        self._fit_value_classes(frame, states)

    def _fit_value_classes(self, frame: pd.DataFrame, states: dict[str, np.ndarray]) -> None:
        """Placeholder columns whose placeholder cells hold one value per row (NTLFlowLyzer
        writes the capture's epoch into every IAT column of a one-packet direction) share one
        learned column, the row's placeholder value: generated jointly with the class and the
        rest of the row, so the link between capture time and activity survives, and never
        copied from a real row. Columns are joined when their placeholder cells are equal in
        every row where both are placeholders; a single-valued placeholder (-1) is a constant."""
        variable = [c for c in self.state_columns
                    if c in self.placeholder_rules and self.placeholder_rules[c].lo < self.placeholder_rules[c].hi]
        values = {c: np.where(states[c] == PLACEHOLDER, _values(frame, c), np.nan) for c in variable}
        parent = {c: c for c in variable}

        def find(c: str) -> str:
            while parent[c] != c:
                c = parent[c]
            return c

        for k, first in enumerate(variable):
            for second in variable[k + 1:]:
                if find(first) == find(second):
                    continue
                both = np.isfinite(values[first]) & np.isfinite(values[second])
                if both.any() and np.array_equal(values[first][both], values[second][both]):
                    parent[find(second)] = find(first)
        classes: dict[str, list[str]] = {}
        for c in variable:
            classes.setdefault(find(c), []).append(c)
        labels = self._class_labels(frame)
        for columns in classes.values():
            stacked = np.column_stack([values[c] for c in columns])
            row_value = np.full(len(frame), np.nan)
            for k in range(stacked.shape[1]):
                row_value = np.where(np.isnan(row_value), stacked[:, k], row_value)
            quanta = [self.placeholder_rules[c].quantum for c in columns if self.placeholder_rules[c].quantum > 0]
            self.value_classes.append(_ValueClass(
                name=PLACEHOLDER_PREFIX + columns[0], columns=columns, quantiles=_ClassQuantiles(row_value, labels),
                quantum=float(min(quanta)) if quanta else 0.0))

    def _class_labels(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The class (schema.target) of each row as text, or None without a class column; a
        class generated from another column (a determination) is mapped from that column."""
        target = getattr(self.schema, "target", None) if self.schema is not None else None
        if target is None:
            return None
        if target in frame.columns:
            return frame[target].astype(str).to_numpy()
        for source, determined, mapping in getattr(self, "determined", []):
            if determined == target and source in frame.columns:
                return np.array([str(mapping.get(category_key(v))) for v in frame[source]], dtype=object)
        return None

    def _position_labels(self, frame: pd.DataFrame, pattern: np.ndarray | pd.Series | None) -> np.ndarray | None:
        """The group whose marginals a learned column's positions are taken in (_ClassQuantiles):
        the row's class and state pattern ("class" + GROUP_SEPARATOR + "pattern"); None without
        a class column. A model pairs a continuous column loosely with the pattern it generates
        beside it (a flag count made where the pattern says one packet, in another pattern
        than the real one); within its class and pattern each column keeps its real marginals."""
        classes = self._class_labels(frame)
        if classes is None or not self.groups or pattern is None:
            return classes
        return np.char.add(np.char.add(classes.astype(str), GROUP_SEPARATOR),
                           np.asarray(pattern, dtype=object).astype(str)).astype(object)

    def _placeholder_values(self, frame: pd.DataFrame, fill: bool) -> dict[str, np.ndarray]:
        """Each value class's encoded column: the position of the row's placeholder value among
        its class's (see _ValueClass) as a standard normal score; where the row has none, NaN
        unless `fill`, then a random position (noise the model learns to ignore: the pattern
        says there is none)."""
        out: dict[str, np.ndarray] = {}
        if not self.value_classes:
            return out
        labels = self._class_labels(frame)
        rng = np.random.default_rng(self.seed + 2)
        for vclass in self.value_classes:
            row_value = np.full(len(frame), np.nan)
            for column in vclass.columns:
                x = _values(frame, column)
                cell = self.placeholder_rules[column].is_placeholder(x) & np.isfinite(x)
                row_value = np.where(np.isnan(row_value) & cell, x, row_value)
            u = vclass.quantiles.positions(row_value, labels, rng)
            if fill:
                gaps = np.isnan(u)
                u[gaps] = rng.uniform(0.0, 1.0, gaps.sum())
            out[vclass.name] = _normal_score(u)
        return out

    def _fit_joint_class(self, frame: pd.DataFrame) -> None:
        """The class column (schema.target) joins the state pattern in one categorical column:
        which directions hold placeholders depends on the kind of flow (an OSYN attack is a
        lone SYN), and a joint category generates only the combinations real rows show."""
        target = getattr(self.schema, "target", None) if self.schema is not None else None
        determined = {b for _, b, _ in self.determined}
        self.joint_class = (target if self.join_class and self.groups and target in self.columns
                            and target not in self.numeric and target not in determined else None)
        self.joint_values: dict[str, Any] = {}
        if self.joint_class:
            for value in frame[self.joint_class].drop_duplicates():
                self.joint_values[str(value)] = value

    def _joint_labels(self, frame: pd.DataFrame, pattern: pd.Series) -> np.ndarray:
        """'<pattern>|<class>' per row (patterns never hold '|')."""
        classes = frame[self.joint_class].astype(str).to_numpy().astype(object)
        return (pattern.to_numpy().astype(object) + JOINT_SEPARATOR) + classes

    def _split_joint(self, encoded: pd.DataFrame) -> pd.DataFrame:
        """The class column and the pure pattern back from the joint column."""
        if not self.joint_class or PATTERN_COLUMN not in encoded.columns:
            return encoded
        labels = encoded[PATTERN_COLUMN].astype(str).str.split(JOINT_SEPARATOR, n=1, expand=True)
        if labels.shape[1] < 2:
            labels[1] = None
        fallback = next(iter(self.joint_values.values()))
        encoded = encoded.copy()
        encoded[PATTERN_COLUMN] = labels[0].to_numpy()
        encoded[self.joint_class] = [self.joint_values.get(v, fallback) for v in labels[1]]
        return encoded

    def _states(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        states = {}
        for column in self.numeric:
            x = _values(frame, column)
            state = np.where(np.isfinite(x), MEASURED, MISSING).astype(np.int8)
            rule = self.placeholder_rules.get(column)
            if rule is not None:
                state[np.asarray(rule.is_placeholder(x), dtype=bool) & np.isfinite(x)] = PLACEHOLDER
            states[column] = state
        return states

    def _pattern_of(self, states: dict[str, np.ndarray]) -> pd.Series:
        """One text label per row: the state of each group's first column, e.g. '0.1.0'."""
        parts = [states[g[0]].astype(str) for g in self.groups]
        label = parts[0].astype(object)
        for part in parts[1:]:
            label = label + "." + part.astype(object)
        return pd.Series(label, dtype=object)

    def _fit_structure(self, frame: pd.DataFrame, rules: list[Rule]) -> None:
        """Equalities, sums, the decode order and each pattern's per-column steps."""
        quanta: dict[str, float] = {str(c): float(q) for c, q in (self.rules.meta.get("quanta") or {}).items()}
        for r in rules:
            quanta.update(getattr(r, "quanta", {}))
        self.copy_quanta = quanta
        # equalities: union-find onto the most precise column of each class
        parent = {c: c for c in self.numeric}

        def find(c: str) -> str:
            while parent[c] != c:
                c = parent[c]
            return c

        derived = self.count_plan.derived
        for r in rules:
            if isinstance(r, PairRule) and r.op == "==":
                a, b = find(r.columns[0]), find(r.columns[1])
                if a != b:
                    # the source is a derived column (a mean computed from its count), else the more
                    # precise column (a copy stored to fewer decimals is rounded to them on the way back)
                    first, second = sorted((a, b), key=lambda c: (c not in derived, quanta.get(c, 0.0),
                                                                  self.numeric.index(c)))
                    parent[second] = first
        self.copies = {c: find(c) for c in self.numeric if find(c) != c}

        # how often each column takes part in an ordering / sum (sums need free summands)
        ordering = [r for r in rules if isinstance(r, FamilyRule) or (isinstance(r, PairRule) and r.op == "<=")]
        sums = [r for r in rules if isinstance(r, SumRule)]
        involved: dict[str, int] = {}
        for r in ordering + sums:
            for c in r.columns:
                involved[c] = involved.get(c, 0) + 1
        bounds = {r.column: r for r in rules if isinstance(r, BoundsRule)}
        integers = {r.column for r in rules if isinstance(r, IntegerRule)}
        self.sums: list[_SumPlan] = []
        taken: set[str] = set()
        states = set(self.state_columns)
        dropped = self.count_plan.dropped
        for r in sums:
            a, b, total = r.columns
            cols = set(r.columns)
            if cols & taken or cols & set(self.copies) or {a, b} & states or cols & dropped:
                continue
            nonneg = all(c in bounds and bounds[c].lo >= 0 for c in (a, b))
            integer = all(c in integers for c in r.columns)
            if nonneg and involved.get(a) == 1 and involved.get(b) == 1 and total not in states:
                self.sums.append(_SumPlan((a, b), total, "share", integer))
            elif involved.get(total) == 1:
                # the total may be missing or a placeholder in some rows (CICFlowMeter's Infinity
                # in Flow Packets/s): it is derived everywhere, then its state restored
                self.sums.append(_SumPlan((a, b), total, "derive", integer))
            else:
                continue
            taken |= cols
        not_nodes = set(self.copies) | {c for s in self.sums for c in (s.parts if s.mode == "share" else (s.total,))}
        not_nodes |= dropped
        self.nodes = [_Node(c, quantum=quanta.get(c, 0.0)) for c in self.numeric if c not in not_nodes]
        index = {n.column: i for i, n in enumerate(self.nodes)}
        for name in self.count_plan.virtual:
            if name in index:
                self.nodes[index[name]].integer = True
        for name, lowest in self.count_plan.lowest.items():   # a count column stays in its range
            if name in index:
                self.nodes[index[name]].lo = max(self.nodes[index[name]].lo, 0.0, lowest)

        # constant bounds, integers and grids (a copy's rules apply to its source)
        for r in rules:
            target = self.copies.get(r.columns[0], r.columns[0]) if len(r.columns) == 1 else None
            if target not in index:
                continue
            node = self.nodes[index[target]]
            if isinstance(r, BoundsRule):
                node.lo = max(node.lo, r.lo)
                if r.hi is not None:
                    node.hi = min(node.hi, r.hi)
            elif isinstance(r, IntegerRule):
                node.integer = True
            elif isinstance(r, MultipleRule):
                node.multiple = float(r.quantum)
            elif isinstance(r, GridRule) and node.grid is None:
                node.grid = np.unique(r.values())
                node.lo, node.hi = max(node.lo, node.grid[0]), min(node.hi, node.grid[-1])
            elif isinstance(r, PlaceholderRule) and r.real_lo is not None:
                node.lo, node.hi = max(node.lo, r.real_lo), min(node.hi, r.real_hi)

        # ordering edges (lower, upper, is_family_middle_edge) between nodes
        n = len(self.nodes)
        edges = np.zeros((n, n), dtype=bool)
        order_edges = np.zeros((n, n), dtype=bool)   # the same with middles decoded after the high
        for r in ordering + self._bypasses(ordering):
            if isinstance(r, FamilyRule):
                low, high = (index.get(self.copies.get(c, c)) for c in (r.low, r.high))
                # a middle equal to the low or the high (a copy of it) adds nothing
                mids = [m for m in (index.get(self.copies.get(c, c)) for c in r.middles) if m not in (low, high)]
                pairs = [(low, high, False)] + [(low, m, False) for m in mids] + [(m, high, True) for m in mids]
            else:
                a, b = (index.get(self.copies.get(c, c)) for c in r.columns)
                pairs = [(a, b, False)]
            for a, b, middle_to_high in pairs:
                if a is None or b is None or a == b:
                    continue
                edges[a, b] = True
                if middle_to_high:
                    order_edges[b, a] = True
                else:
                    order_edges[a, b] = True
        self._count_edges(frame, index, edges, order_edges)
        self.order = self._decode_order(order_edges) or self._decode_order(edges) or self._acyclic_order(edges)
        self._edges = edges
        self._fit_steps(frame, edges)
        self._fit_heavy(frame)

    def _bypasses(self, ordering: list[Rule]) -> list[PairRule]:
        """a <= b for every a <= d <= b through a column d derived from counts (not learned):
        the pair search dropped a <= b as implied by the two, which only d connected."""
        dropped = self.count_plan.dropped
        below: dict[str, set[str]] = {}
        above: dict[str, set[str]] = {}
        for r in ordering:
            if isinstance(r, PairRule):
                low, high = r.columns
                below.setdefault(high, set()).add(low)
                above.setdefault(low, set()).add(high)
        return [PairRule(columns=[a, b]) for d in sorted(dropped) for a in sorted(below.get(d, ()))
                for b in sorted(above.get(d, ())) if a != b and a not in dropped and b not in dropped]

    def _count_edges(self, frame: pd.DataFrame, index: dict[str, int], edges: np.ndarray,
                     order_edges: np.ndarray) -> None:
        """Count orders (low <= high, the higher count decoded first where the other rules
        allow), the scaled bounds of a total (bound x count, both decoded before the total) and
        the zero links (the count before its total): self.scaled = [(bound, count, total,
        side)], self.zero_links = [(count, column)] as node indices. A precedence that would
        make the decode order cyclic is left out (the guard checks what it would have ensured)."""
        def node(column: str) -> int | None:
            return index.get(self.copies.get(column, column))

        reach = transitive_closure(order_edges)

        def precede(first: int, then: int) -> bool:
            nonlocal reach
            if reach[then, first]:
                return False
            order_edges[first, then] = True
            reach |= reach[:, first:first + 1] & reach[then:then + 1, :]
            reach[:, then] |= reach[:, first]
            reach[first, then] = True
            reach = transitive_closure(reach)
            return True

        for low, high in self.count_plan.edges:
            a, b = node(low), node(high)
            if a is not None and b is not None and a != b:
                edges[a, b] = True
                if not precede(b, a):
                    precede(a, b)
        self.offsets: list[tuple[int, int, int]] = []
        for k, a, b in self.count_plan.offsets:     # k <= a - b: a count within a difference
            ids = (node(k), node(a), node(b))
            if None not in ids and len(set(ids)) == 3 and precede(ids[1], ids[0]) and precede(ids[2], ids[0]):
                self.offsets.append(ids)
        floors = {(count, column): floor for count, column, floor in self.count_plan.zero_with}
        self.scaled: list[tuple[int, int, int, str]] = []
        self.reciprocal: list[tuple[int, int, float, str]] = []
        for bound, count, total, side in self.count_plan.scaled:
            ids = (node(bound), node(count), node(total))
            if None in ids or len(set(ids)) < 3:
                continue
            b, n, t = ids
            if not reach[t, b] and not reach[t, n]:
                precede(b, t)
                precede(n, t)
                self.scaled.append((b, n, t, side))
                # the total's constant limit bounds the bound once the count is known: a minimum
                # of 40 over 8 packets needs 320 bytes, more than a total that stops at 200
                limit = self.nodes[t].hi if side == "low" else self.nodes[t].lo
                if np.isfinite(limit) and limit > 0 and precede(n, b):
                    self.reciprocal.append((b, n, float(limit), "above" if side == "low" else "below"))
                # and the count is at most the limit over the bound's least value where it counts
                least = max(self.nodes[b].lo, floors.get((count, bound), 0.0))
                if side == "low" and np.isfinite(limit) and least > 0:
                    self.nodes[n].hi = min(self.nodes[n].hi, float(np.floor(limit / least)))
        self.zero_links: list[tuple[int, int, float]] = []
        for count, column, floor in self.count_plan.zero_with:
            n, c = node(count), node(column)
            if n is not None and c is not None and n != c and precede(n, c):
                self.zero_links.append((n, c, floor))
        self._tight_totals(frame, precede)

    def _tight_totals(self, frame: pd.DataFrame, precede) -> None:
        """A total of n values whose minimum and maximum are among them (both bound it: min x n
        <= total <= max x n) lies in [max + min x (n - 1), min + max x (n - 1)]: one value is the
        maximum, one the minimum. Where n is 1 the two bounds are one value. Kept only where every
        training row with n >= 1 obeys it (a table-wide maximum bounds a direction's total but
        is not among its values). self.tight = [(low bound, high bound, count, total)] and
        self.single = [(count, first bound, second bound)]: the second bound is decoded after the
        count and the first, and equals the first where the count is 1 (a one-packet direction has
        one header length), so the total's interval is not empty."""
        self.tight: list[tuple[int, int, int, int]] = []
        self.single: list[tuple[int, int, int]] = []
        get = {n.column: _values(frame, n.column) for n in self.nodes}
        column = [n.column for n in self.nodes]
        lows = list(dict.fromkeys((b, n, t) for b, n, t, side in self.scaled if side == "low"))
        highs = list(dict.fromkeys((b, n, t) for b, n, t, side in self.scaled if side == "high"))
        for lo_b, n, t in lows:
            for hi_b in [h for h, m, u in highs if (m, u) == (n, t) and h != lo_b]:
                lo, hi, count, total = (get[column[j]] for j in (lo_b, hi_b, n, t))
                rows = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(count) & np.isfinite(total) & (count >= 1)
                if rows.sum() < 2:
                    continue
                with np.errstate(invalid="ignore"):
                    slack = 1e-9 * np.maximum(1.0, np.abs(total))
                    ok = ((total >= hi + lo * (count - 1) - slack) & (total <= lo + hi * (count - 1) + slack))[rows]
                if not ok.all():
                    continue
                self.tight.append((lo_b, hi_b, n, t))
                for first, second in ((lo_b, hi_b), (hi_b, lo_b)):
                    if precede(n, second) and precede(first, second):
                        self.single.append((n, first, second))
                        break

    def _decode_order(self, edges: np.ndarray) -> list[int] | None:
        """Kahn's topological order (ties by column order), or None when `edges` has a cycle."""
        n = len(edges)
        indegree = edges.sum(axis=0).astype(int)
        ready = [i for i in range(n) if indegree[i] == 0]
        order: list[int] = []
        while ready:
            i = min(ready)
            ready.remove(i)
            order.append(i)
            for j in np.nonzero(edges[i])[0]:
                indegree[j] -= 1
                if indegree[j] == 0:
                    ready.append(int(j))
        return order if len(order) == n else None

    def _acyclic_order(self, edges: np.ndarray) -> list[int]:
        """Column order, with the edges that point backwards dropped (left to the resample step)."""
        edges &= np.triu(np.ones_like(edges, dtype=bool), 1)
        return list(range(len(edges)))

    def _pattern_names(self) -> list[str]:
        return self.patterns if self.patterns else [""]

    def _measured_in(self, pattern: str) -> np.ndarray:
        states = self.pattern_states.get(pattern, {})
        return np.array([states.get(n.column, MEASURED) == MEASURED for n in self.nodes], dtype=bool)

    def _fit_steps(self, frame: pd.DataFrame, edges: np.ndarray) -> None:
        """Per pattern: each measured node's bounding nodes (closure over measured nodes only)."""
        position = {node: k for k, node in enumerate(self.order)}
        count_ranges = self._count_ranges(frame)
        lo = np.array([n.lo for n in self.nodes])
        hi = np.array([n.hi for n in self.nodes])
        self.steps: dict[str, list[_Step]] = {}
        count_columns = set(self.count_plan.alias.values())
        for pattern in self._pattern_names():
            active = self._measured_in(pattern)
            reach = transitive_closure(edges & active[:, None] & active[None, :])
            steps = []
            for i in self.order:
                if not active[i]:
                    continue
                below_all = np.nonzero(reach[:, i])[0]
                above_all = np.nonzero(reach[i, :])[0]
                lo_i = max([lo[i]] + [lo[j] for j in below_all])
                hi_i = min([hi[i]] + [hi[j] for j in above_all])
                if lo_i > hi_i:     # contradictory constants (a rule with support < 1): keep the lower
                    hi_i = np.inf
                if (pattern, i) in count_ranges:
                    low, high = count_ranges[(pattern, i)]
                    if max(lo_i, low) <= min(hi_i, high):
                        lo_i, hi_i = max(lo_i, low), min(hi_i, high)
                below = [int(j) for j in below_all if position[j] < position[i]]
                above = [int(j) for j in above_all if position[j] < position[i]]
                counts = self._count_constraints(i, active, position)
                upper = above or counts["scaled_above"] or counts["offsets"]
                # a count within a count (RST packets within the packets) is learned as itself and
                # clipped to the larger count: as a share of it, 1 RST of 3 or of 300 packets
                # would be two different positions, and the count's own distribution would blur
                if upper and self.nodes[i].column in count_columns:
                    mode = GAP_UP
                elif upper and (below or counts["scaled_below"] or np.isfinite(lo_i)):
                    mode = SHARE
                elif upper:
                    mode = GAP_DOWN
                elif below or counts["scaled_below"] or np.isfinite(lo_i):
                    mode = GAP_UP
                else:
                    mode = RAW
                steps.append(_Step(i, below, above, float(lo_i), float(hi_i), mode, **counts))
            self.steps[pattern] = steps

    def _count_ranges(self, frame: pd.DataFrame) -> dict[tuple[str, int], tuple[float, float]]:
        """{(pattern, count node): (lo, hi)}: the range of a count's training values in a state
        pattern (the pattern's own rows where it has at least COUNT_RANGE_MIN_ROWS of them, else
        all rows), as SDV keeps a column within its training range. The pattern says what was
        measured, and that says how many packets there were: a flow whose inter-arrival times
        are placeholders sent one packet, one with measured times at least two. Without these,
        a model that pairs the pattern loosely with the count makes one-packet directions with
        measured inter-arrival times (43% of CTGAN's rows in the bundled sample's largest
        pattern, none of the real ones), and a flag count made of two directions' counts comes
        out 2 where a flow never had more than 1."""
        count_columns = set(self.count_plan.alias.values())
        patterns = self._row_patterns(frame).to_numpy()
        ranges = {}
        for i, node in enumerate(self.nodes):
            if node.column not in count_columns:
                continue
            values = _values(frame, node.column)
            every = values[np.isfinite(values)]
            if every.size == 0:
                continue
            for pattern in self._pattern_names():
                if not self._measured_in(pattern)[i]:
                    continue
                seen = values[(patterns == pattern) & np.isfinite(values)]
                seen = seen if seen.size >= COUNT_RANGE_MIN_ROWS else every
                ranges[(pattern, i)] = (float(seen.min()), float(seen.max()))
        return ranges

    def _count_constraints(self, i: int, active: np.ndarray, position: dict[int, int]) -> dict[str, list]:
        """The count constraints of node i in one pattern whose nodes are measured there and decoded
        before i (see _count_edges): _Step's scaled_below, scaled_above, zero_with, reciprocal, offsets,
        tight, single."""
        def ready(*nodes: int) -> bool:
            return all(active[j] and position[j] < position[i] for j in nodes)

        scaled = [(b, n, side) for b, n, t, side in self.scaled if t == i and ready(b, n)]
        return {
            "scaled_below": [(b, n) for b, n, side in scaled if side == "low"],
            "scaled_above": [(b, n) for b, n, side in scaled if side == "high"],
            "zero_with": [(n, floor) for n, c, floor in self.zero_links if c == i and ready(n)],
            "reciprocal": [(n, limit, where) for b, n, limit, where in self.reciprocal if b == i and ready(n)],
            "offsets": [(a, b) for k, a, b in self.offsets if k == i and ready(a, b)],
            "tight": [(lo, hi, n) for lo, hi, n, t in self.tight if t == i and ready(lo, hi, n)],
            "single": [(n, first) for n, first, second in self.single if second == i and ready(n, first)],
        }

    def _fit_heavy(self, frame: pd.DataFrame) -> None:
        """Which nodes' gaps are modelled on a log1p scale."""
        for node in self.nodes:
            if self.heavy_tailed is not None:
                node.heavy = node.column in self.heavy_tailed
            else:
                x = _values(frame, node.column)
                rule = self.placeholder_rules.get(node.column)
                if rule is not None:
                    x = x[~np.asarray(rule.is_placeholder(x), dtype=bool)]
                node.heavy = is_heavy_tailed(x)
        # the scale of each log: gaps of IATs span 1e-5 s to 1e2 s, and log1p(gap) would leave
        # everything below 1 s linear; log1p(gap / scale) spreads every decade evenly
        heavy = {n.column: n.heavy for n in self.nodes}
        for node in self.nodes:
            node.heavy = False
        gaps = self._encode_numeric(frame, self._row_patterns(frame), fill=False)
        for node in self.nodes:
            node.heavy = heavy[node.column]
            positive = gaps[node.column][np.isfinite(gaps[node.column]) & (gaps[node.column] > 0)]
            if node.heavy and positive.size:
                node.scale = float(max(np.quantile(positive, LOG_SCALE_QUANTILE), 1e-12))

    def _fit_fillers(self, frame: pd.DataFrame) -> None:
        """Encoded measurements per column: what a placeholder / missing cell is filled with."""
        encoded = self._encode_numeric(frame, self._row_patterns(frame), fill=False)
        encoded.update(self._placeholder_values(frame, fill=False))
        self.fillers = {}
        for column, values in encoded.items():
            finite = values[np.isfinite(values)]
            self.fillers[column] = finite if finite.size else np.zeros(1)
        # encoded columns with few distinct values (flag counts, header lengths, their gaps,
        # shares such as 1/2 or 1/3) are learned as categories: a continuous model smears the
        # exact values (e.g. a 0 that 95% of rows hold) into a spread of near-zero numbers
        identity = self._identity_columns()
        rows = len(frame)
        self.discrete = {c for c, v in self.fillers.items()
                         if c not in identity and np.unique(v).size <= max(min(DISCRETE_MIN_VALUES, self.categorical_max_values),
                                                           min(self.categorical_max_values, rows // 10))}
        placeholder_values = {vclass.name for vclass in self.value_classes}
        # continuous encoded columns are learned as positions within their class's distribution
        # (see the module docstring): each class keeps its own marginals whatever the model mixes
        labels = _Labels.of(self._position_labels(frame, self._row_patterns(frame))) if self.class_conditional else None
        self.class_positions = {} if labels is None else {
            c: _ClassQuantiles(v, labels) for c, v in encoded.items()
            if c not in identity and c not in self.discrete and c not in placeholder_values}

    # ------------------------------------------------------------------ transform
    def _row_patterns(self, frame: pd.DataFrame) -> pd.Series:
        if not self.groups:
            return pd.Series([""] * len(frame), index=frame.index, dtype=object)
        pattern = self._pattern_of(self._states(frame))
        pattern.index = frame.index
        return pattern
