"""Re-identification attacks on a synthetic release (anonymeter): what privacy reviewers ask for.

Three attacks, each scored against a control set as in Anonymeter (Giomi et al., PETS 2023), so
the risk is what the release gives away *about the training rows* beyond what it tells about any
flow of the same population:

- singling out: predicates on one column, built from the release, that hold for exactly one
  training row (univariate mode);
- linkability: the columns split in two halves (alternating, so each half has every kind of
  feature); an attacker holding each half of a training row links them through the release's
  nearest neighbours;
- attribute inference: the class column guessed from all other columns via the release's nearest
  neighbour.

The original rows are a seeded sample of train, the control rows half of the holdout, and the
release the synthetic rows. The same attacks with the other half of the holdout as the release
(real flows the models never saw) are the baseline: what releasing unseen real flows would risk.
Each figure comes with its 95% confidence interval; ATTACKS attacks on ATTACK_ROWS rows keep it
cheap. anonymeter's nearest-neighbour kernels are numba functions compiled on first use, in every
process that evaluates; `_cache_compiled_kernels` turns on numba's on-disk cache for them, so only
the first evaluation on a machine compiles (10 to 14 s here; a later process loads them in under a
second).

anonymeter 1.1.0 pins numpy < 1.27, which SDV 2 excludes; its code runs on numpy 2.4 (measured
here), so it is installed without its pins (requirements-nodeps.txt, see the Makefile). Where it
is not importable the section says so and is skipped.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from common.evaluation.tables import EvaluationInputs, seeded_sample

log = logging.getLogger("tcpsynth")

ATTACKS = 100          # attacks per kind (each risk's interval narrows with more)
ATTACK_ROWS = 1000     # rows of train (original) and of the release attacked; control: half the holdout, capped
LINK_NEIGHBOURS = 5    # a link counts when the two halves share one of this many nearest release rows

# singling out and linkability: the most a release may add to what releasing unseen real flows of the
# same traffic (the holdout baseline) would risk
RISK_GOAL = 0.05
GOAL_ATTACKS = ("singling_out", "linkability")
# a share of synthetic rows nearer train than holdout within this of one half is read as "as unseen flows"
LEANING_MARGIN = 0.05

SENTENCES = {
    "singling_out": "could single out a training flow (find a predicate that only it satisfies)",
    "linkability": "could link the two halves of a training flow's columns to each other",
    "inference": "could infer a training flow's class from its other columns",
}


@dataclass(frozen=True)
class AttackRisk:
    """One attack's residual risk (attack success on train beyond success on the control rows)."""

    attack: str
    risk: float
    ci_low: float
    ci_high: float
    attack_rate: float
    control_rate: float | None
    baseline_rate: float      # a random-guessing attacker
    attacks: int

    def sentence(self, holdout: "AttackRisk | None") -> str:
        """The plain sentence of the report: what an attacker holding the release could learn."""
        text = (f"An attacker holding these rows {SENTENCES[self.attack]} with a risk of {self.risk:.1%} "
                f"(95% CI {self.ci_low:.1%} to {self.ci_high:.1%}; {self.attacks} attacks)")
        if holdout is not None:
            text += f"; releasing unseen real flows instead: {holdout.risk:.1%} ({holdout.ci_low:.1%} to {holdout.ci_high:.1%})"
        return text + "."

    def to_json(self) -> dict[str, Any]:
        return {"risk": self.risk, "ci95": [self.ci_low, self.ci_high], "attack_success_rate": self.attack_rate,
                "control_success_rate": self.control_rate, "random_guess_success_rate": self.baseline_rate,
                "attacks": self.attacks}


@dataclass
class AttackSection:
    """The three attacks on a release, or why they were skipped."""

    risks: dict[str, AttackRisk]
    skipped: str | None = None
    rows: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": self.skipped}
        return {"method": "anonymeter (singling out univariate, linkability, inference on the class); risk = "
                          "attack success on train rows beyond success on holdout control rows",
                "rows": self.rows, **{name: risk.to_json() for name, risk in self.risks.items()}}


