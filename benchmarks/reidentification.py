#!/usr/bin/env python3
"""Re-identification risk of every model on the real tables: anonymeter's singling-out, linkability
and inference attacks, each against the holdout baseline, over seeds.

Per table, model and seed: the project's model fitted with its defaults as real_data.py fits it
(same split, seed 42), as many rows generated as the train split holds, then the evaluation's own
attacks (common.evaluation.attacks: train rows as the original, half the holdout as control, the
synthetic rows as the release) and the same attacks with the other half of the holdout as the
release (unseen real flows: the baseline). `--attacks` raises the number of attacks per kind above
the evaluation's ATTACKS (narrower intervals; capped by the control rows). `--epsilon E` adds the
TVAE trained with DP-SGD at that budget as a model of its own ("tvae_dp<E>").

Figures: each risk with its 95% interval, the baseline's, the excess (risk - baseline) against the
goal (singling out and linkability at most 0.05 above the baseline, issue 22), beside the
memorisation figures the reason rests on: the share of synthetic rows nearer a train row than any
holdout row (DCROverfittingProtection's split) and exact copies of train rows.

Usage:
    .venv/bin/python benchmarks/reidentification.py --tables sample,cpacket --seeds 3 --attacks 300
Results: benchmarks/reidentification_results.md (rewritten after every run) and .json beside it.
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
from common.evaluation import attacks
from common.evaluation.privacy import copy_share, overfitting_protection, row_hashes
from common.evaluation.tables import prepare_candidate
from common.synth.params import DifferentialPrivacy
from reporting import report_head, write_report_files

RESULTS_MD = real_data.REPO_ROOT / "benchmarks" / "reidentification_results.md"
MODELS = ("tvae", "ctgan", "gaussian_copula")
NAMES = {"singling_out": "singling out", "linkability": "linkability", "inference": "inference"}


def fit_and_sample(data: dict[str, Any], model: str, seed: int, epsilon: float | None,
                   epochs: int | None) -> tuple[pd.DataFrame, float]:
    """The project's model with its defaults (under `epsilon` when given; `epochs` fixed for quick
    runs), and train-size rows."""
    config = real_data.project_config(seed, epochs)
    if epsilon is not None:
        config = config.with_changes(differential_privacy=DifferentialPrivacy(float(epsilon)))
    flow, _ = synth.build_flow(model, data["train"], config, synth.choose_device("cpu"), data["schema"],
                               data["rules"], seed)
    flow.verbose = False
    synth.seed_everything(seed)
    facts = flow.fit(data["train"])
    rows = len(data["train"])
    return pd.concat(list(flow.sample(rows, rows, seed)), ignore_index=True), facts.fit_seconds


def attack_figures(section: attacks.AttackSection) -> dict[str, Any]:
    if section.skipped:
        return {"skipped": section.skipped}
    return {name: {"risk": r.risk, "ci95": [r.ci_low, r.ci_high], "attacks": r.attacks} for name, r in section.risks.items()}


def one_run(data: dict[str, Any], model: str, seed: int, epsilon: float | None, epochs: int | None,
            baseline: attacks.AttackSection, scratch: Path) -> dict[str, Any]:
    """One model and seed: fit, generate, attack; `baseline`: the seed's attacks on unseen real flows."""
    inputs = data["inputs"]
    synthetic, fit_seconds = fit_and_sample(data, model, seed, epsilon, epochs)
    path = scratch / "synthetic.csv"
    synthetic.to_csv(path, index=False)     # the rows as a user reads them back
    candidate = prepare_candidate(pd.read_csv(path), inputs, "synthetic rows")
    started = time.perf_counter()
    release = attacks.attack_section(inputs, candidate, seed)
    seconds = time.perf_counter() - started
    protection = overfitting_protection(inputs, candidate)
    exact = copy_share(candidate, set(row_hashes(inputs.train).tolist()))
    holdout_exact = float(row_hashes(inputs.holdout).isin(set(row_hashes(inputs.train).tolist())).mean())
    above = attacks.risks_above_goal(release, baseline, protection.closer_to_train_share, exact, holdout_exact)
    return {"model": model if epsilon is None else f"{model}_dp{epsilon:g}", "seed": seed, "fit_seconds": fit_seconds,
            "attack_seconds": round(seconds, 1), "release": attack_figures(release), "baseline": attack_figures(baseline),
            "closer_to_train_share": protection.closer_to_train_share, "dcr_overfitting_protection": protection.score,
            "exact_copy_share": exact, "holdout_exact_copy_share": holdout_exact,
            "above_goal": [finding.to_json() for finding in above]}


def _mean_ci(runs: list[dict[str, Any]], side: str, attack: str) -> str:
    figures = [r[side].get(attack) for r in runs if isinstance(r[side].get(attack), dict)]
    if not figures:
        return "–"
    risks = [f["risk"] for f in figures]
    lows = [f["ci95"][0] for f in figures]
    highs = [f["ci95"][1] for f in figures]
    return (f"{real_data.mean_sd(risks)} [{min(lows):.3f}, {max(highs):.3f}]")


