"""What a model's spec (common.synth.registry) means for building it: the SDV class, the
"auto" resolution of a validated config's params, and the class floor of training rows.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from common.synth.params import IterativeParams, ModelParams
from common.synth.registry import model_spec

if TYPE_CHECKING:
    from common.synth.config import TrainingConfig


def synthesizer_class(model: str) -> type:
    """The SDV class of a model name (UserError for an unknown name)."""
    return model_spec(model).synthesizer()


def resolve_auto(model: str, config: TrainingConfig, training_rows: int, device: str,
                 columns: int) -> tuple[ModelParams, str]:
    """The params of `model` with "auto" epochs / batch_size replaced by numbers (a new params
    object, common.synth.autotune, within config.auto_budget_seconds), and a sentence saying why.
    A model without epochs (not iterative) keeps its params as configured."""
    from common.synth.autotune import resolve_hyperparameters

    params = config.params(model)
    if not isinstance(params, IterativeParams):
        return params, f"{model}: fitted in one pass (no epochs or batches)"
    return resolve_hyperparameters(params, training_rows, float(config.auto_budget_seconds), device, columns)


# SDV's conditional sampling retries a condition this many times (each try at most 10 times the
# rows still needed) before it gives up on it; common.synth.sampling then reports the shortfall.
CONDITIONAL_TRIES = 10


CLASS_FLOOR_MAX_REPEAT = 10


def class_floor(frame: pd.DataFrame, target: str, floor: float, seed: int) -> pd.DataFrame:
    """`frame` with the rows of small classes repeated (sampled with replacement) until each
    class has at least floor x rows / classes rows, or CLASS_FLOOR_MAX_REPEAT times its own."""
    labels = frame[target].astype(str)
    counts = labels.value_counts()
    wanted = int(floor * len(frame) / max(len(counts), 1))
    rng = np.random.default_rng(seed)
    extra = []
    for label, count in counts.items():
        missing = min(wanted, count * CLASS_FLOOR_MAX_REPEAT) - count
        if missing > 0:
            rows = np.nonzero((labels == label).to_numpy())[0]
            extra.append(rng.choice(rows, missing, replace=True))
    if not extra:
        return frame
    return pd.concat([frame, frame.iloc[np.concatenate(extra)]], ignore_index=True)