@dataclass(frozen=True)
class RiskAboveGoal:
    """A singling-out or linkability risk more than RISK_GOAL above the holdout baseline, and why."""

    attack: str
    risk: AttackRisk
    baseline: float
    closer_to_train_share: float | None   # synthetic rows nearer a train row than any holdout row
    exact_copy_share: float | None
    holdout_exact_copy_share: float | None

    @property
    def excess(self) -> float:
        return self.risk.risk - self.baseline

    @property
    def within_noise(self) -> bool:
        """The interval reaches down to the goal: the attacks cannot tell this release from one at it."""
        return self.risk.ci_low - self.baseline <= RISK_GOAL

    def reason(self) -> str:
        """Why, from what the evaluation measured: the interval's width, and how near the synthetic
        rows sit to the training rows (what a nearest-neighbour or rare-value attack exploits)."""
        parts = []
        if self.within_noise:
            parts.append(f"its 95% interval reaches down to {self.risk.ci_low:.1%}, within {100 * RISK_GOAL:g} points of the "
                         f"baseline: with {self.risk.attacks} attacks this is not distinguishable from the goal (more "
                         f"attacks narrow the interval: ATTACKS in common/evaluation/attacks.py)")
        if self.closer_to_train_share is not None:
            share = self.closer_to_train_share
            leaning = ("more often than an unseen real flow would (50%)" if share > 0.5 + LEANING_MARGIN else
                       "less often than an unseen real flow would (50%)" if share < 0.5 - LEANING_MARGIN else
                       "about as often as an unseen real flow would (50%)")
            parts.append(f"{self.closer_to_train_share:.0%} of the synthetic rows lie nearer a training flow than any "
                         f"held-out flow, {leaning}")
        if self.exact_copy_share is not None:
            holdout = (f" (unseen real flows: {self.holdout_exact_copy_share:.1%})"
                       if self.holdout_exact_copy_share is not None else "")
            parts.append(f"{self.exact_copy_share:.1%} of them equal a training flow{holdout}")
        return "; ".join(parts)

    def sentence(self, model: str) -> str:
        return (f"{model}: {self.attack.replace('_', ' ')} risk {self.risk.risk:.1%} is {100 * self.excess:.1f} points "
                f"above the baseline of releasing unseen real flows ({self.baseline:.1%}), over the "
                f"{100 * RISK_GOAL:g}-point goal. Why: "
                f"{self.reason()}.")

    def to_json(self) -> dict[str, Any]:
        return {"attack": self.attack, "risk": self.risk.risk, "ci95": [self.risk.ci_low, self.risk.ci_high],
                "holdout_baseline": self.baseline, "excess": round(self.excess, 4), "goal": RISK_GOAL,
                "within_noise": self.within_noise, "closer_to_train_share": self.closer_to_train_share,
                "exact_copy_share": self.exact_copy_share, "why": self.reason()}


def risks_above_goal(section: AttackSection | None, baseline: AttackSection | None,
                     closer_to_train_share: float | None = None, exact_copy_share: float | None = None,
                     holdout_exact_copy_share: float | None = None) -> list[RiskAboveGoal]:
    """The singling-out and linkability risks of `section` more than RISK_GOAL above the same
    attack on `baseline` (unseen real flows; 0 where it was not measured); [] when none or skipped."""
    if section is None or section.skipped:
        return []
    found = []
    for attack in GOAL_ATTACKS:
        risk = section.risks.get(attack)
        if risk is None:
            continue
        reference = baseline.risks.get(attack) if baseline is not None and not baseline.skipped else None
        base = reference.risk if reference is not None else 0.0
        if risk.risk - base > RISK_GOAL:
            found.append(RiskAboveGoal(attack, risk, base, closer_to_train_share, exact_copy_share,
                                       holdout_exact_copy_share))
    return found


def anonymeter_available() -> str | None:
    """None when anonymeter can be imported, else why not."""
    try:
        import anonymeter.evaluators  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any import failure means the same: skipped
        return f"anonymeter is not importable ({type(error).__name__}: {error}); run make venv"
    return None


def _cache_compiled_kernels() -> None:
    """Keep anonymeter's numba kernels compiled on disk (numba's own cache: beside the library's
    source where that is writable, else in NUMBA_CACHE_DIR or the user's cache folder), so a later
    process loads them instead of compiling again. Best effort: without it they compile as before."""
    try:
        import anonymeter.evaluators  # noqa: F401 - imported first: the neighbours module alone is a circular import
        from anonymeter.neighbors import mixed_types_kneighbors as kneighbors
        from numba.core.caching import NullCache

        for kernel in (kneighbors.gower_distance, kneighbors._nearest_neighbors):
            if isinstance(kernel._cache, NullCache):   # not yet enabled in this process
                kernel.enable_caching()
    except Exception as error:  # noqa: BLE001 - a cache that cannot be set up only costs compile time
        log.debug("numba cache for anonymeter's kernels not enabled: %s", error)


