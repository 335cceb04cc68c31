"""Generation and fitting on several processes or machines, with Ray (`--workers N`,
`--ray-address ADDR`).

Generation is split into shards: the class quotas of the run (exact rows per class) are laid out
as one shuffled class label per row (common.data.classes.class_plan, seeded) and cut into
contiguous slices, so the shards' rows per class add up exactly to the run's. Each shard has its
own seed, spawned from the run's seed by numpy's SeedSequence (independent streams, the same for
the same seed and shard index), and samples through the same class quotas and validity guard as
the in-process path (FlowSynthesizer.sample). The driver writes the shards to one file in shard
order as they finish (CSV, or Parquet for a .parquet name; a temporary file renamed at the end),
or one file per shard. The same seed and worker count give the same rows.

The model reaches the workers through Ray's object store (`ray.put` of the loaded model), not by
loading the pickle in each worker: the driver has already checked its signature and hashes with
the key only it holds (common.synth.signing), and workers on other machines need neither the
models folder nor the key. Unpickling in a worker is then no new trust: whoever can run tasks on
the cluster can run code there anyway.

Fitting: with two or more workers the training script fits its models concurrently, one Ray task
per model with one torch thread each (`fit_concurrently`); saving, sampling and the manifest stay
in the driver.

Local by default: `ray.init(num_cpus=workers)` starts Ray on this machine for the run and stops it
after. `--ray-address` joins a running cluster (`ray start --head` on one machine, `ray start
--address=...` on the others); the project's `common` package is shipped to it with the job
(Ray's runtime_env py_modules), the libraries of requirements.txt must be installed there.
"""
from __future__ import annotations

import logging
import math
import os
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd

from common.core.errors import UserError
from common.data.classes import class_codes
from common.rules import RuleSet, ValidityReport
from common.synth.outputs import SamplingFacts, is_parquet, open_rows, strict_check

if TYPE_CHECKING:
    from common.synth.sampling import GenerationCounts
    from common.synth.synthesizer import FlowSynthesizer

log = logging.getLogger("tcpsynth")

# A shard holds at most this many rows: it bounds what a worker holds, what travels through the
# object store and what the driver buffers while an earlier shard is still running.
MAX_SHARD_ROWS = 100_000
SHARDS_IN_FLIGHT_PER_WORKER = 2     # shards submitted (running or waiting to be written) per worker
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class GenerationOptions:
    """How rows are generated: `workers` processes (1: in this process, as before), joining the
    Ray cluster at `ray_address` (None: a local Ray for the run), `shard_files` one file per shard."""

    workers: int = 1
    ray_address: str | None = None
    shard_files: bool = False

    @property
    def parallel(self) -> bool:
        return self.workers >= 2 or self.ray_address is not None


@dataclass(frozen=True)
class Shard:
    """One slice of a generation run: its index, rows per class (labels as text) and seed."""

    index: int
    quotas: dict[str, int]
    seed: int

    @property
    def rows(self) -> int:
        return sum(self.quotas.values())


