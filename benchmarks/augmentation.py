#!/usr/bin/env python3
"""Rare-attack augmentation: does adding this project's synthetic rows help a detector more than SMOTE?

Tables: the CIC-IDS2017 half in ../shared/data (rare classes: Infiltration 18 rows, BENIGN 114;
skipped cleanly when absent) and the bundled sample (data/tcp_flag_sample.csv). One stratified
train/holdout split per table (seed 42, 20% held out). Per model (TVAE, CTGAN) and seed, the
project's model is trained on the real train rows with the project's defaults, then a random
forest (common.evaluation.utility.make_classifier, seeded) is trained four ways and scored on
the real holdout:

  real          the real train rows only
  real+SMOTE    real rows + imbalanced-learn SMOTE up to balance (numeric features, median-imputed)
  real+synth    real rows + the project's synthetic rows of each minority class up to balance
                (generated with class counts from the saved model: FlowSynthesizer.sample)
  synth         synthetic rows only, every class as many rows as the largest real class

Figures: macro-F1 and the per-class F1 of the rare classes (the two smallest), mean over seeds.

Usage:
    .venv/bin/python benchmarks/augmentation.py                 # both tables, both models, 3 seeds
    .venv/bin/python benchmarks/augmentation.py --tables sample --models tvae --seeds 1
Results: benchmarks/augmentation_results.md and .json beside it.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from reporting import report_head, write_report_files  # noqa: E402
from common import synth  # noqa: E402
from common.evaluation.tables import prepare_candidate  # noqa: E402
from common.evaluation.utility import feature_columns, make_classifier  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "data"
TABLES = {"cic": SHARED / "cicids2017_sample_half.csv", "sample": REPO_ROOT / "data" / "tcp_flag_sample.csv"}
RESULTS_MD = REPO_ROOT / "benchmarks" / "augmentation_results.md"
WAYS = ("real", "real+SMOTE", "real+synth", "synth")
RARE_CLASSES = 2


def prepare(path: Path) -> dict[str, Any]:
    from real_data import prepare as prepare_table

    data = prepare_table(path)
    inputs = data["inputs"]
    counts = inputs.train[inputs.target].astype(str).value_counts()
    data["counts"] = counts
    data["rare"] = list(counts.index[::-1][:RARE_CLASSES])
    return data


def score(train: pd.DataFrame, data: dict[str, Any], seed: int) -> dict[str, Any]:
    """Macro-F1 and per-class F1 on the real holdout of a forest trained on `train`."""
    inputs = data["inputs"]
    numeric, discrete = feature_columns(inputs)
    model = make_classifier(numeric, discrete, seed)
    model.fit(train[numeric + discrete], train[inputs.target].astype(str))
    truth = inputs.holdout[inputs.target].astype(str).to_numpy()
    predicted = model.predict(inputs.holdout[numeric + discrete])
    classes = sorted(np.unique(truth))
    per_class = f1_score(truth, predicted, labels=classes, average=None, zero_division=0)
    return {"macro_f1": float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)),
            "per_class_f1": {c: float(f) for c, f in zip(classes, per_class)}}


def smote_rows(data: dict[str, Any], seed: int) -> pd.DataFrame:
    """The real train rows plus SMOTE rows of every minority class up to the largest class."""
    from imblearn.over_sampling import SMOTE
    from sklearn.impute import SimpleImputer

    inputs = data["inputs"]
    numeric, _ = feature_columns(inputs)
    features = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(inputs.train[numeric])
    labels = inputs.train[inputs.target].astype(str).to_numpy()
    neighbours = max(1, min(5, int(data["counts"].min()) - 1))
    resampled, resampled_labels = SMOTE(k_neighbors=neighbours, random_state=seed).fit_resample(features, labels)
    frame = pd.DataFrame(resampled, columns=numeric)
    frame[inputs.target] = resampled_labels
    for column in inputs.train.columns:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame[list(inputs.train.columns)]


def synthetic_rows(flow: Any, data: dict[str, Any], counts: dict[str, int], seed: int) -> pd.DataFrame:
    counts = {label: n for label, n in counts.items() if n > 0}
    rows = sum(counts.values())
    frame = pd.concat(list(flow.sample(rows, max(rows, 1), seed, class_counts=counts)), ignore_index=True)
    return prepare_candidate(frame, data["inputs"], "synthetic rows")


def run(data: dict[str, Any], model: str, seed: int) -> dict[str, Any]:
    from real_data import fit_project

    flow, info = fit_project(data, model, seed, None)
    largest = int(data["counts"].max())
    missing = {label: largest - int(n) for label, n in data["counts"].items()}
    started = time.perf_counter()
    top_up = synthetic_rows(flow, data, missing, seed)
    balanced = synthetic_rows(flow, data, {label: largest for label in data["counts"].index}, seed + 1)
    generation_seconds = time.perf_counter() - started
    inputs = data["inputs"]
    results = {
        "real": score(inputs.train, data, seed),
        "real+SMOTE": score(smote_rows(data, seed), data, seed),
        "real+synth": score(pd.concat([inputs.train, top_up], ignore_index=True), data, seed),
        "synth": score(balanced, data, seed),
    }
    return {"model": model, "seed": seed, "fit_seconds": info["fit"].fit_seconds, "choice": info["choice"],
            "generation_seconds": round(generation_seconds, 1), "synthetic_rows": len(top_up) + len(balanced),
            "results": results}


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Rare-attack augmentation: real vs SMOTE vs this project's synthetic rows", "augmentation.py",
        results["started"], results["machine"],
        "A random forest (100 trees, median imputation; common.evaluation.utility.make_classifier) trained four ways and scored "
             "on the real holdout of one stratified split (seed 42): real train rows only; real + SMOTE up to balance; "
             "real + the project's synthetic rows of each minority class up to balance (class counts from the "
             "trained model); synthetic rows only, balanced. Mean ± sd over seeds (model and forest seeds).")
    for name, table in results["tables"].items():
        rare = table["rare"]
        lines += [f"## {name}", "", f"{table['train_rows']:,} train rows; class counts: "
                  + ", ".join(f"{k} {v}" for k, v in table["counts"].items()) + f". Rare classes: {', '.join(rare)}.", "",
                  "| model | way | seeds | macro-F1 | " + " | ".join(f"F1 {c}" for c in rare) + " |",
                  "|---|---|---|---|" + "---|" * len(rare)]
        for model in ("tvae", "ctgan"):
            runs = [r for r in table["runs"] if r["model"] == model]
            if not runs:
                continue
            for way in WAYS:
                values = [r["results"][way] for r in runs]
                cells = [_mean_sd([v["macro_f1"] for v in values])]
                cells += [_mean_sd([v["per_class_f1"].get(c, 0.0) for v in values]) for c in rare]
                lines.append(f"| {model} | {way} | {len(runs)} | " + " | ".join(cells) + " |")
        for failure in table.get("failures", []):
            lines.append(f"\nFAILED: {failure}")
        lines.append("")
    write_report_files(target, lines, results)


def _mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="cic,sample")
    parser.add_argument("--models", default="tvae,ctgan")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args()
    synth.quiet_library_logs()
    threads = synth.configure_torch_threads()
    warnings.filterwarnings("ignore")
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "machine": f"{platform.machine()}, {synth.available_cpus()} CPUs, torch threads {threads}",
                               "tables": {}}
    for name in args.tables.split(","):
        path = TABLES.get(name)
        if path is None or not path.exists():
            print(f"skipping {name}: {path} is not there", flush=True)
            continue
        data = prepare(path)
        table = results["tables"][name] = {"path": str(path), "train_rows": len(data["train"]),
                                           "counts": data["counts"].to_dict(), "rare": data["rare"], "runs": []}
        for seed in range(1, args.seeds + 1):
            for model in args.models.split(","):
                started = time.perf_counter()
                try:
                    outcome = run(data, model, seed)
                except Exception as error:  # noqa: BLE001 - one failed run must not lose the table
                    table.setdefault("failures", []).append(f"{model} seed {seed}: {type(error).__name__}: {error}")
                    print(f"{name} {model} seed {seed}: FAILED {error}", flush=True)
                    continue
                table["runs"].append(outcome)
                write_report(results, args.output)
                summary = ", ".join(f"{way} {outcome['results'][way]['macro_f1']:.3f}" for way in WAYS)
                print(f"{name} {model} seed {seed}: {summary} ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
