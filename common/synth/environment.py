"""The process around a synthesizer: device choice, torch threads, seeds, library versions and
logs, and the progress and parallelism of a fit.
"""
from __future__ import annotations

import logging
import os
import platform
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from common.core.errors import UserError

if TYPE_CHECKING:
    from common.core.progress import Progress


LIBRARIES = ("sdv", "ctgan", "rdt", "sdmetrics", "torch", "pandas", "numpy", "scikit-learn", "copulas")


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

    def __init__(self, progress: Progress | None = None) -> None:
        self.epoch_seconds: list[float] = []
        self._saved: dict[str, Any] = {}
        self.progress = progress     # a common.core.progress.Progress told of every finished epoch

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
