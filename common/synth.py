"""Synthesizers from the training config: device choice, fitting, streamed sampling, hashed saving.

One `FlowSynthesizer` per model ("ctgan", "tvae") wraps an SDV 2.x single-table synthesizer
(`CTGANSynthesizer`, `TVAESynthesizer`) and, optionally, a reversible domain transformer
(common.transforms.DomainTransformer) that encodes the flow table before SDV sees it and
decodes what SDV samples. Without a transformer SDV learns the modelled frame directly.

Files
-----
models/<model>_model.pkl         the SDV synthesizer, written with SDV's `save` (cloudpickle)
models/<model>_domain_layer.pkl  the domain transformer (only when one is used)
models/manifest.json             library versions, config, training facts and the SHA-256 of
                                 every file; `load_trained` refuses a pickle whose hash differs,
                                 because unpickling runs code.

Sampling is streamed: `FlowSynthesizer.sample` yields DataFrames of at most `batch_rows` rows,
and `sample_to_csv` appends them to a temporary file renamed over the target at the end, so a
million rows never sit in memory at once and an interrupted run leaves no partial CSV.
"""
from __future__ import annotations

import logging
import math
import os
import platform
import random
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from common.errors import UserError
from common.io import atomic_path, file_sha256, read_json, write_json
from common.layout import OutputLayout
from common.progress import Progress, on_terminal

log = logging.getLogger("tcpsynth")

# Keys of the config's per-model sections, passed to the SDV constructors as they are.
HYPER_PARAMETERS = {
    "ctgan": ("epochs", "batch_size", "generator_dim", "discriminator_dim", "embedding_dim",
              "generator_lr", "discriminator_lr", "discriminator_steps", "pac"),
    "tvae": ("epochs", "batch_size", "embedding_dim", "compress_dims", "decompress_dims",
             "l2scale", "loss_factor"),
}
SYNTHESIZER_CLASS_NAMES = {"ctgan": "CTGANSynthesizer", "tvae": "TVAESynthesizer"}
TABLE_NAME = "flows"
MANIFEST_VERSION = 1
GENERATIONS_KEPT = 20      # generation runs remembered in the manifest
LIBRARIES = ("sdv", "ctgan", "rdt", "sdmetrics", "torch", "pandas", "numpy", "scikit-learn", "copulas")


# ----------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class DeviceChoice:
    """Where the networks train: `device` is "cuda" or "cpu"; `enable_gpu` is SDV's flag."""

    requested: str
    device: str
    reason: str

    @property
    def enable_gpu(self) -> bool:
        return self.device == "cuda"


def choose_device(requested: str) -> DeviceChoice:
    """Resolve the config's / --device value: auto -> CUDA when torch sees a GPU, else CPU.

    Raises UserError when "cuda" is asked for and torch sees no GPU (a CPU-only torch build,
    no driver, or CUDA_VISIBLE_DEVICES hiding it).
    """
    import torch

    if requested not in ("auto", "cpu", "cuda"):
        raise UserError(f"'device' is {requested!r}; allowed: auto, cpu, cuda")
    has_gpu = bool(torch.cuda.is_available())
    if requested == "cpu":
        return DeviceChoice(requested, "cpu", "asked for cpu")
    if requested == "cuda":
        if not has_gpu:
            raise UserError(
                f"'device' is 'cuda' but torch {torch.__version__} sees no GPU; "
                f"use --device auto or cpu (or set \"device\": \"auto\" in the training config)"
            )
        return DeviceChoice(requested, "cuda", f"asked for cuda ({torch.cuda.get_device_name(0)})")
    if has_gpu:
        return DeviceChoice(requested, "cuda", f"auto: torch sees a GPU ({torch.cuda.get_device_name(0)})")
    return DeviceChoice(requested, "cpu", "auto: torch sees no GPU")


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def configure_torch_threads() -> int:
    """One torch thread, unless OMP_NUM_THREADS asks for another number.

    CTGAN's and TVAE's networks are small (batches of at most 500 rows, layers of 256): their
    matrix products are too small to share between threads, and the hand-offs cost more than
    they save. Measured on the 2-CPU machine (CIC-IDS2017, 78 columns, 15 epochs): CTGAN 0.51 s
    per epoch with one thread, 1.79 s with two; TVAE 0.19 s and 0.73 s. An explicit
    OMP_NUM_THREADS (a user with a large batch on many cores) wins. The scripts also set
    OMP_WAIT_POLICY=PASSIVE before torch loads (see train_synthetic_models_improved.py).
    """
    import torch

    threads = 1
    requested = os.environ.get("OMP_NUM_THREADS", "").strip()
    if requested.isdigit() and int(requested) > 0:
        threads = min(available_cpus(), int(requested))
    torch.set_num_threads(threads)
    return threads


