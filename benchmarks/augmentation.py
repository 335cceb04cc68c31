#!/usr/bin/env python3
"""Rare-attack augmentation: do this project's synthetic rows help a detector more than noise would?

Repeated stratified cross-validation (sklearn RepeatedStratifiedKFold; default 5 repeats x 2 folds,
random_state 42) on each table. In every fold, from that fold's training rows only (the test fold
is never seen): the schema and rules, SMOTE, and the project's generator (TVAE and/or CTGAN with
the project's defaults, or --epochs). A random forest (common.evaluation.utility.make_classifier,
seeded per fold, the same seed for every way of a fold) is trained each way and scored on the
test fold:

  real            the training fold's real rows only
  real+SMOTE      real rows + imbalanced-learn SMOTE rows of each minority class up to the target
  real+<model>    real rows + the project's synthetic rows of each minority class up to the target
                  (FlowSynthesizer.sample with class counts; a class the model cannot make comes short
                  and the rows delivered are reported)
  <model> only    synthetic rows only, every class as many rows as the largest real class

Target (--top-up): "balance" (default) = every class up to the largest class of the training fold;
an integer N = every class below N rows up to N; a fraction 0 < f < 1 = every class up to f x the
largest class. SMOTE and the generators get the same targets.

Figures, per way: macro-F1 and per-class F1 on the test folds, mean with a 95% confidence interval;
the paired per-fold difference to "real" (and of real+<model> to real+SMOTE) with its 95% CI. CV
folds share training rows, so the plain t interval is too narrow: the intervals use the corrected
resampled t-test of Nadeau & Bengio (2003, "Inference for the generalization error"), variance
(1/J + n_test/n_train) * s^2 over the J fold figures, J - 1 degrees of freedom (scipy.stats.t;
`corrected_interval` below, a few lines). A difference is called "gain" (or "loss") only when its
CI excludes zero, otherwise "no detectable difference".

Tables: cic (CIC-IDS2017 half, ../shared/data), cpacket (the three cPacket files concatenated,
../shared/data), sample (the bundled data/tcp_flag_sample.csv); missing files are skipped.

Usage:
    .venv/bin/python benchmarks/augmentation.py                                  # cic, both models, 5x2
    .venv/bin/python benchmarks/augmentation.py --tables cic --models tvae --repeats 1 --epochs 20
    .venv/bin/python benchmarks/augmentation.py --top-up 200 --max-minutes 45
Results: benchmarks/augmentation_results.md and .json beside it (rewritten after every fold).
"""
from __future__ import annotations

import argparse
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
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import RepeatedStratifiedKFold  # noqa: E402

from reporting import report_head, write_report_files  # noqa: E402
from common import synth  # noqa: E402
from common.core.io import read_table  # noqa: E402
from common.data.pipeline import detect_rules  # noqa: E402
from common.data.schema import infer_schema, modelling_frame  # noqa: E402
from common.evaluation.tables import make_inputs, prepare_candidate  # noqa: E402
from common.evaluation.utility import feature_columns, make_classifier  # noqa: E402

RESULTS_MD = REPO_ROOT / "benchmarks" / "augmentation_results.md"
SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"
CV_SEED = 42
LEVEL = 0.95


# ----------------------------------------------------------------------------- statistics


def corrected_interval(values: list[float], test_train_ratio: float) -> dict[str, float]:
    """Mean and 95% CI of per-fold figures (or paired per-fold differences) from repeated k-fold CV.

    Nadeau & Bengio's corrected resampled t: the folds overlap, so the variance of the mean is
    (1/J + n_test/n_train) * s^2 instead of s^2 / J; J - 1 degrees of freedom (scipy.stats.t).
    In: J >= 1 figures and n_test/n_train. Out: {"mean", "low", "high", "p"} (NaN bounds when J < 2;
    p = two-sided p-value of mean == 0).
    """
    v = np.asarray(values, dtype=float)
    mean = float(v.mean()) if len(v) else float("nan")
    if len(v) < 2:
        return {"mean": mean, "low": float("nan"), "high": float("nan"), "p": float("nan")}
    se = float(np.sqrt((1 / len(v) + test_train_ratio) * v.var(ddof=1)))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(v) - 1)) * se
    p = float(2 * stats.t.sf(abs(mean) / se, len(v) - 1)) if se > 0 else float(mean == 0)
    return {"mean": mean, "low": mean - half, "high": mean + half, "p": p}


