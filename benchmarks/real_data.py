#!/usr/bin/env python3
"""Plain SDV vs this project on real flow tables: fidelity, class balance, validity, utility, privacy.

Tables (from ../shared/data, skipped cleanly when absent; `sample` is the bundled data/tcp_flag_sample.csv):
  sample        the bundled simulated NTLFlowLyzer sample: 6,000 rows, 7 activities
  cpacket       the three cPacket NTLFlowLyzer files concatenated: 2,134 rows, 3 activities
  cpacket_1000  a 1,000-row stratified subset of it (small tables must not be undertrained)
  cic           the CIC-IDS2017 CICFlowMeter half: 3,155 rows, 78 columns, 7 classes, Infinity cells

Per table, model (CTGAN, TVAE) and seed, two variants trained on the same train split:
  plain    what a plain-SDV user runs: `Metadata.detect_from_dataframes` on the train rows, the SDV
           synthesizer with SDV's defaults except epochs and batch size, which are the project's
           resolved ones (so fit times compare at the same epochs and batch size), `sample(n)`
  project  this project's defaults end to end: training_configs.json defaults ("auto" epochs and
           batch size), the domain layer, class quotas and the validity guard (common.synth)

Figures, each beside the holdout-vs-train ceiling where one exists:
  quality     sdmetrics QualityReport overall against the train rows, under SDV's auto-detected
              metadata (what a plain-SDV user computes; the headline) and under the project's
  TSTR/TRTR   macro-F1 of a random forest trained on synthetic rows / on real train rows, tested on
              the real holdout (common.evaluation.utility)
  class err   largest |synthetic share - train share| over the classes, in points
  valid       share of rows satisfying every detected rule exactly (RuleSet.validity on the rows as
              written to CSV and read back)
  adds up     share of rows obeying the benchmark's own arithmetic of the extractor (`arithmetic`: plain
              formulas per format, not the project's rules): packet counts behind means, shares x counts
              whole, rates x durations = counts, min x n <= total <= max x n. A gap between "valid" and
              "adds up" is a relation the rule discovery missed.
  DCR         sdmetrics DCROverfittingProtection, the mean of 5 seeded draws of 500 rows (common.evaluation.
              privacy: one draw moves with the extreme rows it holds; reports before 2026-12-03 hold one
              draw, dcr_draws.py compares saved rows over many); exact copies of train rows beside the holdout's
              rate
  fit s       seconds to fit (the project's includes the domain layer's fit and encoding)

Usage:
    .venv/bin/python benchmarks/real_data.py                         # everything, 3 seeds (about an hour)
    .venv/bin/python benchmarks/real_data.py --tables cpacket --models tvae --seeds 1 --variants project
Results: benchmarks/real_data_results.md (rewritten after every run) and .json beside it.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
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
from common.synth.config import DEFAULT_TRAINING_CONFIG, TrainingConfig, validate_training_config  # noqa: E402
from common.synth.params import IterativeParams  # noqa: E402
from common.evaluation.fidelity import quality_reports  # noqa: E402
from common.evaluation.tables import detected_metadata  # noqa: E402
from common.evaluation.privacy import copy_share, overfitting_protection, row_hashes  # noqa: E402
from common.evaluation.tables import make_inputs, prepare_candidate  # noqa: E402
from common.evaluation.utility import class_share_error, trtr, utility_section  # noqa: E402
from common.core.io import read_table, write_csv  # noqa: E402
from common.data.pipeline import detect_rules  # noqa: E402
from common.data.schema import infer_schema, modelling_frame  # noqa: E402
from common.data.split import make_split  # noqa: E402
from common import synth  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "data"
CPACKET_FILES = ("cpacket_attack_tcp_flag_osyn.csv", "cpacket_benign_web_browsing_part2.csv",
                 "cpacket_attack_tcp_flag_ack_psh_part2.csv")
CIC_FILE = "cicids2017_sample_half.csv"
RESULTS_MD = REPO_ROOT / "benchmarks" / "real_data_results.md"
SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"
TABLES = ("sample", "cpacket", "cpacket_1000", "cic")
VARIANTS = ("plain", "project")
SPLIT_SEED = 42
SUBSET_ROWS = 1000


# ----------------------------------------------------------------------------- tables


def table_paths(names: list[str], scratch: Path) -> dict[str, Path]:
    """CSV files of the requested tables (written to `scratch` where they are made)."""
    paths: dict[str, Path] = {}
    cpacket = [SHARED / name for name in CPACKET_FILES]
    for name in names:
        if name.startswith("cpacket") and all(p.exists() for p in cpacket):
            frame = pd.concat([pd.read_csv(p) for p in cpacket], ignore_index=True)
            if name == "cpacket_1000":
                from sklearn.model_selection import train_test_split

                frame, _ = train_test_split(frame, train_size=SUBSET_ROWS, random_state=SPLIT_SEED,
                                            stratify=frame["activity"])
                frame = frame.sort_index()
            paths[name] = scratch / f"{name}.csv"
            frame.to_csv(paths[name], index=False)
        elif name == "sample":
            paths[name] = SAMPLE
        elif name == "cic" and (SHARED / CIC_FILE).exists():
            paths[name] = SHARED / CIC_FILE
        else:
            print(f"skipping {name}: its files are not in {SHARED}", flush=True)
    return paths


# ----------------------------------------------------------------------------- independent arithmetic
#
# Written here, apart from the project's rule objects, so that a relation the discovery misses shows as
# a gap between "rows valid" and "rows adding up". Plain formulas per extractor; a formula whose columns a
# table lacks is skipped. Tolerances: the decimals each file stores (means to 4 decimals in NTLFlowLyzer,
# shares and rates as float32, about 7 significant digits; CICFlowMeter means to about 10 digits, its rates to about 7).

NTL_PLACEHOLDER = 1e8       # an NTLFlowLyzer IAT at or above this is the capture epoch, not a duration


def _close(a: pd.Series, b: pd.Series, rel: float, absolute: float = 0.0) -> pd.Series:
    """|a - b| <= rel * max(|a|, |b|) + absolute (NaN on either side: False)."""
    return (a - b).abs() <= rel * np.maximum(a.abs(), b.abs()) + absolute


def _whole(x: pd.Series, count: pd.Series, rel: float = 1e-6) -> pd.Series:
    """x is a whole number, within `rel` of the count it is a share of."""
    return (x - x.round()).abs() <= rel * np.maximum(count.abs(), 1.0)


def ntl_checks(f: pd.DataFrame) -> dict[str, pd.Series]:
    """NTLFlowLyzer: the packet counts behind the header-byte means and what follows from them."""
    out: dict[str, pd.Series] = {}
    n_raw = f["total_header_bytes"] / f["mean_header_bytes"].where(f["mean_header_bytes"] > 0)
    n = n_raw.round()
    out["n = total/mean header bytes is whole, mean = total/n to 4 decimals"] = (
        (n >= 1) & ((f["total_header_bytes"] / n - f["mean_header_bytes"]).abs() <= 0.5e-4 + 1e-9))
    fwd_mean = f["fwd_mean_header_bytes"]
    n_fwd = (f["fwd_total_header_bytes"] / fwd_mean.where(fwd_mean > 0)).round().where(fwd_mean > 0, 0.0)
    out["n_fwd = fwd total/mean whole (0 with 0), n_fwd <= n"] = (
        ((fwd_mean > 0) & ((f["fwd_total_header_bytes"] / n_fwd - fwd_mean).abs() <= 0.5e-4 + 1e-9)
         | ((fwd_mean == 0) & (f["fwd_total_header_bytes"] == 0))) & (n_fwd <= n))
    n_bwd = n - n_fwd
    for counts, share in (("rst_flag_counts", "rst_flag_percentage_in_total"),
                          ("bwd_rst_flag_counts", "bwd_rst_flag_percentage_in_total")):
        out[f"{counts} = {share} * n"] = _close(f[counts], f[share] * n, 1e-6, 1e-6)
    out["syn_flag_percentage_in_total * n whole"] = _whole(f["syn_flag_percentage_in_total"] * n, n)
    out["fwd_syn % in total * n = fwd_syn % in fwd * n_fwd, whole"] = (
        _close(f["fwd_syn_flag_percentage_in_total"] * n, f["fwd_syn_flag_percentage_in_fwd_packets"] * n_fwd, 1e-6, 1e-6)
        & _whole(f["fwd_syn_flag_percentage_in_fwd_packets"] * n_fwd, n))
    out["fwd_psh % in fwd * n_fwd whole"] = _whole(f["fwd_psh_flag_percentage_in_fwd_packets"] * n_fwd, n)
    out["bwd_psh % in bwd * n_bwd whole"] = _whole(f["bwd_psh_flag_percentage_in_bwd_packets"] * n_bwd, n)
    duration = f["packet_IAT_total"]
    real = (duration > 0) & (duration < NTL_PLACEHOLDER)
    for rate, count in (("packets_rate", n), ("fwd_packets_rate", n_fwd), ("bwd_packets_rate", n_bwd)):
        out[f"{rate} * packet_IAT_total = its count (real durations)"] = ~real | _close(f[rate] * duration, count, 1e-5)
    out["min * n <= total <= max * n (header bytes, both directions)"] = (
        (f["min_header_bytes"] * n <= f["total_header_bytes"]) & (f["total_header_bytes"] <= f["max_header_bytes"] * n)
        & (f["fwd_min_header_bytes"] * n_fwd <= f["fwd_total_header_bytes"])
        & (f["fwd_total_header_bytes"] <= f["fwd_max_header_bytes"] * n_fwd))
    return out


def cic_checks(f: pd.DataFrame) -> dict[str, pd.Series]:
    """CICFlowMeter: lengths = mean x packets, min x n <= total <= max x n, rates per microsecond."""
    out: dict[str, pd.Series] = {}
    f = f.replace([np.inf, -np.inf], np.nan)
    duration = f["Flow Duration"]
    timed = duration > 0
    for way, packets, length in (("Fwd", "Total Fwd Packets", "Total Length of Fwd Packets"),
                                 ("Bwd", "Total Backward Packets", "Total Length of Bwd Packets")):
        n, total = f[packets], f[length]
        out[f"{way} Packet Length Mean * {packets} = {length}"] = _close(f[f"{way} Packet Length Mean"] * n, total, 1e-8, 1e-6)
        out[f"{way} min * n <= {length} <= max * n"] = (
            (f[f"{way} Packet Length Min"] * n <= total + 1e-9) & (total <= f[f"{way} Packet Length Max"] * n + 1e-9))
        rate = f[f"{way} Packets/s"]
        out[f"{way} Packets/s * Flow Duration = 1e6 * {packets}"] = ~timed | rate.isna() | _close(rate * duration, 1e6 * n, 1e-6)
    flow_rate = f["Flow Packets/s"]
    out["Flow Packets/s * Flow Duration = 1e6 * all packets"] = ~timed | flow_rate.isna() | _close(
        flow_rate * duration, 1e6 * (f["Total Fwd Packets"] + f["Total Backward Packets"]), 1e-6)
    # within 0.5%: the CIC-IDS2017 export writes some values of 1e7 and more to three significant digits
    # (43 bytes in 4 us: 10800000.0, not 10750000); at 1e-6 two of its 3,148 timed rows break it
    byte_rate = f["Flow Bytes/s"]
    out["Flow Bytes/s * Flow Duration = 1e6 * all bytes"] = ~timed | byte_rate.isna() | _close(
        byte_rate * duration, 1e6 * (f["Total Length of Fwd Packets"] + f["Total Length of Bwd Packets"]), 5e-3)
    return out


FORMAT_CHECKS = {"NTLFlowLyzer": (ntl_checks, ("total_header_bytes", "mean_header_bytes", "fwd_total_header_bytes",
                                               "packets_rate", "packet_IAT_total", "rst_flag_counts")),
                 "CICFlowMeter": (cic_checks, ("Flow Duration", "Total Fwd Packets", "Total Length of Fwd Packets",
                                               "Fwd Packet Length Mean", "Fwd Packets/s", "Flow Bytes/s"))}


def arithmetic(frame: pd.DataFrame) -> dict[str, Any] | None:
    """Share of rows obeying every formula of the table's extractor, and each formula's share;
    None for a format without formulas here."""
    for name, (checks, needed) in FORMAT_CHECKS.items():
        if all(c in frame.columns for c in needed):
            try:
                results = checks(frame)
            except KeyError as missing:
                raise KeyError(f"{name} formula needs column {missing}") from None
            every = pd.concat(results, axis=1).fillna(False).all(axis=1)
            return {"format": name, "share": float(every.mean()),
                    "per_formula": {k: float(v.fillna(False).mean()) for k, v in results.items()}}
    return None


def prepare(path: Path) -> dict[str, Any]:
    """Schema and rules on the whole table (as the setup finds them), the split and the inputs."""
    frame, report = read_table(path, min_rows=10)
    schema = infer_schema(frame, None, None)
    rules = detect_rules(frame, schema, seed=0)
    modelled = modelling_frame(frame, schema)
    split = make_split(frame, schema.target, DEFAULT_TRAINING_CONFIG["holdout_fraction"], SPLIT_SEED, report.sha256)
    train, holdout = split.train(modelled), split.holdout(modelled)
    inputs = make_inputs(train, holdout, schema, rules, SPLIT_SEED)
    detected = detected_metadata(train)
    return {"schema": schema, "rules": rules, "train": train, "holdout": holdout, "inputs": inputs,
            "detected_metadata": detected}


def reference_figures(data: dict[str, Any]) -> dict[str, Any]:
    """The holdout's own figures against train: the ceiling."""
    inputs = data["inputs"]
    real = trtr(inputs)
    holdout_hashes = row_hashes(inputs.holdout)
    train_hashes = set(row_hashes(inputs.train).tolist())
    return {
        "rows": len(inputs.train) + len(inputs.holdout), "train_rows": len(inputs.train),
        "columns": inputs.train.shape[1], "rules": len(data["rules"]),
        "classes": int(inputs.train[inputs.target].nunique()) if inputs.target else 0,
        "holdout_valid_share": data["rules"].validity(inputs.holdout).valid_share,
        "ceiling_quality_detected": quality_reports(inputs, inputs.holdout, data["detected_metadata"]).overall,
        "ceiling_quality_project": quality_reports(inputs, inputs.holdout).overall,
        "trtr": real, "trtr_macro_f1": real.macro_f1 if real else None,
        "holdout_copy_share": float(holdout_hashes.isin(train_hashes).mean()),
        "holdout_arithmetic": arithmetic(inputs.holdout),
    }