def shard_seeds(seed: int, shards: int) -> list[int]:
    """One seed per shard, spawned from the run's `seed` (numpy SeedSequence: independent
    streams; shard i gets the same seed whatever the number of shards)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(shards)]


def shard_sizes(total_rows: int, workers: int, batch_rows: int) -> list[int]:
    """Rows per shard for `total_rows` rows on `workers` workers sampling `batch_rows` rows a batch.

    Shards hold whole sampling batches (each batch costs a fixed few seconds of conditional
    sampling and decoding besides its rows, so cutting batches across shards would add batches
    that one process does not pay), at most MAX_SHARD_ROWS rows (or one batch, when a batch is
    larger), and come in whole rounds of `workers` shards, the larger ones first, so no worker
    idles while another runs a last shard. With fewer batches than workers the rows are split
    evenly instead (smaller batches, every worker busy). Never more shards than rows."""
    workers, batch_rows = max(1, workers), max(1, batch_rows)
    batches = math.ceil(total_rows / batch_rows)
    if batches < workers:
        return [len(piece) for piece in np.array_split(np.arange(total_rows), min(workers, total_rows))]
    per_shard = max(1, MAX_SHARD_ROWS // batch_rows)
    count = min(batches, workers * math.ceil(batches / (workers * per_shard)))
    sizes = []
    for batch_indices in np.array_split(np.arange(batches), count):
        first, last = int(batch_indices[0]), int(batch_indices[-1])
        sizes.append(min(total_rows, (last + 1) * batch_rows) - first * batch_rows)
    return sizes


def plan_shards(quotas: dict[str, int], sizes: list[int], seed: int) -> list[Shard]:
    """The run's exact `quotas` {class: rows} split into shards of `sizes` rows (summing to the
    quotas' total): a seeded shuffle of one class per row cut into consecutive slices, so the
    shards' rows per class sum to the run's and every shard has a fair share of each class.

    The shuffle is the one-process path's (common.data.classes.class_plan), on its integer codes
    (class_codes): a hundred million rows plan in about a hundred megabytes and a few seconds."""
    names, codes = class_codes(quotas, seed)
    if sum(sizes) != len(codes):
        raise ValueError(f"shard sizes add up to {sum(sizes)}, the quotas to {len(codes)}")
    seeds = shard_seeds(seed, len(sizes))
    plan = []
    for index, piece in enumerate(np.split(codes, np.cumsum(sizes)[:-1])):
        per_class = np.bincount(piece, minlength=len(names))
        plan.append(Shard(index, {names[k]: int(n) for k, n in enumerate(per_class) if n > 0}, seeds[index]))
    return plan


@dataclass
class ShardResult:
    """What one shard made: its rows (a frame, or for a CSV file the CSV text without header,
    formatted in the worker), its guard counts and the rule tally of its rows."""

    index: int
    rows: int
    counts: GenerationCounts
    validity: ValidityReport
    batches: int
    frame: pd.DataFrame | None = None
    csv_text: str | None = None
    cpu_seconds: float = 0.0          # the worker's CPU time for this shard


def sample_shard(flow: FlowSynthesizer, rules: RuleSet, shard: Shard, batch_rows: int, as_csv: bool) -> ShardResult:
    """Run in a worker: the shard's rows, through the model's class quotas and validity guard;
    `as_csv`: as CSV text (formatting CSV costs about as much as a third of sampling: done in
    the workers, the driver only appends text).

    A table without a class column has the one quota of common.synth.sampling.NO_CLASS."""
    import torch

    from common.synth.environment import quiet_library_logs

    torch.set_num_threads(1)        # one core per worker: the workers are the parallelism
    quiet_library_logs()
    cpu_start = time.process_time()
    class_counts = shard.quotas if flow.target is not None and flow.class_shares else None
    frames = list(flow.sample(shard.rows, batch_rows, shard.seed, class_counts=class_counts))
    validity = ValidityReport()
    for frame in frames:
        validity = validity.merge(rules.validity(frame))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=flow.columns)
    text = rows.to_csv(header=False, index=False) if as_csv else None
    return ShardResult(shard.index, len(rows), flow.validity, validity, len(frames), frame=None if as_csv else rows,
                       csv_text=text, cpu_seconds=time.process_time() - cpu_start)


@contextmanager
def ray_session(workers: int, address: str | None) -> Iterator[Any]:
    """Ray for this block: the session already started in this process (kept running), the
    cluster at `address`, or a local Ray with `workers` CPUs (stopped after the block)."""
    try:
        import ray
    except ImportError:
        raise UserError("--workers / --ray-address need Ray: pip install -r requirements.txt (ray==2.60.0)") from None
    if ray.is_initialized():
        yield ray
        return
    _start_ray(ray, workers, address)
    _warm_workers(ray, workers)
    try:
        yield ray
    finally:
        ray.shutdown()


def _import_libraries() -> None:
    """Run in a worker: import what sampling and fitting use, including what unpickling a model
    needs (the project's modules load SDV lazily; torch and SDV take seconds each, which a first
    shard would otherwise wait for)."""
    import ctgan.synthesizers  # noqa: F401
    import rdt  # noqa: F401
    import sdv.single_table  # noqa: F401
    import torch  # noqa: F401

    import common.synth.synthesizer  # noqa: F401
    import common.synth.use_cases  # noqa: F401


def _warm_workers(ray: Any, workers: int) -> None:
    """Start the workers and their imports now, without waiting: they overlap the driver's own
    loading (data, model, signature check) instead of the first shards."""
    warm = ray.remote(num_cpus=1)(_import_libraries)
    for _ in range(workers):
        warm.remote()


def _start_ray(ray: Any, workers: int, address: str | None) -> None:
    """ray.init: join `address` shipping the project's `common` package with the job, or start
    Ray here with `workers` CPUs and this project on the workers' import path."""
    if address is None:
        # Ray lowers its workers' priority by 15 nice levels to keep the driver responsive; here the
        # workers are the work and the driver mostly waits (at niceness 15 two shards on a busy
        # 2-CPU machine took 3 times the seconds of one shard alone)
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING,
                 runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}})
        return
    try:
        ray.init(address=address, logging_level=logging.WARNING,
                 runtime_env={"py_modules": [str(PROJECT_ROOT / "common")]})
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise UserError(f"--ray-address {address}: could not join a Ray cluster there ({error}); start one with "
                        f"'ray start --head' or leave --ray-address out to run on this machine") from None


