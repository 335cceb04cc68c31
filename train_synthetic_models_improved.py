#!/usr/bin/env python3
"""Stage 3: train CTGAN and TVAE on the flow table, save them, sample synthetic flows, evaluate.

Reads what synthetic_data_setup.py wrote (schema, rules, metadata/metadata.json,
metadata/training_configs.json) and creates whatever is missing the same way, saying so.
The real rows are split into train and holdout (saved, so evaluation uses the same split);
the models see train only. Identifier and address columns are never learned or written.

Writes (under --output-dir): models/<model>_model.pkl, models/manifest.json,
models/train_holdout_split.json, models/<model>_loss.csv, visualizations/<model>_loss_curve.png,
<model>_synthetic_data.csv, then the evaluation's files.

Generation mode (--generate-only) trains nothing: it loads the saved models (signature and hashes
checked before unpickling, common.synth.signing) with
their domain layers and rules from models/ and writes new rows (any number, any class mix) to a
new file under generated/ (or --output, which never replaces an input, a model or the pipeline's
own files, and replaces another existing file only with --force).

Examples:
    python train_synthetic_models_improved.py
    python train_synthetic_models_improved.py --models tvae --epochs 20 --num-rows 100000
    python train_synthetic_models_improved.py --evaluate-only
    python train_synthetic_models_improved.py --generate-only --models tvae --num-rows 1000000
    python train_synthetic_models_improved.py --generate-only --models ctgan --balance-classes --output balanced.csv
    python train_synthetic_models_improved.py --generate-only --class-counts "Attack-TCP-Flag-OSYN=5000,Benign-SSH=2000"
"""
from __future__ import annotations

import os

# Before torch loads OpenMP: waiting threads sleep instead of spinning. On CPUs shared with
# other work, spinning threads made CTGAN's small matrix products several times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any, Iterator  # noqa: E402

from common.core.cli import (  # noqa: E402
    DEFAULT_SEED, EXIT_SHORTFALL, build_parser, data_for_stage, remember_table, run_cli,
)
from common.core.progress import stage  # noqa: E402
from common.synth.config import (DEFAULT_TRAINING_CONFIG, DEVICES, TrainingConfig, TrainingConfigFile,  # noqa: E402
                                  private_models)
from common.core.errors import UserError  # noqa: E402
from common.core.io import ensure_output_dir, file_sha256, read_json, write_json  # noqa: E402
from common.core.layout import OutputLayout  # noqa: E402
from common.synth.registry import DEFAULT_MODELS, MODEL_NAMES  # noqa: E402

if TYPE_CHECKING:   # the data types of the seams; imported lazily where they are used
    from common.data.pipeline import DatasetContext
    from common.data.schema import Schema
    from common.data.split import Split

