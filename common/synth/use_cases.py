"""The two use cases of the training script, one model each: train (fit, save, sample) and
generate (load the saved model, sample any number of rows in any class mix).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from common.core.errors import UserError
from common.core.io import file_sha256
from common.core.layout import OutputLayout
from common.data.pipeline import DatasetContext
from common.data.schema import Schema
from common.rules import RuleSet
from common.synth.environment import DeviceChoice, seed_everything
from common.synth.manifest import GENERATIONS_KEPT, Manifest
from common.synth.autotune import steps_per_epoch
from common.synth.config import TrainingConfig
from common.synth.models import resolve_auto
from common.synth.distributed import GenerationOptions, write_rows
from common.synth.outputs import SamplingFacts, plot_loss_curve, write_loss_csv
from common.synth.synthesizer import FitFacts, FlowSynthesizer, build_domain_transformer

log = logging.getLogger("tcpsynth")


@dataclass(frozen=True)
class RowRequest:
    """How many synthetic rows to make, in which class mix.

    `num_rows`: rows in all (None: as many as the training split has); `class_counts`: exact rows
    per class (the total is theirs); `balance`: every class alike; neither: the training split's
    class shares. The two mixes exclude each other (a UserError here, before any training).
    """

    num_rows: int | None = None
    class_counts: dict[str, int] | None = None
    balance: bool = False

    def __post_init__(self) -> None:
        if self.class_counts is not None and self.balance:
            raise UserError("--class-counts and --balance-classes exclude each other; give one")


def build_flow(model: str, train_frame: pd.DataFrame, config: TrainingConfig, device: DeviceChoice,
               schema: Schema, rules: RuleSet, seed: int,
               metadata_dict: dict[str, Any] | None = None) -> tuple["FlowSynthesizer", str]:
    """The unfitted FlowSynthesizer for `model` as the config asks: its domain layer (or none),
    "auto" epochs / batch size resolved for these training rows. Returns (flow, the sentence
    saying which epochs and batch size were chosen and why)."""
    from common.data.schema import sdv_metadata_dict

    transformer, domain_note = build_domain_transformer(config.domain_layer, model, rules, schema, seed)
    params, hyper_choice = resolve_auto(model, config, len(train_frame), device.device, train_frame.shape[1])
    # the guard needs the domain layer: plain SDV (domain_layer false, kept for comparison)
    # makes almost no row that satisfies every rule, and its rows are delivered as they come
    flow = FlowSynthesizer(model, params.sdv_kwargs(), device,
                           metadata_dict if metadata_dict is not None else sdv_metadata_dict(schema),
                           transformer, rules=rules if transformer is not None else None,
                           target=getattr(schema, "target", None))
    flow.domain_note = domain_note
    if flow.spec.private_training:
        flow.privacy = config.differential_privacy
    return flow, hyper_choice


@dataclass
class FittedModel:
    """One fitted model before it is saved: the flow, its fit facts, and the sentence saying
    which epochs and batch size were chosen (what a training worker hands back)."""

    flow: FlowSynthesizer
    facts: FitFacts
    hyper_choice: str
    training_rows: int

    @property
    def model(self) -> str:
        return self.flow.model


def fit_model(model: str, train_frame: pd.DataFrame, config: TrainingConfig, device: DeviceChoice,
              metadata_dict: dict[str, Any], schema: Schema, rules: RuleSet, seed: int,
              timings: dict[str, float] | None = None) -> FittedModel:
    """Build `model` as the config asks and fit it on `train_frame` (seeded); logs the choice
    of epochs and batch size and what the fit cost. Writes nothing."""
    from common.core.progress import stage

    flow, hyper_choice = build_flow(model, train_frame, config, device, schema, rules, seed, metadata_dict)
    log.info("   %s domain layer: %s", model, flow.domain_note)
    log.info("   %s", hyper_choice)
    rows, columns = train_frame.shape
    if flow.spec.iterative:
        log.info("   %s: %d rows x %d columns, %d epochs, batch %d, %d steps/epoch, on %s",
                 model, rows, columns, flow.hyper["epochs"], flow.hyper["batch_size"],
                 steps_per_epoch(model, rows, int(flow.hyper["batch_size"])), device.device)
    else:
        log.info("   %s: %d rows x %d columns, one pass on the CPU", model, rows, columns)
    with stage(f"fit {model}", timings):
        seed_everything(seed)
        facts = flow.fit(train_frame)
    _log_fit(model, facts, flow.spec.iterative)
    return FittedModel(flow, facts, hyper_choice, rows)


def _log_fit(model: str, facts: FitFacts, iterative: bool) -> None:
    if iterative:
        log.info("   %s: fit %.1f s = preprocessing %.1f s + ctgan encoding %.1f s + %d epochs x %.3f s",
                 model, facts.fit_seconds, facts.preprocess_seconds, facts.training_seconds - facts.epochs_seconds,
                 facts.epochs, facts.seconds_per_epoch)
    else:
        log.info("   %s: fit %.1f s = preprocessing %.1f s + fit %.1f s", model, facts.fit_seconds,
                 facts.preprocess_seconds, facts.training_seconds)


def train_model(
    model: str,
    train_frame: pd.DataFrame,
    config: TrainingConfig,
    device: DeviceChoice,
    metadata_dict: dict[str, Any],
    context: DatasetContext,
    manifest: Manifest,
    rows: RowRequest,
    seed: int,
    timings: dict[str, float] | None = None,
    generation: GenerationOptions | None = None,
) -> dict[str, Any]:
    """Fit one model on `train_frame`, save it, its loss curve and its synthetic CSV (`rows`:
    how many, in which class mix; as many as `train_frame` has when not said); record it.

    `context` is the DatasetContext (its layout names the files, its rules check the rows, its
    schema feeds the domain layer). Returns the manifest entry (see `finish_model`).
    """
    fitted = fit_model(model, train_frame, config, device, metadata_dict, context.schema, context.rules, seed, timings)
    return finish_model(fitted, config, context, manifest, rows, seed, timings, generation)


def finish_model(fitted: FittedModel, config: TrainingConfig, context: DatasetContext, manifest: Manifest,
                 rows: RowRequest, seed: int, timings: dict[str, float] | None = None,
                 generation: GenerationOptions | None = None) -> dict[str, Any]:
    """Save a fitted model, its loss curve and its synthetic CSV (`generation`: in this process,
    or in shards on Ray workers), and record it in the manifest.

    Each file is written atomically and the manifest entry last, so an interrupt keeps earlier
    artifacts and leaves no record of a half-done model. Returns the manifest entry.
    """
    from common.core.progress import stage

    flow, layout, model = fitted.flow, context.layout, fitted.model
    # From here this model's files are replaced: drop its old record first, so an interrupt
    # never leaves the manifest vouching for files of two different runs. (An interrupt
    # during the long fit keeps the previous run's files and record untouched.)
    manifest.forget_model(model)
    with stage(f"save {model}", timings):
        file_hashes = flow.save(layout.model_pickle(model))
        if flow.spec.iterative:       # a model fitted in one pass has no loss curve
            losses = flow.loss_values()
            write_loss_csv(losses, layout.loss_csv(model))
            plot_loss_curve(losses, model, layout.loss_png(model), rows=fitted.training_rows)
    num_rows = rows.num_rows if rows.num_rows is not None else fitted.training_rows
    counts, mix = class_mix(flow, rows)
    planned = sum(flow.quotas(num_rows, counts).values())
    with stage(f"sample {model} ({planned:,} rows; class mix: {mix})", timings):
        sampling = write_rows(flow, layout.synthetic_csv(model), num_rows, config.sampling_batch_rows, seed,
                              context.rules, class_counts=counts, options=generation)
    _log_sampling(model, sampling)
    entry = _model_entry(fitted, manifest, file_hashes, sampling, mix, seed)
    manifest.record_model(model, entry, _artifacts(flow, layout))
    return entry


def _log_sampling(model: str, sampling: SamplingFacts) -> None:
    validity = sampling.validity
    log.info("   %s: %.0f rows/s; %s of %s rows satisfy all %d detected rules", model, sampling.rows_per_second,
             f"{validity['rows_valid']:,}", f"{validity['rows']:,}", validity["rules_checked"])


def _artifacts(flow: FlowSynthesizer, layout: OutputLayout) -> list[Path]:
    """The files a trained model's record vouches for."""
    model = flow.model
    artifacts = [layout.model_pickle(model)]
    if flow.rules is not None:
        artifacts.append(FlowSynthesizer.rules_path(layout.model_pickle(model)))
    if flow.transformer is not None:
        artifacts.append(FlowSynthesizer.domain_layer_path(layout.model_pickle(model)))
    artifacts += [layout.loss_csv(model), layout.loss_png(model)] if flow.spec.iterative else []
    return artifacts + [layout.synthetic_csv(model)]