# ----------------------------------------------------------------------------- one run


def project_config(seed: int, epochs: int | None) -> TrainingConfig:
    """The training config a user gets by default (optionally with fixed epochs for quick runs)."""
    config = validate_training_config(copy.deepcopy(DEFAULT_TRAINING_CONFIG)).with_changes(seed=seed)
    if epochs is not None:
        for params in config.models:
            if isinstance(params, IterativeParams):
                config = config.with_params(dataclasses.replace(params, epochs=epochs))
    return config


def fit_project(data: dict[str, Any], model: str, seed: int, epochs: int | None) -> tuple[Any, dict[str, Any]]:
    """The project's model, fitted as train_synthetic_models_improved.py fits it."""
    config = project_config(seed, epochs)
    device = synth.choose_device("cpu")
    flow, choice = synth.build_flow(model, data["train"], config, device, data["schema"], data["rules"], seed)
    flow.verbose = False
    synth.seed_everything(seed)
    facts = flow.fit(data["train"])
    return flow, {"fit": facts, "choice": choice, "config": config}


def fit_plain(data: dict[str, Any], model: str, seed: int, epochs: int, batch_size: int) -> tuple[Any, float]:
    """Plain SDV: detected metadata, SDV defaults but epochs and batch size."""
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

    metadata = Metadata.load_from_dict(data["detected_metadata"])
    plain_class = {"ctgan": CTGANSynthesizer, "tvae": TVAESynthesizer}[model]
    synthesizer = plain_class(metadata, epochs=epochs, batch_size=batch_size, verbose=False)
    synth.seed_everything(seed)
    started = time.perf_counter()
    synthesizer.fit({"flows": data["train"]})
    return synthesizer, time.perf_counter() - started


