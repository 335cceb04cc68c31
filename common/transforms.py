"""The reversible domain layer: an encoding of the flow table in which the detected rules hold
by construction, applied before SDV learns the table and reversed after it samples.

Everything is built from the setup's RuleSet (common.rules) and the class column, never from
column names:

placeholders / missing cells
    Every numeric cell has a state: a measurement, a placeholder (PlaceholderRule) or missing
    (NaN). Columns whose state vectors are identical in the data form a group (e.g. all forward
    IAT columns of a one-packet direction); the observed combinations of group states become
    ONE categorical column, `PATTERN_COLUMN`, so SDV only ever generates combinations seen in
    real rows (one indicator per group would let a model pair "no forward IAT" with "a total
    IAT"). With `join_class` the class joins it ("pattern|class"): only real class x pattern
    combinations exist, and a class can be asked for with its patterns in their real shares.
    The placeholder *value* (NTLFlowLyzer's capture epoch) is learned per row as one column for
    every set of columns that hold the same value in a row (`_ValueClass`): the position of the
    value among its class's placeholder values, decoded through that class's quantile function
    and put on the data's step (100 s for epochs written as 1.7030007e9). A measured column's
    placeholder cells are filled with one of its measurements before encoding (the model learns
    a smooth column; the pattern says the cell is not a measurement).
orderings (family low <= middles <= high, pair A <= B)
    The rules define a partial order on the numeric columns. Columns are decoded one after the
    other; each column's admissible interval [L, U] is the tightest of its constant bounds and
    the already-decoded columns that must lie below / above it (transitive closure, computed per
    state pattern since placeholder cells take no part). The column is encoded as its position in
    that interval: a share t in [0, 1] when the interval is closed by another column (middles
    between min and max), else the non-negative gap above L (log1p for heavy-tailed columns).
    Decoding clips t to [0, 1] and the gap to >= 0, so whatever SDV samples decodes into an
    ordered row, exactly (no tolerance: min = max = 32 gives a mean of 32, not 31.99995).
equalities (pair A == B)      B is not learned; it is a copy of A.
sums (A + B = C)              C is learned, A as its share A / C in [0, 1], B = C - A; or, when
                              A and B take part in other rules, C is not learned and C = A + B
                              (C may be missing in some rows, e.g. CICFlowMeter's Infinity).
bounds, grids, multiples,     constant bounds close the interval; values are put on the grid, on
integers, decimals            a multiple of q (sums of header lengths), on integers, or on the
                              decimals the column is stored with, nearest inside the interval.
determinations (A -> B)       B is not learned; it is generated from A with the rule's mapping.
heavy tails                   the gap of a heavy-tailed column is learned as log1p(gap / scale).

Class-conditional positions (`class_conditional`, on by default): every continuous encoded
column is handed to SDV as the standard normal score of its position within the values of the
row's class (schema.target), and decoded through that class's quantile function (observed
values only for a class with few distinct ones). Whatever the model mixes up, an OSYN row gets
OSYN's distributions; with `calibrate` (sampled rows), each class's positions in a batch are
replaced by their ranks, so the model decides the order of the rows and the training data the
marginals. On the real cPacket table this took CTGAN's TSTR/TRTR from 0.35 to 0.98 and its
SDV-detected quality from 0.79 to 0.92 of the holdout's (benchmarks/real_data_results.md).

Encoded columns with few distinct values (header-length gaps, flag counts) are categorical for
TVAE (`categorical_max_values`); for CTGAN none are, so that the joint pattern|class column is
its one discrete column: CTGAN's training conditions on it, and sampling asks its conditional
generator for each class (common.ctgan_hooks, common.sampling).

Rows of the real table that break a detected rule (rules hold in >= 99.9% of rows, not always
all) are moved onto the nearest valid row by the round trip; every other row comes back (a
value that kept a rule only within its stored rounding may move by one stored step).

The after-sampling guard (common.sampling.generate) checks every decoded row against every
rule: a row that breaks one is never delivered (replaced by a new draw, or repaired when the
projection `repair` makes it valid, or generation stops naming the rule).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from scipy import special

from common.profiling import HEAVY_TAIL_RATIO, HEAVY_TAIL_SKEW
from common.rules import (
    FLOAT_REPRESENTATION, BoundsRule, DeterminationRule, FamilyRule, GridRule, IntegerRule, MultipleRule, PairRule,
    PlaceholderRule, RuleSet, SumRule,
)

PATTERN_COLUMN = "__domain_pattern"
MEASURED, PLACEHOLDER, MISSING = 0, 1, 2
PLACEHOLDER_PREFIX = "__placeholder:"   # encoded column of a per-row placeholder value
ALL_CLASSES = "\x00all"                  # key of the values of every row (no class column)
MAX_KNOTS = 4096                          # distinct values kept per class in a quantile function
NORMAL_SCORE_CLIP = 1e-6                  # positions kept inside (0, 1) before Phi^-1
STEP_VALUES = 32                          # a class with this few distinct values decodes to them only
CALIBRATION_MIN_ROWS = 20                 # sampled rows of a class needed to calibrate its marginals
# encoded columns with at most max(20, min(50, rows / 10)) distinct values are categorical
DISCRETE_MIN_VALUES, DISCRETE_MAX_VALUES = 20, 50
LOG_SCALE_QUANTILE = 0.05  # the log's unit: this quantile of a heavy column's positive gaps
JOINT_SEPARATOR = "|"
# Per synthesizer (measured on the real cPacket table, 1 seed, benchmarks/real_data.py): CTGAN
# with no categorical encoded columns and the class joined to the pattern reached 0.915 of the
# holdout's SDV-detected quality in 215 s (0.83 to 0.87 with up to 10 categories per column and
# the class apart, 250 to 390 s); TVAE with up to 20 categories fitted in 78 s for 0.979 (121 s,
# 0.984 with up to 50 categories and exact-value flags).
MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "ctgan": {"categorical_max_values": 0, "join_class": True},
    "tvae": {"categorical_max_values": 20, "join_class": True},
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


class _ClassQuantiles:
    """Per-class empirical quantile functions of one column: `positions` maps a value to its
    position u in [0, 1] among its class's training values (ties spread uniformly over their
    share), `values` maps u back (linear between observed values, flat over ties, so a
    training value comes back exactly). Fitted with at most MAX_KNOTS distinct values per class
    (evenly spaced order statistics beyond that)."""

    def __init__(self, values: np.ndarray, labels: np.ndarray | None) -> None:
        finite = np.isfinite(values)
        self.knots: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
            ALL_CLASSES: self._knots(values[finite])}
        if labels is not None:
            for label in np.unique(labels[finite]):
                self.knots[str(label)] = self._knots(values[finite & (labels == label)])

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

    def _groups(self, labels: np.ndarray | None, rows: int):
        if labels is None:
            yield self.knots[ALL_CLASSES], np.ones(rows, dtype=bool)
            return
        for label in np.unique(labels):
            yield self.knots.get(str(label), self.knots[ALL_CLASSES]), labels == label

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
    join_class : learn the class column (schema.target) and the state pattern as one categorical
        column (only real class x pattern combinations are generated).
    class_conditional : learn each continuous encoded column as the position of its value within
        the distribution of the row's class (schema.target), decoded through that class's
        quantile function, so every class keeps its own marginals.
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
                 join_class: bool = True,
                 class_conditional: bool = True) -> None:
        self.rules = rules if rules is not None else RuleSet()
        self.schema = schema
        self.heavy_tailed = None if heavy_tailed is None else {
            (item["column"] if isinstance(item, dict) else str(item)) for item in heavy_tailed}
        self.seed = int(seed)
        self.categorical_max_values = int(categorical_max_values)
        self.join_class = bool(join_class)
        self.class_conditional = bool(class_conditional)
        self.class_positions: dict[str, _ClassQuantiles] = {}
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
        from common.sampling import class_quotas

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
                return np.array([str(mapping.get(_key(v))) for v in frame[source]], dtype=object)
        return None

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

    def _fit_structure(self, frame: pd.DataFrame, rules: list[Any]) -> None:
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
        states = set(self.state_columns)
        for r in sums:
            a, b, total = r.columns
            cols = set(r.columns)
            if cols & taken or cols & set(self.copies) or {a, b} & states:
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
        self.nodes = [_Node(c, quantum=quanta.get(c, 0.0)) for c in self.numeric if c not in not_nodes]
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
                lo_i = max([lo[i]] + [lo[j] for j in below_all])
                hi_i = min([hi[i]] + [hi[j] for j in above_all])
                if lo_i > hi_i:     # contradictory constants (a rule with support < 1): keep the lower
                    hi_i = np.inf
                below = [int(j) for j in below_all if position[j] < position[i]]
                above = [int(j) for j in above_all if position[j] < position[i]]
                if above and (below or np.isfinite(lo_i)):
                    mode = SHARE
                elif above:
                    mode = GAP_DOWN
                elif below or np.isfinite(lo_i):
                    mode = GAP_UP
                else:
                    mode = RAW
                steps.append(_Step(i, below, above, float(lo_i), float(hi_i), mode))
            self.steps[pattern] = steps

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
        labels = self._class_labels(frame) if self.class_conditional else None
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
        """The exact admissible interval of a node given the nodes decoded before it (no
        tolerance: decoded rows satisfy the rules exactly, not within their rounding slack)."""
        low = np.full(rows, step.lo)
        high = np.full(rows, step.hi)
        for j in step.below:
            low = np.fmax(low, decoded[self.nodes[j].column])
        for j in step.above:
            high = np.fmin(high, decoded[self.nodes[j].column])
        return self._snap_interval(self.nodes[step.index], low, high)

    @staticmethod
    def _snap_interval(node: _Node, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For integer, multiple and grid columns, the interval between the admissible values
        inside it, so that gaps and shares are counted from a value the column can take (an
        integer count above a fraction is encoded as whole steps above 0 or 1, not as 0.83).
        Where no admissible value lies inside, the interval is left as it is."""
        if node.grid is None and not node.integer and not node.multiple:
            return low, high
        with np.errstate(invalid="ignore"):
            if node.grid is not None:
                first, last = _grid_span(node.grid, low, high)
                ok = first <= last
                grid = node.grid
                new_low = np.where(ok, grid[np.clip(first, 0, len(grid) - 1)], low)
                new_high = np.where(ok, grid[np.clip(last, 0, len(grid) - 1)], high)
            else:
                step = node.multiple or 1.0
                new_low, new_high = _multiples_inside(low, high, step)
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
        result.update(self._placeholder_values(frame, fill=True))
        identity = self._identity_columns()
        labels = self._class_labels(frame) if self.class_positions else None
        rng = np.random.default_rng(self.seed + 3)
        for column in self.columns:
            if column in dropped or column == self.joint_class:
                continue
            use_encoded = column in encoded and column not in identity
            result[column] = encoded[column] if use_encoded else frame[column].to_numpy()
            if column in self.class_positions:
                u = self.class_positions[column].positions(encoded[column], labels, rng)
                result[column] = _normal_score(u)
        return pd.DataFrame(result, index=frame.index)

    def _from_positions(self, encoded: pd.DataFrame, calibrate: bool = False) -> pd.DataFrame:
        """Normal scores of positions within the class back to encoded values (_ClassQuantiles).

        `calibrate` (for sampled rows): within each class of at least CALIBRATION_MIN_ROWS rows
        of this frame, each column's positions are replaced by their ranks among the class's
        rows, spread evenly over (0, 1). The model decides the order of the rows (so their joint
        structure), the training rows of the class decide the values: a model whose positions
        drift towards the middle (a GAN that has not matched the normal scores' tails) still
        gives every class its real marginal distribution.
        """
        if not self.class_positions:
            return encoded
        encoded = encoded.copy()
        labels = self._class_labels(encoded)
        groups = []
        if calibrate:
            keys = labels if labels is not None else np.full(len(encoded), ALL_CLASSES, dtype=object)
            groups = [keys == key for key in np.unique(keys)]
            groups = [rows for rows in groups if rows.sum() >= CALIBRATION_MIN_ROWS]
            rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        for column, quantiles in self.class_positions.items():
            if column in encoded.columns:
                score = pd.to_numeric(encoded[column], errors="coerce").to_numpy(dtype=float)
                u = special.ndtr(np.where(np.isfinite(score), score, 0.0))
                for rows in groups:
                    order = np.argsort(np.argsort(u[rows] + rng.uniform(0.0, 1e-12, rows.sum()), kind="stable"),
                                      kind="stable")
                    u[rows] = (order + rng.uniform(0.0, 1.0, rows.sum())) / rows.sum()
                encoded[column] = quantiles.values(u, labels)
        return encoded

    def _identity_columns(self) -> set[str]:
        """Learned columns whose encoding is the value itself (no rule shapes them): they keep
        their dtype, so a table without rules passes through unchanged."""
        raw = {self.nodes[s.index].column for steps in self.steps.values() for s in steps if s.mode == RAW}
        shaped = {self.nodes[s.index].column for steps in self.steps.values() for s in steps if s.mode != RAW}
        return {c for c in raw - shaped - set(self.state_columns)
                if not self.nodes[[n.column for n in self.nodes].index(c)].heavy}

    # ------------------------------------------------------------------ inverse
    def inverse_transform(self, encoded: pd.DataFrame, calibrate: bool = False) -> pd.DataFrame:
        """Decode SDV's rows into the original columns; every detected rule holds by construction
        (except where a rule's columns could not all be encoded: the guard checks those).
        `calibrate`: sampled rows get their class's marginals (see _from_positions)."""
        self._require_fitted()
        encoded = self._split_joint(encoded.reset_index(drop=True))
        encoded = self._from_positions(encoded, calibrate)
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
        self._restore_states(pattern, encoded, out)
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
        """The value the column can take nearest to x inside [low, high]: a grid value, a
        multiple, an integer; or x rounded to the decimals the column is stored with."""
        if node.grid is not None:
            grid = node.grid
            first, last = _grid_span(grid, low, high)
            nearest = np.clip(np.searchsorted(grid, x), 1, len(grid) - 1) if len(grid) > 1 else np.zeros(len(x), int)
            if len(grid) > 1:
                left = nearest - 1
                nearest = np.where(np.abs(grid[left] - x) <= np.abs(grid[nearest] - x), left, nearest)
            inside = first <= last
            chosen = np.where(inside, np.clip(nearest, first, np.maximum(first, last)), nearest)
            return grid[np.clip(chosen, 0, len(grid) - 1)]
        if node.integer or node.multiple:
            step = node.multiple or 1.0
            lower, upper = _multiples_inside(low, high, step)
            rounded = np.rint(x / step) * step
            return np.where(lower <= upper, np.clip(rounded, lower, upper), rounded)
        if node.quantum > 0:
            # to the nearest value on the column's decimals, as the data was stored: like a real
            # median stored with 4 decimals, it may sit below an unrounded minimum by less than
            # half a step, which is the rounding the rules allow and no more
            return np.round(x, int(round(-math.log10(node.quantum))))
        return x

    def _decode_sums(self, encoded: pd.DataFrame, out: dict[str, np.ndarray]) -> None:
        """Parts from the total and a share ("share"), or the total from the parts ("derive");
        parts stored with decimals are rounded to them, and the sum is then exact in floats."""
        for plan in self.sums:
            a, b = plan.parts
            if plan.mode == "share":
                share = pd.to_numeric(encoded[a], errors="coerce").to_numpy(dtype=float)
                share = np.clip(np.nan_to_num(share, nan=0.5), 0.0, 1.0)
                total = out[plan.total]
                first = share * total
                quantum = self.copy_quanta.get(a, 0.0)
                if plan.integer:
                    first = np.rint(first)
                elif quantum > 0:
                    first = _round_inside(first, np.zeros_like(total), total, quantum)
                first = np.clip(first, 0.0, total)
                out[a], out[b] = first, total - first
            else:
                out[plan.total] = out[a] + out[b]

    def _restore_states(self, pattern: np.ndarray, encoded: pd.DataFrame, out: dict[str, np.ndarray]) -> None:
        """Placeholder cells get the row's generated placeholder value (inside the placeholder
        range of every column of its class that holds one in this pattern, on the data's step),
        or the single placeholder value; missing cells NaN."""
        if not self.groups:
            return
        in_class = {c: vclass for vclass in self.value_classes for c in vclass.columns}
        generated = {}
        labels = self._class_labels(encoded)
        for vclass in self.value_classes:
            score = pd.to_numeric(encoded[vclass.name], errors="coerce").to_numpy(dtype=float) \
                if vclass.name in encoded.columns else np.full(len(pattern), np.nan)
            u = special.ndtr(np.where(np.isfinite(score), score, 0.0))
            generated[vclass.name] = vclass.quantiles.values(u, labels)
        for name in self.patterns:
            rows = np.nonzero(pattern == name)[0]
            if rows.size == 0:
                continue
            states = self.pattern_states[name]
            for vclass in self.value_classes:
                holders = [c for c in vclass.columns if states[c] == PLACEHOLDER]
                if not holders:
                    continue
                value = vclass.snap(generated[vclass.name][rows], [self.placeholder_rules[c] for c in holders])
                for column in holders:
                    out[column][rows] = value
            for column in self.state_columns:
                state = states[column]
                if state == PLACEHOLDER and column not in in_class:
                    out[column][rows] = self.placeholder_rules[column].lo
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
        for vclass in self.value_classes:
            columns[vclass.name] = {"sdtype": "categorical" if vclass.name in self.discrete else "numerical"}
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
            "placeholder_values_learned": {v.name: list(v.columns) for v in self.value_classes},
            "pattern_joined_with_class": self.joint_class,
            "copies": dict(self.copies),
            "sums": [{"parts": list(s.parts), "total": s.total, "mode": s.mode} for s in self.sums],
            "determined": [[a, b] for a, b, _ in self.determined],
            "log_scale_columns": [n.column for n in self.nodes if n.heavy],
            "grid_columns": [n.column for n in self.nodes if n.grid is not None],
            "categorical_encoded_columns": sorted(self.discrete),
            "class_conditional_columns": sorted(self.class_positions),
            "encodings_per_pattern": modes,
        }

    def gaussian_columns(self) -> list[str]:
        """Encoded columns that are standard normal scores (positions within the class): one
        Gaussian describes them, so the synthesizer's column encoding needs a single mode
        (common.ctgan_hooks)."""
        self._require_fitted()
        return sorted(self.class_positions) + [vclass.name for vclass in self.value_classes]

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("DomainTransformer is not fitted: call fit(frame) first")


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


def _key(value: Any) -> Any:
    """The mapping's key form of a categorical cell (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def valid_rows(frame: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Boolean mask of the rows satisfying every rule (all True without rules)."""
    if len(rules) == 0 or len(frame) == 0:
        return np.ones(len(frame), dtype=bool)
    return rules.check(frame).all(axis=1).to_numpy()


__all__ = ["PATTERN_COLUMN", "DomainTransformer", "is_heavy_tailed", "valid_rows"]
