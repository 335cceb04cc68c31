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

DEVICES = ("auto", "cpu", "cuda")

DEFAULT_TRAINING_CONFIG: dict[str, Any] = {
    "seed": 42,
    "device": "auto",
    "num_rows": None,
    "holdout_fraction": 0.2,
    "sampling_batch_rows": 50_000,
    "domain_layer": True,
    "auto_budget_seconds": 240,
    "ctgan": {
        "epochs": "auto",
        "batch_size": "auto",
        "generator_dim": [256, 256],
        "discriminator_dim": [256, 256],
        "embedding_dim": 128,
        "generator_lr": 2e-4,
        "discriminator_lr": 2e-4,
        "discriminator_steps": 1,
        "pac": 10,
    },
    "tvae": {
        "epochs": "auto",
        "batch_size": "auto",
        "embedding_dim": 128,
        "compress_dims": [128, 128],
        "decompress_dims": [128, 128],
        "l2scale": 1e-5,
        "loss_factor": 2,
    },
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
    "epochs": "a positive integer, or \"auto\"",
    "batch_size": "a positive integer (for ctgan a multiple of pac), or \"auto\"",
    "generator_dim": "a list of positive integers, e.g. [256, 256]",
    "discriminator_dim": "a list of positive integers, e.g. [256, 256]",
    "compress_dims": "a list of positive integers, e.g. [128, 128]",
    "decompress_dims": "a list of positive integers, e.g. [128, 128]",
    "embedding_dim": "a positive integer",
    "generator_lr": "a positive number",
    "discriminator_lr": "a positive number",
    "discriminator_steps": "a positive integer",
    "pac": "a positive integer",
    "l2scale": "a non-negative number",
    "loss_factor": "a positive number",
    "notes": "a list of text lines (written by the setup, free to edit)",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "seed": _is_int,
    "device": lambda v: v in DEVICES,
    "num_rows": lambda v: v is None or (_is_int(v) and v > 0),
    "holdout_fraction": lambda v: _is_number(v) and 0.05 <= v <= 0.5,
    "sampling_batch_rows": lambda v: _is_int(v) and v > 0,
    "domain_layer": lambda v: isinstance(v, bool),
    "auto_budget_seconds": lambda v: _is_number(v) and v > 0,
    "epochs": lambda v: v == "auto" or (_is_int(v) and v > 0),
    "batch_size": lambda v: v == "auto" or (_is_int(v) and v > 0),
    "generator_dim": lambda v: isinstance(v, list) and len(v) > 0 and all(_is_int(x) and x > 0 for x in v),
    "embedding_dim": lambda v: _is_int(v) and v > 0,
    "generator_lr": lambda v: _is_number(v) and v > 0,
    "discriminator_steps": lambda v: _is_int(v) and v > 0,
    "pac": lambda v: _is_int(v) and v > 0,
    "l2scale": lambda v: _is_number(v) and v >= 0,
    "loss_factor": lambda v: _is_number(v) and v > 0,
    "notes": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}
for _alias in ("discriminator_dim", "compress_dims", "decompress_dims"):
    _CHECKS[_alias] = _CHECKS["generator_dim"]
_CHECKS["discriminator_lr"] = _CHECKS["generator_lr"]


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
        if isinstance(DEFAULT_TRAINING_CONFIG[key], dict):
            if not isinstance(value, dict):
                raise UserError(f"{source}: '{key}' must be an object of hyper-parameters")
            for inner_key, inner_value in value.items():
                if inner_key not in DEFAULT_TRAINING_CONFIG[key]:
                    allowed = ", ".join(DEFAULT_TRAINING_CONFIG[key])
                    raise UserError(f"{source}: unknown key '{key}.{inner_key}'; allowed keys: {allowed}")
                if not _CHECKS[inner_key](inner_value):
                    _fail(source, f"{key}.{inner_key}", inner_value)
                merged[key][inner_key] = inner_value
        else:
            if not _CHECKS[key](value):
                _fail(source, key, value)
            merged[key] = value
    ctgan = merged["ctgan"]
    if ctgan["batch_size"] != "auto" and ctgan["batch_size"] % ctgan["pac"] != 0:
        raise UserError(
            f"{source}: 'ctgan.batch_size' is {ctgan['batch_size']}, which is not a multiple of "
            f"'ctgan.pac' ({ctgan['pac']}); CTGAN packs pac rows per discriminator input"
        )
    return merged


def data_notes(config: dict[str, Any], training_rows: int, columns: int | None = None) -> list[str]:
    """What the config means for this data, for the console and `notes`: what "auto" epochs
    and batch size resolve to (and why), and warnings where a number makes training harmful."""
    from common.synth.autotune import REFERENCE_COLUMNS, resolve_hyperparameters

    notes: list[str] = []
    for model in ("ctgan", "tvae"):
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