def verdict(interval: dict[str, float]) -> str:
    """"gain" / "loss" when the CI of a paired difference excludes zero, else "no detectable difference"."""
    if not np.isfinite(interval["low"]):
        return "n/a (under 2 folds)"
    if interval["low"] > 0:
        return "gain"
    if interval["high"] < 0:
        return "loss"
    return "no detectable difference"


# ----------------------------------------------------------------------------- data


def load_tables(names: list[str], scratch: Path) -> dict[str, tuple[pd.DataFrame, str]]:
    """{name: (raw table as read_table reads it, where it came from)} for the tables whose files exist."""
    from real_data import table_paths

    paths = table_paths([n for n in names if n in ("cic", "cpacket")], scratch)
    if "sample" in names and SAMPLE.exists():
        paths["sample"] = SAMPLE
    tables = {}
    for name in names:
        if name in paths:
            frame, _ = read_table(paths[name], min_rows=10)
            shown = str(paths[name].relative_to(REPO_ROOT.parent)) if REPO_ROOT.parent in paths[name].parents \
                else f"made from ../shared/data ({name})"
            tables[name] = (frame, shown)
    return tables


def fold_data(frame: pd.DataFrame, train_rows: np.ndarray, test_rows: np.ndarray, seed: int) -> dict[str, Any]:
    """What real_data.fit_project needs for one fold, found on the training rows only.

    In: the raw table and the fold's row positions. Out: {"schema", "rules", "train", "holdout",
    "inputs", "counts"}: schema and rules detected on the training rows, modelled frames, the
    EvaluationInputs (test fold as holdout) and the training fold's class counts.
    """
    raw_train = frame.iloc[train_rows].reset_index(drop=True)
    schema = infer_schema(raw_train, None, None)
    rules = detect_rules(raw_train, schema, seed=0)
    train = modelling_frame(raw_train, schema)
    holdout = modelling_frame(frame.iloc[test_rows].reset_index(drop=True), schema)
    inputs = make_inputs(train, holdout, schema, rules, seed)
    counts = inputs.train[inputs.target].astype(str).value_counts()
    return {"schema": schema, "rules": rules, "train": train, "holdout": holdout, "inputs": inputs, "counts": counts}


def top_up_counts(counts: pd.Series, how: str) -> dict[str, int]:
    """Rows to add per class: --top-up "balance", an integer N, or a fraction f of the largest class."""
    largest = int(counts.max())
    if how == "balance":
        goal = largest
    elif "." in how:
        goal = int(round(float(how) * largest))
    else:
        goal = int(how)
    return {str(label): max(0, goal - int(n)) for label, n in counts.items() if goal > n}


# ----------------------------------------------------------------------------- the four ways


def score(train: pd.DataFrame, data: dict[str, Any], seed: int) -> dict[str, Any]:
    """Macro-F1 and per-class F1 on the test fold of a forest trained on `train`."""
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


def smote_rows(data: dict[str, Any], add: dict[str, int], seed: int) -> pd.DataFrame:
    """SMOTE rows only (not the real ones), `add` rows per class, on the numeric features
    (median-imputed); discrete columns take the class's most frequent value."""
    from imblearn.over_sampling import SMOTE
    from sklearn.impute import SimpleImputer

    inputs = data["inputs"]
    train, target = inputs.train, inputs.target
    numeric, _ = feature_columns(inputs)
    features = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(train[numeric])
    labels = train[target].astype(str).to_numpy()
    strategy = {c: int(data["counts"][c]) + n for c, n in add.items()}
    neighbours = max(1, min(5, min(int(data["counts"][c]) for c in strategy) - 1))
    resampled, resampled_labels = SMOTE(sampling_strategy=strategy, k_neighbors=neighbours,
                                        random_state=seed).fit_resample(features, labels)
    frame = pd.DataFrame(resampled[len(train):], columns=numeric)
    frame[target] = resampled_labels[len(train):]
    for column in train.columns:
        if column not in frame.columns:
            modes = train.groupby(train[target].astype(str))[column].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
            frame[column] = frame[target].map(modes)
    return prepare_candidate(frame, inputs, "SMOTE rows")