def _model_entry(fitted: FittedModel, manifest: Manifest, file_hashes: dict[str, str], sampling: SamplingFacts,
                 mix: str, seed: int) -> dict[str, Any]:
    """The manifest's record of one trained model."""
    flow, facts, model = fitted.flow, fitted.facts, fitted.model
    layout, iterative = manifest.layout, flow.spec.iterative
    return {
        "description": flow.describe(),
        "domain_layer": flow.domain_note,
        "hyperparameter_choice": fitted.hyper_choice,
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
        "shortfall": warn_shortfall(model, sampling, flow.target),   # None, or what the log, exit and report say
        "synthetic_csv": manifest.relative(layout.synthetic_csv(model)),
        "loss_csv": manifest.relative(layout.loss_csv(model)) if iterative else None,
        "loss_png": manifest.relative(layout.loss_png(model)) if iterative else None,
    }


def warn_shortfall(model: str, sampling: SamplingFacts, target: str | None) -> str | None:
    """Log a warning per model that made fewer rows than asked (class by class); returns it."""
    from common.data.classes import shortfall_notice

    notice = shortfall_notice(model, sampling.to_dict(), target)
    if notice:
        log.warning("   WARNING: %s", notice)
    return notice


def load_trained(layout: OutputLayout, model: str, trust_folder: bool = False) -> FlowSynthesizer:
    """Load a trained model from `layout`: its signature (common.synth.signing; skipped with
    `trust_folder`) and then every file's SHA-256 are checked before anything is unpickled."""
    from common.synth.signing import verify

    entry = Manifest.read(layout).model_entry(model)
    checked = verify(model, entry["files"], entry.get("signature"), layout.models_dir, trust_folder)
    log.info("   %s: %s", model, checked)
    return FlowSynthesizer.load(layout.model_pickle(model), entry["files"], entry["description"])