def round_trip(frame: pd.DataFrame, scratch: Path) -> pd.DataFrame:
    """The rows as a user reads them back from the written CSV."""
    path = scratch / "synthetic.csv"
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


def score(data: dict[str, Any], reference: dict[str, Any], synthetic: pd.DataFrame, scratch: Path) -> dict[str, Any]:
    inputs = data["inputs"]
    written = round_trip(synthetic, scratch)
    candidate = prepare_candidate(written, inputs, "synthetic rows")
    utility = utility_section(inputs, candidate, reference["trtr"])
    protection = overfitting_protection(inputs, candidate)
    train_hashes = set(row_hashes(inputs.train).tolist())
    return {
        "quality_detected": quality_reports(inputs, candidate, data["detected_metadata"]).overall,
        "quality_project": quality_reports(inputs, candidate).overall,
        "tstr_macro_f1": utility.tstr.macro_f1 if utility.tstr else None,
        "tstr_per_class_f1": utility.tstr.per_class_f1 if utility.tstr else None,
        "class_share_error": class_share_error(inputs.train, candidate, inputs.target),
        "valid_share": data["rules"].validity(written).valid_share,
        "violated_rules": {k: v for k, v in data["rules"].validity(written).violation_rate.items() if v > 0},
        "arithmetic": arithmetic(written),
        "dcr_overfitting_protection": protection.score,
        "exact_copy_share": copy_share(candidate, train_hashes),
    }


