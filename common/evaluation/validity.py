"""TCP validity: do the candidate rows obey the relationships real rows obey?

The relationships are the setup's (context.rules, loaded from patterns/detected_rules.json or
recomputed the same way), never a list written here: one definition of what a valid flow is,
used by the setup, the domain layer and this check. The same figures for the real holdout
show what real data scores (close to 100%, not always exactly: the rules hold in at least
99.9% of the rows they were found on).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from common.evaluation.sections import FlagComparison, PlaceholderComparison, PlaceholderSummary, RuleViolations
from common.evaluation.tables import EvaluationInputs
from common.data.flags import categorical_flag_column, cooccurrence_share, flag_presence
from common.rules import PlaceholderRule, ValidityReport

NUMERIC_DTYPE_PREFIXES = ("int", "uint", "float")


def rules_view(frame: pd.DataFrame, inputs: EvaluationInputs) -> pd.DataFrame:
    """`frame` with discrete columns back in the real file's dtype (numbers or booleans read
    as text for comparison are turned back), so categorical rules compare like with like."""
    view = frame.copy()
    for column in inputs.discrete_columns:
        original = inputs.schema.columns[column].dtype
        if original.startswith(NUMERIC_DTYPE_PREFIXES):
            view[column] = pd.to_numeric(view[column], errors="coerce")
        elif original == "bool":
            view[column] = view[column].map({"True": True, "False": False})
    return view


def rule_validity(inputs: EvaluationInputs, frame: pd.DataFrame) -> ValidityReport:
    """The ValidityReport of `frame` (as written to CSV) under the detected rules."""
    return inputs.rules.validity(rules_view(frame, inputs))


def validity_section(inputs: EvaluationInputs, synthetic: ValidityReport, holdout: ValidityReport) -> RuleViolations:
    """Overall shares for synthetic and holdout, and every rule's violation rate on both (most
    violated first)."""
    per_rule = []
    for rule in inputs.rules:
        per_rule.append({
            "id": rule.id,
            "kind": rule.kind,
            "description": rule.describe(),
            "synthetic_violation_rate": synthetic.violation_rate.get(rule.id, 0.0),
            "holdout_violation_rate": holdout.violation_rate.get(rule.id, 0.0),
        })
    per_rule.sort(key=lambda item: (-item["synthetic_violation_rate"], item["id"]))

    return RuleViolations(
        rules_checked=len(inputs.rules),
        rules_by_kind={kind: sum(1 for r in inputs.rules if r.kind == kind) for kind in sorted({r.kind for r in inputs.rules})},
        synthetic=synthetic, holdout=holdout, per_rule=per_rule,
    )


# ----------------------------------------------------------------------------- placeholders


def stranded_mask(values: np.ndarray, rule: PlaceholderRule) -> np.ndarray:
    """Cells that are neither a placeholder nor a real value but lie in the gap between the
    real range [real_lo, real_hi] and the placeholder band [lo, hi] (an IAT of 8e8 s, say):
    impossible values a model makes by blending the two modes."""
    finite = np.isfinite(values)
    if rule.real_lo is None or rule.real_hi is None:
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if rule.lo > rule.real_hi:       # placeholder above the real values (epoch in an IAT)
            gap = (values > rule.real_hi) & (values < rule.lo)
        elif rule.hi < rule.real_lo:     # placeholder below the real values (-1 window)
            gap = (values > rule.hi) & (values < rule.real_lo)
        else:
            gap = np.zeros(values.shape, dtype=bool)
    return finite & gap


def placeholder_figures(frame: pd.DataFrame, rule: PlaceholderRule) -> dict[str, float]:
    """Share of cells holding the placeholder and share stranded in the gap (over all rows)."""
    values = pd.to_numeric(frame[rule.column], errors="coerce").to_numpy(dtype=float)
    rows = max(len(values), 1)
    return {
        "placeholder_share": float(np.asarray(rule.is_placeholder(values), dtype=bool).sum() / rows),
        "stranded_share": float(stranded_mask(values, rule).sum() / rows),
    }


def placeholder_section(inputs: EvaluationInputs, candidate: pd.DataFrame) -> PlaceholderComparison:
    """Per placeholder column: placeholder share in train, holdout and candidate, and the
    stranded share (impossible values between the real range and the placeholder)."""
    columns: dict[str, Any] = {}
    for column, rule in inputs.rules.placeholders.items():
        if column not in candidate.columns:
            continue
        train, holdout, synthetic = (placeholder_figures(f, rule) for f in (inputs.train, inputs.holdout, candidate))
        columns[column] = {
            "placeholder_range": [rule.lo, rule.hi],
            "real_value_range": [rule.real_lo, rule.real_hi],
            "placeholder_share": {"real": train["placeholder_share"], "holdout": holdout["placeholder_share"],
                                  "synthetic": synthetic["placeholder_share"]},
            "placeholder_share_difference": synthetic["placeholder_share"] - train["placeholder_share"],
            "stranded_share": {"holdout": holdout["stranded_share"], "synthetic": synthetic["stranded_share"]},
        }
    if not columns:
        return PlaceholderComparison({}, None, "the setup found no placeholder values in this table")
    differences = [abs(v["placeholder_share_difference"]) for v in columns.values()]
    stranded = [v["stranded_share"]["synthetic"] for v in columns.values()]
    summary = PlaceholderSummary(
        columns_with_placeholders=len(columns),
        mean_absolute_share_difference=float(np.mean(differences)),
        mean_stranded_share=float(np.mean(stranded)),
        max_stranded_share=float(np.max(stranded)),
    )
    return PlaceholderComparison(columns, summary, None)


# ----------------------------------------------------------------------------- flags


def flag_section(inputs: EvaluationInputs, candidate: pd.DataFrame) -> tuple[FlagComparison, dict[str, pd.DataFrame]]:
    """Flag co-occurrence (share of flows with flags A and B) in train vs candidate.

    Returns (the comparison, {"real": matrix, "synthetic": matrix}) — no matrices and a
    `skipped` reason when the table has no per-flag columns.
    """
    real_presence = flag_presence(inputs.train, inputs.schema)
    if real_presence.shape[1] == 0:
        state = categorical_flag_column(inputs.schema)
        reason = "no per-flag count or share columns in this table"
        if state:
            reason += f"; the connection-state column '{state}' is compared as a categorical column"
        return FlagComparison(skipped=reason), {}
    candidate_presence = flag_presence(candidate, inputs.schema)
    real_share, candidate_share = cooccurrence_share(real_presence), cooccurrence_share(candidate_presence)
    difference = (candidate_share - real_share).abs().to_numpy()
    upper = difference[np.triu_indices_from(difference, k=0)]
    comparison = FlagComparison(
        skipped=None,
        flags=list(real_presence.columns),
        flag_share={flag: {"real": float(real_presence[flag].mean()), "synthetic": float(candidate_presence[flag].mean())}
                    for flag in real_presence.columns},
        cooccurrence_real=real_share.round(4).to_numpy().tolist(),
        cooccurrence_synthetic=candidate_share.round(4).to_numpy().tolist(),
        mean_absolute_difference=float(upper.mean()),
        max_absolute_difference=float(upper.max()),
    )
    return comparison, {"real": real_share, "synthetic": candidate_share}