log = logging.getLogger("tcpsynth")


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser(__doc__.split("\n")[1])
    parser.add_argument("--config", type=Path, default=None,
                        help="training config JSON (default: <output-dir>/metadata/training_configs.json)")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=None,
                        help="which synthesizers to train, sample or evaluate (default: "
                             + " and ".join(DEFAULT_MODELS) + "; with --evaluate-only, those whose synthetic CSV is "
                             "there)")
    parser.add_argument("--device", choices=DEVICES, default=None,
                        help="auto: CUDA when torch sees a GPU, else CPU (default: the config's)")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="epochs for every model, overriding the config (for quick runs)")
    parser.add_argument("--num-rows", type=positive_int, default=None,
                        help="synthetic rows per model (default: the config's num_rows, else the training rows)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="skip training: evaluate the existing synthetic CSVs")
    parser.add_argument("--skip-evaluation", action="store_true",
                        help="train, save and sample only (quick runs, benchmarks); evaluate later with --evaluate-only")
    parallel = parser.add_argument_group("past one process (Ray)")
    parallel.add_argument("--workers", type=positive_int, default=1,
                          help="worker processes: generation runs in that many seeded shards at once, and with 2 or "
                               "more the models are fitted concurrently (default 1: everything in this process)")
    parallel.add_argument("--ray-address", default=None, metavar="ADDR",
                          help="join the Ray cluster at ADDR (e.g. 10.0.0.5:6379, or 'auto' on a cluster node) "
                               "instead of starting Ray on this machine")
    generation = parser.add_argument_group("generation from saved models")
    generation.add_argument("--generate-only", action="store_true",
                            help="train nothing: load the saved models and write new rows (default: as many as the "
                                 "training split, in its class shares)")
    generation.add_argument("--output", type=Path, default=None,
                            help="CSV file --generate-only writes, or Parquet for a .parquet name (one model only; default: a new file "
                                 "<output-dir>/generated/<model>_<rows>rows_<time>.csv)")
    generation.add_argument("--force", action="store_true",
                            help="let --output replace an existing file (never an input, a model or the pipeline's "
                                 "own outputs)")
    generation.add_argument("--class-counts", type=class_counts_arg, default=None, metavar="CLASS=N,...",
                            help="exact rows per class of the class column, e.g. "
                                 "\"Attack-TCP-Flag-OSYN=5000,Benign-Web_Browsing_HTTP-S=2000\" on the bundled sample")
    generation.add_argument("--balance-classes", action="store_true",
                            help="every class as many rows as the largest class of the training split "
                                 "(or --num-rows split evenly)")
    generation.add_argument("--strict", action="store_true",
                            help="all or nothing: when a class cannot be made in full, write no rows (exit status 3); "
                                 "without it the rows that could be made are written, the shortfall is said per "
                                 "class, and the exit status is 3")
    generation.add_argument("--trust-model-folder", action="store_true",
                            help="load models whose signature cannot be checked here (signed with another key, or "
                                 "before models were signed): only for a folder you trust, since a model is a pickle")
    generation.add_argument("--shard-files", action="store_true",
                            help="with --generate-only and --workers: one file per shard (<name>_shard<i>of<n>.csv) "
                                 "instead of one file")
    generation.add_argument("--evaluate", action="store_true",
                            help="with --generate-only: evaluate the generated rows (per class where a mix was asked)")
    args = parser.parse_args(argv)
    if args.evaluate_only and args.skip_evaluation:
        parser.error("--evaluate-only and --skip-evaluation exclude each other")
    if args.generate_only and args.evaluate_only:
        parser.error("--generate-only and --evaluate-only exclude each other (use --generate-only --evaluate)")
    if args.class_counts is not None and args.balance_classes:
        parser.error("--class-counts and --balance-classes exclude each other")
    if args.class_counts is not None and args.num_rows is not None:
        parser.error("--class-counts sets the rows itself; leave --num-rows out")
    args.models = list(dict.fromkeys(args.models)) if args.models is not None else None
    if args.output is not None and (not args.generate_only or args.models is None or len(args.models) != 1):
        parser.error("--output needs --generate-only and exactly one model (e.g. --models tvae)")
    if args.evaluate and not args.generate_only:
        parser.error("--evaluate goes with --generate-only (training evaluates by default)")
    if args.strict and not args.generate_only:
        parser.error("--strict goes with --generate-only (training always finishes, saying what fell short)")
    if args.shard_files and (not args.generate_only or args.evaluate):
        parser.error("--shard-files goes with --generate-only, without --evaluate (the evaluation reads one file)")
    if args.force and args.output is None:
        parser.error("--force goes with --output (it lets --output replace an existing file)")
    return args


def class_counts_arg(text: str) -> dict[str, int]:
    """argparse type: "CLASS=N,CLASS=N" as {class: N} (N a positive integer)."""
    counts: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, equals, number = item.rpartition("=")
        if not equals or not name.strip():
            raise argparse.ArgumentTypeError(f"'{item}' is not CLASS=N (e.g. \"Attack-TCP-Flag-OSYN=5000,Benign-SSH=2000\")")
        try:
            count = int(number)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{number}' in '{item}' is not a whole number of rows") from None
        if count < 0:
            raise argparse.ArgumentTypeError(f"rows for class '{name.strip()}' must be >= 0, got {count}")
        counts[name.strip()] = count
    if not counts or sum(counts.values()) == 0:
        raise argparse.ArgumentTypeError("give at least one class with a positive count")
    return counts


# ----------------------------------------------------------------------------- inputs


def load_config(args: argparse.Namespace, layout: OutputLayout, context: DatasetContext | None) -> TrainingConfig | None:
    """The validated config, or None when the default file is missing and the data is not loaded yet.

    A missing default file is created from the defaults (as the setup does) once the data is
    loaded; a missing --config file is a user error (probably a typo).
    """
    path = args.config or layout.training_configs_json
    if path.exists():
        return TrainingConfigFile(path).load()
    if args.config is not None:
        raise UserError(f"training config not found: {path} (check --config, or leave it out to use the default)")
    if context is None:
        return None
    # Training rows are not known before the split, which needs the config: estimate them.
    expected_train_rows = round(len(context.frame) * (1 - DEFAULT_TRAINING_CONFIG["holdout_fraction"]))
    TrainingConfigFile(path).write_defaults(expected_train_rows, seed=args.seed,
                                            columns=len(context.schema.modelled_columns))
    log.info("   %s not found: wrote the default training config there (as the setup does)", path)
    return TrainingConfigFile(path).load()


def apply_overrides(config: TrainingConfig, args: argparse.Namespace) -> tuple[TrainingConfig, dict[str, Any]]:
    """Command-line options win over the config. Returns (a new config with them, what was
    overridden); the config read from the file is left as it was."""
    from dataclasses import replace

    from common.synth.params import IterativeParams

    overrides: dict[str, Any] = {}
    for option in ("seed", "device", "num_rows"):
        if getattr(args, option) is not None:
            overrides[option] = getattr(args, option)
    updated = config.with_changes(**overrides)
    if args.epochs is not None:
        for params in updated.models:
            if isinstance(params, IterativeParams):
                updated = updated.with_params(replace(params, epochs=args.epochs))
        overrides["epochs"] = args.epochs
    if overrides:
        log.info("   command-line overrides: %s", ", ".join(f"{k}={v}" for k, v in overrides.items()))
    return updated, overrides


def metadata_dict_for(context: DatasetContext) -> dict[str, Any]:
    """SDV metadata of the modelled columns: the setup's metadata.json, else made from the schema.

    A missing file is written (as the setup does); a file that does not describe these
    columns (made for another table) is left alone and replaced in memory.
    """
    from sdv.metadata import Metadata

    from common.data.schema import sdv_metadata_dict

    path = context.layout.metadata_json
    expected = sdv_metadata_dict(context.schema)
    if not path.exists():
        write_json(path, Metadata.load_from_dict(expected).to_dict())
        log.info("   %s not found: created it from the column schema (as the setup does)", path)
        return expected
    saved = read_json(path, "SDV metadata")
    try:
        tables = saved["tables"]
        columns = set(next(iter(tables.values()))["columns"]) if len(tables) == 1 else set()
    except (KeyError, TypeError, AttributeError, StopIteration):
        raise UserError(f"{path} is not SDV metadata with one table; delete it or re-run synthetic_data_setup.py") from None
    if columns != set(context.schema.modelled_columns):
        log.info("   %s describes other columns (another table?): using metadata made from the schema", path)
        return expected
    return saved


def report_identifiers(schema: Schema) -> dict[str, str]:
    """Log and return the identifier columns that are excluded from learning and output."""
    excluded = {name: schema.columns[name].reason for name in schema.identifiers}
    if excluded:
        log.info("   %d identifier/address column(s) excluded, never learned or copied: %s",
                 len(excluded), ", ".join(excluded))
    else:
        log.info("   no identifier or address columns found")
    return excluded


# ----------------------------------------------------------------------------- stages


def make_and_save_split(context: DatasetContext, config: TrainingConfig, seed: int) -> Split:
    """Split the real rows (stratified on the class) and save the split for evaluation."""
    from common.data.split import make_split

    split = make_split(context.frame, context.schema.target, config.holdout_fraction, seed, context.report.sha256)
    split.save(context.layout.split_json)
    log.info(
        "   %s rows for training, %s held out (%.0f%%, %s)", f"{len(split.train_index):,}",
        f"{len(split.holdout_index):,}", 100 * config.holdout_fraction,
        f"stratified on '{split.target}'" if split.stratified else "not stratified",
    )
    return split


def train_all(args: argparse.Namespace, context: DatasetContext, config: TrainingConfig, overrides: dict[str, Any],
              timings: dict[str, float]):
    """Split, then train, save and sample each chosen model. Returns the split."""
    from common import synth

    seed = config.seed
    device = synth.choose_device(config.device)
    threads = synth.configure_torch_threads()
    log.info("   device: %s (%s); torch threads: %d", device.device, device.reason, threads)
    excluded = report_identifiers(context.schema)
    metadata_dict = metadata_dict_for(context)
    with stage("split train/holdout", timings):
        split = make_and_save_split(context, config, seed)
    from common.data.classes import apply_small_class_policy
    from common.data.subsample import subsample_training

    train_frame, small = apply_small_class_policy(split.train(context.modelled), context.schema.target,
                                                  config.min_class_rows, config.small_classes)
    if small is not None:
        log.warning("   WARNING: %s", small["notice"])
    learnt, subsample = subsample_training(train_frame, context.schema.target, config.max_training_rows, seed)
    if subsample is not None:
        log.info("   %s", subsample["notice"])
    rows = synth.RowRequest(config.num_rows or len(train_frame), args.class_counts, args.balance_classes)
    manifest = synth.Manifest.open(context.layout, context.report.sha256)
    manifest.update(
        manifest_version=synth.MANIFEST_VERSION,
        source={"path": context.report.path, "sha256": context.report.sha256, "rows": context.report.rows},
        libraries=synth.library_versions(),
        torch_threads=threads,
        config=config.to_json(),
        overrides=overrides,
        excluded_identifiers=excluded,
        small_classes=small,
        training_subsample=subsample,
        split={"file": manifest.relative(context.layout.split_json), "train_rows": len(split.train_index),
               "holdout_rows": len(split.holdout_index), "fraction": split.fraction, "seed": split.seed,
               "target": split.target, "stratified": split.stratified},
    )
    manifest.payload["files"][manifest.relative(context.layout.split_json)] = file_sha256(context.layout.split_json)
    manifest.save()
    fit_arguments = {"config": config, "device": device, "metadata_dict": metadata_dict, "schema": context.schema,
                     "rules": context.rules, "seed": seed}
    for fitted in fitted_models(args, learnt, fit_arguments, timings):
        if subsample is not None:      # the rows are delivered in the full training split's class shares
            fitted.flow.note_population(train_frame)
        with stage(f"{fitted.model}: save, sample", timings):
            synth.finish_model(fitted, config, context, manifest, rows, seed, timings, generation_options(args))
    return split


def generation_options(args: argparse.Namespace):
    """The --workers / --ray-address / --shard-files choice (common.synth.distributed)."""
    from common.synth.distributed import GenerationOptions

    return GenerationOptions(args.workers, args.ray_address, bool(getattr(args, "shard_files", False)))


def fitted_models(args: argparse.Namespace, train_frame, fit_arguments: dict[str, Any], timings: dict[str, float]):
    """The chosen models fitted on `train_frame`, as each is ready: one after the other in this
    process, or (--workers 2 or more, on the CPU) all at once on Ray, one model per worker."""
    from common import synth

    options = generation_options(args)
    if not options.parallel or len(args.models) < 2 or fit_arguments["device"].device != "cpu":
        for model in args.models:
            yield synth.fit_model(model, train_frame, timings=timings, **fit_arguments)
        return
    log.info("   fitting %s concurrently on %s Ray workers (one torch thread each)", ", ".join(args.models),
             args.workers if args.ray_address is None else "the cluster's")
    for fitted, fit_timings in synth.fit_concurrently(args.models, train_frame, fit_arguments, options):
        timings.update(fit_timings)     # each fit's own seconds, measured in its worker
        yield fitted


def check_output_target(output: Path, layout: OutputLayout, inputs: dict[Path, str], force: bool) -> None:
    """UserError unless --output may be written: not a folder, not an input (`inputs`: {path: what
    it is}), not one of the pipeline's own files, and not an existing file unless `force`."""
    if output.is_dir():
        raise UserError(f"--output {output} is a folder; give a file name, e.g. {output / 'synthetic_rows.csv'}")
    resolved = output.resolve()
    for path, what in inputs.items():
        if path is not None and resolved == Path(path).resolve():
            raise UserError(f"--output {output} is {what}: it is never overwritten; give another file name")
    if layout.owns(output):
        raise UserError(f"--output {output} is one of the pipeline's own files in {layout.root} (replaced only by a "
                        f"run that makes them all again); give another file name")
    if output.exists() and not force:
        raise UserError(f"--output {output} exists; give another file name, or add --force to replace it")


def generate_all(args: argparse.Namespace, layout: OutputLayout, config: TrainingConfig,
                 timings: dict[str, float]) -> dict[str, dict[str, Any]]:
    """--generate-only: new rows from each saved model; returns {model: the manifest's record of
    the run ("output": the CSV written, "shortfall": None or what could not be made)}."""
    from common import synth

    synth.configure_torch_threads()
    device = synth.choose_device(config.device)
    records = {}
    rows = synth.RowRequest(args.num_rows, args.class_counts, args.balance_classes)
    for model in args.models:
        record = synth.generate_to_csv(layout, model, args.output, rows, config.sampling_batch_rows,
                                       config.seed, timings, device=device, strict=args.strict,
                                       trust_folder=args.trust_model_folder, generation=generation_options(args))
        log.info("   %s: wrote %s", model, record["output"])
        records[model] = record
    return records


def shortfall_status(records: dict[str, dict[str, Any]]) -> int:
    """0, or EXIT_SHORTFALL after one 'warning:' line per model on stderr when fewer rows were made
    than asked (what could be made is written)."""
    short = [record["shortfall"] for record in records.values() if record.get("shortfall")]
    for notice in short:
        print(f"warning: {notice}", file=sys.stderr)
    return EXIT_SHORTFALL if short else 0


def generation_inputs(args: argparse.Namespace, layout: OutputLayout) -> dict[Path, str]:
    """The files --output must never replace: the data (given or the folder's), the config."""
    from common.core.source import read_source

    from common.core.io import expand_data_paths

    inputs: dict[Path, str] = {}
    if args.data:
        for path in expand_data_paths(args.data):
            inputs[path] = "the --data table" if len(args.data) == 1 else f"a file of the --data table ({path.name})"
    record = read_source(layout)
    if record is not None:
        for path in record.files:
            inputs[path] = f"the table {layout.root} was set up with"
    inputs[args.config or layout.training_configs_json] = "the training config"
    return inputs


def evaluate(context: DatasetContext, split: Split, models: list[str], seed: int, timings: dict[str, float],
             synthetic_paths: dict[str, Path] | None = None, rows: Any = None,
             destination: OutputLayout | None = None, notices: list[str] | None = None) -> None:
    """Hand over to common.evaluation (which writes the evaluation JSON, report and plots into
    `destination`, the output folder by default). `rows`: the RowRequest the rows were made
    under (a class mix is compared class by class with the real rows of those classes)."""
    from common.evaluation import evaluate_models, summary_text  # sdmetrics and plotting load only when evaluating

    destination = destination or context.layout
    with stage("evaluate", timings):
        comparison = evaluate_models(context, split, models, seed, timings=timings, synthetic_paths=synthetic_paths,
                                     class_counts=getattr(rows, "class_counts", None),
                                     balanced=bool(getattr(rows, "balance", False)), destination=destination,
                                     notices=notices)
    print(summary_text(comparison, destination.report_html))


def models_to_evaluate(layout: OutputLayout, asked: list[str]) -> list[str]:
    """The models asked for, then every other model whose synthetic CSV is in the folder: the
    comparison and report.html keep every model's figures (the others are evaluated again)."""
    others = [m for m in MODEL_NAMES if m not in asked and layout.synthetic_csv(m).exists()]
    if others:
        log.info("   %s: kept in the comparison (synthetic CSV in %s; evaluated again beside %s)",
                 ", ".join(others), layout.root, ", ".join(asked))
    return list(asked) + others


def require_synthetic_csvs(layout: OutputLayout, models: list[str]) -> None:
    missing = [layout.synthetic_csv(m) for m in models if not layout.synthetic_csv(m).exists()]
    if missing:
        raise UserError(
            f"--evaluate-only needs {missing[0]}, which does not exist; run without --evaluate-only first"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with parallel_session(args):
        return run(args)


@contextmanager
def parallel_session(args: argparse.Namespace) -> Iterator[None]:
    """One Ray session for the whole run when --workers >= 2 or --ray-address is given and the
    run fits or generates (common.synth.distributed); nothing otherwise."""
    from common.synth.distributed import ray_session

    if not generation_options(args).parallel or args.evaluate_only:
        yield
        return
    with ray_session(args.workers, args.ray_address):
        yield


def run(args: argparse.Namespace) -> int:
    """The run the parsed options ask for; returns the exit status."""
    from common.data.pipeline import load_context
    from common.data.split import Split
    from common.synth import RowRequest, choose_device

    timings: dict[str, float] = {}
    layout = OutputLayout(ensure_output_dir(args.output_dir))
    models_asked = args.models is not None
    if args.models is None:
        present = [m for m in MODEL_NAMES if layout.synthetic_csv(m).exists()]
        args.models = present if args.evaluate_only and present else list(DEFAULT_MODELS)
    config = load_config(args, layout, context=None)  # a broken config fails before the slow steps
    if config is not None and models_asked and not (args.generate_only or args.evaluate_only):
        private_models(config, args.models, asked=True)   # and a model named that cannot train privately
    if args.device is not None:
        choose_device(args.device)      # "cuda" without a GPU fails here, in every mode
    if args.output is not None:
        check_output_target(args.output, layout, generation_inputs(args, layout), args.force)
    if args.generate_only and not args.evaluate:
        # the saved models carry everything generation needs: the data is not read
        config, _ = apply_overrides(config or TrainingConfig(), args)
        records = generate_all(args, layout, config, timings)
        log.info("stage timings (s): %s", ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items()))
        return shortfall_status(records)
    data = data_for_stage(args.data, layout)
    with stage("load data, schema and rules", timings):
        seed_for_rules = args.seed if args.seed is not None else (config.seed if config else DEFAULT_SEED)
        context = load_context(data, args.output_dir, args.label_column, None, seed=seed_for_rules)
        for line in context.report.summary_lines():
            log.info("   %s", line)
    remember_table(layout, context.report, "train_synthetic_models_improved.py")
    if config is None:
        config = load_config(args, layout, context)
    config, overrides = apply_overrides(config, args)
    if not (args.generate_only or args.evaluate_only):   # a privacy budget: the models that can spend it
        args.models = private_models(config, args.models, models_asked)
    seed = config.seed
    rows = RowRequest(args.num_rows, args.class_counts, args.balance_classes)
    if args.generate_only:
        split = Split.load(layout.split_json, context.report.sha256)   # before generating: no rows for nothing
        records = generate_all(args, layout, config, timings)
        for model, record in records.items():
            # each generated file gets its own report beside it; the folder's report.html stays as it was
            path = Path(record["output"])
            evaluate(context, split, [model], seed, timings, synthetic_paths={model: path}, rows=rows,
                     destination=OutputLayout(path.with_name(path.stem + "_evaluation")),
                     notices=[record["shortfall"]] if record.get("shortfall") else [])
        log.info("stage timings (s): %s", ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items()))
        return shortfall_status(records)
    if args.evaluate_only:
        require_synthetic_csvs(layout, args.models)
        split = Split.load(layout.split_json, context.report.sha256)
    else:
        split = train_all(args, context, config, overrides, timings)
    if args.skip_evaluation:
        log.info("   evaluation skipped (--skip-evaluation); run again with --evaluate-only to evaluate")
    else:
        # the pipeline's own CSVs follow the training split's class shares (a mix asked for while
        # training is compared class by class)
        evaluate(context, split, models_to_evaluate(layout, args.models), seed, timings, rows=rows)
    log.info("stage timings (s): %s", ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items()))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