def summarise(table: dict[str, Any]) -> list[str]:
    lines = [f"## {table['name']}", "", f"{table['train_rows']:,} train rows, {table['holdout_rows']:,} holdout rows.", "",
             "| model | seeds | attack | risk (mean ± sd) [lowest, highest CI bound] | holdout baseline | excess "
             "(mean) | over the 0.05 goal in | closer to train | exact copies (holdout's) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for model in table["models"]:
        runs = [r for r in table["runs"] if r["model"] == model]
        if not runs:
            continue
        for attack in attacks.SENTENCES:
            measured = [r for r in runs if isinstance(r["release"].get(attack), dict)]
            if not measured:
                lines.append(f"| {model} | {len(runs)} | {NAMES[attack]} | not measured | | | | | |")
                continue
            excess = [r["release"][attack]["risk"] - r["baseline"].get(attack, {}).get("risk", 0.0) for r in measured]
            over = sum(1 for r in measured for f in r["above_goal"] if f["attack"] == attack)
            goal = f"{over} of {len(measured)} seeds" if attack in attacks.GOAL_ATTACKS else "(no goal)"
            lines.append(
                f"| {model} | {len(measured)} | {NAMES[attack]} | {_mean_ci(measured, 'release', attack)} | "
                f"{_mean_ci(measured, 'baseline', attack)} | {sum(excess) / len(excess):+.3f} | {goal} | "
                f"{real_data.mean_sd([r['closer_to_train_share'] for r in measured])} | "
                f"{real_data.mean_sd([r['exact_copy_share'] for r in measured])} "
                f"({measured[0]['holdout_exact_copy_share']:.3f}) |")
    reasons = [f"- {r['model']} seed {r['seed']}: {f['attack']} {f['risk']:.3f} (baseline {f['holdout_baseline']:.3f}): "
               f"{f['why']}" for r in table["runs"] for f in r["above_goal"]]
    return lines + ["", "Over the goal, with the evaluation's reason:" if reasons else "No run over the goal.", *reasons,
                    *[f"\nFAILED: {failure}" for failure in table.get("failures", [])], ""]


def write_report(results: dict[str, Any], target: Path) -> None:
    lines = report_head(
        "Re-identification risk (anonymeter) per model", "reidentification.py", results["started"], results["machine"],
        "Each model fitted with the project's defaults on real_data.py's split, train-size rows generated, then the "
        "evaluation's attacks (common.evaluation.attacks; singling out univariate, linkability on two halves of the "
        f"columns, inference of the class) with {results['attacks']} attacks per kind at most (fewer where the "
        "control half of the holdout has fewer rows). Risk = attack success on train rows beyond success on the "
        "control rows, 95% interval from anonymeter. Baseline: the same attacks with the other half of the holdout "
        "(unseen real flows) as the release. Goal: singling out and linkability at most 0.05 above the baseline.")
    for table in results["tables"].values():
        lines += summarise(table)
    write_report_files(target, lines, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="sample,cpacket", help="comma list of sample, cpacket, cpacket_1000, cic")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--epsilon", type=float, default=None, help="also the TVAE with DP-SGD at this epsilon")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--attacks", type=int, default=attacks.ATTACKS)
    parser.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of 'auto' (quick runs)")
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args()

    synth.quiet_library_logs()
    threads = synth.configure_torch_threads()
    warnings.filterwarnings("ignore")
    attacks.ATTACKS = args.attacks
    models: list[tuple[str, float | None]] = [(m, None) for m in args.models.split(",") if m]
    if args.epsilon is not None:
        models.append(("tvae", args.epsilon))
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "machine": f"{platform.machine()}, {synth.available_cpus()} CPUs, torch threads {threads}",
                               "attacks": args.attacks, "tables": {}}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for name, path in real_data.table_paths(args.tables.split(","), scratch).items():
            data = real_data.prepare(path)
            table = results["tables"][name] = {
                "name": name, "train_rows": len(data["train"]), "holdout_rows": len(data["holdout"]), "runs": [],
                "models": [m if e is None else f"{m}_dp{e:g}" for m, e in models]}
            for seed in range(1, args.seeds + 1):
                baseline = attacks.holdout_attack_baseline(data["inputs"], seed)   # the same for every model
                for model, epsilon in models:
                    started = time.perf_counter()
                    try:
                        run = one_run(data, model, seed, epsilon, args.epochs, baseline, scratch)
                    except Exception as error:  # noqa: BLE001 - one failed run must not lose the table
                        table.setdefault("failures", []).append(f"{model} {epsilon} seed {seed}: {error}")
                        print(f"{name} {model} seed {seed}: FAILED {error}", flush=True)
                        continue
                    table["runs"].append(run)
                    write_report(results, args.output)
                    risks = {k: v["risk"] for k, v in run["release"].items() if isinstance(v, dict)}
                    print(f"{name} {run['model']} seed {seed}: {risks} above goal {[f['attack'] for f in run['above_goal']]} "
                          f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
