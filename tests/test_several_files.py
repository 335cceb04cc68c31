"""Several files as one table: a folder, a glob or several --data paths (CSV, CSV.gz, Parquet)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from common.core.errors import UserError
from common.core.io import file_sha256, read_table
from common.core.layout import OutputLayout
from data.simulator import simulate_flows
from tests.scripts import ANALYZER, SETUP, run_in_process


@pytest.fixture
def capture_folder(tmp_path):
    """One activity per file, as per-activity exports ship: CSV, gzip'd CSV and Parquet."""
    frame = simulate_flows(240, seed=3)
    folder = tmp_path / "captures"
    folder.mkdir()
    parts = [part for _, part in frame.groupby("activity", sort=True)][:3]
    parts[0].to_csv(folder / "a.csv", index=False)
    parts[1].to_csv(folder / "b.csv.gz", index=False)
    parts[2].to_parquet(folder / "c.parquet", index=False)
    (folder / "notes.txt.bak").write_text("not data")
    return folder, parts


def test_a_folder_is_one_table_in_file_order(capture_folder):
    folder, parts = capture_folder
    frame, report = read_table(folder)
    assert len(frame) == sum(len(p) for p in parts) and list(frame.columns) == list(parts[0].columns)
    assert [entry["rows"] for entry in report.files] == [len(p) for p in parts]
    assert [entry["path"].rsplit("/", 1)[-1] for entry in report.files] == ["a.csv", "b.csv.gz", "c.parquet"]
    assert report.path == f"3 files in {folder}" and report.sha256 not in {file_sha256(folder / "a.csv")}
    assert frame["activity"].tolist() == pd.concat(parts)["activity"].tolist()
    # a glob and a list of paths name the same table (same digest)
    _, by_glob = read_table(str(folder / "[abc].*"))
    _, by_list = read_table([folder / "a.csv", folder / "b.csv.gz", folder / "c.parquet"])
    assert by_glob.sha256 == by_list.sha256 == report.sha256


def test_a_file_whose_header_differs_is_named_with_its_columns(capture_folder):
    folder, parts = capture_folder
    parts[0].drop(columns=["activity"]).to_csv(folder / "d.csv", index=False)
    with pytest.raises(UserError, match=r"d\.csv: its header differs from .*a\.csv's: it lacks 'activity'"):
        read_table(folder)
    with pytest.raises(UserError, match="matches no file"):
        read_table(str(folder / "nothing*.csv"))


def test_the_stages_record_and_reuse_every_file(capture_folder, tmp_path):
    folder, _ = capture_folder
    out = tmp_path / "out"
    setup = run_in_process(SETUP, "--data", str(folder), "--output-dir", str(out))
    assert setup.returncode == 0, setup.stderr[-2000:]
    record = json.loads(OutputLayout(out).data_source_json.read_text())
    assert [p.rsplit("/", 1)[-1] for p in record["paths"]] == ["a.csv", "b.csv.gz", "c.parquet"]
    patterns = json.loads(OutputLayout(out).detected_patterns_json.read_text())
    assert len(patterns["loading"]["files"]) == 3
    # the same files given one by one are the same table; one file alone is not
    from common.core.cli import data_for_stage

    files = [folder / "a.csv", folder / "b.csv.gz", folder / "c.parquet"]
    assert data_for_stage(files, OutputLayout(out)) == files
    with pytest.raises(UserError, match="is not the table"):
        data_for_stage([folder / "a.csv"], OutputLayout(out))
    analyzer = run_in_process(ANALYZER, "--output-dir", str(out), "--trees", "5")
    assert analyzer.returncode == 0, analyzer.stderr[-2000:]
    assert "3 files in" in analyzer.stdout
