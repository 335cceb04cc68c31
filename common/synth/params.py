"""Model parameters: one frozen dataclass per synthesizer, named by its spec (common.synth.registry).

Each field is a key of the model's section in training_configs.json (the file keeps its JSON
shape: layer sizes are lists there, tuples here) with its default, its check and the help text
an error message shows. `from_section` validates a hand-edited section and names the offending
key; `sdv_kwargs()` gives the SDV constructor arguments once "auto" epochs and batch size are
resolved (common.synth.autotune).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, ClassVar, Self

from common.core.errors import UserError

AUTO = "auto"


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _auto_or_positive_int(value: Any) -> bool:
    return value == AUTO or (is_int(value) and value > 0)


def _positive_int(value: Any) -> bool:
    return is_int(value) and value > 0


def _positive_number(value: Any) -> bool:
    return is_number(value) and value > 0


def _non_negative_number(value: Any) -> bool:
    return is_number(value) and value >= 0


def _layer_sizes(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_positive_int(x) for x in value)


def _param(default: Any, check: Callable[[Any], bool], help_text: str) -> Any:
    return field(default=default, metadata={"check": check, "help": help_text})


LAYERS_HELP = "a list of positive integers, e.g. [256, 256]"


@dataclass(frozen=True)
class DifferentialPrivacy:
    """A privacy budget for DP-SGD training (common.synth.private_tvae): the
    `differential_privacy` section of training_configs.json (null: off).

    `epsilon` > 0; `delta` in (0, 1), None: 1 / (10 x training rows); `max_grad_norm` > 0: the
    bound each row's gradient is clipped to.
    """

    epsilon: float
    delta: float | None = None
    max_grad_norm: float = 1.0

    HELP: ClassVar[dict[str, str]] = {
        "epsilon": "a number > 0 (the privacy budget; smaller is more private, 1 to 10 is usual)",
        "delta": "null (1 / (10 x training rows)) or a number between 0 and 1, well below 1 / training rows",
        "max_grad_norm": "a number > 0 (each row's gradient is clipped to this norm)",
    }

    @classmethod
    def from_section(cls, section: Any, source: str) -> "DifferentialPrivacy":
        """The budget of a hand-edited section; UserError naming the offending key."""
        key = "differential_privacy"
        if not isinstance(section, dict):
            raise UserError(f"{source}: '{key}' is {section!r}; allowed: null (off) or an object such as "
                            '{"epsilon": 3}')
        checks = {"epsilon": _positive_number, "delta": lambda v: v is None or (is_number(v) and 0 < v < 1),
                  "max_grad_norm": _positive_number}
        for name, value in section.items():
            if name not in checks:
                raise UserError(f"{source}: unknown key '{key}.{name}'; allowed keys: {', '.join(checks)}")
            if not checks[name](value):
                raise UserError(f"{source}: '{key}.{name}' is {value!r}; allowed: {cls.HELP[name]}")
        if "epsilon" not in section:
            raise UserError(f"{source}: '{key}' needs 'epsilon' ({cls.HELP['epsilon']})")
        return cls(**{name: float(value) if value is not None else None for name, value in section.items()})

    def delta_for(self, rows: int) -> float:
        """The delta spent on a table of `rows` training rows."""
        return float(self.delta) if self.delta is not None else 1.0 / (10.0 * max(int(rows), 1))

    def to_section(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "delta": self.delta, "max_grad_norm": self.max_grad_norm}


@dataclass(frozen=True)
class ModelParams:
    """The parameters of one synthesizer: its section of training_configs.json."""

    model: ClassVar[str] = ""
    sdv_class_name: ClassVar[str] = ""
    iterative: ClassVar[bool] = False     # trained in epochs and batches ("auto" resolves them)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def help(cls) -> dict[str, str]:
        """{key: what it accepts}, for error messages and the README."""
        return {f.name: f.metadata["help"] for f in fields(cls)}

    @classmethod
    def from_section(cls, section: Any, source: str = "training_configs.json") -> Self:
        """The parameters of a config section (missing keys take their defaults).

        Raises UserError naming `<model>.<key>` for an unknown key or a value its check refuses.
        """
        if not isinstance(section, dict):
            raise UserError(f"{source}: '{cls.model}' must be an object of hyper-parameters")
        checks = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key not in checks:
                raise UserError(f"{source}: unknown key '{cls.model}.{key}'; allowed keys: {', '.join(checks)}")
            if not checks[key].metadata["check"](value):
                raise UserError(f"{source}: '{cls.model}.{key}' is {value!r}; allowed: {checks[key].metadata['help']}")
            values[key] = tuple(value) if isinstance(value, list) else value
        params = cls(**values)
        params.check(source)
        return params

    def check(self, source: str) -> None:
        """Checks between keys (none here)."""

    def notes(self) -> list[str]:
        """Lines for the config's `notes` that hold whatever the data (none here)."""
        return []

    def to_section(self) -> dict[str, Any]:
        """The JSON section (tuples as lists)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    def sdv_kwargs(self) -> dict[str, Any]:
        """Arguments of the SDV synthesizer's constructor; "auto" must be resolved first."""
        for key in ("epochs", "batch_size"):
            if getattr(self, key, None) == AUTO:
                raise ValueError(f"{self.model}.{key} is still 'auto': call resolve_auto first")
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class IterativeParams(ModelParams):
    """A network trained in epochs of batches: epochs and batch size, each a number or "auto"."""

    iterative: ClassVar[bool] = True

    epochs: int | str = _param(AUTO, _auto_or_positive_int, 'a positive integer, or "auto"')
    batch_size: int | str = _param(AUTO, _auto_or_positive_int, 'a positive integer, or "auto"')

    @property
    def batch_multiple(self) -> int:
        """An "auto" batch size is a multiple of this (1: any size)."""
        return 1

    def resolved(self, epochs: int, batch_size: int) -> Self:
        """A new params object: these parameters with "auto" epochs and batch size replaced by numbers."""
        return replace(self, epochs=int(epochs), batch_size=int(batch_size))