def run_pair(data: dict[str, Any], reference: dict[str, Any], model: str, seed: int, variants: list[str],
             epochs: int | None, scratch: Path, save_rows: Path | None = None) -> list[dict[str, Any]]:
    """The project's run (which fixes epochs and batch size) and the plain SDV run beside it;
    each run's synthetic rows written to the folder `save_rows` (MODEL_VARIANT_sSEED.csv) when given."""
    runs = []
    rows = len(data["train"])
    flow, info = fit_project(data, model, seed, epochs)
    facts = info["fit"]
    if "project" in variants:
        started = time.perf_counter()
        synthetic = pd.concat(list(flow.sample(rows, rows, seed)), ignore_index=True)
        sample_seconds = time.perf_counter() - started
        keep_rows(synthetic, save_rows, model, "project", seed)
        run = {"variant": "project", "model": model, "seed": seed, "epochs": facts.epochs,
               "batch_size": facts.batch_size, "fit_seconds": facts.fit_seconds,
               "sample_seconds": round(sample_seconds, 2), "choice": info["choice"],
               "guard": flow.validity.to_dict() if flow.validity is not None else None,
               **score(data, reference, synthetic, scratch)}
        runs.append(run)
    if "plain" in variants:
        synthesizer, fit_seconds = fit_plain(data, model, seed, facts.epochs, facts.batch_size)
        synthesizer.reset_sampling()
        synthesizer._set_random_state(seed)   # SDV otherwise samples from its own fixed seed
        synthetic = synthesizer.sample(rows)
        if isinstance(synthetic, dict):   # SDV 2.x returns {table name: frame}
            synthetic = next(iter(synthetic.values()))
        keep_rows(synthetic, save_rows, model, "plain", seed)
        run = {"variant": "plain", "model": model, "seed": seed, "epochs": facts.epochs,
               "batch_size": facts.batch_size, "fit_seconds": round(fit_seconds, 3),
               **score(data, reference, synthetic, scratch)}
        runs.append(run)
    return runs


