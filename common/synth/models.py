"""What a model's spec (common.synth.registry) means for building it: the SDV class, the SDV
arguments from a validated config, "auto" resolution, and the class floor of training rows.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from common.synth.registry import MODELS, model_spec

# Keys of each model's config section, passed to the SDV constructor as they are.
HYPER_PARAMETERS = {name: spec.params.keys() for name, spec in MODELS.items()}


def synthesizer_class(model: str) -> type:
    """The SDV class of a model name (UserError for an unknown name)."""
    return model_spec(model).synthesizer()


def resolve_auto(model: str, config: dict[str, Any], training_rows: int, device: str,
                 columns: int) -> tuple[dict[str, Any], str]:
    """The config with "auto" epochs / batch_size of `model` replaced by numbers
    (common.synth.autotune, within config["auto_budget_seconds"]), and a sentence saying why.
    A model without epochs (not iterative) is returned as configured."""
    from common.synth.autotune import resolve_hyperparameters

    if not model_spec(model).iterative:
        return config, f"{model}: fitted in one pass (no epochs or batches)"
    section, choice = resolve_hyperparameters(
        model, config[model], training_rows, float(config.get("auto_budget_seconds", 240)), device, columns
    )
    return {**config, model: section}, choice


def hyper_parameters(model: str, config: dict[str, Any]) -> dict[str, Any]:
    """The SDV constructor arguments for `model` from a validated training config ("auto"
    values must be resolved first, see `resolve_auto`)."""
    return model_spec(model).params.from_section(config[model]).sdv_kwargs()


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
