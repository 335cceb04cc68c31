#!/usr/bin/env python3
"""What a privacy budget costs: the project's TVAE trained with DP-SGD at several epsilons beside the
same TVAE without a budget, on the real tables, scored as real_data.py scores every model.

Per table, epsilon ("none" = no budget) and seed: the project's defaults end to end (domain layer,
class quotas, guard, "auto" epochs and batch size), with `differential_privacy: {"epsilon": e}`
(delta: 1 / (10 x training rows)); the same split as real_data.py (seed 42). Figures: quality over
the holdout ceiling (SDV-detected metadata), TSTR / TRTR, class share error, rows valid, rows adding
up (real_data.py's independent arithmetic), DCROverfittingProtection, exact train copies, fit
seconds, and the accounting (epsilon spent, noise multiplier).

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/privacy_budget.py --tables cpacket --epsilons none,1,3,10 --seeds 3
Results: benchmarks/privacy_budget_results.md (rewritten after every run) and .json beside it.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

import real_data
from common import synth
from common.synth.params import DifferentialPrivacy
from reporting import report_head, write_report_files

RESULTS_MD = real_data.REPO_ROOT / "benchmarks" / "privacy_budget_results.md"
MODEL = "tvae"


def fit_and_score(data: dict[str, Any], reference: dict[str, Any], epsilon: float | None, seed: int,
                  epochs: int | None, scratch: Path) -> dict[str, Any]:
    """One TVAE as train_synthetic_models_improved.py trains it, under `epsilon` (None: no budget)."""
    config = real_data.project_config(seed, epochs)
    if epsilon is not None:
        config = config.with_changes(differential_privacy=DifferentialPrivacy(float(epsilon)))
    flow, choice = synth.build_flow(MODEL, data["train"], config, synth.choose_device("cpu"), data["schema"],
                                    data["rules"], seed)
    flow.verbose = False
    synth.seed_everything(seed)
    facts = flow.fit(data["train"])
    rows = len(data["train"])
    synthetic = pd.concat(list(flow.sample(rows, rows, seed)), ignore_index=True)
    return {"epsilon": epsilon, "seed": seed, "epochs": facts.epochs, "batch_size": facts.batch_size,
            "fit_seconds": facts.fit_seconds, "privacy": facts.privacy, "choice": choice,
            **real_data.score(data, reference, synthetic, scratch)}


def mean_sd(values: list[float | None], digits: int = 3) -> str:
    return real_data.mean_sd(values, digits)


def summarise(table: dict[str, Any]) -> list[str]:
    ref = table["reference"]
    trtr_f1 = ref["trtr_macro_f1"]
    lines = [f"## {table['name']}", "",
             f"{ref['rows']:,} rows ({ref['train_rows']:,} train), {ref['classes']} classes. Holdout ceiling: quality "
             f"{ref['ceiling_quality_detected']:.3f} (SDV-detected metadata), TRTR macro-F1 {trtr_f1:.3f}.", "",
             "| epsilon | seeds | epsilon spent | noise multiplier | quality / ceiling | TSTR / TRTR | class share err (pts) "
             "| rows valid | rows adding up | DCROverfittingProtection | exact copies | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for epsilon in table["epsilons"]:
        runs = [r for r in table["runs"] if r["epsilon"] == epsilon]
        if not runs:
            continue
        private = [r["privacy"] for r in runs if r.get("privacy")]
        lines.append(
            f"| {'none' if epsilon is None else f'{epsilon:g}'} | {len(runs)} | "
            f"{mean_sd([p['epsilon_spent'] for p in private], 2) if private else '–'} | "
            f"{mean_sd([p['noise_multiplier'] for p in private], 2) if private else '–'} | "
            f"{mean_sd([r['quality_detected'] / ref['ceiling_quality_detected'] for r in runs])} | "
            f"{mean_sd([r['tstr_macro_f1'] / trtr_f1 if r['tstr_macro_f1'] is not None else None for r in runs])} | "
            f"{mean_sd([100 * r['class_share_error'] if r['class_share_error'] is not None else None for r in runs], 1)} | "
            f"{mean_sd([r['valid_share'] for r in runs], 4)} | "
            f"{mean_sd([r['arithmetic']['share'] if r.get('arithmetic') else None for r in runs], 4)} | "
            f"{mean_sd([r['dcr_overfitting_protection'] for r in runs])} | "
            f"{mean_sd([r['exact_copy_share'] for r in runs])} | {mean_sd([r['fit_seconds'] for r in runs], 1)} |")
    choices = sorted({r["choice"] for r in table["runs"]})
    return lines + ["", "Epochs and batch size: " + "; ".join(choices) + "."] + \
        [f"\nFAILED: {failure}" for failure in table.get("failures", [])] + [""]


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "A privacy budget: the TVAE with DP-SGD", "privacy_budget.py", results["started"], results["machine"],
        "The project's TVAE with its defaults, trained with DP-SGD (opacus, RDP accountant, per-row gradients "
        "clipped to 1.0, delta = 1 / (10 x training rows)) at each epsilon, and without a budget ('none'); same "
        f"split as real_data.py (seed {real_data.SPLIT_SEED}). Scored by real_data.py's code: quality over the "
        "holdout ceiling under SDV-detected metadata, TSTR / TRTR macro-F1, rows valid under the detected rules, "
        "rows adding up under the benchmark's own arithmetic. Mean ± sd over seeds. The guarantee covers the "
        "networks only: the column encodings, SDV's min/max clipping, the domain layer's statistics and the class "
        "shares come from the real rows without noise.")
    for table in results["tables"].values():
        lines += summarise(table)
    write_report_files(target, lines, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="cpacket", help="comma list of sample, cpacket, cpacket_1000, cic")
    parser.add_argument("--epsilons", default="none,1,3,10", help="comma list of epsilons; 'none' = no budget")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of 'auto' (quick runs)")
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args()

    synth.quiet_library_logs()
    threads = synth.configure_torch_threads()
    warnings.filterwarnings("ignore")
    epsilons = [None if e == "none" else float(e) for e in args.epsilons.split(",") if e]
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "machine": f"{platform.machine()}, {synth.available_cpus()} CPUs, torch threads "
                                          f"{threads}, CPU", "tables": {}}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for name, path in real_data.table_paths(args.tables.split(","), scratch).items():
            data = real_data.prepare(path)
            table = results["tables"][name] = {"name": name, "epsilons": epsilons, "runs": [],
                                               "reference": real_data.reference_figures(data)}
            for seed in range(1, args.seeds + 1):
                for epsilon in epsilons:
                    started = time.perf_counter()
                    try:
                        run = fit_and_score(data, table["reference"], epsilon, seed, args.epochs, scratch)
                    except Exception as error:  # noqa: BLE001 - one failed run must not lose the table
                        table.setdefault("failures", []).append(f"epsilon {epsilon} seed {seed}: {error}")
                        print(f"{name} epsilon {epsilon} seed {seed}: FAILED {error}", flush=True)
                        continue
                    table["runs"].append(run)
                    write_report(results, args.output)
                    spent = run["privacy"]["epsilon_spent"] if run["privacy"] else None
                    print(f"{name} epsilon {epsilon} seed {seed}: spent {real_data.fmt(spent)} fit {run['fit_seconds']:.0f}s "
                          f"q {run['quality_detected']:.3f} TSTR {real_data.fmt(run['tstr_macro_f1'])} valid "
                          f"{run['valid_share']:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
