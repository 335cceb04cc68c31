"""FlowSynthesizer: one SDV synthesizer plus the domain layer, fitted, sampled (class quotas and
the validity guard, common.synth.sampling), saved and loaded by hash.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Protocol

import numpy as np
import pandas as pd

from common.core.errors import UserError
from common.core.io import atomic_path, file_sha256, read_json, write_json
from common.core.progress import Progress, on_terminal
from common.data.dtypes import restore_dtypes
from common.data.schema import Schema
from common.rules import RuleSet
from common.synth.environment import (
    DeviceChoice, EpochClock, _quiet_sdv_progress, encoding_parallelism, quiet_library_logs,
    seed_everything,
)
from common.synth.models import CONDITIONAL_TRIES, class_floor
from common.synth.params import DifferentialPrivacy
from common.synth.registry import model_spec

if TYPE_CHECKING:   # SDV loads only when a model is built; sampling imports this module
    from sdv.single_table.base import BaseSingleTableSynthesizer

    from common.synth.sampling import GenerationCounts


TABLE_NAME = "flows"


class DomainLayer(Protocol):
    """What FlowSynthesizer needs of a domain layer (common.domain.DomainTransformer is one):
    fit on real rows, encode them for SDV, decode what SDV samples, and answer for classes."""

    def fit(self, frame: pd.DataFrame) -> "DomainLayer": ...
    def transform(self, frame: pd.DataFrame) -> pd.DataFrame: ...
    def inverse_transform(self, encoded: pd.DataFrame, calibrate: bool = False) -> pd.DataFrame: ...
    def sdv_metadata_dict(self, table_name: str = "flows") -> dict[str, Any]: ...
    def gaussian_columns(self) -> list[str]: ...
    def repair(self, frame: pd.DataFrame) -> pd.DataFrame: ...
    def class_conditions(self, label: str, rows: int) -> list[tuple[dict[str, Any], int]]: ...
    def describe(self) -> dict[str, Any]: ...


def build_domain_transformer(enabled: bool, model: str, rules: RuleSet | None, schema: Schema | None,
                             seed: int) -> tuple[DomainLayer | None, str]:
    """The reversible domain transformer for `model` when the config asks for it.

    Uses the model's spec's domain settings (common.synth.registry; fewer
    categories for CTGAN, whose discriminator sees every one-hot column `pac` times).
    Returns (transformer or None, a sentence for the log and the manifest).
    """
    if not enabled:
        return None, "off (config domain_layer: false): SDV learns the modelled columns directly"
    from common.domain import DomainTransformer

    transformer = DomainTransformer.with_settings(model_spec(model).domain_settings, rules, schema, seed=seed)
    return transformer, "on: SDV learns the encoded frame of common.domain.DomainTransformer"


@dataclass
class FitFacts:
    """What one fit cost and did (recorded per model in the manifest)."""

    model: str
    device: str
    rows: int
    columns: int
    sdv_processed_columns: int    # columns after SDV/RDT preprocessing
    network_data_dim: int | None  # width of ctgan's mode-specific encoding (what the networks see)
    epochs: int
    batch_size: int
    steps_per_epoch: int
    preprocess_seconds: float     # SDV/RDT transforms (and the domain layer, when used)
    training_seconds: float       # ctgan's fit: its own column encoding, then the epochs
    epochs_seconds: float         # the epoch loop alone
    fit_seconds: float            # all of the above
    seconds_per_epoch: float      # epochs_seconds / epochs
    slowest_epoch_seconds: float
    final_losses: dict[str, float] = field(default_factory=dict)
    privacy: dict[str, Any] | None = None   # DP-SGD accounting: epsilon asked and spent, delta, noise, steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlowSynthesizer:
    """One model of the flow table: an SDV synthesizer plus an optional domain transformer.

    Parameters
    ----------
    model : "ctgan" or "tvae".
    hyper : the SDV constructor arguments (see `hyper_parameters`).
    device : where to train (see `choose_device`).
    metadata_dict : SDV metadata of the modelled frame (used when there is no transformer; with
        one, the transformer's `sdv_metadata_dict()` describes the encoded frame instead).
    transformer : None, or an object with fit(frame), transform(frame) -> encoded frame,
        inverse_transform(encoded) -> frame and sdv_metadata_dict() -> SDV metadata dict.
    """

    def __init__(
        self,
        model: str,
        hyper: dict[str, Any],
        device: DeviceChoice,
        metadata_dict: dict[str, Any],
        transformer: DomainLayer | None = None,
        verbose: bool = True,
        rules: RuleSet | None = None,
        target: str | None = None,
    ) -> None:
        self.spec = model_spec(model)     # UserError for an unknown name
        quiet_library_logs()
        self.model = model
        self.hyper = dict(hyper)
        self.device = device
        self.metadata_dict = metadata_dict
        self.transformer = transformer
        self.verbose = verbose
        # With a domain layer, sampled rows breaking one of these rules are resampled/repaired
        # (common.domain.sample_valid); `validity` counts how many needed it.
        self.rules = rules
        # the class column: delivered rows keep its training shares (or asked counts)
        self.target = target
        self.class_shares: dict[str, float] = {}
        self.class_values: dict[str, Any] = {}
        self.training_rows = 0
        self.validity: GenerationCounts | None = None      # what the last sample() drew and delivered
        self.synthesizer: BaseSingleTableSynthesizer | None = None
        self.columns: list[str] = []
        self.dtypes: dict[str, str] = {}
        # a DifferentialPrivacy budget (common.synth.params): the networks train with DP-SGD
        # (models whose spec has private_training), and no training row is repeated
        self.privacy: DifferentialPrivacy | None = None

    # ------------------------------------------------------------------ fitting
    def _new_sdv_synthesizer(self, metadata_dict: dict[str, Any]) -> BaseSingleTableSynthesizer:
        from sdv.metadata import Metadata

        metadata = Metadata.load_from_dict(metadata_dict)
        # verbose on a terminal: ctgan draws an epoch progress bar (tqdm, stderr) with the current
        # losses; off a terminal the epochs are logged every ~10% instead (common.core.progress)
        if not self.spec.iterative:     # no networks: no device, no epoch progress
            return self.spec.synthesizer()(metadata, **self.hyper)
        return self.spec.synthesizer()(
            metadata, enable_gpu=self.device.enable_gpu, verbose=self.verbose and on_terminal(), **self.hyper
        )

    def fit(self, train_frame: pd.DataFrame) -> FitFacts:
        """Learn `train_frame` (the modelled training rows: no identifiers). Returns the facts."""
        if train_frame.empty:
            raise UserError("no training rows to learn from")
        self.columns = [str(name) for name in train_frame.columns]
        self.dtypes = {str(name): str(dtype) for name, dtype in train_frame.dtypes.items()}
        self.training_rows = len(train_frame)
        self._note_classes(train_frame)
        start = time.perf_counter()
        frame = train_frame
        metadata_dict = self.metadata_dict
        if self.transformer is not None:
            self.transformer.fit(train_frame)
            # repeating a class's rows would let one row count several times against the budget
            if self.spec.class_floor and self.target is not None and self.privacy is None:
                frame = class_floor(train_frame, self.target, self.spec.class_floor, seed=int(np.random.randint(2**31)))
            frame = self.transformer.transform(frame)
            metadata_dict = self.transformer.sdv_metadata_dict()
        self.synthesizer = self._new_sdv_synthesizer(metadata_dict)
        if hasattr(self.synthesizer, "condition_column"):   # the conditional TVAE learns rows given it
            self.synthesizer.condition_column = self.class_carrier()
        if self.privacy is not None:
            self.synthesizer.privacy = self.privacy
        # preprocess + fit_processed_data is what SDV's fit does; split to time the two apart.
        processed = self.synthesizer.preprocess({TABLE_NAME: frame})
        preprocess_seconds = time.perf_counter() - start
        if not self.spec.iterative:     # one pass: marginals, then the correlations
            with encoding_parallelism(*frame.shape):
                self.synthesizer.fit_processed_data(processed)
            return self._one_pass_facts(train_frame, processed, start, preprocess_seconds)
        logged = Progress(int(self.hyper["epochs"]), f"{self.model} training", unit="epochs",
                          enabled=None if self.verbose and not on_terminal() else False)
        from common.synth.ctgan_hooks import single_mode_columns

        gaussian = self.transformer.gaussian_columns() if self.transformer is not None else []
        with logged, EpochClock(logged) as clock, encoding_parallelism(*frame.shape), \
                single_mode_columns(gaussian, self.spec.gaussian_modes):
            self.synthesizer.fit_processed_data(processed)
        fit_seconds = time.perf_counter() - start
        training_seconds = fit_seconds - preprocess_seconds
        epochs = int(self.hyper["epochs"])
        if len(clock.epoch_seconds) == epochs:
            epoch_times = clock.epoch_seconds
            epochs_seconds = float(np.sum(epoch_times))
        else:  # the clock could not hook this ctgan version: count all training as epochs
            epoch_times = [training_seconds / epochs]
            epochs_seconds = training_seconds
        return FitFacts(
            model=self.model,
            device=self.device.device,
            rows=len(train_frame),
            columns=train_frame.shape[1],
            sdv_processed_columns=int(processed[TABLE_NAME].shape[1]),
            network_data_dim=self._network_data_dim(),
            epochs=epochs,
            batch_size=int(self.hyper["batch_size"]),
            steps_per_epoch=self.spec.steps_per_epoch(len(train_frame), int(self.hyper["batch_size"])),
            preprocess_seconds=round(preprocess_seconds, 3),
            training_seconds=round(training_seconds, 3),
            epochs_seconds=round(epochs_seconds, 3),
            fit_seconds=round(fit_seconds, 3),
            seconds_per_epoch=round(epochs_seconds / epochs, 4),
            slowest_epoch_seconds=round(float(np.max(epoch_times)), 4),
            final_losses=self._final_losses(),
            privacy=getattr(getattr(self.synthesizer, "_model", None), "privacy_spent", None),
        )

    def _one_pass_facts(self, train_frame: pd.DataFrame, processed: dict[str, pd.DataFrame], start: float,
                        preprocess_seconds: float) -> FitFacts:
        """FitFacts of a model fitted in one pass (no epochs, batches or losses)."""
        fit_seconds = time.perf_counter() - start
        training_seconds = fit_seconds - preprocess_seconds
        return FitFacts(
            model=self.model, device="cpu", rows=len(train_frame), columns=train_frame.shape[1],
            sdv_processed_columns=int(processed[TABLE_NAME].shape[1]), network_data_dim=None,
            epochs=0, batch_size=0, steps_per_epoch=0, preprocess_seconds=round(preprocess_seconds, 3),
            training_seconds=round(training_seconds, 3), epochs_seconds=0.0, fit_seconds=round(fit_seconds, 3),
            seconds_per_epoch=0.0, slowest_epoch_seconds=0.0, final_losses={},
        )

    def _note_classes(self, train_frame: pd.DataFrame) -> None:
        """The class column (schema target, when the frame has it) and its training shares."""
        if self.target is None or self.target not in train_frame.columns:
            self.target, self.class_shares, self.class_values = None, {}, {}
            return
        column = train_frame[self.target]
        labels = column.astype(object).where(column.notna(), "<missing>").astype(str)
        self.class_shares = {str(k): float(v) for k, v in labels.value_counts(normalize=True).items()}
        self.class_values = {str(label): value for label, value in zip(labels, column) if label != "<missing>"}

    def note_population(self, population: pd.DataFrame) -> None:
        """Take the class shares and the row count the rows are delivered in from `population`
        (the full training split) when the model learnt a subsample of it (common.data.subsample
        keeps rare classes whole, which changes the shares): the rows learnt change, not the mix.
        Only classes the model learnt are kept (a class with no row in the subsample cannot be asked for)."""
        learnt = set(self.class_shares)
        self._note_classes(population)
        if learnt:
            shares = {label: share for label, share in self.class_shares.items() if label in learnt}
            self.class_shares = {label: share / sum(shares.values()) for label, share in shares.items()}
        self.training_rows = len(population)

    def class_carrier(self) -> str | None:
        """The column of the frame SDV learns that carries the class: the class column itself
        without the domain layer; with it, the encoded column its `class_conditions` name (the
        joint pattern|class column, or the column the class is generated from). None without
        a class column, or when the classes are not carried by one column."""
        if self.target is None or not self.class_shares:
            return None
        if self.transformer is None:
            return self.target
        columns = {column for label in self.class_shares
                   for values, _ in self.transformer.class_conditions(label, 1) for column in values}
        return columns.pop() if len(columns) == 1 else None

    def _network_data_dim(self) -> int | None:
        """Width of the encoded rows the networks learn (ctgan's DataTransformer output), if known."""
        model = getattr(self.synthesizer, "_model", None)
        # ctgan names the fitted DataTransformer `_transformer` in CTGAN and `transformer` in TVAE.
        transformer = getattr(model, "_transformer", None) or getattr(model, "transformer", None)
        dimensions = getattr(transformer, "output_dimensions", None)
        return int(dimensions) if dimensions is not None else None

    def _require_fitted(self) -> BaseSingleTableSynthesizer:
        if self.synthesizer is None:
            raise RuntimeError(f"{self.model} synthesizer is not fitted")
        return self.synthesizer

    def loss_values(self) -> pd.DataFrame:
        """SDV's loss table: CTGAN one row per epoch (generator, discriminator), TVAE one per batch;
        empty for a model without epochs."""
        if not self.spec.iterative:
            return pd.DataFrame(columns=["Epoch"])
        return self._require_fitted().get_loss_values()

    def _final_losses(self) -> dict[str, float]:
        losses = self.loss_values()
        if losses.empty:
            return {}
        last_epoch = losses[losses["Epoch"] == losses["Epoch"].max()]
        value_columns = [c for c in losses.columns if c not in ("Epoch", "Batch")]
        return {c: float(pd.to_numeric(last_epoch[c]).mean()) for c in value_columns}

    # ------------------------------------------------------------------ sampling
    def quotas(self, num_rows: int, class_counts: dict[str, int] | None = None) -> dict[str, int]:
        """Rows per class to deliver: `class_counts` when given (class labels as text), else
        `num_rows` split in the training split's class shares (common.synth.sampling.class_quotas);
        {NO_CLASS: num_rows} for a table without a class column."""
        from common.synth.sampling import NO_CLASS, class_quotas

        if class_counts is not None:
            unknown = [label for label in class_counts if label not in self.class_shares]
            if unknown:
                known = ", ".join(sorted(self.class_shares))
                raise UserError(f"unknown class '{unknown[0]}' of '{self.target}'; the training rows hold: {known}")
            return {str(label): int(count) for label, count in class_counts.items()}
        if self.target is None or not self.class_shares:
            return {NO_CLASS: num_rows}
        return class_quotas(self.class_shares, num_rows)

    def sample(self, num_rows: int, batch_rows: int, seed: int,
               class_counts: dict[str, int] | None = None) -> Iterator[pd.DataFrame]:
        """Yield `num_rows` synthetic rows (or the sum of `class_counts`) in frames of at most
        `batch_rows` rows, every row valid under the rules, every class in its quota.

        Quotas: the training shares, or `class_counts` ({class label as text: rows}); each
        batch delivers a seeded share of them, so the totals are exact (common.synth.sampling). The
        rows have the training frame's columns, order and dtypes. Seeding the global generators
        and SDV's sampling state first makes the same seed give the same rows. `self.validity`
        holds the counts (rows drawn, rejected, repaired; per class) afterwards.
        """
        from common.synth.sampling import GenerationCounts, class_plan, generate

        quotas = self.quotas(num_rows, class_counts)
        num_rows = sum(quotas.values())
        if num_rows <= 0 or batch_rows <= 0:
            raise UserError(f"rows to sample and batch rows must be positive, got {num_rows} and {batch_rows}")
        synthesizer = self._require_fitted()
        seed_everything(seed)
        synthesizer.reset_sampling()
        # SDV otherwise pins sampling to its own constant seed, ignoring ours.
        synthesizer._set_random_state(seed)
        self.validity = GenerationCounts()
        plan = class_plan(quotas, seed)
        repair = self.transformer.repair if self.transformer is not None else None
        for number, start in enumerate(range(0, num_rows, batch_rows)):
            labels, batch_counts = np.unique(plan[start:start + batch_rows].astype(str), return_counts=True)
            batch, counts = generate(self._draw, dict(zip(labels, batch_counts.tolist())), self.rules,
                                     target=self.target, draw_class=self._draw_class if self.target else None,
                                     repair=repair, seed=seed + number,
                                     conditional_first=self.spec.conditional)
            self.validity.add(counts)
            yield restore_dtypes(batch, self.columns, self.dtypes)

    def _decode(self, batch: pd.DataFrame | dict[str, pd.DataFrame]) -> pd.DataFrame:
        if isinstance(batch, dict):  # SDV 2.x returns {table name: frame}
            batch = next(iter(batch.values()))
        if self.transformer is not None:
            batch = self.transformer.inverse_transform(batch, calibrate=True)
        return batch.reset_index(drop=True)

    def _draw(self, rows: int) -> pd.DataFrame:
        """`rows` new rows from the model, decoded."""
        from common.synth.ctgan_hooks import SAMPLING_BATCH_ROWS, wide_sampling_batches

        synthesizer = self._require_fitted()
        with wide_sampling_batches(getattr(synthesizer, "_model", None), min(int(rows), SAMPLING_BATCH_ROWS)):
            return self._decode(synthesizer.sample(num_rows=rows))

    def _draw_class(self, label: str, rows: int) -> pd.DataFrame:
        """Up to `rows` new decoded rows of class `label`, by SDV's conditional sampling on the
        encoded column that carries the class (`class_carrier`). CTGAN and the conditional TVAE
        generate rows given a value of that column, every row of the class; otherwise SDV
        samples by rejection, bounded by max_tries_per_batch: fewer rows, or none, when the
        model rarely makes the class."""
        from sdv.sampling import Condition

        if self.transformer is not None:
            wanted = self.transformer.class_conditions(label, rows)
        else:
            values = self.class_values.get(label)
            wanted = [({self.target: values}, rows)] if values is not None else []
        if not wanted:
            return pd.DataFrame(columns=self.columns)
        synthesizer = self._require_fitted()
        carrier = getattr(synthesizer, "conditioned_on", None)
        if carrier is not None and all(list(values) == [carrier] for values, _ in wanted):
            # the conditional TVAE makes every carrier value of the class in one pass
            counts: dict[Any, int] = {}
            for values, count in wanted:
                counts[values[carrier]] = counts.get(values[carrier], 0) + int(count)
            with _quiet_sdv_progress():
                return self._decode(synthesizer.sample_values(counts))
        conditions = [Condition(column_values=values, num_rows=count) for values, count in wanted]
        try:
            with _quiet_sdv_progress(), warnings.catch_warnings():
                warnings.simplefilter("ignore")   # SDV warns when it delivers fewer rows than asked
                sampled = synthesizer.sample_from_conditions(conditions, max_tries_per_batch=CONDITIONAL_TRIES)
        except ValueError:   # SDV: "Unable to sample any rows for the given conditions"
            return pd.DataFrame(columns=self.columns)
        return self._decode(sampled)

    # ------------------------------------------------------------------ persistence
    def describe(self) -> dict[str, Any]:
        """JSON description kept in the manifest and needed to rebuild the object on load."""
        return {
            "model": self.model,
            "synthesizer": self.spec.sdv_class_name,
            "hyper_parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in self.hyper.items()},
            "device": self.device.device,
            "device_reason": self.device.reason,
            "columns": self.columns,
            "dtypes": self.dtypes,
            "domain_layer": self.transformer is not None,
            "guard_rules": self.rules is not None,
            "training_rows": self.training_rows,
            "target": self.target,
            "class_shares": self.class_shares,
            # JSON-native class values (for conditions on a class column without the domain layer)
            "class_values": {k: _json_native(v) for k, v in self.class_values.items()},
        }

    @staticmethod
    def domain_layer_path(model_path: Path) -> Path:
        """Where the domain transformer of a model is pickled (beside the model)."""
        return model_path.with_name(model_path.name.replace("_model.pkl", "_domain_layer.pkl"))

    @staticmethod
    def rules_path(model_path: Path) -> Path:
        """Where the rules the guard checks sampled rows against are kept (beside the model)."""
        return model_path.with_name(model_path.name.replace("_model.pkl", "_rules.json"))

    def save(self, model_path: Path | str) -> dict[str, str]:
        """Save the model (SDV's `save`) and the transformer, each atomically.

        Returns {file name: SHA-256} of the files written, for the manifest.
        """
        import cloudpickle

        synthesizer = self._require_fitted()
        model_path = Path(model_path)
        with atomic_path(model_path) as temporary:
            synthesizer.save(str(temporary))
        hashes = {model_path.name: file_sha256(model_path)}
        if self.rules is not None:
            rules_path = self.rules_path(model_path)
            write_json(rules_path, self.rules.to_dict())
            hashes[rules_path.name] = file_sha256(rules_path)
        if self.transformer is not None:
            transformer_path = self.domain_layer_path(model_path)
            with atomic_path(transformer_path) as temporary:
                with open(temporary, "wb") as handle:
                    cloudpickle.dump(self.transformer, handle)
            hashes[transformer_path.name] = file_sha256(transformer_path)
        return hashes

    @classmethod
    def load(cls, model_path: Path | str, expected_sha256: dict[str, str], description: dict[str, Any]) -> "FlowSynthesizer":
        """Load a saved model after checking every file's SHA-256 against `expected_sha256`.

        A pickle runs code when loaded, so a file whose hash differs from the manifest's is
        refused (UserError) before it is opened for unpickling.
        """
        import cloudpickle
        from sdv.utils import load_synthesizer

        from common.rules import RuleSet

        model_path = Path(model_path)
        files = [model_path]
        if description.get("domain_layer"):
            files.append(cls.domain_layer_path(model_path))
        if description.get("guard_rules"):
            files.append(cls.rules_path(model_path))
        for path in files:
            verify_sha256(path, expected_sha256.get(path.name))
        flow = cls(
            model=description["model"],
            hyper=description["hyper_parameters"],
            device=DeviceChoice("cpu", "cpu", "loaded for sampling"),
            metadata_dict={},
            verbose=False,
        )
        flow.synthesizer = load_synthesizer(str(model_path))
        if description.get("domain_layer"):
            with open(files[1], "rb") as handle:
                flow.transformer = cloudpickle.load(handle)
        flow.columns = list(description["columns"])
        flow.dtypes = dict(description["dtypes"])
        flow.target = description.get("target")
        flow.class_shares = dict(description.get("class_shares") or {})
        flow.class_values = dict(description.get("class_values") or {})
        flow.training_rows = int(description.get("training_rows") or 0)
        if description.get("guard_rules"):
            flow.rules = RuleSet.from_dict(read_json(cls.rules_path(model_path), "sampling rules"))
        return flow


def _json_native(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


def verify_sha256(path: Path, expected: str | None) -> None:
    """UserError unless `path` exists and its SHA-256 equals `expected`."""
    if not path.exists():
        raise UserError(f"model file not found: {path} (train it with train_synthetic_models_improved.py)")
    if not expected:
        raise UserError(f"{path.name} has no SHA-256 in the models manifest: refusing to unpickle it; re-train")
    actual = file_sha256(path)
    if actual != expected:
        raise UserError(
            f"{path} does not match the SHA-256 in the models manifest ({actual[:12]}... != "
            f"{expected[:12]}...): refusing to unpickle a changed file (a pickle runs code); re-train"
        )