def keep_rows(synthetic: pd.DataFrame, folder: Path | None, model: str, variant: str, seed: int) -> None:
    """The run's synthetic rows as CSV, for later checks on the same rows (dcr_draws.py)."""
    if folder is not None:
        write_csv(folder / f"{model}_{variant}_s{seed}.csv", synthetic)


# ----------------------------------------------------------------------------- report

FIGURES = ("quality_detected", "quality_project", "tstr_macro_f1", "class_share_error", "valid_share",
           "dcr_overfitting_protection", "exact_copy_share", "fit_seconds")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def mean_sd(values: list[float | None], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return fmt(float(values[0]), digits)
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def summarise(table: dict[str, Any]) -> list[str]:
    ref = table["reference"]
    lines = [
        f"## {table['name']}: {table['path']}", "",
        f"{ref['rows']:,} rows ({ref['train_rows']:,} train), {ref['columns']} modelled columns, {ref['classes']} classes, "
        f"{ref['rules']} detected rules. Holdout (the ceiling): quality {fmt(ref['ceiling_quality_detected'])} under "
        f"SDV-detected metadata, {fmt(ref['ceiling_quality_project'])} under the project's; TRTR macro-F1 "
        f"{fmt(ref['trtr_macro_f1'])}; {ref['holdout_copy_share']:.1%} of holdout rows equal a train row; "
        f"holdout rows valid {ref['holdout_valid_share']:.4f}"
        + (f", adding up ({ref['holdout_arithmetic']['format']} arithmetic) {ref['holdout_arithmetic']['share']:.4f}."
           if ref.get("holdout_arithmetic") else "."), "",
        "| model | variant | seeds | epochs × batch | quality (SDV-detected) / ceiling | quality (project) / ceiling | "
        "TSTR / TRTR | class share err (pts) | rows valid (exact) | rows adding up (benchmark's arithmetic) | "
        "DCROverfittingProtection | exact copies | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    models = list(dict.fromkeys(["tvae", "ctgan"] + [r["model"] for r in table["runs"]]))
    for model in models:
        for variant in VARIANTS:
            runs = [r for r in table["runs"] if r["model"] == model and r["variant"] == variant]
            if not runs:
                continue
            trtr_f1 = ref["trtr_macro_f1"]
            epochs = sorted({f"{r['epochs']} × {r['batch_size']}" for r in runs})
            lines.append(
                f"| {model} | {variant} | {len(runs)} | {', '.join(epochs)} | "
                f"{mean_sd([r['quality_detected'] / ref['ceiling_quality_detected'] for r in runs])} | "
                f"{mean_sd([r['quality_project'] / ref['ceiling_quality_project'] for r in runs])} | "
                f"{mean_sd([r['tstr_macro_f1'] / trtr_f1 if trtr_f1 and r['tstr_macro_f1'] is not None else None for r in runs])} | "
                f"{mean_sd([None if r['class_share_error'] is None else 100 * r['class_share_error'] for r in runs], 1)} | "
                f"{mean_sd([r['valid_share'] for r in runs], 4)} | "
                f"{mean_sd([r['arithmetic']['share'] if r.get('arithmetic') else None for r in runs], 4)} | "
                f"{mean_sd([r['dcr_overfitting_protection'] for r in runs])} | "
                f"{mean_sd([r['exact_copy_share'] for r in runs])} | "
                f"{mean_sd([r['fit_seconds'] for r in runs], 1)} |")
    project = {r["model"]: r for r in table["runs"] if r["variant"] == "project"}
    plain = {(r["model"], r["seed"]): r for r in table["runs"] if r["variant"] == "plain"}
    ratios = []
    for r in table["runs"]:
        match = plain.get((r["model"], r["seed"]))
        if r["variant"] == "project" and match:
            ratios.append(f"{r['model']} seed {r['seed']} {r['fit_seconds'] / match['fit_seconds']:.2f}")
    if ratios:
        lines += ["", "Fit time, project / plain SDV at the same epochs and batch size: " + "; ".join(ratios) + "."]
    if project:
        lines += ["", "Resolved hyper-parameters: " + "; ".join(sorted({r["choice"] for r in table["runs"]
                                                                          if r["variant"] == "project"})) + "."]
    for failure in table.get("failures", []):
        lines.append(f"\nFAILED: {failure}")
    return lines + [""]


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Real data: plain SDV vs this project", "real_data.py", results["started"], results["machine"],
        "One stratified "
        f"train/holdout split per table (seed {SPLIT_SEED}, 20% held out); seeds vary the model. Figures are "
        "mean ± sd over seeds. Quality = sdmetrics QualityReport overall of the synthetic rows against the train "
        "rows, divided by the holdout's own score (the ceiling), under SDV's auto-detected metadata (what a "
        "plain-SDV user computes) and under the project's metadata. TSTR / TRTR = macro-F1 of a random forest "
        "trained on synthetic rows over the one trained on the real train rows, both tested on the real holdout. "
        "Rows valid = share satisfying every detected rule exactly, on the CSV as written. Plain SDV runs at the "
        "project's resolved epochs and batch size.")
    for table in results["tables"].values():
        if table.get("reference"):
            lines += summarise(table)
    write_report_files(target, lines, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES), help=f"comma list of {', '.join(TABLES)}")
    parser.add_argument("--models", default="tvae,ctgan",
                        help="comma list of the registry's models (common.synth.registry), e.g. tvae,ctgan,gaussian_copula")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", type=int, default=3, help="how many model seeds (1, 2, 3, ...)")
    parser.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of the defaults (quick runs)")
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    parser.add_argument("--save-rows", type=Path, default=None,
                        help="folder to write every run's synthetic rows to (TABLE/MODEL_VARIANT_sSEED.csv)")
    args = parser.parse_args()

    synth.quiet_library_logs()
    threads = synth.configure_torch_threads()
    warnings.filterwarnings("ignore")
    variants = [v for v in args.variants.split(",") if v]
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {synth.available_cpus()} CPUs, torch threads {threads}, CPU",
        "epochs_override": args.epochs, "tables": {},
    }
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for name, path in table_paths(args.tables.split(","), scratch).items():
            data = prepare(path)
            shown = str(path.relative_to(REPO_ROOT.parent)) if REPO_ROOT.parent in path.parents else \
                f"made from ../shared/data ({name})"
            table = results["tables"][name] = {"name": name, "path": shown, "runs": [],
                                               "reference": reference_figures(data)}
            write_report(results, args.output)
            for seed in range(1, args.seeds + 1):
                for model in args.models.split(","):
                    started = time.perf_counter()
                    try:
                        runs = run_pair(data, table["reference"], model, seed, variants, args.epochs, scratch,
                                        args.save_rows / name if args.save_rows else None)
                    except Exception as error:  # noqa: BLE001 - one failed run must not lose the table
                        print(f"{name} {model} seed {seed}: FAILED {type(error).__name__}: {error}", flush=True)
                        table.setdefault("failures", []).append(f"{model} seed {seed}: {type(error).__name__}: {error}")
                        continue
                    table["runs"] += runs
                    write_report(results, args.output)
                    for run in runs:
                        print(f"{name} {model} {run['variant']} seed {seed}: fit {run['fit_seconds']:.0f}s "
                              f"q(det) {run['quality_detected']:.3f} q(proj) {run['quality_project']:.3f} "
                              f"TSTR {fmt(run['tstr_macro_f1'])} class err {fmt(run['class_share_error'])} "
                              f"valid {run['valid_share']:.4f} adds up "
                              f"{fmt(run['arithmetic']['share'] if run['arithmetic'] else None, 4)} DCR {run['dcr_overfitting_protection']:.3f} "
                              f"copies {run['exact_copy_share']:.3f}", flush=True)
                    print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
