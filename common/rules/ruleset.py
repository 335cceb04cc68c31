"""RuleSet: the rules of one table, checked together; JSON round trip.

Part of common.rules (its docstring describes every rule kind and the conventions they share).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from common.rules.base import _getter
from common.rules.kinds import DeterminationRule, PlaceholderRule, Rule, _jsonify, rule_from_dict
from common.rules.validity import ValidityReport


@dataclass
class RuleSet:
    """An ordered list of rules plus `meta` (how they were found)."""

    rules: list[Rule] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __getitem__(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def by_kind(self, kind: str) -> list[Rule]:
        """Rules of one kind ("placeholder", "family", "pair", "sum", "bounds", "grid",
        "integer", "determines")."""
        return [r for r in self.rules if r.kind == kind]

    @property
    def placeholders(self) -> dict[str, PlaceholderRule]:
        """column -> its PlaceholderRule."""
        return {r.column: r for r in self.rules if isinstance(r, PlaceholderRule)}

    def describe(self) -> list[str]:
        return [r.describe() for r in self.rules]

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "meta": _jsonify(self.meta), "rules": [r.to_dict() for r in self.rules]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RuleSet":
        return cls(rules=[rule_from_dict(r) for r in d.get("rules", [])], meta=dict(d.get("meta", {})))

    def _masks(self, frame: pd.DataFrame) -> Iterable[tuple[Rule, np.ndarray]]:
        get = _getter(frame)
        for r in self.rules:
            if isinstance(r, DeterminationRule):
                ok, ev = r._evaluate_frame(frame)
            else:
                ok, ev = r._evaluate(get)
            yield r, ok | ~ev

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Boolean frame (index of `frame`, one column per rule id): True where the row satisfies
        the rule; rows not evaluable for a rule (NaN/inf cells, excluded placeholders) are True."""
        return pd.DataFrame({r.id: m for r, m in self._masks(frame)}, index=frame.index)

    def validity(self, frame: pd.DataFrame) -> ValidityReport:
        """How many rows of `frame` satisfy every rule, each kind and each rule (ValidityReport)."""
        return ValidityReport.from_checks(self.check(frame), {r.id: r.kind for r in self.rules})