class ShardedOutput:
    """Shards written in shard order as they arrive: one file (shards that finish early wait in
    memory for the earlier ones), or one file per shard (`<stem>_shard<i>of<n><suffix>` beside
    `target`). Every file is temporary until `ExitStack` closes without an error."""

    def __init__(self, target: Path, shards: int, stack: ExitStack, per_shard: bool, columns: list[str]) -> None:
        self.target, self.shards, self.stack, self.per_shard = Path(target), shards, stack, per_shard
        self.columns = columns
        self.single = None if per_shard else stack.enter_context(open_rows(self.target))
        self.waiting: dict[int, ShardResult] = {}
        self.next_index = 0
        self.paths: list[Path] = []

    def shard_path(self, index: int) -> Path:
        width = len(str(self.shards))
        return self.target.with_name(f"{self.target.stem}_shard{index + 1:0{width}d}of{self.shards}"
                                     f"{self.target.suffix}")

    @property
    def as_csv(self) -> bool:
        return not is_parquet(self.target)

    def _write(self, sink: Any, result: ShardResult) -> None:
        if result.csv_text is not None:
            sink.write_text(self.columns, result.csv_text)
        else:
            sink.write(result.frame)

    def add(self, result: ShardResult) -> list[ShardResult]:
        """Write `result` (and the shards it unblocks); returns the results written now."""
        self.waiting[result.index] = result
        written = []
        while self.next_index in self.waiting:
            ready = self.waiting.pop(self.next_index)
            if self.per_shard:
                path = self.shard_path(ready.index)
                self._write(self.stack.enter_context(open_rows(path)), ready)
                self.paths.append(path)
            else:
                self._write(self.single, ready)
            written.append(ready)
            self.next_index += 1
        return written


@dataclass
class ShardTally:
    """The run's totals over the shards written."""

    rows: int = 0
    batches: int = 0
    cpu_seconds: float = 0.0
    counts: GenerationCounts | None = None
    validity: ValidityReport | None = None

    def add(self, result: ShardResult) -> None:
        from common.synth.sampling import GenerationCounts

        self.rows += result.rows
        self.batches += result.batches
        self.cpu_seconds += result.cpu_seconds
        self.counts = self.counts or GenerationCounts()
        self.counts.add(result.counts)             # shortfalls of a class add up across shards
        self.validity = (self.validity or ValidityReport()).merge(result.validity)


def _run_shards(ray: Any, flow: FlowSynthesizer, rules: RuleSet, shards: list[Shard], batch_rows: int,
                workers: int, output: ShardedOutput) -> ShardTally:
    """Submit the shards (at most SHARDS_IN_FLIGHT_PER_WORKER per worker not yet written) and
    write each as the order allows; returns the totals."""
    task = ray.remote(num_cpus=1)(sample_shard)
    flow_ref, rules_ref = ray.put(flow), ray.put(rules)
    pending: list[Any] = []
    submitted, tally = 0, ShardTally()
    window = max(1, workers) * SHARDS_IN_FLIGHT_PER_WORKER
    while output.next_index < len(shards):
        while submitted < len(shards) and submitted - output.next_index < window:
            pending.append(task.remote(flow_ref, rules_ref, shards[submitted], batch_rows, output.as_csv))
            submitted += 1
        done, pending = ray.wait(pending, num_returns=1)
        for result in output.add(ray.get(done[0])):
            tally.add(result)
            log.info("   %s: shard %d of %d written (%s rows)", flow.model, result.index + 1, len(shards),
                     f"{result.rows:,}")
    return tally