# SDV logs an INFO record (a dict) on every fit/sample/save and RDT a "Guidance" line per
# column; through the scripts' root handler they would bury the progress messages.
LIBRARY_LOGGERS = ("SingleTableSynthesizer", "MultiTableSynthesizer", "Metadata", "SingleTableMetadata",
                   "sdv", "rdt", "ctgan", "copulas")


def quiet_library_logs() -> None:
    """Show only warnings and errors from SDV, RDT, ctgan and copulas."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (CTGAN/TVAE and RDT draw from them)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape a model, for the manifest."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def synthesizer_class(model: str):
    """The SDV class for a model name."""
    from sdv.single_table import TVAESynthesizer

    from common.ctgan_hooks import ConditionalCTGANSynthesizer

    classes = {"ctgan": ConditionalCTGANSynthesizer, "tvae": TVAESynthesizer}
    if model not in classes:
        raise UserError(f"unknown model '{model}'; choose from {', '.join(classes)}")
    return classes[model]


def resolve_auto(model: str, config: dict[str, Any], training_rows: int, device: str,
                 columns: int) -> tuple[dict[str, Any], str]:
    """The config with "auto" epochs / batch_size of `model` replaced by numbers
    (common.autotune, within config["auto_budget_seconds"]), and a sentence saying why."""
    from common.autotune import resolve_hyperparameters

    section, choice = resolve_hyperparameters(
        model, config[model], training_rows, float(config.get("auto_budget_seconds", 240)), device, columns
    )
    return {**config, model: section}, choice


def hyper_parameters(model: str, config: dict[str, Any]) -> dict[str, Any]:
    """The SDV constructor arguments for `model` from a validated training config ("auto"
    values must be resolved first, see `resolve_auto`)."""
    section = config[model]
    unresolved = [key for key in ("epochs", "batch_size") if section.get(key) == "auto"]
    if unresolved:
        raise ValueError(f"{model}.{unresolved[0]} is still 'auto': call resolve_auto first")
    arguments = {key: section[key] for key in HYPER_PARAMETERS[model]}
    for key, value in arguments.items():
        if isinstance(value, list):  # SDV documents tuples for the layer sizes
            arguments[key] = tuple(value)
    return arguments


def steps_per_epoch(model: str, rows: int, batch_size: int) -> int:
    """Optimiser steps in one epoch, as ctgan 0.12.1 loops.

    CTGAN draws `rows // batch_size` batches (at least one); TVAE walks a DataLoader with
    drop_last=False, i.e. ceil(rows / batch_size) batches.
    """
    if model == "ctgan":
        return max(rows // batch_size, 1)
    return max(math.ceil(rows / batch_size), 1)


# Modes of ctgan's mode-specific normalisation for the domain layer's normal-score columns
# (common.ctgan_hooks): TVAE loses nothing with one; CTGAN's generator needs a few.
GAUSSIAN_MODES = {"ctgan": 1, "tvae": 1}

# CTGAN generates a row given its class (its conditional generator, common.ctgan_hooks): its
# rows are asked for class by class. TVAE has no such input: unconditional draws serve every
# class at once, SDV's conditional (rejection) sampling only tops up a class still short.
CONDITIONAL_FIRST = {"ctgan": True, "tvae": False}

# SDV's conditional sampling retries a condition this many times (each try at most 10 times the
# rows still needed) before it gives up on it; common.sampling then stops with a clear message.
CONDITIONAL_TRIES = 10

# TVAE's reconstruction loss is dominated by the continuous columns: on CIC-IDS2017 it generated
# BENIGN (3.6% of the rows) 0.02% of the time and Infiltration (0.6%) never. Its training rows
# give every class at least this share of an even split (rows drawn again from the class, at
# most CLASS_FLOOR_MAX_REPEAT times each); the delivered class shares are the quotas' anyway.
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


@contextmanager
def _quiet_sdv_progress() -> Iterator[None]:
    """SDV's sample_from_conditions always draws a tqdm bar; inside this block it is disabled."""
    import functools

    import sdv.single_table.base as sdv_base
    import tqdm as tqdm_module

    original = sdv_base.tqdm

    class _Quiet:
        tqdm = functools.partial(tqdm_module.tqdm, disable=True)

    sdv_base.tqdm = _Quiet
    try:
        yield
    finally:
        sdv_base.tqdm = original


