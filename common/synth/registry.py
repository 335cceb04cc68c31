"""The model registry: one ModelSpec per synthesizer, the one place a model is described.

A spec says which SDV synthesizer class the model is, its parameters (a frozen dataclass of
common.synth.params: defaults, checks, help, SDV arguments), whether it trains in epochs (losses,
epoch progress, "auto" epochs and batch size from the cost model below), whether it generates a
row given its class (class quotas asked class by class), its domain-layer settings and its
colour. The config, autotune, the synthesizer wrapper, the training script and the plots read
it; adding a model is one spec here and one params class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from common.core.errors import UserError
from common.synth.params import CTGANParams, GaussianCopulaParams, ModelParams, TVAEParams


def _ctgan_class() -> type:
    from common.synth.ctgan_hooks import ConditionalCTGANSynthesizer

    return ConditionalCTGANSynthesizer


def _tvae_class() -> type:
    from common.synth.conditional_tvae import ConditionalTVAESynthesizer

    return ConditionalTVAESynthesizer


def _gaussian_copula_class() -> type:
    from sdv.single_table import GaussianCopulaSynthesizer

    return GaussianCopulaSynthesizer


def _floor_steps(rows: int, batch_size: int) -> int:
    return max(rows // batch_size, 1)          # ctgan's CTGAN: full batches only


def _ceil_steps(rows: int, batch_size: int) -> int:
    return max(math.ceil(rows / batch_size), 1)   # ctgan's TVAE: a DataLoader keeps the last batch


@dataclass(frozen=True)
class ModelSpec:
    """Everything that differs between synthesizers.

    name            the config section and --models name
    params          its ModelParams class (params.iterative: trained in epochs of batches)
    synthesizer     returns the SDV synthesizer class (imported only when a model is built)
    conditional     it generates a row given its class: quotas are asked class by class, and
                    unconditional draws only top up (common.synth.sampling, conditional_first)
    on_by_default   trained when --models is not given
    color           its colour in every figure
    class_floor     share of an even class split every class is oversampled to in training (0: none)
    gaussian_modes  modes of ctgan's normalisation for the domain layer's normal-score columns
    cpu_step_seconds, gpu_step_seconds  cost model of one optimiser step (fixed, per batch row)
                    at the reference column count (common.synth.autotune); None if not iterative
    steps_per_epoch optimiser steps of one epoch for (rows, batch size), as the library loops
    domain_settings arguments of common.domain.DomainTransformer for this model
    private_training  its networks train with DP-SGD when training_configs.json sets a
                    `differential_privacy` budget (common.synth.private_tvae)
    """

    name: str
    params: type[ModelParams]
    synthesizer: Callable[[], type]
    conditional: bool
    on_by_default: bool
    color: str
    class_floor: float = 0.0
    gaussian_modes: int = 1
    cpu_step_seconds: tuple[float, float] | None = None
    gpu_step_seconds: tuple[float, float] | None = None
    steps_per_epoch: Callable[[int, int], int] | None = None
    domain_settings: dict[str, Any] = field(default_factory=dict)
    private_training: bool = False

    @property
    def iterative(self) -> bool:
        return self.params.iterative

    @property
    def sdv_class_name(self) -> str:
        return self.params.sdv_class_name


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(
        name="ctgan", params=CTGANParams, synthesizer=_ctgan_class, conditional=True, on_by_default=True,
        color="#DD8452",
        # CTGAN's generator needs a few modes for the normal-score columns; TVAE loses nothing with one
        gaussian_modes=1,
        # Measured with the domain layer and one torch thread on the 2-CPU machine: CTGAN 0.020 /
        # 0.026 / 0.051 s per step at batches of 80 / 170 / 480 rows (real cPacket table, its
        # 1,000-row subset, the bundled sample).
        cpu_step_seconds=(0.0136, 0.000078), gpu_step_seconds=(0.006, 0.00001), steps_per_epoch=_floor_steps,
        # With no categorical encoded columns and the class joined to the pattern CTGAN reached 0.915
        # of the holdout's SDV-detected quality on the real cPacket table in 215 s (0.83 to 0.87 with
        # up to 10 categories per column and the class apart, 250 to 390 s).
        domain_settings={"categorical_max_values": 0, "join_class": True},
        # No DP-SGD: its discriminator's gradient penalty differentiates through gradients, which
        # opacus's per-row gradients cannot, and its conditional sampler draws real rows by class.
        private_training=False,
    ),
    ModelSpec(
        name="tvae", params=TVAEParams, synthesizer=_tvae_class, conditional=True, on_by_default=True,
        color="#55A868",
        # Training rows give every class at least this share of an even split (rows drawn again from
        # the class, at most CLASS_FLOOR_MAX_REPEAT times each). Plain TVAE needed it to generate rare
        # classes at all (on CIC-IDS2017 it made BENIGN, 3.6% of the rows, 0.02% of the time). The
        # conditional TVAE makes any class on request; the floor still gives its rare classes more
        # training steps: CIC-IDS2017, 2 seeds, quality/ceiling and TSTR/TRTR 0.948 / 0.903 with 0.5
        # and 0.940 / 0.908 without; cPacket 1.002 / 0.990 with, 1.002 / 0.988 without.
        # CTGAN needs none: its training conditions on classes by log-frequency.
        class_floor=0.5,
        # TVAE 0.0067 / 0.0080 / 0.0163 s per step at batches of 80 / 170 / 480 rows (same tables)
        cpu_step_seconds=(0.0048, 0.000024), gpu_step_seconds=(0.003, 0.000005), steps_per_epoch=_ceil_steps,
        # up to 20 categories fitted in 78 s for 0.979 of the ceiling on cPacket (121 s, 0.984 with 50)
        domain_settings={"categorical_max_values": 20, "join_class": True},
        private_training=True,
    ),
    ModelSpec(
        name="gaussian_copula", params=GaussianCopulaParams, synthesizer=_gaussian_copula_class,
        # SDV answers a class condition by rejection (190 rows/s on the bundled sample, asked class by
        # class): unconditional draws serve every class at once, conditions only top up
        conditional=False, on_by_default=False, color="#8172B3",
        domain_settings={"categorical_max_values": 20, "join_class": True},
    ),
)}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
DEFAULT_MODELS: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.on_by_default)
ITERATIVE_MODELS: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.iterative)


def model_spec(name: str) -> ModelSpec:
    """The spec of a model name; UserError listing the known ones."""
    if name not in MODELS:
        raise UserError(f"unknown model '{name}'; choose from {', '.join(MODELS)}")
    return MODELS[name]


def _register_colors() -> None:
    """The figures (common.core.plots) draw each model in its spec's colour."""
    from common.core.plots import MODEL_COLORS

    MODEL_COLORS.update({name: spec.color for name, spec in MODELS.items()})


_register_colors()

__all__ = ["DEFAULT_MODELS", "ITERATIVE_MODELS", "MODELS", "MODEL_NAMES", "ModelSpec", "model_spec"]
