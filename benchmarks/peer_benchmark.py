#!/usr/bin/env python3
"""The strongest open-source peer on the real tables: MOSTLY AI's TabularARGN beside this project.

Same tables, same train/holdout split and the same scoring as benchmarks/real_data.py (its `table_paths`,
`prepare`, `reference_figures` and `score` are imported, not copied): the peer fits on the modelled train
rows, samples as many rows as the train has, asked class by class in the train's shares through the
engine's seed data, and its rows are scored as real_data.py scores the project's. The project's own
figures (and plain SDV's) are shown beside it from benchmarks/real_data_results.json where that has the
table.

The peer is a benchmark-only dependency in a venv of its own (`make peer-venv`); benchmarks/peers.py runs
it in a subprocess. Without the venv every run is recorded as skipped, with the reason.

Usage (the project venv's python; the peer's is found by benchmarks/peers.py):
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/peer_benchmark.py              # cpacket, cic
    .venv/bin/python benchmarks/peer_benchmark.py --tables cpacket --minutes 2 --seeds 1
Results: benchmarks/peer_results.md (rewritten after every run) and .json beside it.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import real_data  # noqa: E402  (puts the repository root on sys.path)
from real_data import fmt, mean_sd, prepare, reference_figures, score, table_paths  # noqa: E402
from peers import run_tabularargn  # noqa: E402
from reporting import report_head, write_report_files  # noqa: E402
from common import synth  # noqa: E402

RESULTS_MD = BENCHMARKS / "peer_results.md"
PROJECT_RESULTS = BENCHMARKS / "real_data_results.json"
TABLES = ("cpacket", "cic")


def figure_row(label: str, runs: list[dict[str, Any]], ref: dict[str, Any], settings: str) -> str:
    """One table row in real_data.py's columns (each figure over the holdout's ceiling where one exists)."""
    trtr_f1 = ref["trtr_macro_f1"]
    return (
        f"| {label} | {len(runs)} | {settings} | "
        f"{mean_sd([r['quality_detected'] / ref['ceiling_quality_detected'] for r in runs])} | "
        f"{mean_sd([r['quality_project'] / ref['ceiling_quality_project'] for r in runs])} | "
        f"{mean_sd([r['tstr_macro_f1'] / trtr_f1 if trtr_f1 and r['tstr_macro_f1'] is not None else None for r in runs])} | "
        f"{mean_sd([None if r['class_share_error'] is None else 100 * r['class_share_error'] for r in runs], 1)} | "
        f"{mean_sd([r['valid_share'] for r in runs], 4)} | "
        f"{mean_sd([r['dcr_overfitting_protection'] for r in runs])} | "
        f"{mean_sd([r['exact_copy_share'] for r in runs])} | "
        f"{mean_sd([r['fit_seconds'] for r in runs], 1)} |")


def project_runs(name: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The project's and plain SDV's runs on the same table from real_data_results.json, if there."""
    try:
        recorded = json.loads(PROJECT_RESULTS.read_text())
        return recorded.get("started"), list(recorded["tables"][name]["runs"])
    except (OSError, KeyError, TypeError, ValueError):
        return None, []