# ctgan's DataTransformer encodes columns with joblib.Parallel(n_jobs=-1) (loky worker
# processes) from 500 rows up. Starting the workers costs seconds (each imports rdt and
# sklearn) and gains nothing on few CPUs or modest tables: on the 2-CPU machine the 4,800-row
# sample took 20 s with loky and 3 s in-process, with identical output. Above this many cells
# on more than 2 CPUs, ctgan's own parallelism is kept.
PARALLEL_ENCODING_MIN_CELLS = 5_000_000


@contextmanager
def encoding_parallelism(rows: int, columns: int) -> Iterator[str]:
    """Run ctgan's column encoding in-process unless the table is large and CPUs are many.

    Yields the joblib backend used ("sequential" or "loky"). The "threading" backend is never
    used: its threads share numpy's global random state, so results would vary run to run.
    """
    import joblib

    if available_cpus() > 2 and rows * columns >= PARALLEL_ENCODING_MIN_CELLS:
        yield "loky"
        return
    with joblib.parallel_config(backend="sequential"):
        yield "sequential"


class EpochClock:
    """Times the epochs of ctgan's training loop.

    ctgan 0.12.1 walks the epochs with `tqdm(range(epochs))` (its progress bar with the
    losses). While this context is active, the `tqdm` that ctgan's CTGAN and TVAE modules
    use is a subclass that also notes when each epoch ends; everything else it does is
    tqdm's. `epoch_seconds` then holds one duration per epoch, so time spent before the
    loop (ctgan's own mode-specific normalisation fit) is not counted as epoch time. If a
    future ctgan stops using tqdm this way, `epoch_seconds` stays empty and callers fall
    back to (training time / epochs).
    """

    MODULES = ("ctgan.synthesizers.ctgan", "ctgan.synthesizers.tvae")

    def __init__(self, progress: Any = None) -> None:
        self.epoch_seconds: list[float] = []
        self._saved: dict[str, Any] = {}
        self.progress = progress     # a common.progress.Progress told of every finished epoch

    def __enter__(self) -> "EpochClock":
        import importlib

        from tqdm import tqdm

        clock = self

        class TimedTqdm(tqdm):
            def __iter__(self):
                started = time.perf_counter()
                for item in super().__iter__():
                    yield item  # the epoch runs while the generator is suspended here
                    ended = time.perf_counter()
                    clock.epoch_seconds.append(ended - started)
                    started = ended
                    if clock.progress is not None:
                        clock.progress.update(1)

        for name in self.MODULES:
            module = importlib.import_module(name)
            if getattr(module, "tqdm", None) is tqdm:
                self._saved[name] = module.tqdm
                module.tqdm = TimedTqdm
        return self

    def __exit__(self, *exc_info: Any) -> None:
        import importlib

        for name, original in self._saved.items():
            importlib.import_module(name).tqdm = original
        self._saved.clear()


# ----------------------------------------------------------------------------- domain layer


def build_domain_transformer(enabled: bool, model: str, rules: Any, schema: Any, seed: int) -> tuple[Any | None, str]:
    """The reversible domain transformer for `model` when the config asks for it.

    Uses `DomainTransformer.for_model`, which picks the layer's settings per synthesizer (fewer
    categories for CTGAN, whose discriminator sees every one-hot column `pac` times).
    Returns (transformer or None, a sentence for the log and the manifest).
    """
    if not enabled:
        return None, "off (config domain_layer: false): SDV learns the modelled columns directly"
    from common.transforms import DomainTransformer

    transformer = DomainTransformer.for_model(model, rules, schema, seed=seed)
    return transformer, "on: SDV learns the encoded frame of common.transforms.DomainTransformer"


