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
counts (whole_ratio, ...)     counts first (counts.py): the implied whole counts are learned as
                              integer columns (or are the table's count column where one equals
                              them), larger counts decoded first; totals are decoded inside
                              [min x n, max x n] and are 0 where n is; means (total / n), shares
                              (k / n) and rates (n / duration, where the duration is real and not
                              zero) are derived, so products, quotients and whole counts hold.
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
generator for each class (common.synth.ctgan_hooks, common.synth.sampling).

Rows of the real table that break a detected rule (rules hold in >= 99.9% of rows, not always
all) are moved onto the nearest valid row by the round trip; every other row comes back (a
value that kept a rule only within its stored rounding may move by one stored step).

The after-sampling guard (common.synth.sampling.generate) checks every decoded row against every
rule: a row that breaks one is never delivered (replaced by a new draw, or repaired when the
projection `repair` makes it valid, or generation stops naming the rule).

Modules
-------
parts        constants, plan nodes and steps, class quantile functions, placeholder value classes,
             exact rounding helpers, `valid_rows`, `is_heavy_tailed`
fitting      `_Fitting`: what `fit` learns from the real training rows
counts       `CountPlan`: the learned counts and the columns derived from them
codec        `_Codec`: `transform` and the exact `inverse_transform`, `repair`
transformer  `DomainTransformer(_Fitting, _Codec)`: construction, SDV metadata, description
"""
from common.domain.parts import PATTERN_COLUMN, PLACEHOLDER_PREFIX, is_heavy_tailed, valid_rows
from common.domain.transformer import DomainTransformer

__all__ = ["PATTERN_COLUMN", "PLACEHOLDER_PREFIX", "DomainTransformer", "is_heavy_tailed",
           "valid_rows"]
