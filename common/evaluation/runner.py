"""evaluate_models: the evaluation stage of train_synthetic_models_improved.py.

Reads each model's synthetic CSV, compares it with the saved train/holdout split, and writes
<model>_evaluation.json, model_comparison.json, the figures and report.html (all paths from
common.core.layout.OutputLayout). The holdout's own figures against train (the ceiling a synthetic
table can reasonably reach) are computed once and kept beside every model's figures.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.core.progress import stage
from common.core.errors import UserError
from common.data.pipeline import DatasetContext
from common.data.classes import shortfall_notice
from common.data.split import Split
import common.evaluation.evaluation_plots as plots
from common.evaluation.comparison import build_comparison, comparison_table, format_table
from common.evaluation.fidelity import (
    CORRELATION_ROWS, QUALITY_REPORT_ROWS, column_fidelity, correlation_columns, correlation_matrices,
    correlation_structure, matrix_payload, per_class_fidelity, quality_reports, sdtype_counts,
)
from common.evaluation.privacy import (
    DCR_QUERY_ROWS, DCR_REFERENCE_ROWS, NEW_ROW_ROWS, OVERFITTING_DRAWS, OVERFITTING_ROWS, TrainNeighbours,
    holdout_baseline, privacy_section, row_hashes,
)
from common.evaluation.attacks import attack_section, holdout_attack_baseline
from common.evaluation.signatures_check import check_signatures, computed_signatures, saved_signatures
from common.evaluation.tables import (
    EVALUATION_ROWS, EvaluationInputs, load_setup_metadata, make_inputs, prepare_candidate, stratified_sample,
)
from common.evaluation.utility import TEST_ROWS, TRAIN_ROWS, class_share_section, trtr, utility_section
from common.evaluation.validity import flag_section, placeholder_section, rule_validity, validity_section
from common.evaluation.sections import (
    ClassifierScores, ColumnFidelity, CorrelationFigures, FidelitySection, FlagComparison, HoldoutPrivacy,
    ModelEvaluation, PlaceholderComparison, QualityScores, SignatureCheck, SignaturesSection, ValiditySection,
)
from common.rules import ValidityReport
from common.core.io import read_json, read_table, write_json
from common.core.layout import OutputLayout

log = logging.getLogger("tcpsynth")

SAMPLING_CAPS = {
    "quality_and_diagnostic_reports_rows_per_table": QUALITY_REPORT_ROWS,
    "correlation_rows_per_table": CORRELATION_ROWS,
    "dcr_train_reference_rows": DCR_REFERENCE_ROWS,
    "dcr_query_rows": DCR_QUERY_ROWS,
    "dcr_overfitting_protection_rows": OVERFITTING_ROWS,
    "dcr_overfitting_protection_draws": OVERFITTING_DRAWS,
    "new_row_synthesis_rows": NEW_ROW_ROWS,
    "classifier_train_rows": TRAIN_ROWS,
    "classifier_test_rows": TEST_ROWS,
}


@dataclass
class Reference:
    """Everything about the real rows that every model is compared with (computed once)."""

    columns: ColumnFidelity
    quality: QualityScores
    quality_detected: QualityScores
    correlation_columns: list[str]
    real_matrices: dict[str, pd.DataFrame]
    correlations: CorrelationFigures
    holdout_matrices: dict[str, pd.DataFrame]
    rules: ValidityReport
    placeholders: PlaceholderComparison
    flags: FlagComparison
    flag_matrices: dict[str, pd.DataFrame]
    signatures: dict[str, Any]          # the analyzer's signatures (its JSON), checked on each table
    signatures_source: str
    signatures_holdout: SignatureCheck
    trtr: ClassifierScores | None
    neighbours: TrainNeighbours
    train_hashes: set[int]
    privacy: HoldoutPrivacy
    seconds: float = 0.0


@dataclass
class ModelResult:
    """One model's evaluation and the arrays the figures need."""

    evaluation: ModelEvaluation
    frame: pd.DataFrame
    matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    flag_matrix: pd.DataFrame | None = None
    distances: np.ndarray | None = None


# ----------------------------------------------------------------------------- inputs


