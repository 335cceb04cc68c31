"""Shared fixtures: small hand-made tables in the schemas users bring, and the real sample."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Tests share two cores with each other; torch would otherwise start one thread per core per process.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
REAL_OSYN = SHARED_DATA / "cpacket_attack_tcp_flag_osyn.csv"
SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"

from tests.flow_tables import make_cicflowmeter_csv, make_kdd_csv  # noqa: E402


@pytest.fixture
def real_osyn_path() -> Path:
    """The real single-class NTLFlowLyzer file beside the checkout; skipped when absent."""
    if not REAL_OSYN.exists():
        pytest.skip(f"real sample not present at {REAL_OSYN}")
    return REAL_OSYN


@pytest.fixture
def cicflowmeter_csv(tmp_path: Path) -> Path:
    return make_cicflowmeter_csv(tmp_path / "cic_ids2017.csv")


@pytest.fixture
def kdd_csv(tmp_path: Path) -> Path:
    return make_kdd_csv(tmp_path / "nsl_kdd.csv")


@pytest.fixture
def small_privacy_samples(monkeypatch) -> None:
    """Smaller samples for sdmetrics' two row-by-row privacy metrics (one pandas query per row,
    a cross join) in evaluations run in this process: seconds instead of tens of seconds."""
    from common.evaluation import privacy

    monkeypatch.setattr(privacy, "NEW_ROW_ROWS", 40)
    monkeypatch.setattr(privacy, "OVERFITTING_ROWS", 100)


# ----------------------------------------------------------------------------- the fast loop
# `pytest -m "not slow"` skips what trains a model or runs a script end to end in a subprocess
# (minutes); `make test` runs everything.
SLOW_FIXTURES = {"trained", "evaluated", "setup_run", "sample_context", "owned_folder"}
SLOW_MODULES = {"test_formats_end_to_end"}


def pytest_configure(config) -> None:
    # model signing keys (common.synth.signing) go to a folder of the test run, not the user's config
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="tcpsynth-config-"))
    os.environ.pop("TCPSYNTH_MODEL_KEY", None)
    config.addinivalue_line("markers", "slow: trains a model or runs a script end to end; deselect with -m 'not slow'")


# `make test` runs on two workers (pytest-xdist, --dist loadfile): a module's tests go to one worker
# together, because most modules share an expensive module-scoped fixture (a trained model, a setup
# run) that each worker would otherwise compute again. The tests of these modules share nothing and
# are spread one by one, so that their long end-to-end runs balance the workers.
INDEPENDENT_MODULES = {"test_formats_end_to_end"}


@pytest.hookimpl(optionalhook=True)   # a plain `pytest` without pytest-xdist ignores it
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleOrTestScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return nodeid if Path(module).stem in INDEPENDENT_MODULES else module

        def schedule(self) -> None:
            # hand out the work in the collection's order (LONGEST_FIRST), not xdist's "most tests first"
            self.config.option.loadscopereorder = False
            super().schedule()

    return ModuleOrTestScheduling(config, log)


# The modules whose runs take longest, longest first (measured on 2 cores, 2026-12-04: 85 s down to
# 20 s each): the workers take them first and end on the short ones, so that both finish together
# (by xdist's default, most tests first, a 30-second run came last and one worker idled). Only the
# order changes; a module not named here follows them in collection order.
LONGEST_FIRST = ("test_your_own_data", "test_training", "test_full_size", "test_every_class",
                 "test_formats_end_to_end", "test_evaluation", "test_model_registry", "test_distributed",
                 "test_bad_inputs", "test_setup")


def pytest_collection_modifyitems(items) -> None:
    def rank(item) -> int:
        module = item.module.__name__.rsplit(".", 1)[-1]
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)      # stable: a module's own tests keep their order
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