def synthetic_rows(flow: Any, data: dict[str, Any], counts: dict[str, int], seed: int) -> pd.DataFrame:
    """The project's synthetic rows with `counts` rows per class (a class the model cannot make comes short)."""
    counts = {label: n for label, n in counts.items() if n > 0}
    rows = sum(counts.values())
    frame = pd.concat(list(flow.sample(rows, max(rows, 1), seed, class_counts=counts)), ignore_index=True)
    return prepare_candidate(frame, data["inputs"], "synthetic rows")


def class_counts(frame: pd.DataFrame, target: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame[target].astype(str).value_counts().items()}


def run_fold(data: dict[str, Any], models: list[str], how: str, epochs: int | None, seed: int) -> dict[str, Any]:
    """Every way on one fold. Out: {"scores": {way: score}, "asked": {...}, "added": {method: {class: rows}},
    "fit": {model: facts}, "failures": [...]}."""
    from real_data import fit_project

    inputs = data["inputs"]
    target = inputs.target
    add = top_up_counts(data["counts"], how)
    largest = int(data["counts"].max())
    out: dict[str, Any] = {"scores": {"real": score(inputs.train, data, seed)}, "asked": add, "added": {},
                           "fit": {}, "failures": []}
    if add:
        smote = smote_rows(data, add, seed)
        out["added"]["SMOTE"] = class_counts(smote, target)
        out["scores"]["real+SMOTE"] = score(pd.concat([inputs.train, smote], ignore_index=True), data, seed)
    for model in models:
        try:
            flow, info = fit_project(data, model, seed, epochs)
            facts = info["fit"]
            out["fit"][model] = {"epochs": facts.epochs, "batch_size": facts.batch_size,
                                 "fit_seconds": round(facts.fit_seconds, 1), "choice": info["choice"]}
            if add:
                top_up = synthetic_rows(flow, data, add, seed)
                out["added"][model] = class_counts(top_up, target)
                out["scores"][f"real+{model}"] = score(pd.concat([inputs.train, top_up], ignore_index=True), data, seed)
            alone = synthetic_rows(flow, data, {str(c): largest for c in data["counts"].index}, seed + 1000)
            out["scores"][f"{model} only"] = score(alone, data, seed)
        except Exception as error:  # noqa: BLE001 - one failed model must not lose the fold
            out["failures"].append(f"{model}: {type(error).__name__}: {error}")
    return out


# ----------------------------------------------------------------------------- report


def ways_of(models: list[str]) -> list[str]:
    return ["real", "real+SMOTE"] + [f"real+{m}" for m in models] + [f"{m} only" for m in models]


def ci(interval: dict[str, float], signed: bool = False) -> str:
    if not np.isfinite(interval["mean"]):
        return "–"
    sign = "+" if signed else ""
    if not np.isfinite(interval["low"]):
        return f"{interval['mean']:{sign}.3f}"
    return f"{interval['mean']:{sign}.3f} [{interval['low']:{sign}.3f}, {interval['high']:{sign}.3f}]"


def paired(folds: list[dict[str, Any]], way: str, base: str, ratio: float, cls: str | None = None) -> dict[str, float]:
    """CI of the per-fold difference way - base (macro-F1, or F1 of class `cls`) over folds having both."""
    def figure(fold: dict[str, Any], name: str) -> float:
        s = fold["scores"][name]
        return s["macro_f1"] if cls is None else s["per_class_f1"].get(cls, np.nan)
    diffs = [figure(f, way) - figure(f, base) for f in folds if way in f["scores"] and base in f["scores"]]
    return corrected_interval([d for d in diffs if np.isfinite(d)], ratio)


