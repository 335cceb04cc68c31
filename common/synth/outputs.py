"""What a fit and a sampling run write: the synthetic CSV (streamed, atomic), the rule tally
of the rows written, loss CSV and plot.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from common.core.io import atomic_path
from common.core.progress import Progress
from common.synth.synthesizer import FlowSynthesizer


class ValidityTally:
    """Counts of sampled rows that satisfy the detected rules, accumulated batch by batch.


    `rules` is a common.rules.RuleSet; `check(frame)` gives one boolean column per rule.
    """


    def __init__(self, rules: Any) -> None:
        self.rules = rules
        self.rows = 0
        self.rows_valid = 0
        self.violations: dict[str, int] = {}
        self.kind_valid: dict[str, int] = {}


    def update(self, frame: pd.DataFrame) -> None:
        checked = self.rules.check(frame)
        self.rows += len(frame)
        self.rows_valid += int(checked.all(axis=1).sum())
        for rule_id, broken in (~checked).sum().items():
            self.violations[str(rule_id)] = self.violations.get(str(rule_id), 0) + int(broken)
        kinds = pd.Series({rule_id: self.rules[rule_id].kind for rule_id in checked.columns}, dtype=object)
        for kind, rule_ids in kinds.groupby(kinds).groups.items():
            valid = int(checked[list(rule_ids)].all(axis=1).sum())
            self.kind_valid[str(kind)] = self.kind_valid.get(str(kind), 0) + valid


    def to_dict(self) -> dict[str, Any]:
        broken = {rule: count for rule, count in self.violations.items() if count}
        share = (lambda count: round(count / self.rows, 6) if self.rows else None)
        return {
            "rules_checked": len(self.violations),
            "rows": self.rows,
            "rows_valid": self.rows_valid,
            "share_valid": share(self.rows_valid),
            "share_valid_by_kind": {kind: share(count) for kind, count in sorted(self.kind_valid.items())},
            "violations_by_rule": dict(sorted(broken.items(), key=lambda item: -item[1])),
        }


@dataclass
class SamplingFacts:
    """What writing one synthetic CSV cost, and how valid its rows are."""


    rows: int
    batch_rows: int
    batches: int
    seconds: float
    rows_per_second: float
    validity: dict[str, Any]


    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_to_csv(
    flow: FlowSynthesizer,
    target: Path,
    num_rows: int,
    batch_rows: int,
    seed: int,
    rules: Any,
    progress: bool | None = None,
    class_counts: dict[str, int] | None = None,
) -> SamplingFacts:
    """Sample `num_rows` rows (or the sum of `class_counts`) in batches, check them against
    `rules`, and stream them to `target`.


    The CSV is built in a temporary file beside `target` and renamed at the end (an interrupt
    leaves no partial file). Progress: a bar on a terminal, a log line per ~10% otherwise
    (`progress` None decides by the terminal, False shows nothing).
    """

    tally = ValidityTally(rules)
    batches = 0
    written = 0
    total = sum(flow.quotas(num_rows, class_counts).values())
    start = time.perf_counter()
    with atomic_path(target) as temporary, open(temporary, "w", encoding="utf-8", newline="") as handle, \
            Progress(total, f"{flow.model} sampling", unit="rows", enabled=progress) as bar:
        for batch in flow.sample(num_rows, batch_rows, seed, class_counts=class_counts):
            tally.update(batch)
            batch.to_csv(handle, header=(batches == 0), index=False)
            batches += 1
            written += len(batch)
            bar.update(len(batch))
        handle.flush()
    seconds = time.perf_counter() - start
    return SamplingFacts(
        rows=written,
        batch_rows=batch_rows,
        batches=batches,
        seconds=round(seconds, 3),
        rows_per_second=round(written / seconds, 1) if seconds > 0 else float("nan"),
        validity=tally.to_dict(),
    )


def write_loss_csv(losses: pd.DataFrame, target: Path) -> Path:
    """SDV's loss table as CSV, atomically."""
    from common.core.io import write_csv


    return write_csv(target, losses)


def plot_loss_curve(losses: pd.DataFrame, model: str, target: Path, rows: int) -> Path:
    """PNG of the training loss per epoch.


    CTGAN: generator and discriminator loss (one value per epoch). TVAE: the mean loss of
    the epoch's batches with their min-max range shaded.
    """
    import matplotlib.pyplot as plt


    from common.core.plots import MODEL_COLORS, apply_style, save_figure


    apply_style()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    frame = losses.copy()
    frame["Epoch"] = pd.to_numeric(frame["Epoch"])
    epochs = int(frame["Epoch"].max()) + 1 if len(frame) else 0
    value_columns = [c for c in frame.columns if c not in ("Epoch", "Batch")]
    if "Batch" in frame.columns:
        values = pd.to_numeric(frame[value_columns[0]])
        grouped = values.groupby(frame["Epoch"])
        mean, low, high = grouped.mean(), grouped.min(), grouped.max()
        color = MODEL_COLORS.get(model, "#333333")
        axis.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=color, alpha=0.2,
                          label="range over the epoch's batches")
        axis.plot(mean.index, mean.to_numpy(), color=color, linewidth=1.6, label="mean loss of the epoch")
        axis.set_ylabel("loss (reconstruction + KL)")
    else:
        # One value per epoch is noisy for a GAN: draw it faintly, with a rolling mean on top.
        window = max(1, epochs // 30)
        for column, color in zip(value_columns, ("#DD8452", "#4C72B0", "#55A868")):
            values = pd.to_numeric(frame[column])
            axis.plot(frame["Epoch"], values, color=color, linewidth=0.8, alpha=0.35)
            label = column if window == 1 else f"{column} (mean of {window} epochs)"
            axis.plot(frame["Epoch"], values.rolling(window, min_periods=1).mean(), color=color,
                      linewidth=1.8, label=label)
        axis.axhline(0.0, color="#999999", linewidth=0.8, linestyle=":")
        axis.set_ylabel("loss (Wasserstein critic scale)")
    axis.set_xlabel("epoch")
    axis.set_title(f"{model.upper()} training loss ({epochs} epochs, {rows:,} training rows)")
    axis.legend(loc="best", frameon=True)
    return save_figure(figure, target)