# ----------------------------------------------------------------------------- synthesizer


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _restore_dtypes(frame: pd.DataFrame, columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """Put sampled rows back into the training frame's column order and dtypes.

    Integer columns stay integers: SDV rounds them but may hand back floats (e.g. after a
    decode step); with missing values they become pandas' nullable Int64.
    """
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise RuntimeError(f"sampled frame lacks column '{missing[0]}'")
    frame = frame[columns].copy()
    for name in columns:
        wanted = dtypes[name]
        current = frame[name]
        if str(current.dtype) == wanted:
            continue
        if wanted.startswith(("int", "uint")):
            values = pd.to_numeric(current, errors="coerce").round()
            frame[name] = values.astype(wanted) if values.notna().all() else values.astype("Int64")
        elif wanted == "bool" and current.notna().all():
            frame[name] = current.astype(bool)
        elif wanted.startswith("float"):
            frame[name] = pd.to_numeric(current, errors="coerce").astype(wanted)
    return frame


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
        transformer: Any | None = None,
        verbose: bool = True,
        rules: Any | None = None,
        target: str | None = None,
    ) -> None:
        if model not in HYPER_PARAMETERS:
            raise UserError(f"unknown model '{model}'; choose from {', '.join(HYPER_PARAMETERS)}")
        quiet_library_logs()
        self.model = model
        self.hyper = dict(hyper)
        self.device = device
        self.metadata_dict = metadata_dict
        self.transformer = transformer
        self.verbose = verbose
        # With a domain layer, sampled rows breaking one of these rules are resampled/repaired
        # (common.transforms.sample_valid); `validity` counts how many needed it.
        self.rules = rules
        # the class column: delivered rows keep its training shares (or asked counts)
        self.target = target
        self.class_shares: dict[str, float] = {}
        self.class_values: dict[str, Any] = {}
        self.training_rows = 0
        self.validity: Any | None = None
        self.synthesizer: Any | None = None
        self.columns: list[str] = []
        self.dtypes: dict[str, str] = {}

    # ------------------------------------------------------------------ fitting
    def _new_sdv_synthesizer(self, metadata_dict: dict[str, Any]) -> Any:
        from sdv.metadata import Metadata

        metadata = Metadata.load_from_dict(metadata_dict)
        # verbose on a terminal: ctgan draws an epoch progress bar (tqdm, stderr) with the current
        # losses; off a terminal the epochs are logged every ~10% instead (common.progress)
        return synthesizer_class(self.model)(
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
            if CLASS_FLOOR[self.model] and self.target is not None:
                frame = class_floor(train_frame, self.target, CLASS_FLOOR[self.model], seed=int(np.random.randint(2**31)))
            frame = self.transformer.transform(frame)
            metadata_dict = self.transformer.sdv_metadata_dict()
        self.synthesizer = self._new_sdv_synthesizer(metadata_dict)
        # preprocess + fit_processed_data is what SDV's fit does; split to time the two apart.
        processed = self.synthesizer.preprocess({TABLE_NAME: frame})
        preprocess_seconds = time.perf_counter() - start
        logged = Progress(int(self.hyper["epochs"]), f"{self.model} training", unit="epochs",
                          enabled=None if self.verbose and not on_terminal() else False)
        from common.ctgan_hooks import single_mode_columns

        gaussian = self.transformer.gaussian_columns() if self.transformer is not None else []
        with logged, EpochClock(logged) as clock, encoding_parallelism(*frame.shape), \
                single_mode_columns(gaussian, GAUSSIAN_MODES[self.model]):
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
            steps_per_epoch=steps_per_epoch(self.model, len(train_frame), int(self.hyper["batch_size"])),
            preprocess_seconds=round(preprocess_seconds, 3),
            training_seconds=round(training_seconds, 3),
            epochs_seconds=round(epochs_seconds, 3),
            fit_seconds=round(fit_seconds, 3),
            seconds_per_epoch=round(epochs_seconds / epochs, 4),
            slowest_epoch_seconds=round(float(np.max(epoch_times)), 4),
            final_losses=self._final_losses(),
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

    def _network_data_dim(self) -> int | None:
        """Width of the encoded rows the networks learn (ctgan's DataTransformer output), if known."""
        model = getattr(self.synthesizer, "_model", None)
        # ctgan names the fitted DataTransformer `_transformer` in CTGAN and `transformer` in TVAE.
        transformer = getattr(model, "_transformer", None) or getattr(model, "transformer", None)
        dimensions = getattr(transformer, "output_dimensions", None)
        return int(dimensions) if dimensions is not None else None

    def _require_fitted(self) -> Any:
        if self.synthesizer is None:
            raise RuntimeError(f"{self.model} synthesizer is not fitted")
        return self.synthesizer

    def loss_values(self) -> pd.DataFrame:
        """SDV's loss table: CTGAN one row per epoch (generator, discriminator), TVAE one per batch."""
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
        `num_rows` split in the training split's class shares (common.sampling.class_quotas);
        {NO_CLASS: num_rows} for a table without a class column."""
        from common.sampling import NO_CLASS, class_quotas

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
        batch delivers a seeded share of them, so the totals are exact (common.sampling). The
        rows have the training frame's columns, order and dtypes. Seeding the global generators
        and SDV's sampling state first makes the same seed give the same rows. `self.validity`
        holds the counts (rows drawn, rejected, repaired; per class) afterwards.
        """
        from common.sampling import GenerationCounts, class_plan, generate

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
                                     conditional_first=CONDITIONAL_FIRST[self.model])
            self.validity.add(counts)
            yield _restore_dtypes(batch, self.columns, self.dtypes)

    def _decode(self, batch: Any) -> pd.DataFrame:
        if isinstance(batch, dict):  # SDV 2.x returns {table name: frame}
            batch = next(iter(batch.values()))
        if self.transformer is not None:
            batch = self.transformer.inverse_transform(batch, calibrate=True)
        return batch.reset_index(drop=True)

    def _draw(self, rows: int) -> pd.DataFrame:
        """`rows` new rows from the model, decoded."""
        from common.ctgan_hooks import SAMPLING_BATCH_ROWS, wide_sampling_batches

        synthesizer = self._require_fitted()
        with wide_sampling_batches(getattr(synthesizer, "_model", None), min(int(rows), SAMPLING_BATCH_ROWS)):
            return self._decode(synthesizer.sample(num_rows=rows))

    def _draw_class(self, label: str, rows: int) -> pd.DataFrame:
        """Up to `rows` new decoded rows of class `label`, by SDV's conditional sampling on the
        encoded column that carries the class (rejection sampling inside SDV, bounded by its
        max_tries_per_batch); fewer, or none, when the model rarely makes the class."""
        from sdv.sampling import Condition

        if self.transformer is not None:
            wanted = self.transformer.class_conditions(label, rows)
        else:
            values = self.class_values.get(label)
            wanted = [({self.target: values}, rows)] if values is not None else []
        if not wanted:
            return pd.DataFrame(columns=self.columns)
        conditions = [Condition(column_values=values, num_rows=count) for values, count in wanted]
        synthesizer = self._require_fitted()
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
            "synthesizer": SYNTHESIZER_CLASS_NAMES[self.model],
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


