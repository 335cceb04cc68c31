"""Generation in shards on Ray (common/synth/distributed.py): exact totals per class across shards,
one reproducible seed per shard, the same rows for the same seed and workers, one file or one per
shard (CSV or Parquet), shortfalls summed; and fitting models concurrently. One local Ray session
(2 CPUs) serves the whole module: starting Ray costs seconds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.synth.distributed import (
    MAX_SHARD_ROWS, GenerationOptions, ShardResult, ShardTally, plan_shards, sample_parallel, shard_seeds,
    shard_sizes,
)
from common.synth.sampling import ClassShortfall, GenerationCounts

QUOTAS = {"a": 1_001, "b": 250, "c": 7, "d": 0}


def test_shards_split_the_class_totals_exactly():
    for sizes in ([1_258], [629, 629], [500, 500, 258], [300, 300, 300, 300, 58]):
        plan = plan_shards(QUOTAS, sizes, seed=5)
        assert [shard.index for shard in plan] == list(range(len(sizes)))
        for label, asked in QUOTAS.items():
            assert sum(shard.quotas.get(label, 0) for shard in plan) == asked
        assert [shard.rows for shard in plan] == sizes
    assert plan_shards(QUOTAS, [629, 629], seed=5) == plan_shards(QUOTAS, [629, 629], seed=5)
    assert plan_shards(QUOTAS, [629, 629], seed=5) != plan_shards(QUOTAS, [629, 629], seed=6)
    with pytest.raises(ValueError):
        plan_shards(QUOTAS, [600, 600], seed=5)


def test_shard_quotas_are_the_class_plans_slices():
    from common.data.classes import class_plan

    sizes = [500, 500, 258]
    labels = class_plan(QUOTAS, 9)     # the one-process path's shuffle, same seed
    for shard, piece in zip(plan_shards(QUOTAS, sizes, seed=9), np.split(labels, np.cumsum(sizes)[:-1])):
        names, counts = np.unique(piece.astype(str), return_counts=True)
        assert shard.quotas == dict(zip(names.tolist(), counts.tolist()))


def test_shards_hold_whole_batches_in_whole_rounds():
    batch = MAX_SHARD_ROWS // 2
    # 6 batches on 2 workers: 2 rounds of 2 shards, larger first, no batch cut in two (one process: 6 batches)
    assert shard_sizes(6 * batch, 2, batch) == [2 * batch, 2 * batch, batch, batch]
    assert shard_sizes(6 * batch - 7, 2, batch) == [2 * batch, 2 * batch, batch, batch - 7]
    assert shard_sizes(3 * MAX_SHARD_ROWS, 3, MAX_SHARD_ROWS) == [MAX_SHARD_ROWS] * 3
    # batches as large as a shard stay whole, even where that leaves a round short
    assert shard_sizes(7 * MAX_SHARD_ROWS, 3, MAX_SHARD_ROWS) == [MAX_SHARD_ROWS] * 7
    assert max(shard_sizes(7 * MAX_SHARD_ROWS, 3, 10)) <= MAX_SHARD_ROWS
    assert shard_sizes(10, 2, 50_000) == [5, 5]          # fewer batches than workers: rows split evenly
    assert shard_sizes(1, 4, 50_000) == [1]
    assert shard_sizes(2 * MAX_SHARD_ROWS, 2, 4 * MAX_SHARD_ROWS) == [MAX_SHARD_ROWS] * 2   # one batch, two workers
    for total, workers, rows in ((1_258, 2, 100), (999_999, 2, 50_000), (12, 5, 5)):
        sizes = shard_sizes(total, workers, rows)
        assert sum(sizes) == total and len(sizes) % workers == 0 and max(sizes) <= max(rows, MAX_SHARD_ROWS)


def test_shard_seeds_are_distinct_reproducible_and_stable_per_index():
    seeds = shard_seeds(42, 16)
    assert len(set(seeds)) == 16 and seeds == shard_seeds(42, 16)
    assert shard_seeds(42, 4) == seeds[:4]            # shard i's seed does not depend on the shard count
    assert set(shard_seeds(43, 16)).isdisjoint(seeds)


def test_shortfalls_are_summed_across_shards():
    tally = ShardTally()
    for index, delivered in enumerate((3, 4)):
        counts = GenerationCounts(rows_sampled=delivered)
        counts.shortfalls["rare"] = ClassShortfall(asked=5, delivered=delivered, drawn=50, conditional_drawn=10,
                                                   reason="rarely made")
        tally.add(ShardResult(index, delivered, counts, _empty_validity(), 1, frame=pd.DataFrame({"x": range(delivered)})))
    short = tally.counts.shortfalls["rare"]
    assert (short.asked, short.delivered, short.missing, short.drawn) == (10, 7, 3, 100)
    assert tally.rows == 7 and tally.batches == 2


def test_parallel_options_are_checked_before_anything_runs():
    from train_synthetic_models_improved import parse_args

    for argv in (["--shard-files"], ["--generate-only", "--shard-files", "--evaluate"], ["--workers", "0"]):
        with pytest.raises(SystemExit) as stopped:
            parse_args(argv)
        assert stopped.value.code == 2
    args = parse_args(["--generate-only", "--workers", "2", "--shard-files"])
    assert (args.workers, args.ray_address, args.shard_files) == (2, None, True)


def _empty_validity():
    from common.rules import ValidityReport

    return ValidityReport()


# ----------------------------------------------------------------------------- on Ray


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    from common.synth.distributed import PROJECT_ROOT

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """GaussianCopula (fitted in one pass: seconds) with the domain layer and guard on a small
    simulated flow table."""
    from common import synth
    from common.data.pipeline import load_context
    from common.synth.config import TrainingConfig
    from data.simulator import simulate_flows

    folder = tmp_path_factory.mktemp("distributed")
    simulate_flows(400, seed=3).to_csv(folder / "flows.csv", index=False)
    context = load_context(folder / "flows.csv", folder / "out")
    flow, _ = synth.build_flow("gaussian_copula", context.modelled, TrainingConfig(), synth.choose_device("cpu"),
                               context.schema, context.rules, seed=1)
    flow.verbose = False
    flow.fit(context.modelled)
    return flow, context


def test_parallel_generation_exact_counts_reproducible_and_guarded(ray_local, fitted, tmp_path):
    flow, context = fitted
    options = GenerationOptions(workers=2)
    asked = flow.quotas(121)          # the training shares, exact per class
    first = sample_parallel(flow, tmp_path / "one.csv", 121, 25, 11, context.rules, options)
    rows = pd.read_csv(tmp_path / "one.csv")
    assert first.rows == len(rows) == sum(asked.values()) and first.shards == 2 and first.workers == 2
    assert rows[flow.target].astype(str).value_counts().to_dict() == asked
    assert context.rules.validity(rows).valid_share == 1.0           # every row through the guard
    assert flow.validity.rows_sampled == len(rows)                   # the shards' guard counts, summed
    again = sample_parallel(flow, tmp_path / "two.csv", 121, 25, 11, context.rules, options)
    assert again.rows == first.rows
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    other = sample_parallel(flow, tmp_path / "three.csv", 121, 25, 12, context.rules, options)
    assert other.rows == first.rows and (tmp_path / "three.csv").read_bytes() != (tmp_path / "one.csv").read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))                         # no temporary file left


def test_shard_files_and_parquet(ray_local, fitted, tmp_path):
    flow, context = fitted
    options = GenerationOptions(workers=2, shard_files=True)
    facts = sample_parallel(flow, tmp_path / "rows.parquet", 90, 50, 4, context.rules, options)
    paths = [tmp_path / f"rows_shard{i}of2.parquet" for i in (1, 2)]
    assert facts.shard_files == [str(path) for path in paths] and not (tmp_path / "rows.parquet").exists()
    parts = [pd.read_parquet(path) for path in paths]
    assert [len(part) for part in parts] == [50, 40] and list(parts[0].columns) == flow.columns   # whole batches of 50
    whole = sample_parallel(flow, tmp_path / "whole.parquet", 90, 50, 4, context.rules, GenerationOptions(workers=2))
    assert whole.rows == 90
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole.parquet"),
                                  pd.concat(parts, ignore_index=True))     # one file = the shards in order


def test_models_fit_concurrently(ray_local, fitted):
    from common.synth.config import TrainingConfig
    from common.synth.distributed import fit_concurrently
    from common.synth.params import GaussianCopulaParams

    flow, context = fitted
    config = TrainingConfig().with_params(GaussianCopulaParams(default_distribution="norm"))
    arguments = {"config": config, "device": flow.device, "metadata_dict": None, "schema": context.schema,
                 "rules": context.rules, "seed": 1}
    results = list(fit_concurrently(["gaussian_copula", "tvae"], context.modelled.head(120),
                                    {**arguments, "config": config.with_params(
                                        config.params("tvae").resolved(epochs=1, batch_size=60))},
                                    GenerationOptions(workers=2)))
    assert sorted(fitted.model for fitted, _ in results) == ["gaussian_copula", "tvae"]
    for fitted_model, timings in results:
        assert fitted_model.facts.rows == 120 and f"fit {fitted_model.model}" in timings
        assert len(pd.concat(fitted_model.flow.sample(20, 20, seed=2), ignore_index=True)) == 20
    assert np.all([fitted_model.flow.synthesizer is not None for fitted_model, _ in results])
