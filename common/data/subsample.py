"""A stratified training subsample that keeps every row of the rarest classes.

Why: training time grows with the rows (each epoch passes over them all) while what a model
learns of a large class stops improving long before millions of rows; a rare class, on the other
hand, has few rows to learn from and loses what it cannot spare. So when the training split has
more rows than `max_training_rows` (training_configs.json), the models learn a subsample of it:

* classes at or below an even share of the rows still to give (the budget over the classes
  not yet placed) are kept whole, smallest first, the even share being recomputed as they are
  placed (water-filling), so every class that fits in its fair share keeps all its rows;
* the remaining classes share what is left in proportion to their sizes (largest remainder:
  the total is exact), so their shares relative to each other stay as in the table;
* the rows of each class are drawn at random without replacement from one seeded generator,
  and returned in the table's order: the same seed gives the same subsample.

The class shares the models deliver are still those of the full training split
(common.synth.FlowSynthesizer.note_population): the subsample changes what they learn from,
not the mix they generate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from common.data.classes import class_quotas


@dataclass(frozen=True)
class SubsamplePlan:
    """Rows to keep per class (class labels as text) and which classes are kept whole."""

    rows_per_class: dict[str, int]
    kept_whole: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(self.rows_per_class.values())


def subsample_plan(class_rows: dict[str, int], max_rows: int) -> SubsamplePlan:
    """Rows per class for a subsample of at most `max_rows` rows of a table with `class_rows`
    rows per class (see the module docstring). All rows when the table is not larger."""
    if max_rows <= 0:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    if sum(class_rows.values()) <= max_rows:
        return SubsamplePlan(dict(class_rows), tuple(class_rows))
    budget, rest = max_rows, dict(class_rows)
    whole: dict[str, int] = {}
    for label in sorted(class_rows, key=lambda k: (class_rows[k], k)):
        if class_rows[label] > budget / len(rest):
            break            # this class and every larger one exceed the even share: proportional
        whole[label] = rest.pop(label)
        budget -= whole[label]
    shares = class_quotas(rest, budget) if rest else {}
    return SubsamplePlan({label: whole.get(label, shares.get(label, 0)) for label in class_rows}, tuple(whole))


def stratified_subsample(labels: pd.Series | None, rows: int, max_rows: int, seed: int) -> np.ndarray:
    """Positions (0..rows-1, ascending) of the rows to keep: at most `max_rows`, every row of
    the classes `subsample_plan` keeps whole, the rest drawn per class at random (seeded).

    `labels`: the class of each row (None: no class column, a plain random sample)."""
    rng = np.random.default_rng(seed)
    if rows <= max_rows:
        return np.arange(rows)
    if labels is None:
        return np.sort(rng.choice(rows, size=max_rows, replace=False))
    text = labels.astype(object).where(labels.notna(), "<missing>").astype(str).to_numpy()
    names, codes = np.unique(text, return_inverse=True)
    plan = subsample_plan({str(name): int(n) for name, n in zip(names, np.bincount(codes))}, max_rows)
    chosen = []
    for code, name in enumerate(names):
        members = np.flatnonzero(codes == code)
        keep = plan.rows_per_class[str(name)]
        chosen.append(members if keep == len(members) else rng.choice(members, size=keep, replace=False))
    return np.sort(np.concatenate(chosen))


def subsample_training(frame: pd.DataFrame, target: str | None, max_rows: int | None,
                       seed: int) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The training rows the models learn: `frame` itself when it has at most `max_rows` rows
    (or `max_rows` is None), else its stratified subsample. Returns (rows, None or the record
    for the log, the manifest and the report: rows before and after, the classes kept whole,
    the rows kept per class and a one-line notice saying what was done and why)."""
    if max_rows is None or len(frame) <= max_rows:
        return frame, None
    labels = frame[target] if target is not None and target in frame.columns else None
    positions = stratified_subsample(labels, len(frame), max_rows, seed)
    subsample = frame.iloc[positions].reset_index(drop=True)
    kept = subsample[target].astype(str).value_counts().to_dict() if labels is not None else {}
    whole = sorted(label for label, count in (labels.astype(str).value_counts().to_dict().items()
                                              if labels is not None else []) if kept.get(label) == count)
    notice = (f"training on a stratified subsample of {len(subsample):,} of the {len(frame):,} training rows "
              f"(max_training_rows {max_rows:,}, seed {seed}): training time grows with the rows"
              + (f"; every row kept of the {len(whole)} rarest class(es) ({', '.join(whole[:5])}"
                 f"{', ...' if len(whole) > 5 else ''}), the other classes in proportion" if labels is not None
                 else "; no class column, a plain random sample")
              + "; the synthetic rows keep the full training split's class shares")
    return subsample, {"rows_before": len(frame), "rows_after": len(subsample), "max_training_rows": max_rows,
                       "seed": seed, "classes_kept_whole": whole, "rows_per_class": kept, "notice": notice}


__all__ = ["SubsamplePlan", "stratified_subsample", "subsample_plan", "subsample_training"]