def class_mix(flow: FlowSynthesizer, rows: RowRequest,
              left_out: dict[str, Any] | None = None) -> tuple[dict[str, int] | None, str]:
    """The rows per class a run asks for, and a sentence saying which mix it is.

    Class counts as asked; balanced: every class as many rows as the largest has in the training
    split (or the rows asked for split evenly); neither: None, the training shares.
    """
    from common.synth.sampling import class_quotas

    class_counts, balance, num_rows = rows.class_counts, rows.balance, rows.num_rows
    if (class_counts is not None or balance) and flow.target is None:
        raise UserError("a class mix needs a class column, and this model was trained without one")
    if class_counts is not None:
        check_class_names(class_counts, flow.class_shares, flow.target, left_out)
        return class_counts, "the counts asked for (" + ", ".join(f"{k}={v:,}" for k, v in class_counts.items()) + ")"
    if balance:
        if num_rows is None:
            largest = max(flow.class_shares.values())
            num_rows = int(round(largest * flow.training_rows)) * len(flow.class_shares)
        counts = class_quotas({label: 1.0 for label in flow.class_shares}, num_rows)
        return counts, f"balanced: {min(counts.values()):,} to {max(counts.values()):,} rows per class"
    return None, "the training split's class shares"


def sample_on(flow: FlowSynthesizer, device: DeviceChoice) -> None:
    """Move a loaded model's networks to `device` (loading puts them on the CPU)."""
    network = getattr(flow.synthesizer, "_model", None)
    if device.device != "cpu" and hasattr(network, "set_device"):
        network.set_device(device.device)