# ----------------------------------------------------------------------------- validity


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


# ----------------------------------------------------------------------------- sampling to CSV


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
    from common.progress import Progress

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


# ----------------------------------------------------------------------------- loss curves


def write_loss_csv(losses: pd.DataFrame, target: Path) -> Path:
    """SDV's loss table as CSV, atomically."""
    from common.io import write_csv

    return write_csv(target, losses)


def plot_loss_curve(losses: pd.DataFrame, model: str, target: Path, rows: int) -> Path:
    """PNG of the training loss per epoch.

    CTGAN: generator and discriminator loss (one value per epoch). TVAE: the mean loss of
    the epoch's batches with their min-max range shaded.
    """
    import matplotlib.pyplot as plt

    from common.plots import MODEL_COLORS, apply_style, save_figure

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


# ----------------------------------------------------------------------------- manifest


class Manifest:
    """models/manifest.json: what was trained, with which libraries and config, and file hashes.

    Structure::

        {"manifest_version": 1, "source": {path, sha256, rows}, "libraries": {...},
         "torch_threads": n, "config": {... the validated config actually used ...},
         "overrides": {...command-line overrides...}, "split": {...}, "excluded_identifiers": {...},
         "domain_layer": "...", "models": {"ctgan": {"description": {...}, "files": {name: sha256},
         "training": FitFacts, "sampling": SamplingFacts, "synthetic_csv": {...}, "loss": {...}}},
         "files": {path relative to the output folder: sha256}}
    """

    def __init__(self, layout: OutputLayout, payload: dict[str, Any]) -> None:
        self.layout = layout
        self.payload = payload

    @classmethod
    def open(cls, layout: OutputLayout, source_sha256: str) -> "Manifest":
        """The existing manifest when it was made for this input file, else an empty one.

        Entries of models not retrained now are kept, so `--models tvae` leaves CTGAN's record.
        """
        path = layout.manifest_json
        if path.exists():
            try:
                payload = read_json(path, "models manifest")
            except UserError as error:
                log.info("   %s is unreadable (%s): starting a new manifest", path, error)
                payload = None
            if isinstance(payload, dict) and payload.get("source", {}).get("sha256") == source_sha256:
                payload.setdefault("models", {})
                payload.setdefault("files", {})
                return cls(layout, payload)
        return cls(layout, {"manifest_version": MANIFEST_VERSION, "models": {}, "files": {}})

    @classmethod
    def read(cls, layout: OutputLayout) -> "Manifest":
        """The saved manifest; UserError when there is none."""
        path = layout.manifest_json
        if not path.exists():
            raise UserError(f"models manifest not found: {path} (train first with train_synthetic_models_improved.py)")
        payload = read_json(path, "models manifest")
        if not isinstance(payload, dict) or "models" not in payload:
            raise UserError(f"{path} is not a models manifest (no 'models' key); re-train")
        return cls(layout, payload)

    def update(self, **fields: Any) -> None:
        self.payload.update(fields)

    def relative(self, path: Path) -> str:
        return str(Path(path).resolve().relative_to(self.layout.root.resolve()))

    def forget_model(self, model: str) -> None:
        """Drop a model's record before it is retrained: an interrupt then leaves no stale claim."""
        entry = self.payload["models"].pop(model, None)
        if entry:
            for name in entry.get("artifacts", []):
                self.payload["files"].pop(name, None)
        self.save()

    def record_model(self, model: str, entry: dict[str, Any], artifacts: list[Path]) -> None:
        """Store a model's entry and the SHA-256 of each of its artifacts, then save."""
        names = [self.relative(path) for path in artifacts]
        entry["artifacts"] = names
        self.payload["models"][model] = entry
        for name, path in zip(names, artifacts):
            self.payload["files"][name] = file_sha256(path)
        self.save()

    def model_entry(self, model: str) -> dict[str, Any]:
        entry = self.payload["models"].get(model)
        if not entry:
            raise UserError(
                f"no '{model}' model in {self.layout.manifest_json}; train it with "
                f"train_synthetic_models_improved.py --models {model}"
            )
        return entry

    def save(self) -> Path:
        return write_json(self.layout.manifest_json, self.payload)


