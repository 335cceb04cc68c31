#!/usr/bin/env python3
"""TCP validity and fidelity: plain SDV vs SDV 2.x constraints vs the domain layer.

For each table (the bundled sample, the real OSYN file, a CICFlowMeter-style table from
tests/flow_tables.py) and each model (CTGAN, TVAE), with the same seed, epochs and batch size:

  plain   SDV learns the modelled columns directly (config domain_layer: false)
  cag     plain SDV plus the SDV 2.x constraints built from the same rules (sdv.cag:
          Range for family middles, Inequality for pairs, FixedIncrements for grids,
          FixedCombinations for determinations), each kept only if the real rows satisfy it
  layer   common.domain.DomainTransformer.with_settings (the model spec's settings) (log scale for the setup's heavy-tailed
          columns), then the after-sampling guard (common.synth.sampling.generate)
  nolog   the layer without any log scale (does the log scale help?)
  auto    the layer with "auto" epochs and batch_size (common.synth.autotune, 240 s budget)

Figures (common.evaluation functions, as the training script's evaluation computes them):
validity of the first draw (RuleSet.validity), rows the guard resampled / repaired, stranded
placeholder share (common.evaluation.validity.placeholder_section), sdmetrics QualityReport
overall / column shapes / pair trends (common.evaluation.fidelity.quality_reports) beside the
holdout-vs-train ceiling, TSTR macro-F1 beside TRTR (common.evaluation.utility, random forest)
where there are classes, and fit seconds.

Usage:
    .venv/bin/python benchmarks/validity.py                       # 300 epochs (tens of minutes)
    .venv/bin/python benchmarks/validity.py --epochs 20 --datasets real --models tvae
Results: benchmarks/validity_results.md (rewritten after every fit) and .json beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reporting import report_head, write_report_files  # noqa: E402
from common.synth.autotune import resolve_hyperparameters  # noqa: E402
from common.synth.config import DEFAULT_TRAINING_CONFIG  # noqa: E402
from common.synth.registry import model_spec  # noqa: E402
from common.evaluation.fidelity import quality_reports  # noqa: E402
from common.evaluation.tables import (  # noqa: E402
    EvaluationInputs, column_lists, normalise_dtypes, prepare_candidate, reports_metadata,
)
from common.evaluation.utility import trtr, utility_section  # noqa: E402
from common.evaluation.validity import placeholder_section  # noqa: E402
from common.core.io import read_table  # noqa: E402
from common.data.pipeline import detect_rules  # noqa: E402
from common.profiling.profiles import column_profile, heavy_tailed_columns  # noqa: E402
from common.rules import DeterminationRule, FamilyRule, GridRule, PairRule, RuleSet  # noqa: E402
from common.data.schema import infer_schema, modelling_frame, sdv_metadata_dict  # noqa: E402
from common.data.split import make_split  # noqa: E402
from common.synth import DeviceChoice, FlowSynthesizer, quiet_library_logs, seed_everything  # noqa: E402
from common.domain import DomainTransformer  # noqa: E402

RESULTS_MD = REPO_ROOT / "benchmarks" / "validity_results.md"
SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"
REAL = REPO_ROOT.parent / "shared" / "data" / "cpacket_attack_tcp_flag_osyn.csv"
VARIANTS = ("plain", "cag", "layer", "nolog", "auto")


# ----------------------------------------------------------------------------- data


def dataset_paths(names: list[str], scratch: Path) -> dict[str, Path]:
    from tests.flow_tables import make_cicflowmeter_csv

    paths = {}
    for name in names:
        if name == "sample" and SAMPLE.exists():
            paths[name] = SAMPLE
        elif name == "real" and REAL.exists():
            paths[name] = REAL
        elif name == "cic":
            paths[name] = make_cicflowmeter_csv(scratch / "cicflowmeter.csv", rows=1000, seed=1)
        else:
            print(f"skipping {name}: file not present")
    return paths


def prepare(path: Path, seed: int) -> dict[str, Any]:
    """Schema, rules (on the whole table, as the setup), heavy-tailed columns, split, inputs."""
    frame, report = read_table(path, min_rows=10)
    schema = infer_schema(frame, None, None)
    rules = detect_rules(frame, schema, seed=0)
    modelled = modelling_frame(frame, schema)
    profiles = {c: column_profile(frame, c, schema, rules) for c in schema.numeric_columns}
    heavy = heavy_tailed_columns(profiles, frame, rules)
    split = make_split(frame, schema.target, DEFAULT_TRAINING_CONFIG["holdout_fraction"], seed, report.sha256)
    train, holdout = split.train(modelled), split.holdout(modelled)
    numeric, discrete = column_lists(train, schema)
    inputs = EvaluationInputs(
        train=normalise_dtypes(train, numeric, discrete), holdout=normalise_dtypes(holdout, numeric, discrete),
        schema=schema, rules=rules, metadata=reports_metadata(None, schema, list(train.columns)), seed=seed,
        numeric_columns=numeric, discrete_columns=discrete,
    )
    return {"schema": schema, "rules": rules, "heavy": heavy, "train": train, "inputs": inputs}


# ----------------------------------------------------------------------------- SDV constraints


def cag_constraints(rules: RuleSet, train: pd.DataFrame) -> tuple[list[Any], list[str]]:
    """SDV 2.x constraints equivalent to the rules SDV can express, each kept only when every
    training row satisfies it exactly (SDV refuses to fit otherwise). Returns (constraints, notes)."""
    from sdv.cag import FixedCombinations, FixedIncrements, Inequality, Range

    kept, notes = [], []
    constrained: set[str] = set()

    def numbers(column):
        return pd.to_numeric(train[column], errors="coerce").to_numpy(dtype=float)

    def holds(low, high):
        a, b = numbers(low), numbers(high)
        return bool(np.all(np.isfinite(a) & np.isfinite(b)) and np.all(a <= b))

    for rule in rules:
        if isinstance(rule, FamilyRule):
            for middle in rule.middles:
                # one column per constraint: SDV 2.0 refuses constraints that share a column
                if {rule.low, middle, rule.high} & constrained:
                    continue
                if holds(rule.low, middle) and holds(middle, rule.high):
                    kept.append(Range(rule.low, middle, rule.high, strict_boundaries=False))
                    constrained |= {rule.low, middle, rule.high}
        elif isinstance(rule, PairRule) and rule.op == "<=":
            if not set(rule.columns) & constrained and holds(*rule.columns):
                kept.append(Inequality(rule.columns[0], rule.columns[1], strict_boundaries=False))
                constrained |= set(rule.columns)
        elif isinstance(rule, GridRule) and rule.column not in constrained:
            values = numbers(rule.column)
            if (rule.offset % rule.step == 0) and np.all(np.isfinite(values)):
                kept.append(FixedIncrements(rule.column, int(rule.step) if float(rule.step).is_integer() else rule.step))
                constrained.add(rule.column)
        elif isinstance(rule, DeterminationRule) and not set(rule.columns) & constrained:
            kept.append(FixedCombinations(list(rule.columns)))
            constrained |= set(rule.columns)
    notes.append(f"{len(kept)} SDV constraints ({', '.join(sorted({type(c).__name__ for c in kept}))}); "
                 f"SDV 2.0 takes no two constraints on one column, so overlapping rules are left out")
    return kept, notes


class ConstrainedSynthesizer(FlowSynthesizer):
    """FlowSynthesizer whose SDV synthesizer carries sdv.cag constraints."""

    def __init__(self, *args: Any, constraints: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.constraints = constraints

    def _new_sdv_synthesizer(self, metadata_dict):
        synthesizer = super()._new_sdv_synthesizer(metadata_dict)
        if self.constraints:
            synthesizer.add_constraints(self.constraints)
        return synthesizer


# ----------------------------------------------------------------------------- one run


def hyper_for(model: str, variant: str, epochs: int, rows: int, columns: int) -> tuple[dict[str, Any], str]:
    from dataclasses import replace

    from common.synth.config import TrainingConfig

    params = TrainingConfig().params(model)
    if variant == "auto":
        params, note = resolve_hyperparameters(replace(params, epochs="auto", batch_size="auto"), rows,
                                               TrainingConfig().auto_budget_seconds, "cpu", columns)
    else:
        params, note = replace(params, epochs=epochs), f"epochs {epochs}, batch_size {params.batch_size} (seed)"
    return params.sdv_kwargs(), note


def run_variant(data: dict[str, Any], model: str, variant: str, epochs: int, seed: int,
                reference: dict[str, Any]) -> dict[str, Any]:
    schema, rules, train, inputs = data["schema"], data["rules"], data["train"], data["inputs"]
    hyper, hyper_note = hyper_for(model, variant, epochs, len(train), train.shape[1])
    device = DeviceChoice("cpu", "cpu", "benchmark")
    metadata = sdv_metadata_dict(schema)
    transformer, notes = None, [hyper_note]
    if variant in ("layer", "auto"):
        transformer = DomainTransformer.with_settings(model_spec(model).domain_settings, rules, schema,
                                                      heavy_tailed=data["heavy"], seed=seed)
    elif variant == "nolog":
        transformer = DomainTransformer.with_settings(model_spec(model).domain_settings, rules, schema,
                                                      heavy_tailed=[], seed=seed)
    if variant == "cag":
        constraints, cag_notes = cag_constraints(rules, train)
        notes += cag_notes
        flow = ConstrainedSynthesizer(model, hyper, device, metadata, None, verbose=False, constraints=constraints)
    else:
        flow = FlowSynthesizer(model, hyper, device, metadata, transformer, verbose=False)
    seed_everything(seed)
    if transformer is not None:
        flow.rules = rules      # the after-sampling guard (common.synth.sampling.generate)
    facts = flow.fit(train)
    rows = len(train)
    started = time.perf_counter()
    synthetic = pd.concat(list(flow.sample(rows, rows, seed)), ignore_index=True)
    guard = flow.validity.to_dict() if transformer is not None else None
    first_validity = guard["valid_share_before_resampling"] if guard else rules.validity(synthetic).valid_share
    sample_seconds = time.perf_counter() - started
    candidate = prepare_candidate(synthetic, inputs, f"{model} {variant}")
    quality = quality_reports(inputs, candidate)
    placeholders = placeholder_section(inputs, candidate)
    tstr = utility_section(inputs, candidate, reference["trtr"]).tstr
    return {
        "model": model, "variant": variant, "notes": notes,
        "epochs": int(hyper["epochs"]), "batch_size": int(hyper["batch_size"]),
        "steps_per_epoch": facts.steps_per_epoch, "fit_seconds": facts.fit_seconds,
        "seconds_per_epoch": facts.seconds_per_epoch, "preprocess_seconds": facts.preprocess_seconds,
        "encoded_columns": len(transformer.sdv_metadata_dict()["tables"]["flows"]["columns"]) if transformer else train.shape[1],
        "sample_seconds": round(sample_seconds, 2),
        "valid_share_first_draw": first_validity,
        "valid_share_delivered": rules.validity(synthetic).valid_share,
        "guard": guard,
        "stranded_share_mean": placeholders.summary.mean_stranded_share if placeholders.summary else None,
        "stranded_share_max": placeholders.summary.max_stranded_share if placeholders.summary else None,
        "quality_overall": quality.overall, "column_shapes": quality.column_shapes,
        "column_pair_trends": quality.column_pair_trends,
        "tstr_macro_f1": tstr.macro_f1 if tstr else None, "tstr_per_class_f1": tstr.per_class_f1 if tstr else None,
        "layer": transformer.describe() if transformer is not None else None,
    }


def run_reference(data: dict[str, Any]) -> dict[str, Any]:
    inputs = data["inputs"]
    quality = quality_reports(inputs, inputs.holdout)
    real_utility = trtr(inputs)
    return {
        "rows": len(inputs.train) + len(inputs.holdout), "train_rows": len(inputs.train),
        "rules": len(data["rules"]), "heavy_tailed": len(data["heavy"]),
        "holdout_valid_share": data["rules"].validity(inputs.holdout).valid_share,
        "ceiling_overall": quality.overall, "ceiling_shapes": quality.column_shapes,
        "ceiling_trends": quality.column_pair_trends,
        "trtr": real_utility, "trtr_macro_f1": real_utility.macro_f1 if real_utility else None,
    }


# ----------------------------------------------------------------------------- report


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Validity benchmark: plain SDV vs SDV constraints vs the domain layer", "validity.py",
        results["started"], results["machine"],
        f"Same seed ({results['seed']}), epochs and batch size for every variant of a table, except `auto`. "
        "`valid 1st` = share of the first draw satisfying every detected rule (before any resampling); "
        "`resampled/repaired` = rows the after-sampling guard replaced / projected; `stranded` = share of "
        "placeholder-column cells stuck between the real values and the placeholder band (mean over those "
        "columns / worst column); QR = sdmetrics QualityReport against the train rows (ceiling = holdout vs "
        "train); TSTR = macro-F1 of a random forest trained on synthetic rows, tested on the real holdout.")
    for name, table in results["tables"].items():
        ref = table.get("reference")
        if not ref:
            continue
        lines += [f"## {name}: {table['path']}", "",
                  f"{ref['rows']} rows ({ref['train_rows']} train), {ref['rules']} detected rules, "
                  f"{ref['heavy_tailed']} heavy-tailed columns; holdout valid share {ref['holdout_valid_share']:.4f}; "
                  f"ceiling QR {fmt(ref['ceiling_overall'])} (shapes {fmt(ref['ceiling_shapes'])}, trends "
                  f"{fmt(ref['ceiling_trends'])}); TRTR macro-F1 {fmt(ref['trtr_macro_f1'])}.", "",
                  "| model | variant | epochs × batch (steps/epoch) | fit s | valid 1st | valid delivered | "
                  "resampled / repaired | stranded mean / max | QR overall | shapes | trends | QR / ceiling | TSTR F1 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        order = {v: k for k, v in enumerate(VARIANTS)}
        table["runs"].sort(key=lambda run: (run["model"] != "tvae", order.get(run["variant"], 99)))
        for run in table["runs"]:
            guard = run.get("guard")
            gtext = f"{guard.get('rows_invalid_drawn', guard.get('rows_resampled'))} / {guard['rows_repaired']}" if guard else "–"
            ratio = run["quality_overall"] / ref["ceiling_overall"] if ref["ceiling_overall"] else None
            lines.append(
                f"| {run['model']} | {run['variant']} | {run['epochs']} × {run['batch_size']} ({run['steps_per_epoch']}) | "
                f"{run['fit_seconds']:.1f} | {run['valid_share_first_draw']:.4f} | {run['valid_share_delivered']:.4f} | "
                f"{gtext} | {fmt(run['stranded_share_mean'], 4)} / {fmt(run['stranded_share_max'], 4)} | "
                f"{fmt(run['quality_overall'])} | {fmt(run['column_shapes'])} | {fmt(run['column_pair_trends'])} | "
                f"{fmt(ratio)} | {fmt(run['tstr_macro_f1'])} |")
        for run in table["runs"]:
            for note in run["notes"][1:]:
                lines.append(f"\n{run['model']} {run['variant']}: {note}")
        lines.append("")
    write_report_files(target, lines, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--datasets", default="real,cic,sample", help="comma list of sample, real, cic")
    parser.add_argument("--models", default="ctgan,tvae")
    parser.add_argument("--variants", default="plain,layer,cag,nolog,auto",
                        help=f"comma list of {', '.join(VARIANTS)}; a dataset:variant entry limits a variant "
                             f"to one table (e.g. real:nolog)")
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--merge", action="store_true",
                        help="keep the runs of the existing results (.json beside --output) and replace only "
                             "the (table, model, variant) runs made now")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    quiet_library_logs()
    warnings.filterwarnings("ignore")
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seed": args.seed,
                               "epochs": args.epochs,
                               "machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}, CPU",
                               "tables": {}}
    previous: dict[str, Any] = {}
    if args.merge and args.output.with_suffix(".json").exists():
        previous = json.loads(args.output.with_suffix(".json").read_text(encoding="utf-8"))
        results["started"] = f"{previous.get('started')}, rerun in part {results['started']}"
        results["tables"] = previous.get("tables", {})
    variant_specs = [v.strip() for v in args.variants.split(",") if v.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        for name, path in dataset_paths(args.datasets.split(","), Path(scratch)).items():
            data = prepare(path, args.seed)
            kept = results["tables"].get(name, {}).get("runs", [])
            table = results["tables"][name] = {"path": str(path.relative_to(REPO_ROOT.parent)) if REPO_ROOT.parent in path.parents else path.name,
                                               "runs": []}
            table["reference"] = run_reference(data)
            variants = [v.split(":")[1] if ":" in v else v for v in variant_specs
                        if ":" not in v or v.split(":")[0] == name]
            rerun = {(m, v) for m in args.models.split(",") for v in variants}
            table["runs"] = [run for run in kept if (run["model"], run["variant"]) not in rerun]
            write_report(results, args.output)
            for model in args.models.split(","):
                for variant in variants:
                    started = time.perf_counter()
                    try:
                        run = run_variant(data, model, variant, args.epochs, args.seed, table["reference"])
                    except Exception as error:  # noqa: BLE001 - one failed variant must not lose the table
                        print(f"{name} {model} {variant}: FAILED {type(error).__name__}: {error}", flush=True)
                        table.setdefault("failures", []).append(f"{model} {variant}: {type(error).__name__}: {error}")
                        continue
                    table["runs"].append(run)
                    write_report(results, args.output)
                    print(f"{name} {model} {variant}: fit {run['fit_seconds']:.1f}s valid {run['valid_share_first_draw']:.3f} "
                          f"QR {run['quality_overall']:.3f} TSTR {fmt(run['tstr_macro_f1'])} "
                          f"({time.perf_counter() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