def sample_parallel(flow: FlowSynthesizer, target: Path, num_rows: int, batch_rows: int, seed: int,
                    rules: RuleSet, options: GenerationOptions, class_counts: dict[str, int] | None = None,
                    strict: bool = False) -> SamplingFacts:
    """Like common.synth.outputs.sample_to_csv, on Ray workers: `num_rows` rows (or the sum of
    `class_counts`) in shards (exact totals per class, one seed per shard), every row through
    the guard in its shard, written to `target` in shard order (or one file per shard with
    `options.shard_files`). `flow.validity` holds the summed guard counts afterwards; with
    `strict`, a shortfall writes nothing (ShortfallError)."""
    quotas = flow.quotas(num_rows, class_counts)
    total = sum(quotas.values())
    start, cpu_start = time.perf_counter(), time.process_time()
    with ray_session(options.workers, options.ray_address) as ray, ExitStack() as stack:
        workers = int(ray.cluster_resources().get("CPU", options.workers)) if options.ray_address else options.workers
        shards = plan_shards(quotas, shard_sizes(total, workers, batch_rows), seed)
        output = ShardedOutput(target, len(shards), stack, options.shard_files, flow.columns)
        tally = _run_shards(ray, flow, rules, shards, batch_rows, workers, output)
        flow.validity = tally.counts
        shortfalls = tally.counts.shortfalls if tally.counts is not None else {}
        if strict:
            strict_check(shortfalls, tally.rows, total, flow.target)
    seconds = time.perf_counter() - start
    return SamplingFacts(
        rows=tally.rows, batch_rows=batch_rows, batches=tally.batches, seconds=round(seconds, 3),
        rows_per_second=round(tally.rows / seconds, 1) if seconds > 0 else float("nan"),
        validity=(tally.validity or ValidityReport()).to_dict(), asked=total,
        shortfalls={label: short.to_dict() for label, short in shortfalls.items()},
        workers=workers, shards=len(shards), shard_files=[str(path) for path in output.paths],
        cpu_seconds=round(tally.cpu_seconds + time.process_time() - cpu_start, 3),
    )


def write_rows(flow: FlowSynthesizer, target: Path, num_rows: int, batch_rows: int, seed: int, rules: RuleSet,
               class_counts: dict[str, int] | None = None, strict: bool = False,
               options: GenerationOptions | None = None) -> SamplingFacts:
    """Generate and write rows: in this process (one worker, the default) or on Ray (`options`)."""
    from common.synth.outputs import sample_to_csv

    if options is None or not options.parallel:
        return sample_to_csv(flow, target, num_rows, batch_rows, seed, rules, class_counts=class_counts,
                             strict=strict)
    return sample_parallel(flow, target, num_rows, batch_rows, seed, rules, options, class_counts, strict)


def fit_in_worker(model: str, train_frame: pd.DataFrame, fit_arguments: dict[str, Any]) -> tuple[Any, dict[str, float]]:
    """Run in a worker: common.synth.use_cases.fit_model with one torch thread; its log lines go
    to the worker's stderr (Ray forwards them to the driver's console, prefixed by the task).
    Returns (the FittedModel, its stage timings)."""
    import sys

    import torch

    from common.synth.use_cases import fit_model

    torch.set_num_threads(1)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    timings: dict[str, float] = {}
    return fit_model(model, train_frame, timings=timings, **fit_arguments), timings


def fit_concurrently(models: list[str], train_frame: pd.DataFrame, fit_arguments: dict[str, Any],
                     options: GenerationOptions) -> Iterator[tuple[Any, dict[str, float]]]:
    """Fit `models` at once, one Ray task (one CPU, one torch thread) per model, on the same
    training rows (put in the object store once); yields (FittedModel, timings) as each fit
    finishes, so the caller saves and samples one while the others still train.

    `fit_arguments`: the other arguments of common.synth.use_cases.fit_model (config, device,
    metadata_dict, schema, rules, seed)."""
    with ray_session(options.workers, options.ray_address) as ray:
        task = ray.remote(num_cpus=1)(fit_in_worker)
        frame_ref = ray.put(train_frame)
        pending = {task.remote(model, frame_ref, fit_arguments): model for model in models}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            pending.pop(done[0])
            yield ray.get(done[0])


__all__ = ["GenerationOptions", "MAX_SHARD_ROWS", "Shard", "ShardResult", "fit_concurrently", "plan_shards",
           "ray_session", "sample_parallel", "sample_shard", "shard_seeds", "shard_sizes", "write_rows"]
