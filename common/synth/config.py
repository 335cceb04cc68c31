"""training_configs.json: defaults, data-dependent notes and validation.

The file is written by synthetic_data_setup.py, edited by users, and read by
train_synthetic_models_improved.py. Validation names the offending key and what is allowed,
because a hand-edited JSON file is the most common source of user errors.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from common.core.errors import UserError
from common.synth.params import is_int, is_number
from common.synth.registry import ITERATIVE_MODELS, MODELS

DEVICES = ("auto", "cpu", "cuda")
SMALL_CLASS_POLICIES = ("drop", "merge", "generate")

DEFAULT_TRAINING_CONFIG: dict[str, Any] = {
    "seed": 42,
    "device": "auto",
    "num_rows": None,
    "holdout_fraction": 0.2,
    "sampling_batch_rows": 50_000,
    "domain_layer": True,
    "auto_budget_seconds": 240,
    # classes with fewer training rows than this cannot be imitated without copying their rows:
    # "drop" leaves them out, "merge" learns them as one class "other", "generate" learns them as they are
    "min_class_rows": 10,
    "small_classes": "drop",
    **{name: spec.params().to_section() for name, spec in MODELS.items()},
    "notes": [],
}

KEY_HELP: dict[str, str] = {
    "seed": "integer random seed",
    "device": "one of auto, cpu, cuda",
    "num_rows": "null (as many rows as the training split) or a positive integer",
    "holdout_fraction": "a number between 0.05 and 0.5",
    "sampling_batch_rows": "a positive integer (rows sampled and written per batch)",
    "domain_layer": "true or false (TCP-validity transforms before fitting)",
    "auto_budget_seconds": "a positive number (fit-time budget per model for \"auto\" epochs/batch_size)",
    "notes": "a list of text lines (written by the setup, free to edit)",
    "min_class_rows": "a whole number >= 0 (classes with fewer training rows are handled by small_classes; 0: none)",
    "small_classes": "one of drop, merge, generate (what happens to classes below min_class_rows)",
}


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "seed": is_int,
    "device": lambda v: v in DEVICES,
    "num_rows": lambda v: v is None or (is_int(v) and v > 0),
    "holdout_fraction": lambda v: is_number(v) and 0.05 <= v <= 0.5,
    "sampling_batch_rows": lambda v: is_int(v) and v > 0,
    "domain_layer": lambda v: isinstance(v, bool),
    "auto_budget_seconds": lambda v: is_number(v) and v > 0,
    "notes": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "min_class_rows": lambda v: is_int(v) and v >= 0,
    "small_classes": lambda v: v in SMALL_CLASS_POLICIES,
}


def _fail(source: str, key: str, value: Any) -> None:
    raise UserError(f"{source}: '{key}' is {value!r}; allowed: {KEY_HELP[key.split('.')[-1]]}")


def validate_training_config(config: Any, source: str = "training_configs.json") -> dict[str, Any]:
    """Check a training configuration and return it with missing keys filled from the defaults.

    Raises UserError naming the first unknown key, wrong type or impossible value.
    """
    if not isinstance(config, dict):
        raise UserError(f"{source} must hold a JSON object with keys {', '.join(DEFAULT_TRAINING_CONFIG)}")
    merged = copy.deepcopy(DEFAULT_TRAINING_CONFIG)
    for key, value in config.items():
        if key not in DEFAULT_TRAINING_CONFIG:
            raise UserError(
                f"{source}: unknown key '{key}'; allowed keys: {', '.join(DEFAULT_TRAINING_CONFIG)}"
            )
        if key in MODELS:
            merged[key] = MODELS[key].params.from_section(value, source).to_section()
        else:
            if not _CHECKS[key](value):
                _fail(source, key, value)
            merged[key] = value
    return merged


def data_notes(config: dict[str, Any], training_rows: int, columns: int | None = None) -> list[str]:
    """What the config means for this data, for the console and `notes`: what "auto" epochs
    and batch size resolve to (and why), and warnings where a number makes training harmful."""
    from common.synth.autotune import REFERENCE_COLUMNS, resolve_hyperparameters

    notes: list[str] = []
    for model in ITERATIVE_MODELS:
        section = config[model]
        if "auto" in (section["epochs"], section["batch_size"]):
            device = "cuda" if config["device"] == "cuda" else "cpu"
            _, choice = resolve_hyperparameters(model, section, max(1, training_rows),
                                                float(config["auto_budget_seconds"]), device,
                                                columns or REFERENCE_COLUMNS)
            notes.append(f"{choice}: for about {training_rows:,} training rows, resolved again at training "
                         f"time (type numbers instead of \"auto\" to fix them)")
        batch = section["batch_size"]
        if batch == "auto":
            continue
        steps = max(1, -(-training_rows // batch))
        if training_rows <= batch:
            notes.append(
                f"{model}: {training_rows} training rows <= batch_size {batch}, so an epoch is a single "
                f"optimiser step; consider a smaller batch_size or more epochs"
            )
        elif steps < 5:
            notes.append(
                f"{model}: only {steps} optimiser steps per epoch ({training_rows} rows / batch_size {batch})"
            )
    pac = config["ctgan"]["pac"]
    notes.append(f"ctgan: batch_size must stay a multiple of pac ({pac})")
    return notes


@dataclass
class TrainingConfigFile:
    """Load, create or keep the user's training_configs.json."""

    path: Path

    def load(self) -> dict[str, Any]:
        from common.core.io import read_json

        return validate_training_config(read_json(self.path, "training config"), source=str(self.path))

    def write_defaults(self, training_rows: int, seed: int | None = None, columns: int | None = None) -> dict[str, Any]:
        from common.core.io import write_json

        config = copy.deepcopy(DEFAULT_TRAINING_CONFIG)
        if seed is not None:
            config["seed"] = seed
        config["notes"] = data_notes(config, training_rows, columns)
        write_json(self.path, config)
        return config
