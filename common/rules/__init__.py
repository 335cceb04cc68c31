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
whole_ratio    x / y is a whole count where y > 0 (a total over its mean: the packet count)
whole_share    a share times a count is whole (a flag share of the packet count)
product        a = k * b * c or a = k * b / c, k a power of ten; a term may be an implied count
               (mean x packets = total; rate = packets / duration, zero durations left out)
count_order    one implied count <= another (forward packets <= packets), or two equal counts
count_bound    min x n <= total, total <= max x n, for n = total / mean

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

Modules
-------
base        tolerances, search budgets and value helpers shared by the others
kinds       the rule classes (`Rule` and one subclass per kind), `rule_from_dict`, RULE_TYPES
ruleset     RuleSet: the rules of one table, checked together, JSON round trip
search      the numeric searches: families, pairs, sums, and the reduction of implied pairs
counts      the multiplicative kinds and their terms (columns, ratio counts, share counts)
count_search  their search: screened on a sample (products in log space), held on every row
discovery   `discover_rules(frame)`: profiles, placeholders, grids, the searches, tightening
"""
from common.rules.base import ATOL, FLOAT_REPRESENTATION, RTOL, RTOL_LADDER, Getter, transitive_closure
from common.rules.counts import (
    COUNT_RULE_TYPES, CountBoundRule, CountOrderRule, ProductRule, WholeRatioRule, WholeShareRule,
)
from common.rules.discovery import discover_rules
from common.rules.kinds import (
    RULE_TYPES, BoundsRule, DeterminationRule, FamilyRule, GridRule, IntegerRule, MultipleRule, PairRule,
    PlaceholderRule, Rule, SumRule, category_key, rule_from_dict,
)
from common.rules.ruleset import RuleSet
from common.rules.validity import ValidityReport

__all__ = [
    "COUNT_RULE_TYPES", "CountBoundRule", "CountOrderRule", "ProductRule", "WholeRatioRule", "WholeShareRule",
    "ATOL", "FLOAT_REPRESENTATION", "RTOL", "RTOL_LADDER", "RULE_TYPES", "BoundsRule", "DeterminationRule",
    "FamilyRule", "Getter", "GridRule", "IntegerRule", "MultipleRule", "PairRule", "PlaceholderRule", "Rule",
    "RuleSet", "SumRule", "ValidityReport", "category_key", "discover_rules", "rule_from_dict",
    "transitive_closure",
]
