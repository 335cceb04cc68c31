"""The shared loader, column typing, feature categories and training-config validation."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from common.synth.config import DEFAULT_TRAINING_CONFIG, validate_training_config
from common.core.errors import UserError
from common.core.io import atomic_path, make_unique_names, read_table, write_json
from common.data.schema import categorise_features, infer_schema, normalise_name, sdv_metadata_dict


def test_cicflowmeter_names_infinity_and_duplicates_are_reported(cicflowmeter_csv):
    frame, report = read_table(cicflowmeter_csv)
    assert "Label" in frame.columns and "SYN Flag Count" in frame.columns
    assert "Fwd Header Length.1" in frame.columns
    assert report.renamed_duplicates == {"Fwd Header Length.1": "Fwd Header Length"}
    assert report.stripped_names > 10
    assert report.infinite_counts["Flow Bytes/s"] > 0
    assert np.isinf(frame["Flow Packets/s"]).sum() == report.infinite_counts["Flow Packets/s"]
    assert report.missing_counts["Flow Bytes/s"] >= 8


def test_duplicate_rows_counted_not_dropped(tmp_path):
    path = tmp_path / "dups.csv"
    pd.DataFrame({"a": [1, 1, 2, 3] * 5, "b": [0.5, 0.5, 1.5, 2.0] * 5}).to_csv(path, index=False)
    frame, report = read_table(path)
    assert len(frame) == 20
    assert report.duplicate_rows == int(frame.duplicated().sum()) == 17  # 3 distinct rows


def test_gzip_and_parquet_read_like_csv(tmp_path):
    frame = pd.DataFrame({" x ": [1.0, 2.0, np.inf], "y": ["a", "b", "c"]})
    csv_gz = tmp_path / "t.csv.gz"
    with gzip.open(csv_gz, "wt") as handle:
        frame.to_csv(handle, index=False)
    parquet = tmp_path / "t.parquet"
    frame.to_parquet(parquet)
    from_gz, _ = read_table(csv_gz)
    from_parquet, report = read_table(parquet)
    assert list(from_gz.columns) == list(from_parquet.columns) == ["x", "y"]
    assert report.infinite_counts == {"x": 1}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"a,b\n", "no data rows"),
        (b"a;b;c\n1;2;3\n", "';'-delimited"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("a,b\n1,caf\xe9\n".encode("latin-1"), "not UTF-8"),
        (b"a,b\n1,\n2,\n", "column 'b'"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(UserError) as error:
        read_table(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="is a directory"):
        read_table(tmp_path)


def test_too_few_rows(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="1 data row"):
        read_table(path, min_rows=10)


def test_make_unique_names_avoids_existing_names():
    names, stripped, renamed = make_unique_names([" a", "a", "a.1", "b "])
    assert names == ["a", "a.2", "a.1", "b"]
    assert stripped == 2 and renamed == {"a.2": "a"}


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"kept": True})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_cicflowmeter_typing(cicflowmeter_csv):
    frame, _ = read_table(cicflowmeter_csv)
    schema = infer_schema(frame)
    assert schema.target == "Label"
    assert set(schema.identifiers) == {
        "Flow ID", "Source IP", "Source Port", "Destination IP", "Destination Port", "Timestamp"
    }
    assert schema.kind("Init_Win_bytes_forward") == "integer"  # -1 sentinel makes it signed
    assert schema.kind("Total Fwd Packets") == "count"
    assert schema.kind("Flow Bytes/s") == "continuous"
    categories = schema.feature_categories
    assert {"SYN Flag Count", "Fwd PSH Flags", "RST Flag Count"} <= set(categories["tcp_flags"])
    assert {"Fwd Header Length", "Bwd Header Length"} <= set(categories["header_bytes"])
    assert "Flow IAT Mean" in categories["timing"]
    assert {"Flow Bytes/s", "Flow Packets/s"} <= set(categories["rate"])
    assert "Init_Win_bytes_forward" in categories["window"]


def test_kdd_typing(kdd_csv):
    frame, _ = read_table(kdd_csv)
    schema = infer_schema(frame)
    assert schema.target == "label"
    assert schema.kind("flag") == "categorical" and schema.kind("service") == "categorical"
    assert schema.kind("serror_rate") == "fraction"
    assert "flag" in schema.feature_categories["tcp_flags"]
    assert schema.identifiers == []


def test_label_column_option(cicflowmeter_csv):
    frame, _ = read_table(cicflowmeter_csv)
    with pytest.raises(UserError, match="'label' is not in the data .*did you mean 'Label'"):
        infer_schema(frame, label_column="label")
    assert infer_schema(frame, label_column="Label").target == "Label"


def test_ntlflowlyzer_names_are_categorised():
    columns = [
        "fwd_psh_flag_percentage_in_fwd_packets", "rst_flag_counts", "fwd_mean_header_bytes",
        "packets_IAT_mean", "bwd_packets_rate", "bwd_init_win_bytes", "something_else",
    ]
    from common.data.schema import DEFAULT_FEATURE_CATEGORIES

    categories = categorise_features(columns, DEFAULT_FEATURE_CATEGORIES)
    assert categories["tcp_flags"] == columns[:2]
    assert categories["header_bytes"] == ["fwd_mean_header_bytes"]
    assert categories["timing"] == ["packets_IAT_mean"]
    assert categories["rate"] == ["bwd_packets_rate"]
    assert categories["window"] == ["bwd_init_win_bytes"]
    assert categories["other"] == ["something_else"]
    assert normalise_name(" Fwd Packets/s") == "fwd_packets_per_s"


def test_metadata_dict_leaves_identifiers_out(cicflowmeter_csv):
    from sdv.metadata import Metadata

    frame, _ = read_table(cicflowmeter_csv)
    schema = infer_schema(frame)
    metadata = Metadata.load_from_dict(sdv_metadata_dict(schema))
    metadata.validate()
    columns = metadata.to_dict()["tables"]["flows"]["columns"]
    assert "Source IP" not in columns and columns["Label"]["sdtype"] == "categorical"


@pytest.mark.parametrize(
    "change, key",
    [
        ({"epochz": 3}, "epochz"),
        ({"ctgan": {"epochs": -1}}, "ctgan.epochs"),
        ({"ctgan": {"batch_size": 505}}, "ctgan.batch_size"),
        ({"device": "gpu"}, "device"),
        ({"tvae": {"compress_dims": "128"}}, "tvae.compress_dims"),
        ({"holdout_fraction": 0.9}, "holdout_fraction"),
        ({"tvae": {"learning_rate": 1}}, "tvae.learning_rate"),
        ({"max_training_rows": 0}, "max_training_rows"),
    ],
)
def test_config_errors_name_the_key(change, key):
    with pytest.raises(UserError) as error:
        validate_training_config(change, source="cfg.json")
    assert f"'{key}'" in str(error.value)


def test_config_defaults_fill_missing_keys():
    config = validate_training_config({"ctgan": {"epochs": 5}})
    assert config.params("ctgan").epochs == 5
    assert config.params("ctgan").batch_size == DEFAULT_TRAINING_CONFIG["ctgan"]["batch_size"]
    assert config.params("tvae").to_section() == DEFAULT_TRAINING_CONFIG["tvae"]


def test_config_is_frozen_typed_and_keeps_the_file_shape():
    """The validated config holds the registry's params objects, cannot be changed in place,
    and writes back exactly the file's keys (the manifest records it as JSON)."""
    import dataclasses

    from common.synth.params import CTGANParams

    edited = {"seed": 7, "ctgan": {"epochs": 5, "generator_dim": [64, 64]}, "notes": ["mine"]}
    config = validate_training_config(edited)
    assert isinstance(config.params("ctgan"), CTGANParams) and config.params("ctgan").generator_dim == (64, 64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 8
    as_json = json.loads(json.dumps(config.to_json()))
    assert list(as_json) == list(DEFAULT_TRAINING_CONFIG)
    assert as_json["ctgan"]["generator_dim"] == [64, 64] and as_json["seed"] == 7 and as_json["notes"] == ["mine"]
    assert validate_training_config(as_json) == config          # the round trip loses nothing
    assert validate_training_config({}).to_json() == DEFAULT_TRAINING_CONFIG


def test_atomic_artifacts_are_readable_by_others(tmp_path):
    target = write_json(tmp_path / "report.json", {"a": 1})
    assert target.stat().st_mode & 0o044 == 0o044


def test_default_data_is_the_bundled_sample():
    """The scripts' default --data is the sample in data/, wherever common.core.cli lives."""
    from common.core.cli import DEFAULT_DATA
    from tests.conftest import SAMPLE

    assert DEFAULT_DATA == SAMPLE and DEFAULT_DATA.is_file()