# ----------------------------------------------------------------------------- one model, end to end


def build_flow(model: str, train_frame: pd.DataFrame, config: dict[str, Any], device: DeviceChoice,
               schema: Any, rules: Any, seed: int,
               metadata_dict: dict[str, Any] | None = None) -> tuple["FlowSynthesizer", str]:
    """The unfitted FlowSynthesizer for `model` as the config asks: its domain layer (or none),
    "auto" epochs / batch size resolved for these training rows. Returns (flow, the sentence
    saying which epochs and batch size were chosen and why)."""
    from common.schema import sdv_metadata_dict

    transformer, domain_note = build_domain_transformer(bool(config["domain_layer"]), model, rules, schema, seed)
    config, hyper_choice = resolve_auto(model, config, len(train_frame), device.device, train_frame.shape[1])
    # the guard needs the domain layer: plain SDV (domain_layer false, kept for comparison)
    # makes almost no row that satisfies every rule, and its rows are delivered as they come
    flow = FlowSynthesizer(model, hyper_parameters(model, config), device,
                           metadata_dict if metadata_dict is not None else sdv_metadata_dict(schema),
                           transformer, rules=rules if transformer is not None else None,
                           target=getattr(schema, "target", None))
    flow.domain_note = domain_note
    return flow, hyper_choice


