"""The reversible domain layer: an encoding of the flow table in which the detected rules hold
by construction, applied before SDV learns the table and reversed after it samples.

Everything is built from the setup's RuleSet (common.rules), never from column names:

placeholders / missing cells
    Every numeric cell has a state: a measurement, a placeholder (PlaceholderRule) or missing
    (NaN). Columns whose state vectors are identical in the data form a group (e.g. all forward
    IAT columns of a one-packet direction); the observed combinations of group states become
    ONE categorical column, `PATTERN_COLUMN`, so SDV only ever generates combinations seen in
    real rows (one indicator per group would let a model pair "no forward IAT" with "a total
    IAT"). A placeholder cell's encoded value is not learned from the placeholder: it is a value
    drawn from that column's encoded measurements (so the encoded marginal stays smooth), and
    on the way back the cell gets the placeholder values of a real "donor" row with the same
    pattern: inside the observed placeholder range, and equal across the row's columns when
    they were equal in real rows.
orderings (family low <= middles <= high, pair A <= B)
    The rules define a partial order on the numeric columns. Columns are decoded one after the
    other; each column's admissible interval [L, U] is the tightest of its constant bounds and
    the already-decoded columns that must lie below / above it (transitive closure, computed per
    state pattern since placeholder cells take no part). The column is encoded as its position in
    that interval: a share t in [0, 1] when the interval is closed by another column (middles
    between min and max), else the non-negative gap above L (log1p for heavy-tailed columns).
    Decoding clips t to [0, 1] and the gap to >= 0, so whatever SDV samples decodes into an
    ordered row. Family lows and highs are decoded before the middles.
equalities (pair A == B)      B is not learned; it is a copy of A.
sums (A + B = C)              C is learned, A as its share A / C in [0, 1], B = C - A; or, when
                              A and B take part in other rules, C is not learned and C = A + B.
bounds, grids, integers       constant bounds close the interval; values are rounded to integers
                              and snapped to the grid value nearest inside the interval.
determinations (A -> B)       B is not learned; it is generated from A with the rule's mapping.
heavy tails                   the gap of a heavy-tailed column (the setup's list) is learned as
                              log1p(gap / scale), scale = a low quantile of its gaps (IATs span
                              1e-5 s to 1e2 s: log1p(gap) alone would leave everything < 1 s linear).

How the encoded columns are typed for SDV (measured on the real OSYN file, see
benchmarks/validity_results.md): encoded columns with few distinct values (header-length gaps,
flag counts, shares such as 1/2) are categorical, and a continuous encoded column that is
exactly 0 or 1 in many rows (median == min, a rate of 0) gets a categorical companion flag;
a continuous model otherwise smears such exact values. Categories cost CTGAN time (its
discriminator sees the one-hot width `pac` times over), so `DomainTransformer.for_model` uses
fewer of them for CTGAN (MODEL_SETTINGS).

Rows of the real table that break a detected rule (rules hold in >= 99.9% of rows, not always
all) are moved onto the nearest valid row by the round trip; every other row comes back exactly.

`sample_valid` is the after-sampling guard: it checks every sampled row against every rule,
draws replacements for the rows that break one, repairs (projects) what resampling cannot fix,
and counts both.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from common.profiling import HEAVY_TAIL_RATIO, HEAVY_TAIL_SKEW
from common.rules import (
    BoundsRule, DeterminationRule, FamilyRule, GridRule, IntegerRule, PairRule, PlaceholderRule,
    RuleSet, SumRule,
)

PATTERN_COLUMN = "__domain_pattern"
MEASURED, PLACEHOLDER, MISSING = 0, 1, 2
DONOR_ROWS = 2000          # real rows kept per pattern to draw placeholder values from
# encoded columns with at most max(20, min(50, rows / 10)) distinct values are categorical
DISCRETE_MIN_VALUES, DISCRETE_MAX_VALUES = 20, 50
LOG_SCALE_QUANTILE = 0.05  # the log's unit: this quantile of a heavy column's positive gaps
POINT_VALUES = (0.0, 1.0)   # encoded values that are often exact (at a bound, or a share of 1)
POINT_MASS_SHARE = 0.2    # share of rows at a point value that earns a companion flag
FLAG_PREFIX = "__exact:"
JOINT_SEPARATOR = "|"
# Per synthesizer: every category widens CTGAN's one-hot data and conditional vector, which its
# discriminator sees `pac` (10) times over; on the real OSYN file (40 epochs, CPU) an epoch took
# 0.073 s plain, 0.244 s with up to 50 categories per column and flags, 0.078 s with up to 10 and
# no flags. TVAE has no such cost (the layer fits faster than plain SDV) and gains most from them.
# Joining the class column to the state pattern raised TVAE's TSTR macro-F1 on the bundled sample
# from 0.61 to 0.70 (300 epochs); CTGAN's fell from 0.34 to 0.20 and its quality score from 0.85
# to 0.82 (its training-by-sampling conditions on one category of one discrete column per row,
# and the joint column has up to classes x patterns categories), so CTGAN keeps them apart.
MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "ctgan": {"categorical_max_values": 10, "point_mass_share": None, "join_class": False},
    "tvae": {"categorical_max_values": DISCRETE_MAX_VALUES, "point_mass_share": POINT_MASS_SHARE, "join_class": True},
}

# encodings of one column in one pattern
SHARE = "share"            # t = (x - L) / (U - L), U another column
GAP_UP = "gap_above"       # x - L (log1p when heavy), clipped at a constant U
GAP_DOWN = "gap_below"     # U - x (no lower bound known)
RAW = "raw"                # x itself, clipped to constant bounds


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _closure(adjacency: np.ndarray) -> np.ndarray:
    """Transitive closure of a boolean adjacency matrix (Warshall)."""
    reach = adjacency.copy()
    for k in range(len(reach)):
        reach |= reach[:, k:k + 1] & reach[k:k + 1, :]
    return reach


def is_heavy_tailed(values: np.ndarray) -> bool:
    """The setup's criterion (common.profiling.heavy_tailed_columns) on an array of values:
    non-negative, and the 99th percentile of the positive values far above their median."""
    values = values[np.isfinite(values)]
    if values.size < 10 or values.min() < 0:
        return False
    positive = values[values > 0]
    if positive.size < 10 or np.unique(positive).size < 5:
        return False
    ratio = float(np.quantile(positive, 0.99) / max(np.median(positive), 1e-12))
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
    heavy: bool = False
    scale: float = 1.0      # log scale: z = log1p(gap / scale), scale = a low quantile of the gaps


@dataclass
class _Step:
    """How node `index` is encoded in one pattern: the earlier-decoded nodes bounding it."""

    index: int
    below: list[int]        # decoded nodes that must be <= this one
    above: list[int]        # decoded nodes that must be >= this one
    below_slack: list[float]  # the rules' rounding tolerance for each (half the stored decimals)
    above_slack: list[float]
    lo: float
    hi: float
    mode: str


@dataclass
class _SumPlan:
    parts: tuple[str, str]
    total: str
    mode: str               # "share" (total learned, first part as a share) or "derive" (total = a + b)
    integer: bool


class DomainTransformer:
    """Encode a modelled flow frame so that the detected rules hold by construction.

    Parameters
    ----------
    rules : common.rules.RuleSet found on the table (the setup's detected_rules.json).
    schema : common.schema.Schema (numeric / categorical columns); None = judge by dtype.
    heavy_tailed : columns to model on a log1p scale (the setup's detected_patterns.json
        "heavy_tailed" list, as names or as its dicts); None = detect on the training frame
        with the setup's criterion; an empty list = never.
    seed : seeds the filler values of placeholder cells and the donor rows.
    categorical_max_values : encoded columns with at most max(20, min(this, rows / 10)) distinct
        values are learned as categories.
    point_mass_share : a continuous encoded column whose values are exactly 0 or 1 in at least this
        share of rows gets a categorical companion flag (values "0", "1", "other"); None = never.
    join_class : learn the class column (schema.target) and the state pattern as one categorical
        column (only real class x pattern combinations are generated).
    (`for_model` picks these three per synthesizer, see MODEL_SETTINGS.)

    Public methods: fit(frame), transform(frame) -> encoded, inverse_transform(encoded) ->
    frame, sdv_metadata_dict(), repair(frame), describe().
    """

    @classmethod
    def for_model(cls, model: str, rules: RuleSet | None, schema: Any = None,
                  heavy_tailed: Iterable[Any] | None = None, seed: int = 0) -> "DomainTransformer":
        """The layer with the settings measured best for `model` ("ctgan", "tvae"; others get
        the constructor's defaults)."""
        return cls(rules, schema, heavy_tailed=heavy_tailed, seed=seed, **MODEL_SETTINGS.get(model, {}))

    def __init__(self, rules: RuleSet | None, schema: Any = None, heavy_tailed: Iterable[Any] | None = None,
                 seed: int = 0, categorical_max_values: int = DISCRETE_MAX_VALUES,
                 point_mass_share: float | None = POINT_MASS_SHARE, join_class: bool = True) -> None:
        self.rules = rules if rules is not None else RuleSet()
        self.schema = schema
        self.heavy_tailed = None if heavy_tailed is None else {
            (item["column"] if isinstance(item, dict) else str(item)) for item in heavy_tailed}
        self.seed = int(seed)
        self.categorical_max_values = int(categorical_max_values)
        self.point_mass_share = None if point_mass_share is None else float(point_mass_share)
        self.join_class = bool(join_class)
        self.fitted = False

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame) -> "DomainTransformer":
        """Learn the plan from the real (modelled) training rows. Returns self."""
        if frame.empty:
            raise ValueError("cannot fit the domain layer on an empty frame")
        self.columns = [str(c) for c in frame.columns]
        self.dtypes = {str(c): frame[c].dtype for c in frame.columns}
        self.numeric = self._numeric_columns(frame)
        present = set(self.columns)
        rules = [r for r in self.rules if all(c in present for c in r.columns)]
        self._fit_determinations([r for r in rules if isinstance(r, DeterminationRule)])
        self._fit_states(frame, [r for r in rules if isinstance(r, PlaceholderRule) and r.column in self.numeric])
        self._fit_joint_class(frame)
        numeric_rules = [r for r in rules if all(c in self.numeric for c in r.columns)]
        self._fit_structure(frame, numeric_rules)
        self._fit_fillers(frame)
        self.fitted = True
        return self

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
        self.donors: dict[str, np.ndarray] = {}
        if not self.groups:
            return
        pattern = self._pattern_of(states)
        rng = np.random.default_rng(self.seed)
        counts = pattern.value_counts()
        for name in counts.index:
            self.patterns.append(name)
            rows = np.nonzero((pattern == name).to_numpy())[0]
            first = rows[0]
            self.pattern_states[name] = {c: int(states[c][first]) for c in self.state_columns}
            if len(rows) > DONOR_ROWS:
                rows = np.sort(rng.choice(rows, DONOR_ROWS, replace=False))
            self.donors[name] = np.column_stack([_values(frame, c)[rows] for c in self.state_columns])

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

    def _fit_structure(self, frame: pd.DataFrame, rules: list[Any]) -> None:
        """Equalities, sums, the decode order and each pattern's per-column steps."""
        quanta: dict[str, float] = {}
        for r in rules:
            quanta.update(getattr(r, "quanta", {}))
        self.copy_quanta = quanta
        # equalities: union-find onto the most precise column of each class
        parent = {c: c for c in self.numeric}

        def find(c: str) -> str:
            while parent[c] != c:
                c = parent[c]
            return c

        for r in rules:
            if isinstance(r, PairRule) and r.op == "==":
                a, b = find(r.columns[0]), find(r.columns[1])
                if a != b:
                    # the source is the more precise column (a copy stored to fewer decimals is
                    # rounded to them on the way back)
                    first, second = sorted((a, b), key=lambda c: (quanta.get(c, 0.0), self.numeric.index(c)))
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
        for r in sums:
            a, b, total = r.columns
            cols = set(r.columns)
            if cols & taken or cols & set(self.copies) or cols & set(self.state_columns):
                continue
            nonneg = all(c in bounds and bounds[c].lo >= 0 for c in (a, b))
            integer = all(c in integers for c in r.columns)
            if nonneg and involved.get(a) == 1 and involved.get(b) == 1:
                self.sums.append(_SumPlan((a, b), total, "share", integer))
            elif involved.get(total) == 1:
                self.sums.append(_SumPlan((a, b), total, "derive", integer))
            else:
                continue
            taken |= cols
        not_nodes = set(self.copies) | {c for s in self.sums for c in (s.parts if s.mode == "share" else (s.total,))}
        self.nodes = [_Node(c) for c in self.numeric if c not in not_nodes]
        index = {n.column: i for i, n in enumerate(self.nodes)}

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
            elif isinstance(r, GridRule) and node.grid is None:
                node.grid = np.unique(r.values())
                node.lo, node.hi = max(node.lo, node.grid[0]), min(node.hi, node.grid[-1])
            elif isinstance(r, PlaceholderRule) and r.real_lo is not None:
                node.lo, node.hi = max(node.lo, r.real_lo), min(node.hi, r.real_hi)

        # ordering edges (lower, upper, is_family_middle_edge) between nodes
        n = len(self.nodes)
        edges = np.zeros((n, n), dtype=bool)
        order_edges = np.zeros((n, n), dtype=bool)   # the same with middles decoded after the high
        for r in ordering:
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
        self.order = self._decode_order(order_edges) or self._decode_order(edges) or self._acyclic_order(edges)
        self._edges = edges
        self._fit_steps(frame, edges)
        self._fit_heavy(frame)

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
        lo = np.array([n.lo for n in self.nodes])
        hi = np.array([n.hi for n in self.nodes])
        self.steps: dict[str, list[_Step]] = {}
        for pattern in self._pattern_names():
            active = self._measured_in(pattern)
            reach = _closure(edges & active[:, None] & active[None, :])
            steps = []
            for i in self.order:
                if not active[i]:
                    continue
                below_all = np.nonzero(reach[:, i])[0]
                above_all = np.nonzero(reach[i, :])[0]
                lo_i = max([lo[i]] + [lo[j] - self._slack(i, j) for j in below_all])
                hi_i = min([hi[i]] + [hi[j] + self._slack(i, j) for j in above_all])
                if lo_i > hi_i:     # contradictory constants (a rule with support < 1): keep the lower
                    hi_i = np.inf
                below = [int(j) for j in below_all if position[j] < position[i]]
                above = [int(j) for j in above_all if position[j] < position[i]]
                slack = [self._slack(i, j) for j in below], [self._slack(i, j) for j in above]
                if above and (below or np.isfinite(lo_i)):
                    mode = SHARE
                elif above:
                    mode = GAP_DOWN
                elif below or np.isfinite(lo_i):
                    mode = GAP_UP
                else:
                    mode = RAW
                steps.append(_Step(i, below, above, slack[0], slack[1], float(lo_i), float(hi_i), mode))
            self.steps[pattern] = steps

    def _slack(self, i: int, j: int) -> float:
        """How far two ordered columns may cross: half the decimal steps they are stored with
        (the rules compare within this tolerance, and real rows use it: a median stored with
        4 decimals may sit just below an unrounded minimum)."""
        q = self.copy_quanta
        return 0.5 * (q.get(self.nodes[i].column, 0.0) + q.get(self.nodes[j].column, 0.0))

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
        # continuous encoded columns with a point mass at 0 or 1 (a gap of 0: median == min; a
        # share of 1: mean == max; a rate of 0) get a categorical companion saying so
        self.point_flags = {} if self.point_mass_share is None else {
            c: FLAG_PREFIX + c for c, v in self.fillers.items()
            if c not in identity and c not in self.discrete and np.isin(v, POINT_VALUES).mean() >= self.point_mass_share}

    # ------------------------------------------------------------------ transform
    def _row_patterns(self, frame: pd.DataFrame) -> pd.Series:
        if not self.groups:
            return pd.Series([""] * len(frame), index=frame.index, dtype=object)
        pattern = self._pattern_of(self._states(frame))
        pattern.index = frame.index
        return pattern

    def _encode_numeric(self, frame: pd.DataFrame, pattern: pd.Series, fill: bool,
                        clip: bool = False) -> dict[str, np.ndarray]:
        """The encoded value of every learned numeric column (NaN where not measured unless
        `fill`). `clip` projects out-of-interval values (used by repair)."""
        x = {n.column: _values(frame, n.column) for n in self.nodes}
        out = {n.column: np.full(len(frame), np.nan) for n in self.nodes}
        labels = pattern.to_numpy()
        for name in self._pattern_names():
            rows = labels == name if self.groups else np.ones(len(frame), dtype=bool)
            if not rows.any():
                continue
            for step in self.steps.get(name, []):
                node = self.nodes[step.index]
                value = x[node.column][rows]
                low, high = self._interval(step, {self.nodes[j].column: x[self.nodes[j].column][rows] for j in step.below + step.above}, rows.sum())
                if clip:
                    value = np.clip(value, low, np.maximum(low, high))
                out[node.column][rows] = self._encode_one(node, step.mode, value, low, high)
        for plan in self.sums:
            if plan.mode == "share":
                a, total = _values(frame, plan.parts[0]), _values(frame, plan.total)
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = np.where(total > 0, a / np.where(total > 0, total, 1.0), np.nan)
                out[plan.parts[0]] = np.clip(share, 0.0, 1.0) if clip else share
        if fill:
            rng = np.random.default_rng(self.seed)
            for column, values in out.items():
                gaps = ~np.isfinite(values)
                if gaps.any():
                    values[gaps] = rng.choice(self.fillers[column], gaps.sum())
        return out

    def _interval(self, step: _Step, decoded: dict[str, np.ndarray], rows: int) -> tuple[np.ndarray, np.ndarray]:
        low = np.full(rows, step.lo)
        high = np.full(rows, step.hi)
        for j, slack in zip(step.below, step.below_slack):
            low = np.fmax(low, decoded[self.nodes[j].column] - slack)
        for j, slack in zip(step.above, step.above_slack):
            high = np.fmin(high, decoded[self.nodes[j].column] + slack)
        return self._snap_interval(self.nodes[step.index], low, high)

    @staticmethod
    def _snap_interval(node: _Node, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For integer and grid columns, the interval between the admissible values inside it,
        so that gaps and shares are counted from a value the column can take (an integer count
        above a fraction is encoded as whole steps above 0 or 1, not as 0.83)."""
        if node.grid is None and not node.integer:
            return low, high
        with np.errstate(invalid="ignore"):
            tol_low = 1e-6 * np.maximum(1.0, np.abs(low))
            tol_high = 1e-6 * np.maximum(1.0, np.abs(high))
            if node.grid is not None:
                grid = node.grid
                first = np.searchsorted(grid, low - tol_low, side="left")
                last = np.searchsorted(grid, high + tol_high, side="right") - 1
                ok = (first <= last) & (first < len(grid)) & (last >= 0)
                new_low = np.where(ok, grid[np.clip(first, 0, len(grid) - 1)], low)
                new_high = np.where(ok, grid[np.clip(last, 0, len(grid) - 1)], high)
            else:
                new_low, new_high = np.ceil(low - tol_low), np.floor(high + tol_high)
                ok = new_low <= new_high
                new_low, new_high = np.where(ok, new_low, low), np.where(ok, new_high, high)
        # an infinite bound stays infinite
        return np.where(np.isfinite(low), new_low, low), np.where(np.isfinite(high), new_high, high)

    @staticmethod
    def _encode_one(node: _Node, mode: str, x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            if mode == SHARE:
                width = high - low
                return np.where(width > 0, (x - low) / np.where(width > 0, width, 1.0), 0.0)
            if mode == GAP_UP:
                gap = x - low
                return np.log1p(np.maximum(gap, 0.0) / node.scale) if node.heavy else gap
            if mode == GAP_DOWN:
                gap = high - x
                return np.log1p(np.maximum(gap, 0.0) / node.scale) if node.heavy else gap
            return np.log1p(np.maximum(x, 0.0) / node.scale) if node.heavy and node.lo >= 0 else x

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The encoded frame SDV learns: pass-through columns, encoded numeric columns and the
        state pattern; copies, derived sums and determined columns left out."""
        self._require_fitted()
        pattern = self._row_patterns(frame)
        encoded = self._encode_numeric(frame, pattern, fill=True)
        return self._assemble(frame, pattern, encoded)

    def _assemble(self, frame: pd.DataFrame, pattern: pd.Series, encoded: dict[str, np.ndarray]) -> pd.DataFrame:
        dropped = set(self.copies) | {b for _, b, _ in self.determined}
        dropped |= {s.total for s in self.sums if s.mode == "derive"} | {s.parts[1] for s in self.sums if s.mode == "share"}
        result = {}
        if self.groups:
            result[PATTERN_COLUMN] = self._joint_labels(frame, pattern) if self.joint_class else pattern.to_numpy()
        identity = self._identity_columns()
        for column in self.columns:
            if column in dropped or column == self.joint_class:
                continue
            use_encoded = column in encoded and column not in identity
            result[column] = encoded[column] if use_encoded else frame[column].to_numpy()
            if column in getattr(self, "point_flags", {}):
                z = encoded[column]
                result[self.point_flags[column]] = np.where(z == 0.0, "0", np.where(z == 1.0, "1", "other"))
        return pd.DataFrame(result, index=frame.index)

    def _apply_point_flags(self, encoded: pd.DataFrame) -> pd.DataFrame:
        """Encoded values set to the exact point value their companion flag names."""
        encoded = encoded.copy()
        for column, flag in self.point_flags.items():
            if column not in encoded.columns or flag not in encoded.columns:
                continue
            z = pd.to_numeric(encoded[column], errors="coerce").to_numpy(dtype=float)
            state = encoded[flag].astype(str).to_numpy()
            encoded[column] = np.where(state == "0", 0.0, np.where(state == "1", 1.0, z))
        return encoded

    def _identity_columns(self) -> set[str]:
        """Learned columns whose encoding is the value itself (no rule shapes them): they keep
        their dtype, so a table without rules passes through unchanged."""
        raw = {self.nodes[s.index].column for steps in self.steps.values() for s in steps if s.mode == RAW}
        shaped = {self.nodes[s.index].column for steps in self.steps.values() for s in steps if s.mode != RAW}
        return {c for c in raw - shaped - set(self.state_columns)
                if not self.nodes[[n.column for n in self.nodes].index(c)].heavy}

    # ------------------------------------------------------------------ inverse
    def inverse_transform(self, encoded: pd.DataFrame) -> pd.DataFrame:
        """Decode SDV's rows into the original columns; every detected rule holds by construction
        (except where a rule's columns could not all be encoded; sample_valid checks those)."""
        self._require_fitted()
        encoded = self._split_joint(self._apply_point_flags(encoded.reset_index(drop=True)))
        rows = len(encoded)
        if self.groups:
            pattern = encoded[PATTERN_COLUMN].astype(object).to_numpy()
            known = np.isin(pattern, self.patterns)
            pattern = np.where(known, pattern, self.patterns[0])
        else:
            pattern = np.array([""] * rows, dtype=object)
        values: dict[str, np.ndarray] = {}
        for node in self.nodes:
            v = pd.to_numeric(encoded[node.column], errors="coerce").to_numpy(dtype=float)
            seen = self.fillers[node.column]
            # within the encoded training range (SDV's own default, enforce_min_max_values):
            # keeps a wild sample from overflowing an integer column
            values[node.column] = np.clip(np.where(np.isfinite(v), v, np.median(seen)), seen.min(), seen.max())
        decoded = {n.column: np.full(rows, np.nan) for n in self.nodes}
        for name in self._pattern_names():
            mask = pattern == name
            if not mask.any():
                continue
            for step in self.steps.get(name, []):
                node = self.nodes[step.index]
                low, high = self._interval(step, {self.nodes[j].column: decoded[self.nodes[j].column][mask] for j in step.below + step.above}, mask.sum())
                decoded[node.column][mask] = self._decode_one(node, step.mode, values[node.column][mask], low, high)
        out = {c: decoded[c] for c in decoded}
        self._decode_sums(encoded, out)
        for copy, source in self.copies.items():
            quantum = self.copy_quanta.get(copy, 0.0)
            # a copy stored to fewer decimals than its source (equal within that rounding)
            out[copy] = np.round(out[source], int(round(-math.log10(quantum)))) if quantum > 0 else out[source].copy()
        self._restore_states(pattern, out)
        frame = {}
        for column in self.columns:
            if column in out:
                frame[column] = out[column]
            elif column in encoded.columns:
                frame[column] = encoded[column].to_numpy()
        result = pd.DataFrame(frame)
        for source, target, mapping in self.determined:
            fallback = pd.Series(list(mapping.values())).mode().iloc[0] if mapping else None
            result[target] = [mapping.get(_key(v), fallback) for v in result[source]]
        return self._cast(result[self.columns])

    def _decode_one(self, node: _Node, mode: str, z: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        high = np.maximum(high, low)    # only equal when the interval is a point
        if mode == SHARE:
            width = high - low
            x = low + np.clip(z, 0.0, 1.0) * width
        elif mode == GAP_UP:
            gap = node.scale * np.expm1(np.clip(z, 0.0, 700.0)) if node.heavy else np.maximum(z, 0.0)
            x = low + gap
        elif mode == GAP_DOWN:
            gap = node.scale * np.expm1(np.clip(z, 0.0, 700.0)) if node.heavy else np.maximum(z, 0.0)
            x = high - gap
        else:
            x = node.scale * np.expm1(np.clip(z, 0.0, 700.0)) if node.heavy and node.lo >= 0 else z
        x = np.clip(x, low, high)
        return self._round(node, x, low, high)

    @staticmethod
    def _round(node: _Node, x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Integers and grid values inside [low, high]."""
        tol = 1e-6 * np.maximum(1.0, np.abs(x))
        if node.grid is not None:
            grid = node.grid
            first = np.searchsorted(grid, low - tol, side="left")
            last = np.searchsorted(grid, high + tol, side="right") - 1
            nearest = np.clip(np.searchsorted(grid, x), 1, len(grid) - 1) if len(grid) > 1 else np.zeros(len(x), int)
            if len(grid) > 1:
                left = nearest - 1
                nearest = np.where(np.abs(grid[left] - x) <= np.abs(grid[nearest] - x), left, nearest)
            inside = first <= last
            chosen = np.where(inside, np.clip(nearest, first, np.maximum(first, last)), nearest)
            return grid[np.clip(chosen, 0, len(grid) - 1)]
        if node.integer:
            lower, upper = np.ceil(low - tol), np.floor(high + tol)
            return np.where(lower <= upper, np.clip(np.rint(x), lower, upper), np.rint(x))
        return x

    def _decode_sums(self, encoded: pd.DataFrame, out: dict[str, np.ndarray]) -> None:
        for plan in self.sums:
            a, b = plan.parts
            if plan.mode == "share":
                share = pd.to_numeric(encoded[a], errors="coerce").to_numpy(dtype=float)
                share = np.clip(np.nan_to_num(share, nan=0.5), 0.0, 1.0)
                total = out[plan.total]
                first = np.rint(share * total) if plan.integer else share * total
                first = np.clip(first, 0.0, total)
                out[a], out[b] = first, total - first
            else:
                out[plan.total] = out[a] + out[b]

    def _restore_states(self, pattern: np.ndarray, out: dict[str, np.ndarray]) -> None:
        """Placeholder cells get a donor row's placeholder values, missing cells NaN."""
        if not self.groups:
            return
        rng = np.random.default_rng(self.seed + 1)
        for name in self.patterns:
            rows = np.nonzero(pattern == name)[0]
            if rows.size == 0:
                continue
            donors = self.donors[name][rng.integers(0, len(self.donors[name]), rows.size)]
            for k, column in enumerate(self.state_columns):
                state = self.pattern_states[name][column]
                if state == PLACEHOLDER:
                    out[column][rows] = donors[:, k]
                elif state == MISSING:
                    out[column][rows] = np.nan

    def _cast(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The training dtypes back (integer columns with NaN become nullable Int64)."""
        for column in self.columns:
            wanted = self.dtypes[column]
            if str(frame[column].dtype) == str(wanted):
                continue
            if pd.api.types.is_integer_dtype(wanted):
                values = pd.to_numeric(frame[column], errors="coerce").round()
                frame[column] = values.astype(wanted) if values.notna().all() else values.astype("Int64")
            elif pd.api.types.is_float_dtype(wanted):
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(wanted)
            elif pd.api.types.is_bool_dtype(wanted) and frame[column].notna().all():
                frame[column] = frame[column].astype(bool)
        return frame

    # ------------------------------------------------------------------ helpers
    def repair(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Project rows onto the rules: encode with every value clipped into its interval, then
        decode. Valid rows come back unchanged (up to float rounding)."""
        self._require_fitted()
        frame = frame.reset_index(drop=True)
        pattern = self._row_patterns(frame)
        encoded = self._encode_numeric(frame, pattern, fill=True, clip=True)
        return self.inverse_transform(self._assemble(frame, pattern, encoded))

    def sdv_metadata_dict(self, table_name: str = "flows") -> dict[str, Any]:
        """SDV metadata of the encoded frame: encoded numbers numerical, the pattern categorical,
        pass-through columns as the schema types them."""
        self._require_fitted()
        base: dict[str, Any] = {}
        if self.schema is not None:
            from common.schema import sdv_metadata_dict

            base = sdv_metadata_dict(self.schema, table_name)["tables"][table_name]["columns"]
        encoded_numeric = {n.column for n in self.nodes} | {s.parts[0] for s in self.sums if s.mode == "share"}
        columns: dict[str, dict[str, str]] = {}
        if self.groups:
            columns[PATTERN_COLUMN] = {"sdtype": "categorical"}
        dropped = set(self.copies) | {b for _, b, _ in self.determined}
        dropped |= {s.total for s in self.sums if s.mode == "derive"} | {s.parts[1] for s in self.sums if s.mode == "share"}
        for column in self.columns:
            if column in dropped or column == self.joint_class:
                continue
            if column in self.discrete:
                columns[column] = {"sdtype": "categorical"}
            elif column in encoded_numeric or column in self.numeric:
                columns[column] = {"sdtype": "numerical"}
            elif column in base:
                columns[column] = dict(base[column])
            elif pd.api.types.is_bool_dtype(self.dtypes[column]):
                columns[column] = {"sdtype": "boolean"}
            else:
                columns[column] = {"sdtype": "categorical"}
            if column in self.point_flags:
                columns[self.point_flags[column]] = {"sdtype": "categorical"}
        return {"METADATA_SPEC_VERSION": "V1", "tables": {table_name: {"columns": columns}}, "relationships": []}

    def describe(self) -> dict[str, Any]:
        """JSON summary of the plan (for the manifest and the logs)."""
        self._require_fitted()
        modes: dict[str, int] = {}
        for steps in self.steps.values():
            for s in steps:
                modes[s.mode] = modes.get(s.mode, 0) + 1
        return {
            "learned_numeric_columns": len(self.nodes),
            "state_groups": [list(g) for g in self.groups],
            "state_patterns": len(self.patterns),
            "pattern_joined_with_class": self.joint_class,
            "copies": dict(self.copies),
            "sums": [{"parts": list(s.parts), "total": s.total, "mode": s.mode} for s in self.sums],
            "determined": [[a, b] for a, b, _ in self.determined],
            "log_scale_columns": [n.column for n in self.nodes if n.heavy],
            "grid_columns": [n.column for n in self.nodes if n.grid is not None],
            "categorical_encoded_columns": sorted(self.discrete),
            "exact_value_flags": sorted(self.point_flags),
            "encodings_per_pattern": modes,
        }

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("DomainTransformer is not fitted: call fit(frame) first")


def _key(value: Any) -> Any:
    """The mapping's key form of a categorical cell (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


# ----------------------------------------------------------------------------- after sampling


@dataclass
class ValidityCounts:
    """How many sampled rows needed the guard (recorded per model under "validity")."""

    rows_sampled: int = 0               # rows delivered
    rows_drawn: int = 0                 # rows the model generated, replacements included
    rows_resampled: int = 0             # delivered rows that replace an invalid first-draw row
    rows_repaired: int = 0              # rows projected onto the rules because resampling did not fix them
    rows_invalid_delivered: int = 0     # rows still breaking a rule after both (the aim is 0)
    first_draw_valid: int = 0

    @property
    def valid_share_before_resampling(self) -> float | None:
        return round(self.first_draw_valid / self.rows_sampled, 6) if self.rows_sampled else None

    def add(self, other: "ValidityCounts") -> None:
        for name in ("rows_sampled", "rows_drawn", "rows_resampled", "rows_repaired",
                     "rows_invalid_delivered", "first_draw_valid"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["valid_share_before_resampling"] = self.valid_share_before_resampling
        return out


def valid_rows(frame: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Boolean mask of the rows satisfying every rule (all True without rules)."""
    if len(rules) == 0 or len(frame) == 0:
        return np.ones(len(frame), dtype=bool)
    return rules.check(frame).all(axis=1).to_numpy()


def sample_valid(
    draw: Callable[[int], pd.DataFrame],
    num_rows: int,
    rules: RuleSet,
    repair: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    max_rounds: int = 5,
) -> tuple[pd.DataFrame, ValidityCounts]:
    """`num_rows` decoded rows of which every one satisfies `rules` where possible.

    In:  `draw(n)` returns n freshly generated, decoded rows; `repair(frame)` projects rows onto
         the rules (DomainTransformer.repair) or None; `max_rounds` redraws at most.
    Out: the rows (first-draw valid rows in place, invalid ones replaced by valid redrawn rows,
         then by repaired rows) and the counts.
    """
    if num_rows <= 0:
        raise ValueError(f"num_rows must be positive, got {num_rows}")
    counts = ValidityCounts(rows_sampled=num_rows)
    batch = draw(num_rows).reset_index(drop=True)
    counts.rows_drawn = len(batch)
    ok = valid_rows(batch, rules)
    counts.first_draw_valid = int(ok.sum())
    bad = np.nonzero(~ok)[0]
    replacements: list[pd.DataFrame] = []
    needed = len(bad)
    for _ in range(max_rounds):
        if needed == 0:
            break
        extra = draw(int(math.ceil(needed * 1.5)) + 8).reset_index(drop=True)
        counts.rows_drawn += len(extra)
        good = extra[valid_rows(extra, rules)]
        replacements.append(good.iloc[:needed])
        needed -= min(needed, len(good))
    fresh = pd.concat(replacements, ignore_index=True) if replacements else batch.iloc[:0]
    counts.rows_resampled = len(fresh)
    rest = batch.iloc[bad[len(fresh):]].reset_index(drop=True)
    if len(rest):
        if repair is not None:
            rest = repair(rest)[list(batch.columns)]
            counts.rows_repaired = len(rest)
        counts.rows_invalid_delivered = int((~valid_rows(rest, rules)).sum())
    # invalid first-draw rows are replaced; the row order carries no meaning (independent draws)
    result = pd.concat([batch[ok], fresh, rest], ignore_index=True)
    return result, counts


__all__ = [
    "PATTERN_COLUMN", "DomainTransformer", "ValidityCounts", "is_heavy_tailed", "sample_valid", "valid_rows",
]