def summarise(table: dict[str, Any]) -> list[str]:
    ref = table["reference"]
    lines = [
        f"## {table['name']}: {table['path']}", "",
        f"{ref['rows']:,} rows ({ref['train_rows']:,} train), {ref['columns']} modelled columns, {ref['classes']} classes, "
        f"{ref['rules']} detected rules. Holdout (the ceiling): quality {fmt(ref['ceiling_quality_detected'])} under "
        f"SDV-detected metadata, {fmt(ref['ceiling_quality_project'])} under the project's; TRTR macro-F1 "
        f"{fmt(ref['trtr_macro_f1'])}; {ref['holdout_copy_share']:.1%} of holdout rows equal a train row; "
        f"holdout rows valid {ref['holdout_valid_share']:.4f}.", "",
        "| model | seeds | settings | quality (SDV-detected) / ceiling | quality (project) / ceiling | TSTR / TRTR | "
        "class share err (pts) | rows valid (exact) | DCROverfittingProtection | exact copies | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    peer = table["runs"]
    for how, label in (("seeded", "classes asked"), ("plain", "plain sample(n)")):
        runs = [r for r in peer if r.get("sampling") == how]
        if runs:
            epochs = sorted({fmt(r.get("epochs"), 1) for r in runs})
            settings = f"defaults, cap {fmt(runs[0]['minutes_cap'], 0)} min; epochs reached {', '.join(epochs)}"
            lines.append(figure_row(f"**TabularARGN** ({label})", runs, ref, settings))
    started, recorded = project_runs(table["name"])
    for model in ("tvae", "ctgan"):
        for variant in ("project", "plain"):
            runs = [r for r in recorded if r.get("model") == model and r.get("variant") == variant]
            if runs:
                settings = ", ".join(sorted({f"{r['epochs']} × {r['batch_size']}" for r in runs}))
                try:
                    lines.append(figure_row(f"{model} {variant} (real_data.py)", runs, ref, f"epochs × batch {settings}"))
                except (KeyError, TypeError, ZeroDivisionError):
                    continue
    if recorded:
        lines += ["", f"The tvae/ctgan rows are real_data.py's, copied from benchmarks/real_data_results.json "
                      f"({started}): same split, same scoring."]
    for run in peer:
        violated = sorted((run.get("violated_rules") or {}).items(), key=lambda item: -item[1])
        extra = ""
        if violated:
            worst = ", ".join(f"`{rule}` {rate:.1%}" for rule, rate in violated[:6])
            extra = f"; {len(violated)} of {ref['rules']} detected rules broken by some rows, the most: {worst}"
        lines += ["", f"TabularARGN ({run['sampling']}) seed {run['seed']}: {run['engine']}, torch {run['torch']} ({run['torch_threads']} "
                      f"threads); fit {fmt(run['fit_seconds'], 1)} s (training {fmt(run.get('training_seconds'), 1)} s, "
                      f"{fmt(run.get('epochs'), 2)} epochs), sample {fmt(run['sample_seconds'], 1)} s for {run['rows']:,} "
                      f"rows ({'asked class by class' if run['sampling'] == 'seeded' else 'plain sample(n)'}){extra}."]
    for skipped in table.get("skipped", []):
        lines += ["", f"SKIPPED: {skipped}"]
    return lines + [""]


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Real data: the TabularARGN peer beside this project", "peer_benchmark.py", results["started"],
        results["machine"],
        "MOSTLY AI's TabularARGN (mostlyai-engine, Apache-2.0; a benchmark-only dependency in "
        "benchmarks/.peer-venv, `make peer-venv`) with the engine's defaults (model MOSTLY_AI/Medium, at most "
        "100 epochs with early stopping, value protection on) and a training-time cap, fitted on the same "
        f"train rows as benchmarks/real_data.py (one stratified split per table, seed {real_data.SPLIT_SEED}, 20% "
        "held out), sampling as many rows as the train has, asked class by class in the train's shares (the "
        "engine's seed data; a 'plain sample(n)' row, where present, asks for no class), and scored by "
        "real_data.py's own code. Quality = sdmetrics QualityReport overall "
        "against the train rows over the holdout's own score (the ceiling), under SDV-detected and under the "
        "project's metadata; TSTR / TRTR = macro-F1 of a random forest trained on synthetic / real train rows, "
        "tested on the real holdout; rows valid = share satisfying every rule the project detects, on the CSV as "
        "written; DCROverfittingProtection from sdmetrics; exact copies = share of synthetic rows equal to a "
        "train row. Fit s for TabularARGN is the engine's whole fit (split, analyse, encode, train) as timed "
        "inside its process.")
    for table in results["tables"].values():
        if table.get("reference"):
            lines += summarise(table)
    write_report_files(target, lines, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES), help="comma list of cpacket, cpacket_1000, cic")
    parser.add_argument("--seeds", type=int, default=1, help="how many peer seeds (1, 2, 3, ...)")
    parser.add_argument("--minutes", type=float, default=10.0, help="TabularARGN training-time cap (minutes)")
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    parser.add_argument("--sampling", choices=("seeded", "plain"), default="seeded",
                        help="seeded: rows asked class by class in the train's shares (default); plain: sample(n)")
    parser.add_argument("--append", action="store_true",
                        help="add these runs to the tables already in the JSON beside --output")
    parser.add_argument("--report-only", action="store_true", help="rewrite the markdown from the JSON beside it")
    args = parser.parse_args()
    if args.report_only:
        write_report(json.loads(args.output.with_suffix(".json").read_text()), args.output)
        return

    synth.quiet_library_logs()
    threads = synth.configure_torch_threads()
    warnings.filterwarnings("ignore")
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {synth.available_cpus()} CPUs, torch threads {threads}, CPU",
        "minutes_cap": args.minutes, "tables": {},
    }
    if args.append and args.output.with_suffix(".json").exists():
        results = json.loads(args.output.with_suffix(".json").read_text())
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for name, path in table_paths(args.tables.split(","), scratch).items():
            data = prepare(path)
            shown = str(path.relative_to(real_data.REPO_ROOT.parent)) if real_data.REPO_ROOT.parent in path.parents \
                else f"made from ../shared/data ({name})"
            if name not in results["tables"]:
                results["tables"][name] = {"name": name, "path": shown, "runs": [],
                                           "reference": reference_figures(data)}
            table = results["tables"][name]
            write_report(results, args.output)
            train = data["train"]
            for seed in range(1, args.seeds + 1):
                started = time.perf_counter()
                target = data["schema"].target if args.sampling == "seeded" else None
                synthetic, facts = run_tabularargn(train, len(train), seed, args.minutes, target)
                if synthetic is None:
                    print(f"{name} TabularARGN seed {seed}: SKIPPED {facts['skipped']}", flush=True)
                    table.setdefault("skipped", []).append(f"seed {seed}: {facts['skipped']}")
                    write_report(results, args.output)
                    continue
                try:
                    run = {"model": "tabularargn", "seed": seed, **facts, **score(data, table["reference"], synthetic, scratch)}
                except Exception as error:  # noqa: BLE001 - one failed scoring must not lose the table
                    print(f"{name} TabularARGN seed {seed}: scoring FAILED {type(error).__name__}: {error}", flush=True)
                    table.setdefault("skipped", []).append(f"seed {seed}: scoring failed: {type(error).__name__}: {error}")
                    continue
                table["runs"].append(run)
                write_report(results, args.output)
                print(f"{name} TabularARGN seed {seed}: fit {run['fit_seconds']:.0f}s epochs {fmt(run.get('epochs'), 2)} "
                      f"q(det) {run['quality_detected']:.3f} q(proj) {run['quality_project']:.3f} "
                      f"TSTR {fmt(run['tstr_macro_f1'])} class err {fmt(run['class_share_error'])} "
                      f"valid {run['valid_share']:.4f} DCR {run['dcr_overfitting_protection']:.3f} "
                      f"copies {run['exact_copy_share']:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
