"""The benchmark-only peer (MOSTLY AI's TabularARGN in benchmarks/.peer-venv): a clean skip without it,
and rows of the asked shape with it. CI has no peer venv: there only the skip path runs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data" / "tcp_flag_sample.csv"


def load_peers():
    """benchmarks/peers.py (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("tcpsynth_benchmark_peers", REPO_ROOT / "benchmarks" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_train(rows: int = 200) -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE)
    return frame.groupby("activity", group_keys=False).sample(frac=rows / len(frame), random_state=0) \
        .reset_index(drop=True)


def test_bogus_peer_python_is_a_clean_skip(monkeypatch, tmp_path: Path) -> None:
    peers = load_peers()
    monkeypatch.setenv(peers.PEER_PYTHON_ENV, str(tmp_path / "no" / "python"))
    frame, facts = peers.run_tabularargn(small_train(50), rows=10, seed=1, minutes=0.1, target="activity")
    assert frame is None
    assert "no peer python" in facts["skipped"] and str(tmp_path) in facts["skipped"]


def test_a_failing_peer_is_a_clean_skip(monkeypatch, tmp_path: Path) -> None:
    """A python that runs but fails (here: one that exits 3 at once) gives the note, not an exception."""
    failing = tmp_path / "python"
    failing.write_text("#!/bin/sh\necho 'engine broke' >&2\nexit 3\n")
    failing.chmod(0o755)
    peers = load_peers()
    monkeypatch.setenv(peers.PEER_PYTHON_ENV, str(failing))
    frame, facts = peers.run_tabularargn(small_train(50), rows=10, seed=1, minutes=0.1)
    assert frame is None
    assert "exited 3" in facts["skipped"] and "engine broke" in facts["skipped"]


def test_class_counts_follow_the_train_shares() -> None:
    peers = load_peers()
    train = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2})
    assert peers.class_counts(train, "c", 7) == {"a": 4, "b": 2, "c": 1}
    assert sum(peers.class_counts(train, "c", 1001).values()) == 1001


@pytest.mark.slow
def test_tabularargn_fits_and_samples_the_asked_rows(monkeypatch) -> None:
    peers = load_peers()
    monkeypatch.delenv(peers.PEER_PYTHON_ENV, raising=False)
    python, why = peers.peer_python()
    if python is None:
        pytest.skip(why)
    train = small_train(200)
    frame, facts = peers.run_tabularargn(train, rows=60, seed=1, minutes=0.05, target="activity")
    assert frame is not None, facts
    assert len(frame) == 60
    assert list(frame.columns) == list(train.columns)
    assert facts["sampling"] == "seeded"
    asked = peers.class_counts(train, "activity", 60)
    assert frame["activity"].astype(str).value_counts().to_dict() == asked
    assert facts["fit_seconds"] > 0