def summarise(table: dict[str, Any], models: list[str]) -> list[str]:
    """The markdown section of one table."""
    folds = table["folds"]
    if not folds:
        return [f"## {table['name']}", "", "No fold finished.", ""]
    ratio = float(np.mean([f["test_rows"] for f in folds]) / np.mean([f["train_rows"] for f in folds]))
    ways = [w for w in ways_of(models) if any(w in f["scores"] for f in folds)]
    classes = sorted(table["counts"], key=lambda c: table["counts"][c])
    fits = [f"{m} {f['fit'][m]['choice']} ({f['fit'][m]['epochs']} epochs × batch {f['fit'][m]['batch_size']}, "
            f"fit {f['fit'][m]['fit_seconds']:.0f} s)" for f in folds[:1] for m in models if m in f["fit"]]
    lines = [
        f"## {table['name']}: {table['path']}", "",
        f"{table['rows']:,} rows, {len(classes)} classes: " + ", ".join(f"{c} {table['counts'][c]}" for c in classes[::-1])
        + f". {len(folds)} of {table['planned_folds']} folds done ({table['repeats']} repeats × {table['n_folds']} folds"
        + (f"; stopped: {table['stopped']}" if table.get("stopped") else "") + f"); about {np.mean([f['train_rows'] for f in folds]):,.0f} "
        f"training and {np.mean([f['test_rows'] for f in folds]):,.0f} test rows per fold (n_test/n_train {ratio:.2f} in the "
        f"corrected t). Top-up target: {table['top_up']}. Generators, fold 1: " + ("; ".join(fits) or "none") + ".", "",
        "### Macro-F1", "",
        "Mean over folds [95% CI]; differences are paired per fold, CI by the corrected resampled t-test.", "",
        "| way | folds | macro-F1 | − real | verdict vs real | − real+SMOTE | verdict vs SMOTE |",
        "|---|---|---|---|---|---|---|",
    ]
    for way in ways:
        values = corrected_interval([f["scores"][way]["macro_f1"] for f in folds if way in f["scores"]], ratio)
        count = sum(way in f["scores"] for f in folds)
        if way == "real":
            lines.append(f"| {way} | {count} | {ci(values)} | – | – | – | – |")
            continue
        diff = paired(folds, way, "real", ratio)
        vs_smote = paired(folds, way, "real+SMOTE", ratio) if way.startswith("real+") and way != "real+SMOTE" else None
        lines.append(f"| {way} | {count} | {ci(values)} | {ci(diff, True)} | {verdict(diff)} | "
                     + (f"{ci(vs_smote, True)} | {verdict(vs_smote)} |" if vs_smote else "– | – |"))
    test_counts = {c: [f["test_counts"].get(c, 0) for f in folds] for c in classes}
    lines += ["", "### Per-class F1", "",
              "Mean over folds [95% CI]; test rows of the class per fold (min–max) and summed over all folds.", "",
              "| class | test rows per fold | test rows, all folds | " + " | ".join(ways) + " |",
              "|---|---|---|" + "---|" * len(ways)]
    for c in classes:
        cells = [ci(corrected_interval([f["scores"][w]["per_class_f1"].get(c, np.nan) for f in folds if w in f["scores"]],
                                       ratio)) for w in ways]
        lines.append(f"| {c} | {min(test_counts[c])}–{max(test_counts[c])} | {sum(test_counts[c])} | " + " | ".join(cells) + " |")
    augmented = [w for w in ways if w.startswith("real+")]
    lines += ["", "Per-class F1 difference to real, paired per fold [95% CI]:", "",
              "| class | " + " | ".join(f"{w} − real" for w in augmented) + " |", "|---|" + "---|" * len(augmented)]
    for c in classes:
        lines.append(f"| {c} | " + " | ".join(f"{ci(d, True)} ({verdict(d)})" if np.isfinite(d['low']) else ci(d, True)
                                               for d in (paired(folds, w, "real", ratio, c) for w in augmented)) + " |")
    methods = [m for m in ["SMOTE"] + models if any(m in f["added"] for f in folds)]
    lines += ["", "### Rows added per class (mean per fold; asked → delivered)", "",
              "| class | training rows per fold | asked | " + " | ".join(methods) + " |", "|---|---|---|" + "---|" * len(methods)]
    for c in classes:
        train_mean = np.mean([f["train_counts"].get(c, 0) for f in folds])
        asked = np.mean([f["asked"].get(c, 0) for f in folds])
        lines.append(f"| {c} | {train_mean:.0f} | {asked:.0f} | "
                     + " | ".join(f"{np.mean([f['added'].get(m, {}).get(c, 0) for f in folds]):.0f}" for m in methods) + " |")
    lines += ["", "### Macro-F1 per fold", "", "| repeat | fold | " + " | ".join(ways) + " | seconds |",
              "|---|---|" + "---|" * len(ways) + "---|"]
    for f in folds:
        lines.append(f"| {f['repeat']} | {f['fold']} | "
                     + " | ".join(f"{f['scores'][w]['macro_f1']:.3f}" if w in f["scores"] else "–" for w in ways)
                     + f" | {f['seconds']:.0f} |")
    for f in folds:
        for failure in f["failures"]:
            lines.append(f"\nFAILED in repeat {f['repeat']} fold {f['fold']}: {failure}")
    return lines + [""]


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Rare-attack augmentation: real vs SMOTE vs this project's synthetic rows (repeated CV)", "augmentation.py",
        results["started"], results["machine"],
        f"Repeated stratified k-fold (random_state {CV_SEED}); in every fold the schema, rules, SMOTE and the "
        "generators are fitted on the training fold only, and a random forest (100 trees; "
        "common.evaluation.utility.make_classifier, the same seed for every way of a fold) trained each way is "
        "scored on the test fold. 95% CIs by the corrected resampled t (Nadeau & Bengio 2003): variance "
        "(1/J + n_test/n_train) s², J − 1 df. \"gain\"/\"loss\" only where the CI of the paired difference "
        f"excludes zero. Epochs: {results['epochs'] or 'the project defaults (auto)'}.")
    for table in results["tables"].values():
        lines += summarise(table, results["models"])
    write_report_files(target, lines, results)


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="cic", help="comma list of cic, cpacket, sample (default cic)")
    parser.add_argument("--models", default="tvae,ctgan", help="comma list of tvae, ctgan")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="fixed epochs (quick runs); default: the project's")
    parser.add_argument("--top-up", default="balance", help='"balance", an integer N, or a fraction of the largest class')
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="start no repeat that would end after this many minutes (estimated from the folds done); "
                             "whole repeats only")
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args()
    synth.quiet_library_logs()
    threads = synth.configure_torch_threads()
    warnings.filterwarnings("ignore")
    models = [m for m in args.models.split(",") if m]
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "machine": f"{platform.machine()}, {synth.available_cpus()} CPUs, torch threads {threads}",
                               "models": models, "epochs": args.epochs, "top_up": args.top_up, "tables": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for name, (frame, shown) in load_tables(args.tables.split(","), Path(scratch)).items():
            target = infer_schema(frame, None, None).target
            labels = frame[target].astype(str)
            table = results["tables"][name] = {
                "name": name, "path": shown, "rows": len(frame), "counts": labels.value_counts().to_dict(),
                "repeats": args.repeats, "n_folds": args.folds, "planned_folds": args.repeats * args.folds,
                "top_up": args.top_up, "folds": []}
            splitter = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=CV_SEED)
            for number, (train_rows, test_rows) in enumerate(splitter.split(np.zeros(len(frame)), labels)):
                spent = (time.perf_counter() - started) / 60
                done = [f["seconds"] / 60 for t in results["tables"].values() for f in t["folds"]]
                whole_repeat = args.folds * (np.mean(done) if done else 0)
                if args.max_minutes and number % args.folds == 0 and spent + whole_repeat > args.max_minutes:
                    table["stopped"] = f"--max-minutes {args.max_minutes} would be passed"
                    print(f"{name}: --max-minutes {args.max_minutes} reached after {number} folds", flush=True)
                    break
                fold_started = time.perf_counter()
                data = fold_data(frame, train_rows, test_rows, seed=number + 1)
                outcome = run_fold(data, models, args.top_up, args.epochs, seed=number + 1)
                test_labels = data["inputs"].holdout[data["inputs"].target]
                fold = {"repeat": number // args.folds + 1, "fold": number % args.folds + 1,
                        "train_rows": len(train_rows), "test_rows": len(test_rows),
                        "train_counts": class_counts(data["inputs"].train, data["inputs"].target),
                        "test_counts": {str(k): int(v) for k, v in test_labels.astype(str).value_counts().items()},
                        **outcome, "seconds": round(time.perf_counter() - fold_started, 1)}
                table["folds"].append(fold)
                write_report(results, args.output)
                summary = ", ".join(f"{w} {s['macro_f1']:.3f}" for w, s in fold["scores"].items())
                print(f"{name} repeat {fold['repeat']} fold {fold['fold']}: {summary} ({fold['seconds']:.0f} s)"
                      + (f" FAILED {outcome['failures']}" if outcome["failures"] else ""), flush=True)
    write_report(results, args.output)


if __name__ == "__main__":
    main()
