"""What differs per model ("ctgan", "tvae"): the SDV class, the config keys it takes, "auto"
resolution, steps per epoch, and the generation settings measured per model.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from common.core.errors import UserError
from common.synth.params import MODEL_PARAMS, model_params


# Keys of the config's per-model sections, passed to the SDV constructors as they are.
HYPER_PARAMETERS = {model: params.keys() for model, params in MODEL_PARAMS.items()}
SYNTHESIZER_CLASS_NAMES = {model: params.sdv_class_name for model, params in MODEL_PARAMS.items()}


def synthesizer_class(model: str):
    """The SDV class for a model name."""
    from common.synth.conditional_tvae import ConditionalTVAESynthesizer
    from common.synth.ctgan_hooks import ConditionalCTGANSynthesizer

    classes = {"ctgan": ConditionalCTGANSynthesizer, "tvae": ConditionalTVAESynthesizer}
    if model not in classes:
        raise UserError(f"unknown model '{model}'; choose from {', '.join(classes)}")
    return classes[model]


def resolve_auto(model: str, config: dict[str, Any], training_rows: int, device: str,
                 columns: int) -> tuple[dict[str, Any], str]:
    """The config with "auto" epochs / batch_size of `model` replaced by numbers
    (common.synth.autotune, within config["auto_budget_seconds"]), and a sentence saying why."""
    from common.synth.autotune import resolve_hyperparameters

    section, choice = resolve_hyperparameters(
        model, config[model], training_rows, float(config.get("auto_budget_seconds", 240)), device, columns
    )
    return {**config, model: section}, choice


def hyper_parameters(model: str, config: dict[str, Any]) -> dict[str, Any]:
    """The SDV constructor arguments for `model` from a validated training config ("auto"
    values must be resolved first, see `resolve_auto`)."""
    return model_params(model).from_section(config[model]).sdv_kwargs()


# Modes of ctgan's mode-specific normalisation for the domain layer's normal-score columns
# (common.synth.ctgan_hooks): TVAE loses nothing with one; CTGAN's generator needs a few.
GAUSSIAN_MODES = {"ctgan": 1, "tvae": 1}


# Both models generate a row given its class: CTGAN with its conditional generator
# (common.synth.ctgan_hooks), TVAE as a conditional VAE whose decoder takes the class
# (common.synth.conditional_tvae). Their rows are asked for class by class; unconditional draws
# only top up what is still missing.
CONDITIONAL_FIRST = {"ctgan": True, "tvae": True}


# SDV's conditional sampling retries a condition this many times (each try at most 10 times the
# rows still needed) before it gives up on it; common.synth.sampling then stops with a clear message.
CONDITIONAL_TRIES = 10


# Training rows give every class at least this share of an even split (rows drawn again from the
# class, at most CLASS_FLOOR_MAX_REPEAT times each); the delivered class shares are the quotas'
# anyway. Plain TVAE needed it to generate rare classes at all (on CIC-IDS2017 it made BENIGN, 3.6%
# of the rows, 0.02% of the time and Infiltration, 0.6%, never). The conditional TVAE makes any
# class on request; the floor still gives its rare classes more training steps, measured with
# real_data.py (tvae, quality/ceiling and TSTR/TRTR): CIC-IDS2017, 2 seeds, 0.948 / 0.903 with
# 0.5 and 0.940 / 0.908 without (quality higher with it in both seeds); cPacket, 1 seed, 1.002 /
# 0.990 with and 1.002 / 0.988 without. It costs ~10% more training rows on CIC-IDS2017.
# CTGAN needs none: its training conditions on classes by log-frequency.
CLASS_FLOOR = {"ctgan": 0.0, "tvae": 0.5}


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