def build_inputs(context: DatasetContext, split: Split, seed: int) -> EvaluationInputs:
    """The real train and holdout rows (modelled columns, normalised dtypes) and metadata.

    `split` is anything with .train(frame) and .holdout(frame) returning those rows of the
    loaded table (common.data.split.Split).
    """
    modelled = context.modelled
    target = context.schema.target
    train, train_note = stratified_sample(split.train(modelled), target, EVALUATION_ROWS["train"], seed)
    holdout, holdout_note = stratified_sample(split.holdout(modelled), target, EVALUATION_ROWS["holdout"], seed)
    inputs = make_inputs(train, holdout, context.schema, context.rules, seed,
                         load_setup_metadata(context.layout.metadata_json))
    inputs.row_samples = {"train": train_note, "holdout": holdout_note, "synthetic": {}}
    return inputs


def load_signatures(context: DatasetContext, inputs: EvaluationInputs) -> tuple[dict[str, Any], str]:
    """The analyzer's saved signatures when they fit this table, else computed on train."""
    path = context.layout.comprehensive_analysis_json
    saved = saved_signatures(path, inputs, context.report.sha256)
    if saved is not None:
        return saved, f"analyzer output {path.name} (computed on the whole table)"
    return computed_signatures(inputs), "computed on the train split with common.analysis.signatures"


def manifest_entries(layout: OutputLayout, source_sha256: str) -> dict[str, Any]:
    """Per-model training facts from models/manifest.json when it was made for this file."""
    path = layout.manifest_json
    if not path.exists():
        log.info("   no training manifest at %s: training facts left out of the evaluation", path)
        return {}
    payload = read_json(path, "models manifest")
    if not isinstance(payload, dict):
        return {}
    recorded = (payload.get("source") or {}).get("sha256") if isinstance(payload.get("source"), dict) else None
    if recorded and recorded != source_sha256:
        log.info("   %s was made for another data file: training facts left out", path)
        return {}
    models = payload.get("models")
    return models if isinstance(models, dict) else {}


def manifest_notices(layout: OutputLayout, source_sha256: str, models: list[str], target: str | None) -> list[str]:
    """What the training manifest says a reader must know first: the small classes left out or
    merged (common.data.classes.apply_small_class_policy), the training subsample, and per model its
    privacy budget (what it covers and what it does not) and its shortfall."""
    path = layout.manifest_json
    payload = read_json(path, "models manifest") if path.exists() else {}
    if not isinstance(payload, dict) or (payload.get("source") or {}).get("sha256") not in (None, source_sha256):
        return []
    notices = [payload["small_classes"]["notice"]] if isinstance(payload.get("small_classes"), dict) else []
    notices += [payload["training_subsample"]["notice"]] if isinstance(payload.get("training_subsample"), dict) else []
    entries = payload.get("models") if isinstance(payload.get("models"), dict) else {}
    for model in models:
        entry = entries.get(model) or {}
        notices.append(privacy_notice(model, (entry.get("training") or {}).get("privacy")))
        notices.append(shortfall_notice(model, entry.get("sampling"), target))
    return [notice for notice in notices if notice]


def privacy_notice(model: str, accounting: dict[str, Any] | None) -> str | None:
    """What a DP-SGD budget (common.synth.private_tvae's accounting) guarantees and what it does
    not; None for a model trained without one."""
    if not accounting:
        return None
    return (f"{model} was trained with DP-SGD: epsilon {accounting['epsilon_spent']:.2f} spent of "
            f"{accounting['epsilon']:g} (delta {accounting['delta']:.1e}; noise multiplier "
            f"{accounting['noise_multiplier']:.2f}, each row's gradient clipped to {accounting['max_grad_norm']:g}, "
            f"{accounting['steps']:,} steps). The guarantee covers what its networks learnt, and only that: the "
            "column encodings (per-column Gaussian modes and categories), SDV's min/max clipping, the domain "
            "layer's fitted statistics (rules, per-class quantiles, placeholder values, count grids) and the class "
            "shares are taken from the real rows without noise and are not differentially private.")


