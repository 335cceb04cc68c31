"""ValidityReport: how many rows satisfy a RuleSet, overall, per rule kind and per rule.

One object for every place that counts valid rows: `RuleSet.validity(frame)` makes one; the
generation guard merges one per draw (rows drawn, before any is rejected), the CSV writer one
per written batch (the manifest's `sampling.validity`), the evaluation one for the synthetic
and one for the holdout rows. Reports add up (`merge`), so a million rows are counted batch by
batch with the same figures as one pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class ValidityReport:
    """Counts of checked rows: `rows`, `rows_valid` (satisfying every rule), `violations`
    {rule id: rows breaking it, every checked rule listed} and `kind_valid` {kind: rows
    satisfying every rule of that kind}."""

    rows: int = 0
    rows_valid: int = 0
    violations: dict[str, int] = field(default_factory=dict)
    kind_valid: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_checks(cls, checked: pd.DataFrame, kinds: dict[str, str]) -> "ValidityReport":
        """The report of `checked` (RuleSet.check: one boolean column per rule id, True where
        the row satisfies the rule); `kinds` {rule id: kind}."""
        rows = len(checked)
        report = cls(rows=rows, rows_valid=int(checked.all(axis=1).sum()) if checked.shape[1] else rows)
        report.violations = {str(rule_id): int(broken) for rule_id, broken in (~checked).sum().items()}
        by_kind: dict[str, list[str]] = {}
        for rule_id in checked.columns:
            by_kind.setdefault(kinds[str(rule_id)], []).append(rule_id)
        report.kind_valid = {kind: int(checked[ids].all(axis=1).sum()) for kind, ids in by_kind.items()}
        return report

    def merge(self, other: "ValidityReport") -> "ValidityReport":
        """The report of both sets of rows."""
        def added(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}}

        return ValidityReport(self.rows + other.rows, self.rows_valid + other.rows_valid,
                              added(self.violations, other.violations), added(self.kind_valid, other.kind_valid))

    @property
    def violating_rows(self) -> int:
        return self.rows - self.rows_valid

    @property
    def valid_share(self) -> float:
        """Share of rows satisfying every rule (1.0 for no rows)."""
        return self.rows_valid / self.rows if self.rows else 1.0

    @property
    def violation_rate(self) -> dict[str, float]:
        """{rule id: share of rows breaking it}, every checked rule."""
        return {rule_id: (count / self.rows if self.rows else 0.0) for rule_id, count in self.violations.items()}

    @property
    def valid_share_by_kind(self) -> dict[str, float]:
        return {kind: (count / self.rows if self.rows else 1.0) for kind, count in sorted(self.kind_valid.items())}

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the manifest's and the evaluation's): rows, shares, and the rules broken
        (rows per rule, most broken first)."""
        broken = {rule_id: count for rule_id, count in self.violations.items() if count}
        return {
            "rules_checked": len(self.violations),
            "rows": self.rows,
            "rows_valid": self.rows_valid,
            "violating_rows": self.violating_rows,
            "valid_share": round(self.valid_share, 6),
            "valid_share_by_kind": {kind: round(share, 6) for kind, share in self.valid_share_by_kind.items()},
            "violations_by_rule": dict(sorted(broken.items(), key=lambda item: (-item[1], item[0]))),
        }


__all__ = ["ValidityReport"]