def train_model(
    model: str,
    train_frame: pd.DataFrame,
    config: dict[str, Any],
    device: DeviceChoice,
    metadata_dict: dict[str, Any],
    context: Any,
    manifest: Manifest,
    num_rows: int,
    seed: int,
    timings: dict[str, float] | None = None,
    class_counts: dict[str, int] | None = None,
    balance: bool = False,
) -> dict[str, Any]:
    """Fit one model on `train_frame`, save it, its loss curve and its synthetic CSV; record it.
    The CSV follows the training class shares, or `class_counts` / `balance` (see class_mix).

    `context` is the DatasetContext (its layout names the files, its rules check the rows, its
    schema feeds the domain layer). Each file is written atomically and the manifest entry
    last, so an interrupt keeps earlier artifacts and leaves no record of a half-done model.
    Returns the manifest entry.
    """
    from common.progress import stage

    layout: OutputLayout = context.layout
    flow, hyper_choice = build_flow(model, train_frame, config, device, context.schema, context.rules, seed,
                                    metadata_dict)
    domain_note = flow.domain_note
    log.info("   %s domain layer: %s", model, domain_note)
    log.info("   %s", hyper_choice)
    transformer = flow.transformer
    log.info(
        "   %s: %d rows x %d columns, %d epochs, batch %d, %d steps/epoch, on %s",
        model, len(train_frame), train_frame.shape[1], flow.hyper["epochs"], flow.hyper["batch_size"],
        steps_per_epoch(model, len(train_frame), int(flow.hyper["batch_size"])), device.device,
    )
    with stage(f"fit {model}", timings):
        seed_everything(seed)
        facts = flow.fit(train_frame)
    log.info(
        "   %s: fit %.1f s = preprocessing %.1f s + ctgan encoding %.1f s + %d epochs x %.3f s",
        model, facts.fit_seconds, facts.preprocess_seconds, facts.training_seconds - facts.epochs_seconds,
        facts.epochs, facts.seconds_per_epoch,
    )
    # From here this model's files are replaced: drop its old record first, so an interrupt
    # never leaves the manifest vouching for files of two different runs. (An interrupt
    # during the long fit above keeps the previous run's files and record untouched.)
    manifest.forget_model(model)
    with stage(f"save {model}", timings):
        file_hashes = flow.save(layout.model_pickle(model))
        losses = flow.loss_values()
        write_loss_csv(losses, layout.loss_csv(model))
        plot_loss_curve(losses, model, layout.loss_png(model), rows=len(train_frame))
    counts, mix = class_mix(flow, num_rows, class_counts, balance)
    planned = sum(flow.quotas(num_rows, counts).values())
    with stage(f"sample {model} ({planned:,} rows; class mix: {mix})", timings):
        sampling = sample_to_csv(flow, layout.synthetic_csv(model), num_rows, int(config["sampling_batch_rows"]),
                                 seed, context.rules, class_counts=counts)
    validity = sampling.validity
    log.info(
        "   %s: %.0f rows/s; %s of %s rows satisfy all %d detected rules",
        model, sampling.rows_per_second, f"{validity['rows_valid']:,}", f"{validity['rows']:,}",
        validity["rules_checked"],
    )
    artifacts = [layout.model_pickle(model)]
    if flow.rules is not None:
        artifacts.append(FlowSynthesizer.rules_path(layout.model_pickle(model)))
    if transformer is not None:
        artifacts.append(FlowSynthesizer.domain_layer_path(layout.model_pickle(model)))
    artifacts += [layout.loss_csv(model), layout.loss_png(model), layout.synthetic_csv(model)]
    entry = {
        "description": flow.describe(),
        "domain_layer": domain_note,
        "hyperparameter_choice": hyper_choice,
        # rows the after-sampling guard replaced or repaired (None without the domain layer)
        "validity": flow.validity.to_dict() if flow.validity is not None else None,
        "seed": seed,
        "files": file_hashes,
        # The training facts in one flat record (what the report's table shows).
        "facts": {
            "rows": facts.rows, "epochs": facts.epochs, "steps_per_epoch": facts.steps_per_epoch,
            "seconds_per_epoch": facts.seconds_per_epoch, "fit_seconds": facts.fit_seconds,
            "sampling_rows_per_second": sampling.rows_per_second, "device": facts.device,
        },
        "training": facts.to_dict(),
        "sampling": sampling.to_dict(),
        "class_mix": mix,
        "synthetic_csv": manifest.relative(layout.synthetic_csv(model)),
        "loss_csv": manifest.relative(layout.loss_csv(model)),
        "loss_png": manifest.relative(layout.loss_png(model)),
    }
    manifest.record_model(model, entry, artifacts)
    return entry