def training_facts(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the evaluation repeats from a manifest entry: fit facts, sampling facts and
    any domain-layer validity facts (rows resampled and such), plus fit_seconds on top."""
    if not entry:
        return None
    facts = {key: value for key, value in entry.items() if key not in ("files", "artifacts", "description")}
    fit = entry.get("training") if isinstance(entry.get("training"), dict) else {}
    facts["fit_seconds"] = fit.get("fit_seconds", entry.get("fit_seconds"))
    return facts


def domain_layer_facts(entry: dict[str, Any] | None) -> Any:
    """The domain layer's validity facts recorded by training (e.g. rows resampled), or None."""
    if not entry:
        return None
    for holder in (entry, entry.get("sampling") if isinstance(entry.get("sampling"), dict) else {}):
        if holder.get("validity") is not None:
            return holder["validity"]
    return None


# ----------------------------------------------------------------------------- reference


def assess_reference(context: DatasetContext, inputs: EvaluationInputs) -> Reference:
    """The holdout's figures against train, the TRTR classifier and the privacy baseline."""
    start = time.perf_counter()
    holdout = inputs.holdout
    columns = column_fidelity(inputs, holdout)
    quality = quality_reports(inputs, holdout)
    quality_detected = quality_reports(inputs, holdout, inputs.detected_metadata)
    corr_columns = correlation_columns(inputs)
    real_matrices = correlation_matrices(inputs.train, inputs, corr_columns)
    correlations, holdout_matrices = correlation_structure(inputs, holdout, real_matrices, corr_columns)
    flags, flag_matrices = flag_section(inputs, holdout)
    signatures, source = load_signatures(context, inputs)
    neighbours = TrainNeighbours(inputs)
    train_hashes = set(row_hashes(inputs.train).tolist())
    reference = Reference(
        columns=columns, quality=quality, quality_detected=quality_detected, correlation_columns=corr_columns,
        real_matrices=real_matrices,
        correlations=correlations, holdout_matrices=holdout_matrices,
        rules=rule_validity(inputs, holdout), placeholders=placeholder_section(inputs, holdout),
        flags=flags, flag_matrices=flag_matrices, signatures=signatures, signatures_source=source,
        signatures_holdout=check_signatures(inputs, holdout, signatures), trtr=trtr(inputs),
        neighbours=neighbours, train_hashes=train_hashes,
        privacy=holdout_baseline(inputs, neighbours, train_hashes),
    )
    reference.privacy.attacks = holdout_attack_baseline(inputs, inputs.seed)
    reference.seconds = round(time.perf_counter() - start, 3)
    return reference


# ----------------------------------------------------------------------------- one model


def load_synthetic(path: Path, inputs: EvaluationInputs, model: str | None = None) -> pd.DataFrame:
    """A model's synthetic CSV with the train's columns and dtypes: at most
    EVALUATION_ROWS["synthetic"] rows (seeded, stratified by class), the sample noted in
    inputs.row_samples["synthetic"][model]."""
    frame, _ = read_table(path, min_rows=1)
    target = inputs.schema.target
    frame, note = stratified_sample(frame, target, EVALUATION_ROWS["synthetic"], inputs.seed)
    inputs.row_samples.setdefault("synthetic", {})[model or str(path)] = note
    return prepare_candidate(frame, inputs, str(path))


def evaluate_model(
    model: str, synthetic: pd.DataFrame, inputs: EvaluationInputs, reference: Reference,
    facts: dict[str, Any], entry: dict[str, Any] | None,
) -> ModelResult:
    """Every section of <model>_evaluation.json for one model's synthetic rows."""
    timings: dict[str, float] = {}

    def timed(name: str, function, *args):
        begin = time.perf_counter()
        result = function(*args)
        timings[name] = round(time.perf_counter() - begin, 3)
        return result

    columns = timed("columns", column_fidelity, inputs, synthetic)
    quality = timed("sdmetrics_reports", quality_reports, inputs, synthetic)
    quality_detected = timed("sdmetrics_reports_detected_metadata", quality_reports, inputs, synthetic,
                             inputs.detected_metadata)
    shares = class_share_section(inputs, synthetic)
    correlations, matrices = timed("correlations", correlation_structure, inputs, synthetic,
                                   reference.real_matrices, reference.correlation_columns)
    rules = timed("rules", rule_validity, inputs, synthetic)
    placeholders = timed("placeholders", placeholder_section, inputs, synthetic)
    flags, flag_matrices = timed("flags", flag_section, inputs, synthetic)
    signatures = timed("signatures", check_signatures, inputs, synthetic, reference.signatures)
    utility = timed("utility", utility_section, inputs, synthetic, reference.trtr)
    privacy, distances = timed("privacy", privacy_section, inputs, synthetic, reference.neighbours,
                               reference.train_hashes, reference.privacy)
    privacy.attacks = timed("reidentification_attacks", attack_section, inputs, synthetic, inputs.seed)
    timings["total"] = round(sum(timings.values()), 3)
    fidelity = FidelitySection(
        columns=columns, holdout_columns=reference.columns,
        quality=quality, holdout_quality=reference.quality,
        quality_detected=quality_detected, holdout_quality_detected=reference.quality_detected,
        detected_sdtypes=sdtype_counts(inputs.detected_metadata),
        class_shares=shares,
        correlation_columns=reference.correlation_columns,
        correlations=correlations, holdout_correlations=reference.correlations,
        matrices={
            "real_pearson": matrix_payload(reference.real_matrices["pearson"]),
            "synthetic_pearson": matrix_payload(matrices["pearson"]),
            "real_spearman": matrix_payload(reference.real_matrices["spearman"]),
            "synthetic_spearman": matrix_payload(matrices["spearman"]),
        },
    )
    validity = ValiditySection(
        rules=validity_section(inputs, rules, reference.rules),
        placeholders=placeholders, holdout_placeholders=reference.placeholders,
        flags=flags, holdout_flags=reference.flags,
        domain_layer=domain_layer_facts(entry),
    )
    evaluation = ModelEvaluation(
        model=model, synthetic_rows=len(synthetic), facts=facts, training=training_facts(entry),
        fidelity=fidelity, validity=validity,
        signatures=SignaturesSection(reference.signatures_source, signatures, reference.signatures_holdout),
        utility=utility, privacy=privacy, timings_seconds=timings,
    )
    return ModelResult(evaluation, synthetic, matrices, flag_matrices.get("synthetic"), distances)


# ----------------------------------------------------------------------------- figures


def draw_figures(
    inputs: EvaluationInputs, reference: Reference, results: dict[str, ModelResult], comparison: dict[str, Any],
    folder: Path,
) -> list[dict[str, Any]]:
    """Every evaluation PNG; returns [{"section", "title", "path", "caption"}] in report order."""
    folder.mkdir(parents=True, exist_ok=True)
    figures: list[dict[str, Any]] = []

    def add(section: str, title: str, path: Path | None, caption: str) -> None:
        if path is not None:
            figures.append({"section": section, "title": title, "path": path, "caption": caption})

    frames = {m: r.frame for m, r in results.items()}
    add("verdict", "Headline scores", plots.plot_headline_scores(comparison, folder / "headline_scores.png"),
        "Scores between 0 and 1 for each model beside the holdout, which shows what unseen real rows reach.")
    ks_by_model = {m: r.evaluation.fidelity.columns.ks_by_column() for m, r in results.items()}
    for category, columns in plots.key_features(inputs, ks_by_model).items():
        add("fidelity", f"Distributions: {category.replace('_', ' ')}",
            plots.plot_distributions(inputs, category, columns, frames, folder / f"distributions_{category}.png"),
            f"The {len(columns)} feature(s) of category '{category}' whose shape the models reproduce worst "
            f"(largest KS statistic). Placeholder cells are left out of the histograms; their shares are in the titles.")
    if inputs.target:
        add("fidelity", "Class distribution",
            plots.plot_class_distribution(inputs.target, {"real": inputs.train, "holdout": inputs.holdout, **frames},
                                          folder / "class_distribution.png"),
            f"Share of each value of the class column '{inputs.target}'.")
    for method in ("pearson", "spearman"):
        candidates = {"holdout": reference.holdout_matrices[method], **{m: r.matrices[method] for m, r in results.items()}}
        add("fidelity", f"{method.capitalize()} correlation difference",
            plots.plot_correlation_differences(reference.correlation_columns, reference.real_matrices[method], candidates,
                                               method, folder / f"correlation_difference_{method}.png"),
            "Absolute difference between each table's correlation matrix and the train rows'. "
            "The holdout panel shows the sampling noise of real data.")
    add("validity", "Most violated rules",
        plots.plot_rule_violations({m: r.evaluation.validity.rules for m, r in results.items()},
                                   folder / "rule_violations.png"),
        "Share of rows breaking each detected relationship, for the rules the models break most.")
    add("validity", "Placeholders",
        plots.plot_placeholder_shares(inputs, {m: r.evaluation.validity.placeholders for m, r in results.items()},
                                      folder / "placeholder_shares.png"),
        "Left: share of rows holding the 'not applicable' placeholder. Right: impossible values between the real "
        "range and the placeholder.")
    flag_matrices = {"real": reference.flag_matrices.get("real")} if reference.flag_matrices else {}
    flag_matrices.update({m: r.flag_matrix for m, r in results.items() if r.flag_matrix is not None})
    add("validity", "Flag co-occurrence",
        plots.plot_flag_cooccurrence({k: v for k, v in flag_matrices.items() if v is not None}, folder / "flag_cooccurrence.png"),
        "Share of flows in which both flags were seen; the diagonal is the share of flows with each flag.")
    add("signatures", "Attack signatures kept",
        plots.plot_signatures({m: r.evaluation.signatures.synthetic for m, r in results.items()},
                              reference.signatures_holdout, folder / "signatures_kept.png"),
        "Per class, the share of its signature features whose synthetic class median lies inside the real class IQR.")
    add("utility", "TSTR vs TRTR",
        plots.plot_utility({m: r.evaluation.utility for m, r in results.items()}, folder / "tstr_vs_trtr.png"),
        "A random forest trained on each synthetic table (TSTR) or on the real train rows (TRTR), scored on the real holdout.")
    add("privacy", "Distance to closest record",
        plots.plot_dcr({m: r.distances for m, r in results.items() if r.distances is not None},
                       reference.privacy.distances, folder / "dcr_histograms.png"),
        "Distance from each synthetic row (and each holdout row) to its closest train row. Synthetic rows "
        "sitting much closer than holdout rows would point at memorised training rows.")
    return figures


# ----------------------------------------------------------------------------- entry point


def run_facts(context: DatasetContext, split: Split, inputs: EvaluationInputs) -> dict[str, Any]:
    """Data, split and sampling facts repeated in every JSON the evaluation writes."""
    return {
        "data": {"path": context.report.path, "sha256": context.report.sha256, "rows": context.report.rows},
        "split": {
            "train_rows": len(inputs.train), "holdout_rows": len(inputs.holdout),
            "fraction": getattr(split, "fraction", None), "seed": getattr(split, "seed", None),
            "stratified": getattr(split, "stratified", None), "target": inputs.target,
        },
        "rules_source": "setup (patterns/detected_rules.json)" if context.from_setup else "recomputed from the data",
        "seed": inputs.seed,
        "sampling_caps": SAMPLING_CAPS,
        "evaluation_rows": evaluation_rows(inputs),
    }


def evaluation_rows(inputs: EvaluationInputs) -> dict[str, Any]:
    """The rows evaluated of each table (train, holdout, each model's synthetic rows) and the
    caps above which they are seeded samples stratified by class."""
    notes = inputs.row_samples
    return {
        "caps": dict(EVALUATION_ROWS),
        "train": notes["train"].to_dict() if "train" in notes else None,
        "holdout": notes["holdout"].to_dict() if "holdout" in notes else None,
        "synthetic": {model: note.to_dict() for model, note in notes.get("synthetic", {}).items()},
        "method": "seeded sample stratified by class (each class keeps its share, at least one row) above the cap",
    }


def evaluate_models(
    context: DatasetContext, split: Split, models: list[str], seed: int, timings: dict[str, float] | None = None,
    synthetic_paths: dict[str, Path] | None = None, class_counts: dict[str, int] | None = None,
    balanced: bool = False, destination: OutputLayout | None = None, notices: list[str] | None = None,
) -> dict[str, Any]:
    """Evaluate each model's synthetic CSV against the saved train/holdout split.

    In:  `context` (common.data.pipeline.DatasetContext), `split` (common.data.split.Split or anything
         with .train(frame)/.holdout(frame)), `models` (names such as "ctgan", "tvae"),
         `seed` (every sample and classifier), `timings` (stage seconds are added to it),
         `synthetic_paths` ({model: CSV}, default the folder's <model>_synthetic_data.csv),
         `class_counts` / `balanced`: the class mix the rows were asked in (the real rows are
         then those of the asked classes, the class shares are compared with the asked ones,
         and every class is scored against its own real rows), `destination` (where the
         evaluation's files go; default the context's output folder), `notices` (sentences the
         report must open with, e.g. a generation's shortfall; the training manifest's
         shortfalls are added here).
    Out: the comparison dict also written to model_comparison.json. Writes
         <model>_evaluation.json per model found, the PNGs in visualizations/evaluation/ and
         report.html. A model whose synthetic CSV is missing is skipped and said so; none at
         all is a UserError.
    """
    layout: OutputLayout = context.layout
    destination = destination or layout
    timings = timings if timings is not None else {}
    paths = {m: Path((synthetic_paths or {}).get(m) or layout.synthetic_csv(m)) for m in models}
    available = [m for m in models if paths[m].exists()]
    missing = [m for m in models if m not in available]
    for model in missing:
        log.info("   %s: no synthetic data at %s: not evaluated", model, paths[model])
    if not available:
        raise UserError(f"no synthetic CSV to evaluate in {layout.root} (looked for "
                        f"{', '.join(layout.synthetic_csv(m).name for m in models)}); train the models first")
    start = time.perf_counter()
    inputs = build_inputs(context, split, seed)
    mix_note = None
    if class_counts is not None or balanced:
        inputs, mix_note = for_class_mix(inputs, class_counts)
    # Read every synthetic CSV first: a malformed one fails before minutes of work.
    synthetic = {model: load_synthetic(paths[model], inputs, model) for model in available}
    with stage("evaluation: real reference (holdout vs train)", timings):
        reference = assess_reference(context, inputs)
    facts = run_facts(context, split, inputs)
    entries = manifest_entries(layout, context.report.sha256)
    results: dict[str, ModelResult] = {}
    for model in available:
        with stage(f"evaluation: {model}", timings):
            results[model] = evaluate_model(model, synthetic.pop(model), inputs, reference, facts, entries.get(model))
            if mix_note is not None:
                results[model].evaluation.fidelity.per_class = per_class_fidelity(inputs, results[model].frame)
            results[model].evaluation.synthetic_csv = str(paths[model])
            write_json(destination.evaluation_json(model), results[model].evaluation.to_json())
    comparison = build_comparison({m: r.evaluation for m, r in results.items()}, facts)
    comparison["models_not_evaluated"] = missing
    comparison["notices"] = list(notices or []) + ([mix_note] if mix_note else []) + [
        "Re-identification risk over the goal: " + finding.sentence(model)
        for model, result in results.items() for finding in result.evaluation.privacy.risks_above_goal()]
    if synthetic_paths is None:    # the folder's own CSVs: what their training runs left out or could not make
        comparison["notices"][:0] = manifest_notices(layout, context.report.sha256, available, inputs.target)
    with stage("evaluation: figures and report", timings):
        figures = draw_figures(inputs, reference, results, comparison, destination.evaluation_plots_dir)
        comparison["figures"] = [{**f, "path": str(Path(f["path"]).relative_to(destination.root))} for f in figures]
        comparison["timings_seconds"] = {"reference": reference.seconds,
                                         **{m: r.evaluation.timings_seconds["total"] for m, r in results.items()},
                                         "total": round(time.perf_counter() - start, 3)}
        write_json(destination.model_comparison_json, comparison)
        from common.evaluation.report import write_report

        write_report(destination.report_html, comparison, {m: r.evaluation for m, r in results.items()}, figures)
    return comparison


def for_class_mix(inputs: EvaluationInputs, class_counts: dict[str, int] | None) -> tuple[EvaluationInputs, str]:
    """The inputs for rows asked in a class mix, and a sentence saying what is compared.

    `class_counts` {class: rows} (None: balanced, every class alike). The real train and holdout
    rows are narrowed to the asked classes, and the class shares are compared with the asked
    shares instead of the train's: rows that are exactly what was asked score as such.
    """
    target = inputs.target
    if target is None:
        return inputs, "no class column: the rows are compared with all real rows"
    if class_counts is None:
        labels = sorted(set(inputs.train[target].dropna().astype(str)))
        asked = {label: 1.0 / len(labels) for label in labels}
        what = "a balanced class mix"
    else:
        total = sum(count for count in class_counts.values() if count > 0)
        asked = {str(label): count / total for label, count in class_counts.items() if count > 0}
        what = "the class counts asked for (" + ", ".join(f"{k}={v:,}" for k, v in class_counts.items()) + ")"
    keep_train = inputs.train[target].astype(str).isin(asked)
    keep_holdout = inputs.holdout[target].astype(str).isin(asked)
    narrowed = replace(inputs, train=inputs.train[keep_train].reset_index(drop=True),
                       holdout=inputs.holdout[keep_holdout].reset_index(drop=True), expected_class_shares=asked)
    if narrowed.holdout.empty:
        narrowed = replace(narrowed, holdout=inputs.holdout)   # nothing held out of these classes: keep all
    note = (f"These rows were made in {what}: they are compared with the real rows of the "
            f"{len(asked)} class(es) asked for ({len(narrowed.train):,} train, {len(narrowed.holdout):,} holdout rows), "
            f"their class shares with the shares asked for, and each class with its own real rows (per-class quality).")
    return narrowed, note


def summary_text(comparison: dict[str, Any], report_html: Path) -> str:
    """The console summary of a comparison: the headline table, the recommendation, the report."""
    recommendation = comparison["recommendation"]
    notes = "".join(f"\nNote: {notice}" for notice in comparison.get("notices") or [])
    return (f"\n{format_table(comparison_table(comparison))}\n\nRecommended model: {recommendation['model']} — "
            f"{recommendation['reason']}{notes}\nReport: {report_html}\n")