@dataclass(frozen=True)
class CTGANParams(IterativeParams):
    """SDV CTGANSynthesizer's parameters this project exposes."""

    model: ClassVar[str] = "ctgan"
    sdv_class_name: ClassVar[str] = "CTGANSynthesizer"

    batch_size: int | str = _param(AUTO, _auto_or_positive_int, 'a positive integer (a multiple of pac), or "auto"')
    generator_dim: tuple[int, ...] = _param((256, 256), _layer_sizes, LAYERS_HELP)
    discriminator_dim: tuple[int, ...] = _param((256, 256), _layer_sizes, LAYERS_HELP)
    embedding_dim: int = _param(128, _positive_int, "a positive integer")
    generator_lr: float = _param(2e-4, _positive_number, "a positive number")
    discriminator_lr: float = _param(2e-4, _positive_number, "a positive number")
    discriminator_steps: int = _param(1, _positive_int, "a positive integer")
    pac: int = _param(10, _positive_int, "a positive integer")

    @property
    def batch_multiple(self) -> int:
        return self.pac         # CTGAN packs pac rows per discriminator input

    def notes(self) -> list[str]:
        return [f"{self.model}: batch_size must stay a multiple of pac ({self.pac})"]

    def check(self, source: str) -> None:
        if self.batch_size != AUTO and int(self.batch_size) % self.pac != 0:
            raise UserError(
                f"{source}: 'ctgan.batch_size' is {self.batch_size}, which is not a multiple of "
                f"'ctgan.pac' ({self.pac}); CTGAN packs pac rows per discriminator input"
            )


@dataclass(frozen=True)
class TVAEParams(IterativeParams):
    """SDV TVAESynthesizer's parameters this project exposes."""

    model: ClassVar[str] = "tvae"
    sdv_class_name: ClassVar[str] = "TVAESynthesizer"

    embedding_dim: int = _param(128, _positive_int, "a positive integer")
    compress_dims: tuple[int, ...] = _param((128, 128), _layer_sizes, "a list of positive integers, e.g. [128, 128]")
    decompress_dims: tuple[int, ...] = _param((128, 128), _layer_sizes, "a list of positive integers, e.g. [128, 128]")
    l2scale: float = _param(1e-5, _non_negative_number, "a non-negative number")
    loss_factor: float = _param(2, _positive_number, "a positive number")


DISTRIBUTIONS = ("norm", "beta", "truncnorm", "uniform", "gamma", "gaussian_kde")


@dataclass(frozen=True)
class GaussianCopulaParams(ModelParams):
    """SDV GaussianCopulaSynthesizer's parameters this project exposes (no epochs: it is fitted
    in one pass, marginals then the correlation matrix)."""

    model: ClassVar[str] = "gaussian_copula"
    sdv_class_name: ClassVar[str] = "GaussianCopulaSynthesizer"

    default_distribution: str = _param("beta", lambda v: v in DISTRIBUTIONS,
                                       "one of " + ", ".join(DISTRIBUTIONS))


__all__ = ["AUTO", "CTGANParams", "GaussianCopulaParams", "IterativeParams", "ModelParams", "TVAEParams"]
