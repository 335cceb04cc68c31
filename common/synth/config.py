"""training_configs.json: defaults, data-dependent notes and validation.

The file is written by synthetic_data_setup.py, edited by users, and read by
train_synthetic_models_improved.py. Validation names the offending key and what is allowed,
because a hand-edited JSON file is the most common source of user errors. A valid file becomes
a `TrainingConfig`: frozen, typed, holding one params object per model of the registry
(common.synth.registry); `to_json()` gives the file's shape back (for the manifest and the file).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from common.core.errors import UserError
from common.synth.params import DifferentialPrivacy, IterativeParams, ModelParams, is_int, is_number
from common.synth.registry import MODELS, model_spec

log = logging.getLogger("tcpsynth")

DEVICES = ("auto", "cpu", "cuda")
SMALL_CLASS_POLICIES = ("drop", "merge", "generate")

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
    "differential_privacy": "null (off) or an object such as {\"epsilon\": 3}",
    "max_training_rows": "null (learn every training row) or a positive integer (a larger training split is "
                         "learnt from a stratified subsample that keeps every row of the rarest classes)",
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
    "max_training_rows": lambda v: v is None or (is_int(v) and v > 0),
}


def _default_params() -> tuple[ModelParams, ...]:
    return tuple(spec.params() for spec in MODELS.values())


@dataclass(frozen=True)
class TrainingConfig:
    """The validated training configuration: one attribute per scalar key of the file, `models`
    the params object of every registered model (in the registry's order), `notes` the file's
    free text lines. Frozen: overrides make a new config (`with_changes`, `with_params`)."""

    seed: int = 42
    device: str = "auto"
    num_rows: int | None = None
    holdout_fraction: float = 0.2
    sampling_batch_rows: int = 50_000
    domain_layer: bool = True
    auto_budget_seconds: float = 240
    # classes with fewer training rows than this cannot be imitated without copying their rows:
    # "drop" leaves them out, "merge" learns them as one class "other", "generate" learns them as they are
    min_class_rows: int = 10
    small_classes: str = "drop"
    # training time grows with the rows; past this many the models learn a stratified subsample
    # (common.data.subsample) that keeps every row of the rarest classes
    max_training_rows: int | None = 200_000
    # a privacy budget: the networks of the models that support it train with DP-SGD (null: off)
    differential_privacy: DifferentialPrivacy | None = None
    models: tuple[ModelParams, ...] = field(default_factory=_default_params)
    notes: tuple[str, ...] = ()

    def params(self, model: str) -> ModelParams:
        """The params object of `model` (UserError for a name the registry does not know)."""
        model_spec(model)
        return next(params for params in self.models if params.model == model)

    def with_params(self, params: ModelParams) -> "TrainingConfig":
        """This config with `params` in place of its model's params."""
        return replace(self, models=tuple(params if p.model == params.model else p for p in self.models))

    def with_changes(self, **changes: Any) -> "TrainingConfig":
        """This config with scalar keys changed (e.g. command-line overrides)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The file's shape: the scalar keys, one section per model, then the notes."""
        scalars = {f.name: getattr(self, f.name) for f in fields(self) if f.name in _CHECKS and f.name != "notes"}
        privacy = self.differential_privacy.to_section() if self.differential_privacy is not None else None
        sections = {params.model: params.to_section() for params in self.models}
        return {**scalars, "differential_privacy": privacy, **sections, "notes": list(self.notes)}


DEFAULT_TRAINING_CONFIG: dict[str, Any] = TrainingConfig().to_json()   # what the file holds by default


def _fail(source: str, key: str, value: Any) -> None:
    raise UserError(f"{source}: '{key}' is {value!r}; allowed: {KEY_HELP[key.split('.')[-1]]}")


def validate_training_config(config: Any, source: str = "training_configs.json") -> TrainingConfig:
    """Check a training configuration (the JSON object of the file) and return it as a
    TrainingConfig, missing keys taking their defaults.

    Raises UserError naming the first unknown key, wrong type or impossible value.
    """
    if not isinstance(config, dict):
        raise UserError(f"{source} must hold a JSON object with keys {', '.join(DEFAULT_TRAINING_CONFIG)}")
    scalars: dict[str, Any] = {}
    validated = TrainingConfig()
    for key, value in config.items():
        if key not in DEFAULT_TRAINING_CONFIG:
            raise UserError(
                f"{source}: unknown key '{key}'; allowed keys: {', '.join(DEFAULT_TRAINING_CONFIG)}"
            )
        if key in MODELS:
            validated = validated.with_params(MODELS[key].params.from_section(value, source))
            continue
        if key == "differential_privacy":
            scalars[key] = None if value is None else DifferentialPrivacy.from_section(value, source)
            continue
        if not _CHECKS[key](value):
            _fail(source, key, value)
        scalars[key] = tuple(value) if key == "notes" else value
    return validated.with_changes(**scalars)


def private_models(config: TrainingConfig, models: list[str], asked: bool) -> list[str]:
    """The models to train under the config's privacy budget: all of `models` without one. With
    one, the models that can train with DP-SGD; `asked` (named with --models): a model that cannot
    is a UserError, else it is left out (and the log says so)."""
    if config.differential_privacy is None:
        return list(models)
    unable = [name for name in models if not model_spec(name).private_training]
    able = [name for name in models if name not in unable]
    can = ", ".join(name for name, spec in MODELS.items() if spec.private_training)
    if unable and (asked or not able):
        raise UserError(f"'differential_privacy' is set in training_configs.json, and {', '.join(unable)} cannot "
                        f"train with DP-SGD here (only {can}); run with --models {can.split(', ')[0]}, or set "
                        "'differential_privacy' to null")
    if unable:
        log.info("   'differential_privacy' is set: training %s only (%s cannot train "
                 "with DP-SGD)", ", ".join(able), ", ".join(unable))
    return able


def data_notes(config: TrainingConfig, training_rows: int, columns: int | None = None) -> list[str]:
    """What the config means for this data, for the console and `notes`: what "auto" epochs
    and batch size resolve to (and why), and warnings where a number makes training harmful."""
    notes: list[str] = []
    for params in config.models:
        if isinstance(params, IterativeParams):
            notes += _iterative_notes(config, params, training_rows, columns)
        notes += params.notes()
    return notes


def _iterative_notes(config: TrainingConfig, params: IterativeParams, training_rows: int,
                     columns: int | None) -> list[str]:
    """The notes on one model trained in epochs: its "auto" choice, and too few steps per epoch."""
    from common.synth.autotune import REFERENCE_COLUMNS, resolve_hyperparameters

    notes: list[str] = []
    model, batch = params.model, params.batch_size
    if "auto" in (params.epochs, batch):
        device = "cuda" if config.device == "cuda" else "cpu"
        _, choice = resolve_hyperparameters(params, max(1, training_rows), float(config.auto_budget_seconds),
                                            device, columns or REFERENCE_COLUMNS)
        notes.append(f"{choice}: for about {training_rows:,} training rows, resolved again at training "
                     f"time (type numbers instead of \"auto\" to fix them)")
    if batch == "auto":
        return notes
    steps = max(1, -(-training_rows // batch))
    if training_rows <= batch:
        notes.append(
            f"{model}: {training_rows} training rows <= batch_size {batch}, so an epoch is a single "
            f"optimiser step; consider a smaller batch_size or more epochs"
        )
    elif steps < 5:
        notes.append(f"{model}: only {steps} optimiser steps per epoch ({training_rows} rows / batch_size {batch})")
    return notes


@dataclass
class TrainingConfigFile:
    """Load, create or keep the user's training_configs.json."""

    path: Path

    def load(self) -> TrainingConfig:
        from common.core.io import read_json

        return validate_training_config(read_json(self.path, "training config"), source=str(self.path))

    def write_defaults(self, training_rows: int, seed: int | None = None,
                       columns: int | None = None) -> TrainingConfig:
        """Write the defaults (with `seed`, and notes for about `training_rows` rows of `columns`
        columns) to the file atomically; returns them."""
        from common.core.io import write_json

        config = TrainingConfig() if seed is None else TrainingConfig(seed=seed)
        config = config.with_changes(notes=tuple(data_notes(config, training_rows, columns)))
        write_json(self.path, config.to_json())
        return config


__all__ = ["DEFAULT_TRAINING_CONFIG", "DEVICES", "KEY_HELP", "SMALL_CLASS_POLICIES", "TrainingConfig",
           "TrainingConfigFile", "data_notes", "private_models", "validate_training_config"]
