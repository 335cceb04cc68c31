"""Re-identification attacks (anonymeter) in the evaluation: a release that copies training rows is
found out, one of unseen real flows is not, and a missing library is a stated skip."""
from __future__ import annotations

import pytest

from common.evaluation import attacks
from common.evaluation.tables import make_inputs
from common.data.pipeline import detect_rules
from common.data.schema import infer_schema, modelling_frame
from data.simulator import simulate_flows


@pytest.fixture(scope="module")
def inputs():
    frame = simulate_flows(900, seed=17)
    schema = infer_schema(frame)
    modelled = modelling_frame(frame, schema)
    rules = detect_rules(frame, schema)
    return make_inputs(modelled.iloc[:600], modelled.iloc[600:], schema, rules, seed=3)


def test_missing_anonymeter_is_a_stated_skip(inputs, monkeypatch):
    monkeypatch.setattr(attacks, "anonymeter_available", lambda: "anonymeter is not importable (test)")
    section = attacks.attack_section(inputs, inputs.holdout, seed=1)
    assert section.skipped and section.to_json() == {"skipped": "anonymeter is not importable (test)"}


@pytest.mark.slow
def test_a_copy_of_the_training_rows_is_found_out_and_unseen_flows_are_not(inputs):
    if attacks.anonymeter_available():
        pytest.skip(attacks.anonymeter_available())
    copied = attacks.attack_section(inputs, inputs.train, seed=1)
    unseen = attacks.holdout_attack_baseline(inputs, seed=1)
    assert copied.skipped is None and unseen.skipped is None
    assert set(copied.risks) == {"singling_out", "linkability", "inference"}
    # a release that copies training rows lets an attacker single them out; unseen flows of the same traffic
    # do far less (measured: 0.98, CI 0.96-1.0, against 0.14, CI 0.06-0.22)
    assert copied.risks["singling_out"].ci_low > 0.8 > 0.4 > unseen.risks["singling_out"].ci_high
    for name in ("linkability", "inference"):
        assert copied.risks[name].risk > unseen.risks[name].risk, name
    for risk in copied.risks.values():
        assert 0.0 <= risk.ci_low <= risk.risk <= risk.ci_high <= 1.0 and risk.attacks == attacks.ATTACKS
    assert "singling_out" in [f.attack for f in attacks.risks_above_goal(copied, unseen)]
    assert attacks.risks_above_goal(unseen, unseen) == []
    sentence = copied.risks["inference"].sentence(unseen.risks["inference"])
    assert sentence.startswith("An attacker holding these rows could infer") and "unseen real flows" in sentence


def test_anonymeters_kernels_are_compiled_once_per_machine_not_once_per_process():
    pytest.importorskip("anonymeter")
    import anonymeter.evaluators  # noqa: F401
    from anonymeter.neighbors import mixed_types_kneighbors as kneighbors
    from numba.core.caching import NullCache

    attacks._cache_compiled_kernels()
    for kernel in (kneighbors.gower_distance, kneighbors._nearest_neighbors):
        assert not isinstance(kernel._cache, NullCache), kernel.__name__


def _risk(name, risk, low, high, attacks_run=100):
    return attacks.AttackRisk(name, risk, low, high, attack_rate=risk, control_rate=0.0, baseline_rate=0.01,
                              attacks=attacks_run)


def test_a_risk_over_the_goal_beyond_the_baseline_is_named_with_its_reason():
    release = attacks.AttackSection({"singling_out": _risk("singling_out", 0.04, 0.0, 0.09),
                                     "linkability": _risk("linkability", 0.30, 0.21, 0.39),
                                     "inference": _risk("inference", 0.5, 0.4, 0.6)})
    baseline = attacks.AttackSection({"singling_out": _risk("singling_out", 0.01, 0.0, 0.05),
                                      "linkability": _risk("linkability", 0.02, 0.0, 0.07)})
    found = attacks.risks_above_goal(release, baseline, closer_to_train_share=0.81, exact_copy_share=0.2,
                                     holdout_exact_copy_share=0.0)
    # inference is not held to the goal; singling out is 3 points over its baseline: within the goal
    assert [f.attack for f in found] == ["linkability"]
    finding = found[0]
    assert finding.excess == pytest.approx(0.28) and not finding.within_noise
    sentence = finding.sentence("ctgan")
    assert sentence.startswith("ctgan: linkability risk 30.0% is 28.0 points above") and "81% of the synthetic rows" in sentence
    assert "more often than an unseen real flow would" in sentence and "20.0% of them equal a training flow" in sentence
    assert finding.to_json()["why"] == finding.reason()
    # the same risk measured against no baseline, with an interval reaching the goal: said to be within noise
    wide = attacks.AttackSection({"linkability": _risk("linkability", 0.086, 0.01, 0.16)})
    (noisy,) = attacks.risks_above_goal(wide, None)
    assert noisy.baseline == 0.0 and noisy.within_noise and "not distinguishable from the goal" in noisy.reason()
    (near_half,) = attacks.risks_above_goal(wide, None, closer_to_train_share=0.53)
    assert "about as often as an unseen real flow would" in near_half.reason()
    assert attacks.risks_above_goal(attacks.AttackSection({}, skipped="off"), baseline) == []