def load_trained(layout: OutputLayout, model: str) -> FlowSynthesizer:
    """Load a trained model from `layout`, verifying its files against the manifest first."""
    entry = Manifest.read(layout).model_entry(model)
    return FlowSynthesizer.load(layout.model_pickle(model), entry["files"], entry["description"])


def class_mix(flow: FlowSynthesizer, num_rows: int | None, class_counts: dict[str, int] | None,
              balance: bool) -> tuple[dict[str, int] | None, str]:
    """The rows per class a generation run asks for, and a sentence saying which mix it is.

    `class_counts` exact counts; `balance` every class as many rows as the largest has in the
    training split (or `num_rows` split evenly); neither: None, the training shares.
    """
    from common.sampling import class_quotas

    if class_counts is not None and balance:
        raise UserError("--class-counts and --balance-classes exclude each other; give one")
    if (class_counts is not None or balance) and flow.target is None:
        raise UserError("a class mix needs a class column, and this model was trained without one")
    if class_counts is not None:
        flow.quotas(0, class_counts)     # unknown class names fail here, listing the known ones
        return class_counts, "the counts asked for (" + ", ".join(f"{k}={v:,}" for k, v in class_counts.items()) + ")"
    if balance:
        if num_rows is None:
            largest = max(flow.class_shares.values())
            num_rows = int(round(largest * flow.training_rows)) * len(flow.class_shares)
        counts = class_quotas({label: 1.0 for label in flow.class_shares}, num_rows)
        return counts, f"balanced: {min(counts.values()):,} to {max(counts.values()):,} rows per class"
    return None, "the training split's class shares"


def generate_to_csv(layout: OutputLayout, model: str, target: Path, num_rows: int | None,
                    class_counts: dict[str, int] | None, balance: bool, batch_rows: int, seed: int,
                    timings: dict[str, float] | None = None) -> dict[str, Any]:
    """Rows from a saved model (hash-checked, with its domain layer and rules), written to
    `target` in batches; the run is recorded in the manifest under "generations". Returns the
    record."""
    from common.progress import stage

    flow = load_trained(layout, model)
    counts, mix = class_mix(flow, num_rows, class_counts, balance)
    rows = num_rows if num_rows is not None else flow.training_rows
    planned = sum(flow.quotas(rows, counts).values())
    log.info("   %s: %s rows, class mix: %s", model, f"{planned:,}", mix)
    with stage(f"generate {model} ({planned:,} rows)", timings):
        sampling = sample_to_csv(flow, target, rows, batch_rows, seed, flow.rules, class_counts=counts)
    validity = flow.validity.to_dict() if flow.validity is not None else None
    log.info("   %s: %.0f rows/s; %s of %s rows satisfy all %d detected rules", model, sampling.rows_per_second,
             f"{sampling.validity['rows_valid']:,}", f"{sampling.validity['rows']:,}", sampling.validity["rules_checked"])
    manifest = Manifest.read(layout)
    record = {
        "model": model, "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "seed": seed,
        "output": str(target), "sha256": file_sha256(target), "class_mix": mix,
        "class_counts_asked": counts, "sampling": sampling.to_dict(), "generation": validity,
    }
    history = manifest.payload.setdefault("generations", [])
    history.append(record)
    del history[:-GENERATIONS_KEPT]
    manifest.save()
    return record


__all__ = [
    "DeviceChoice", "EpochClock", "FitFacts", "FlowSynthesizer", "Manifest", "SamplingFacts",
    "ValidityTally", "available_cpus", "build_domain_transformer", "choose_device",
    "configure_torch_threads", "encoding_parallelism", "hyper_parameters", "library_versions", "load_trained",
    "plot_loss_curve", "quiet_library_logs", "resolve_auto", "sample_to_csv", "seed_everything", "steps_per_epoch", "verify_sha256",
    "build_flow", "class_mix", "generate_to_csv", "train_model", "write_loss_csv",
]
