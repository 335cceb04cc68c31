"""Class quotas and the validity guard: how sampled rows become delivered rows.

A model's own class shares drift from the training split's (TVAE made 88% OSYN rows where the
real table has 45%), and a rare class may come out of it once in hundreds of draws. Delivered
rows therefore follow a *plan*: an exact number of rows per class (the training shares by
default, or counts the user asks for), filled from the model's draws:

1. unconditional draws (one draw serves every class), each decoded row checked against every
   detected rule: a valid row of a class that still needs rows is kept, every other row is
   dropped and counted; later rounds draw as many rows as the shortest class needs at the rate
   the model produces it;
2. a class still short after that is drawn with SDV's conditional sampling (the caller's
   `draw_class`, e.g. `sample_from_conditions` on the class column of the encoded frame);
3. invalid rows of a class still short are repaired (projected onto the rules) when that makes
   them valid;
4. a class that is still short is delivered short, with a ClassShortfall that says how many
   rows were asked and delivered, why (the rule its rows broke most, or how rarely the model
   makes it) and what to do: an invalid row is never delivered, and a class is never silently
   left short. The caller decides what a shortfall means (a finished run with a warning, or a
   distinct exit status for an explicit request).

`generate(...)` does one batch; callers stream batches (common.synth).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from common.data.classes import class_plan, class_quotas
from common.rules import RuleSet, ValidityReport

UNCONDITIONAL_ROUNDS = 4      # draws that serve every class at once
CONDITIONAL_ROUNDS = 4        # draws per class with SDV conditions
MAX_DRAW_FACTOR = 50          # one round draws at most this many rows per row still needed,
MIN_ROUND_CAP = 20_000        # or this many (a second or two): a class made 1 time in 200 still fills
NO_CLASS = "<all rows>"       # the one "class" of a table without a class column


@dataclass
class ClassShortfall:
    """A class delivered short: asked, delivered, the rows drawn for it, why, and what to do."""

    asked: int
    delivered: int
    drawn: int
    conditional_drawn: int
    reason: str
    advice: str = "train longer (more epochs) or ask for fewer rows of it"

    @property
    def missing(self) -> int:
        return self.asked - self.delivered

    def add(self, other: "ClassShortfall") -> None:
        for name in ("asked", "delivered", "drawn", "conditional_drawn"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def sentence(self, label: str, target: str | None) -> str:
        """'class 'x' ('label'): 0 of 12 rows delivered (the model did not generate it); train longer ...'"""
        what = f"class '{label}' ('{target}')" if target is not None else "rows"
        return f"{what}: {self.delivered:,} of {self.asked:,} rows delivered ({self.reason}); {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "delivered": self.delivered, "missing": self.missing, "drawn": self.drawn,
                "conditional_drawn": self.conditional_drawn, "reason": self.reason, "advice": self.advice}


@dataclass
class ClassCounts:
    """Rows of one class: delivered, drawn (unconditionally and with conditions), invalid."""

    delivered: int = 0
    drawn: int = 0
    conditional_drawn: int = 0
    invalid: int = 0
    repaired: int = 0

    def add(self, other: "ClassCounts") -> None:
        for name in ("delivered", "drawn", "conditional_drawn", "invalid", "repaired"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "drawn": self.drawn, "conditional_drawn": self.conditional_drawn,
                "invalid": self.invalid, "repaired": self.repaired,
                "draws_per_delivered_row": round(self.drawn / self.delivered, 4) if self.delivered else None}


@dataclass
class GenerationCounts:
    """What delivering rows cost, overall and per class (recorded per model as "validity")."""

    rows_sampled: int = 0           # rows delivered
    # the rows the model generated (every round, conditions included) checked against the rules:
    # those breaking a rule are never delivered as they are
    drawn: ValidityReport = field(default_factory=ValidityReport)
    rows_repaired: int = 0          # delivered rows made valid by projection onto the rules
    rows_invalid_delivered: int = 0  # always 0: generation stops instead (kept for the record)
    first_draw_valid: int = 0       # valid rows among each batch's first draw
    first_draw_rows: int = 0
    classes: dict[str, ClassCounts] = field(default_factory=dict)
    shortfalls: dict[str, ClassShortfall] = field(default_factory=dict)   # classes delivered short

    @property
    def rows_drawn(self) -> int:
        return self.drawn.rows

    @property
    def rows_invalid_drawn(self) -> int:
        return self.drawn.violating_rows

    @property
    def valid_share_before_resampling(self) -> float | None:
        return round(self.first_draw_valid / self.first_draw_rows, 6) if self.first_draw_rows else None

    def add(self, other: "GenerationCounts") -> None:
        for name in ("rows_sampled", "rows_repaired", "rows_invalid_delivered", "first_draw_valid", "first_draw_rows"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.drawn = self.drawn.merge(other.drawn)
        for label, counts in other.classes.items():
            self.classes.setdefault(label, ClassCounts()).add(counts)
        for label, short in other.shortfalls.items():
            if label in self.shortfalls:
                self.shortfalls[label].add(short)
            else:
                self.shortfalls[label] = ClassShortfall(**{k: v for k, v in vars(short).items()})

    @property
    def rows_missing(self) -> int:
        return sum(short.missing for short in self.shortfalls.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_sampled": self.rows_sampled, "rows_drawn": self.rows_drawn,
            "rows_invalid_drawn": self.rows_invalid_drawn, "rows_repaired": self.rows_repaired,
            "rows_invalid_delivered": self.rows_invalid_delivered,
            "valid_share_before_resampling": self.valid_share_before_resampling,
            "draws_per_delivered_row": round(self.rows_drawn / self.rows_sampled, 4) if self.rows_sampled else None,
            "classes": {label: counts.to_dict() for label, counts in sorted(self.classes.items())},
            "drawn_validity": self.drawn.to_dict(),
            "rows_missing": self.rows_missing,
            "shortfalls": {label: short.to_dict() for label, short in sorted(self.shortfalls.items())},
        }


def _labels(frame: pd.DataFrame, target: str | None) -> np.ndarray:
    if target is None:
        return np.full(len(frame), NO_CLASS, dtype=object)
    return frame[target].astype(object).where(frame[target].notna(), "<missing>").astype(str).to_numpy()


def _most_broken_rule(frame: pd.DataFrame, rules: RuleSet) -> str:
    checked = rules.check(frame)
    broken = (~checked).sum().sort_values(ascending=False)
    if broken.empty or broken.iloc[0] == 0:
        return "none"
    rule_id = str(broken.index[0])
    return f"'{rule_id}' ({rules[rule_id].describe()}), broken by {int(broken.iloc[0])} of {len(frame)} rows"


def _shortfall(label: str, asked: int, missing: int, counts: GenerationCounts, rejected: list[pd.DataFrame],
               rules: RuleSet | None) -> ClassShortfall:
    """Why `label` is `missing` rows short, from what was drawn for it."""
    tally = counts.classes[label]
    if rejected:
        reason = f"the rows drawn break rule {_most_broken_rule(pd.concat(rejected, ignore_index=True), rules)}"
    elif tally.drawn:
        reason = f"the model makes it in {tally.drawn / max(counts.rows_drawn, 1):.2%} of its rows"
    else:
        reason = f"the model did not generate it in {counts.rows_drawn:,} rows drawn"
    return ClassShortfall(asked=asked, delivered=asked - missing, drawn=tally.drawn,
                          conditional_drawn=tally.conditional_drawn, reason=reason)


class ClassFill:
    """The state of filling one batch's class quotas: the rows still needed per class, the valid
    rows kept and the invalid rows rejected so far (candidates for repair), and the counts.

    In: `quotas` {class label as text: rows}, `rules` (may be None or empty), `target` the class
    column (None: no classes). `take` checks drawn rows and keeps what the quotas still need;
    the other methods are the rounds of `generate`.
    """

    def __init__(self, quotas: dict[str, int], rules: RuleSet | None, target: str | None) -> None:
        self.quotas = {str(label): int(count) for label, count in quotas.items()}
        self.need = {label: count for label, count in self.quotas.items() if count > 0}
        self.counts = GenerationCounts(classes={label: ClassCounts() for label in self.need})
        self.kept: dict[str, list[pd.DataFrame]] = {label: [] for label in self.need}
        self.rejected: dict[str, list[pd.DataFrame]] = {label: [] for label in self.need}
        self.rules, self.target = rules, target
        self.checks_rules = rules is not None and len(rules) > 0
        self.kinds = {rule.id: rule.kind for rule in rules} if self.checks_rules else {}

    def short(self) -> dict[str, int]:
        """{label: rows still needed} of the classes not filled yet."""
        return {label: n for label, n in self.need.items() if n > 0}

    def take(self, rows: pd.DataFrame, conditional: bool) -> None:
        """Check `rows` against the rules; keep the valid rows each class still needs and remember
        invalid ones (as many as still needed) for repair."""
        rows = rows.reset_index(drop=True)
        checked = self.rules.check(rows) if self.checks_rules and len(rows) else pd.DataFrame(index=rows.index)
        self.counts.drawn = self.counts.drawn.merge(ValidityReport.from_checks(checked, self.kinds))
        valid = checked.all(axis=1).to_numpy() if checked.shape[1] else np.ones(len(rows), bool)
        labels = _labels(rows, self.target)
        for label in np.unique(labels):
            if label in self.need:
                self._take_class(rows, labels == label, valid, label, conditional)

    def _take_class(self, rows: pd.DataFrame, own: np.ndarray, valid: np.ndarray, label: str,
                    conditional: bool) -> None:
        tally = self.counts.classes[label]
        tally.drawn += int(own.sum())
        tally.conditional_drawn += int(own.sum()) if conditional else 0
        tally.invalid += int((own & ~valid).sum())
        good = rows[own & valid]
        if self.need[label] > 0 and len(good):
            chosen = good.iloc[:self.need[label]]
            self.kept[label].append(chosen)
            self.need[label] -= len(chosen)
        bad = rows[own & ~valid]
        if len(bad) and self.need[label] > 0:
            self.rejected[label].append(bad.iloc[:self.need[label]])

    def by_class(self, draw_class: Callable[[str, int], pd.DataFrame]) -> None:
        """Up to CONDITIONAL_ROUNDS conditional draws for each class still short."""
        for label in list(self.short()):
            for attempt in range(CONDITIONAL_ROUNDS):
                if self.need[label] <= 0:
                    break
                # conditioned rows are mostly of the class and valid: ask for what is missing,
                # with a margin from the second attempt on
                before = self.need[label]
                asked = before if attempt == 0 else int(math.ceil(before * 1.2)) + 8
                self.take(draw_class(label, asked), conditional=True)
                if self.need[label] == before:
                    break   # SDV's bounded rejection found no valid row: more rounds will not either

    def next_round_rows(self) -> int:
        """Rows of the next unconditional round: as many as the shortest class needs at the rate
        the model makes its valid rows (a class not seen yet is taken as rarer than one in the
        rows drawn so far: small batches of a model that makes it rarely still get a larger draw)."""
        short, counts = self.short(), self.counts
        rates = {label: max(counts.classes[label].drawn - counts.classes[label].invalid, 0.5)
                 / max(counts.rows_drawn, 1) for label in short}
        reachable = max(n / rates[label] for label, n in short.items())
        return int(min(reachable * 1.2 + 8, max(MAX_DRAW_FACTOR * sum(short.values()), MIN_ROUND_CAP)))

    def repair_rejected(self, repair: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        """Project the rejected rows of each class still short onto the rules; keep those that
        become valid (and stay in their class)."""
        if not self.checks_rules:
            return
        for label in [label for label in self.short() if self.rejected[label]]:
            candidates = pd.concat(self.rejected[label], ignore_index=True).iloc[:self.need[label]]
            fixed = repair(candidates)[list(candidates.columns)]
            valid = self.rules.check(fixed).all(axis=1).to_numpy()
            if self.target is not None:
                valid &= _labels(fixed, self.target) == label
            good = fixed[valid]
            self.kept[label].append(good)
            self.need[label] -= len(good)
            self.counts.rows_repaired += len(good)
            self.counts.classes[label].repaired += len(good)

    def finish(self, seed: int) -> tuple[pd.DataFrame, GenerationCounts]:
        """The kept rows in a seeded random order, and the counts with each shortfall explained."""
        counts = self.counts
        for label, missing in self.short().items():
            counts.shortfalls[label] = _shortfall(label, self.quotas[label], missing, counts, self.rejected[label],
                                                  self.rules)
        pieces = [piece for label in self.kept for piece in self.kept[label] if len(piece)]
        result = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
        for label, tally in counts.classes.items():
            tally.delivered = self.quotas[label] - max(self.need.get(label, 0), 0)
        counts.rows_sampled = len(result)
        order = np.random.default_rng(seed).permutation(len(result))
        return result.iloc[order].reset_index(drop=True), counts


def generate(
    draw: Callable[[int], pd.DataFrame],
    quotas: dict[str, int],
    rules: RuleSet | None,
    target: str | None = None,
    draw_class: Callable[[str, int], pd.DataFrame] | None = None,
    repair: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    seed: int = 0,
    conditional_first: bool = False,
) -> tuple[pd.DataFrame, GenerationCounts]:
    """Rows with exactly `quotas[label]` valid rows of each class, in a seeded random order.

    In:  `draw(n)` -> n new decoded rows; `quotas` {class label as text: rows} (with no class
         column, {NO_CLASS: rows}); `rules` (common.rules.RuleSet, may be empty); `target` the
         class column (None: no classes); `draw_class(label, n)` -> up to n new decoded rows
         of that class (SDV conditional sampling), or None; `repair(frame)` -> the rows
         projected onto the rules, or None; `conditional_first`: ask `draw_class` for every
         class first (a model that generates a row given its class, like CTGAN), unconditional
         draws only for what is still missing.
    Out: (rows, counts): every row valid; a class that cannot be filled with valid rows is
         delivered short and recorded in `counts.shortfalls` (never filled with invalid rows).
    """
    fill = ClassFill(quotas, rules, target)
    conditional_first = conditional_first and draw_class is not None
    if conditional_first:
        fill.by_class(draw_class)
    else:
        fill.take(draw(sum(fill.need.values())), conditional=False)
    fill.counts.first_draw_rows = fill.counts.rows_drawn
    fill.counts.first_draw_valid = fill.counts.first_draw_rows - fill.counts.rows_invalid_drawn
    if conditional_first and fill.short():
        fill.take(draw(sum(fill.short().values())), conditional=False)
    for _ in range(UNCONDITIONAL_ROUNDS - 1):
        if not fill.short():
            break
        fill.take(draw(fill.next_round_rows()), conditional=False)
    if draw_class is not None and not conditional_first:
        fill.by_class(draw_class)
    if repair is not None:
        fill.repair_rejected(repair)
    return fill.finish(seed)


__all__ = ["ClassCounts", "ClassFill", "ClassShortfall", "GenerationCounts", "NO_CLASS", "class_plan", "class_quotas", "generate"]