def _attack_frame(frame: pd.DataFrame, inputs: EvaluationInputs) -> pd.DataFrame:
    """Rows as anonymeter compares them: numeric missing cells as -1 (a value no flow measures),
    discrete ones as the text "<missing>"."""
    result = frame[list(inputs.train.columns)].copy()
    for column in inputs.numeric_columns:
        result[column] = pd.to_numeric(result[column], errors="coerce").fillna(-1.0)
    for column in inputs.discrete_columns:
        result[column] = result[column].astype(object).where(result[column].notna(), "<missing>").astype(str)
    return result.reset_index(drop=True)


def _risk(name: str, evaluator: Any) -> AttackRisk:
    results = evaluator.results()
    risk = evaluator.risk()
    return AttackRisk(
        attack=name, risk=round(float(risk.value), 4), ci_low=round(float(risk.ci[0]), 4),
        ci_high=round(float(risk.ci[1]), 4), attack_rate=round(float(results.attack_rate.value), 4),
        control_rate=round(float(results.control_rate.value), 4) if results.control_rate is not None else None,
        baseline_rate=round(float(results.baseline_rate.value), 4), attacks=int(results.n_attacks_ori),
    )


def run_attacks(inputs: EvaluationInputs, release: pd.DataFrame, control: pd.DataFrame, seed: int) -> AttackSection:
    """Singling out, linkability and inference against `release` (synthetic rows, or unseen real rows
    for the baseline), with `control` held-out real rows. Skipped (with the reason) when anonymeter
    is missing or a side has too few rows."""
    from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator

    _cache_compiled_kernels()
    original = _attack_frame(seeded_sample(inputs.train, ATTACK_ROWS, seed)[0], inputs)
    release = _attack_frame(seeded_sample(release, ATTACK_ROWS, seed)[0], inputs)
    control = _attack_frame(control, inputs)
    attacks = min(ATTACKS, len(original), len(control))
    if attacks < 10 or len(release) < LINK_NEIGHBOURS:
        return AttackSection({}, skipped=f"too few rows to attack (train {len(original)}, control {len(control)}, "
                                         f"release {len(release)})")
    columns = list(original.columns)
    target = inputs.target
    features = [c for c in columns if c != target]
    risks: dict[str, AttackRisk] = {}
    np.random.seed(seed % (2**32))     # anonymeter draws its targets from numpy's global generator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # "attack is as good or worse as baseline": the figure says it
        risks["singling_out"] = _risk("singling_out", SinglingOutEvaluator(
            ori=original, syn=release, control=control, n_attacks=attacks).evaluate(mode="univariate"))
        if len(features) >= 2:
            halves = (features[0::2], features[1::2])
            risks["linkability"] = _risk("linkability", LinkabilityEvaluator(
                ori=original, syn=release, control=control, n_attacks=attacks, aux_cols=halves,
                n_neighbors=LINK_NEIGHBOURS).evaluate(n_jobs=1))
        if target is not None and features:
            risks["inference"] = _risk("inference", InferenceEvaluator(
                ori=original, syn=release, control=control, aux_cols=features, secret=target,
                n_attacks=attacks).evaluate(n_jobs=1))
    return AttackSection(risks, rows={"original": len(original), "release": len(release), "control": len(control)})


def holdout_halves(inputs: EvaluationInputs, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(control, unseen release): the holdout split in two seeded halves, the control capped."""
    shuffled = inputs.holdout.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    middle = len(shuffled) // 2
    return shuffled.iloc[:middle].head(ATTACK_ROWS), shuffled.iloc[middle:]


def attack_section(inputs: EvaluationInputs, release: pd.DataFrame, seed: int) -> AttackSection:
    """The attacks on one release, or the reason they were skipped (never an exception)."""
    missing = anonymeter_available()
    if missing:
        return AttackSection({}, skipped=missing)
    control, _ = holdout_halves(inputs, seed)
    try:
        return run_attacks(inputs, release, control, seed)
    except Exception as error:  # noqa: BLE001 - a failing attack must not cost the rest of the evaluation
        log.warning("   re-identification attacks failed: %s", error)
        return AttackSection({}, skipped=f"anonymeter failed: {type(error).__name__}: {str(error)[:200]}")


def holdout_attack_baseline(inputs: EvaluationInputs, seed: int) -> AttackSection:
    """The same attacks with unseen real flows (the other half of the holdout) as the release."""
    _, unseen = holdout_halves(inputs, seed)
    return attack_section(inputs, unseen, seed)


__all__ = ["ATTACKS", "ATTACK_ROWS", "GOAL_ATTACKS", "RISK_GOAL", "AttackRisk", "AttackSection", "RiskAboveGoal",
           "attack_section", "holdout_attack_baseline", "risks_above_goal"]