def check_class_names(class_counts: dict[str, int], class_shares: dict[str, float], target: str | None,
                      left_out: dict[str, Any] | None = None) -> None:
    """UserError for the first class in `class_counts` the model did not learn: one the training
    left out as too small (`left_out`: the manifest's small_classes record) says so; another
    gets the closest known names ("did you mean") and the full list."""
    import difflib

    known = sorted(class_shares)
    for label in class_counts:
        small = (left_out or {}).get("classes") or {}
        if label not in class_shares and label in small:
            raise UserError(f"class '{label}' of '{target}' had {small[label]} training rows, fewer than min_class_rows "
                            f"{left_out['min_class_rows']}, and was left out of training (small_classes "
                            f"\"{left_out['policy']}\"); set \"small_classes\": \"generate\" in training_configs.json "
                            f"and train again to learn it")
        if label not in class_shares:
            starting = [c for c in known if c.lower().startswith(label.lower())]
            close = starting[:3] or difflib.get_close_matches(label, known, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise UserError(f"unknown class '{label}' of '{target}'; {hint}the training rows hold: {', '.join(known)}")


def generate_to_csv(layout: OutputLayout, model: str, target: Path | None, rows: RowRequest, batch_rows: int,
                    seed: int, timings: dict[str, float] | None = None,
                    device: DeviceChoice | None = None, strict: bool = False,
                    trust_folder: bool = False, generation: GenerationOptions | None = None) -> dict[str, Any]:
    """Rows from a saved model (signature and hashes checked, with its domain layer and rules),
    written to `target` in batches (`rows`: how many, in which class mix; as many as the training
    split had when not said); `target` None: a new file under generated/ (OutputLayout.generated_csv).
    `device`: where the networks sample (CPU when None); `strict`: a class the model cannot
    deliver in full raises ShortfallError and nothing is written (otherwise it is written short,
    with a warning and the record's "shortfall"); `generation`: in this process (default) or in
    shards on Ray workers, into one file or one per shard (common.synth.distributed). The run is
    recorded in the manifest under "generations". Returns the record ("output" is the file
    written; with shard files, "outputs" lists them)."""
    from common.core.progress import stage

    flow = load_trained(layout, model, trust_folder)
    if device is not None:
        sample_on(flow, device)
    counts, mix = class_mix(flow, rows, Manifest.read(layout).payload.get("small_classes"))
    num_rows = rows.num_rows if rows.num_rows is not None else flow.training_rows
    planned = sum(flow.quotas(num_rows, counts).values())
    target = target if target is not None else layout.generated_csv(model, planned)
    log.info("   %s: %s rows, class mix: %s", model, f"{planned:,}", mix)
    with stage(f"generate {model} ({planned:,} rows)", timings):
        sampling = write_rows(flow, target, num_rows, batch_rows, seed, flow.rules, class_counts=counts,
                              strict=strict, options=generation)
    _log_sampling(model, sampling)
    files = [Path(path) for path in sampling.shard_files] or [target]
    record = {
        "model": model, "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "seed": seed,
        # with shard files, the pattern that names them all
        "output": str(files[0]) if len(files) == 1 else str(target.with_name(f"{target.stem}_shard*{target.suffix}")), "sha256": file_sha256(files[0]) if len(files) == 1 else None,
        "outputs": {str(path): file_sha256(path) for path in files} if len(files) > 1 else None,
        "class_mix": mix, "class_counts_asked": counts, "sampling": sampling.to_dict(),
        "generation": flow.validity.to_dict() if flow.validity is not None else None,
        "shortfall": warn_shortfall(model, sampling, flow.target),
    }
    manifest = Manifest.read(layout)
    history = manifest.payload.setdefault("generations", [])
    history.append(record)
    del history[:-GENERATIONS_KEPT]
    manifest.save()
    return record
