"""A user's own data, safely: nothing a user has is overwritten, the output folder remembers its
table, a class mix is evaluated as what was asked, and every mistake is one line and exit 2.

One small simulated table is set up, analysed and learned by CTGAN (quick) once for the module;
every test then runs the scripts through their CLI entry in this process, as a user would.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from common.core.io import file_sha256, read_table
from common.core.layout import OutputLayout
from data.simulator import simulate_flows
from tests.scripts import ALL_SCRIPTS, ANALYZER, REPO_ROOT, SETUP, TRAINER, run_in_process
from tests.test_bad_inputs import assert_user_error

QUICK = ("--models", "ctgan", "--epochs", "10")


def hashes(root: Path) -> dict[str, str]:
    """{relative path: SHA-256} of every file under `root`."""
    return {str(p.relative_to(root)): file_sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def own_table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mine") / "my_flows.csv"
    simulate_flows(360, seed=11).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def owned_folder(own_table, tmp_path_factory) -> OutputLayout:
    """The three stages on `own_table` into a fresh folder: --data given to the setup only; no
    evaluation (the tests that need one run it themselves)."""
    out = tmp_path_factory.mktemp("out")
    setup = run_in_process(SETUP, "--data", str(own_table), "--output-dir", str(out))
    assert setup.returncode == 0, setup.stderr[-2000:]
    analyzer = run_in_process(ANALYZER, "--output-dir", str(out), "--trees", "10")
    assert analyzer.returncode == 0, analyzer.stderr[-2000:]
    assert "the table" in analyzer.stdout and str(own_table) in analyzer.stdout   # said which table it used
    trainer = run_in_process(TRAINER, "--output-dir", str(out), *QUICK, "--skip-evaluation")
    assert trainer.returncode == 0, trainer.stderr[-2000:]
    return OutputLayout(out)


def model_classes(layout: OutputLayout) -> dict[str, float]:
    """{class: training share} of the classes the saved CTGAN learned (small classes left out)."""
    return json.loads(layout.manifest_json.read_text())["models"]["ctgan"]["description"]["class_shares"]


def generate(layout: OutputLayout, *args: str) -> subprocess.CompletedProcess:
    return run_in_process(TRAINER, "--output-dir", str(layout.root), "--generate-only", "--models", "ctgan",
                          "--num-rows", "20", *args)


# ----------------------------------------------------------------------------- nothing overwritten


def test_later_stages_use_the_folders_table(owned_folder, own_table):
    analysis = json.loads(owned_folder.comprehensive_analysis_json.read_text())
    record = json.loads(owned_folder.data_source_json.read_text())
    assert record["path"] == str(own_table.resolve()) and record["sha256"] == file_sha256(own_table)
    assert analysis["dataset"]["source_sha256"] == file_sha256(own_table)
    manifest = json.loads(owned_folder.manifest_json.read_text())
    assert manifest["source"]["sha256"] == file_sha256(own_table)


def test_output_over_the_input_table_is_refused(owned_folder, own_table):
    before = file_sha256(own_table)
    result = generate(owned_folder, "--data", str(own_table), "--output", str(own_table))
    assert_user_error(result, str(own_table), "never overwritten")
    assert file_sha256(own_table) == before
    # the folder's own table is protected without --data too
    assert_user_error(generate(owned_folder, "--output", str(own_table), "--force"), "never overwritten")
    assert file_sha256(own_table) == before


def test_output_over_config_or_model_or_pipeline_file_is_refused(owned_folder):
    before = hashes(owned_folder.root)
    for target, needle in ((owned_folder.training_configs_json, "training config"),
                           (owned_folder.model_pickle("ctgan"), "pipeline's own files"),
                           (owned_folder.synthetic_csv("ctgan"), "pipeline's own files"),
                           (owned_folder.report_html, "pipeline's own files"),
                           # by name, not by existence: a file the next run would write
                           (owned_folder.synthetic_csv("tvae"), "pipeline's own files")):
        assert_user_error(generate(owned_folder, "--output", str(target), "--force"), needle)
    assert hashes(owned_folder.root) == before
    assert not owned_folder.synthetic_csv("tvae").exists()


def test_output_that_is_a_folder_is_one_line(owned_folder, tmp_path):
    folder = tmp_path / "adir"
    folder.mkdir()
    assert_user_error(generate(owned_folder, "--output", str(folder)), "is a folder")
    assert list(folder.iterdir()) == []


def test_existing_output_needs_force(owned_folder, tmp_path):
    target = tmp_path / "mine.csv"
    target.write_text("keep me\n")
    assert_user_error(generate(owned_folder, "--output", str(target)), "exists", "--force")
    assert target.read_text() == "keep me\n"
    result = generate(owned_folder, "--output", str(target), "--force")
    assert result.returncode == 0, result.stderr[-1500:]
    rows, _ = read_table(target)
    assert len(rows) == 20


def test_generation_goes_to_a_new_file_and_keeps_the_pipelines_files(owned_folder):
    before = hashes(owned_folder.root)
    first, second = generate(owned_folder), generate(owned_folder)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr[-1500:], second.stderr[-1500:])
    made = sorted(owned_folder.generated_dir.glob("ctgan_20rows_*.csv"))
    assert len(made) >= 2            # two runs, two files: a second run never replaces the first
    after = hashes(owned_folder.root)
    # nothing the pipeline wrote changed, except the manifest recording the two generations
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed == {"models/manifest.json"}
    outputs = [record["output"] for record in json.loads(owned_folder.manifest_json.read_text())["generations"]]
    assert {str(path) for path in made} <= set(outputs)


def test_class_mix_is_evaluated_against_what_was_asked(owned_folder, small_privacy_samples):
    learned = model_classes(owned_folder)
    two = sorted(learned, key=learned.get)[:2]       # the two rarest classes the model learned
    before = hashes(owned_folder.root)
    result = run_in_process(TRAINER, "--output-dir", str(owned_folder.root), "--generate-only", "--models", "ctgan",
                            "--class-counts", f"{two[0]}=30,{two[1]}=20", "--evaluate")
    assert result.returncode == 0, result.stderr[-2000:]
    (csv,) = [p for p in owned_folder.generated_dir.glob("ctgan_50rows_*.csv")]
    report_folder = OutputLayout(csv.with_name(csv.stem + "_evaluation"))
    evaluation = json.loads(report_folder.evaluation_json("ctgan").read_text())
    class_shares = evaluation["fidelity"]["class_shares"]
    assert class_shares["reference"] == "asked"
    assert class_shares["max_absolute_difference"] < 0.01          # exactly the mix asked for
    assert set(class_shares["shares"]) == set(two)
    assert set(evaluation["fidelity"]["per_class"]["classes"]) == set(two)
    html = report_folder.report_html.read_text()
    assert "class counts asked for" in html[:html.index("id='verdict'")]     # said before the figures
    # the folder's own report and evaluation are untouched, and none is written beside them
    after = hashes(owned_folder.root)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert {name for name in changed if not name.startswith("generated/")} == {"models/manifest.json"}


def test_evaluating_one_model_keeps_the_others_in_the_comparison(owned_folder, tmp_path, small_privacy_samples):
    # a second model's rows in the folder (a copy of CTGAN's, named as TVAE's): the comparison keeps it
    layout = OutputLayout(tmp_path / "copy")
    shutil.copytree(owned_folder.root, layout.root)
    shutil.copy(layout.synthetic_csv("ctgan"), layout.synthetic_csv("tvae"))
    result = run_in_process(TRAINER, "--output-dir", str(layout.root), "--evaluate-only", "--models", "ctgan")
    assert result.returncode == 0, result.stderr[-2000:]
    comparison = json.loads(layout.model_comparison_json.read_text())
    assert comparison["models"] == ["ctgan", "tvae"]
    # the libraries' INFO logs (SDV's whole detected metadata, RDT's rounding notes) stay out of the terminal
    assert "Detected metadata" not in result.stdout and "rounding scheme" not in result.stdout


# ----------------------------------------------------------------------------- one folder, one table


def test_another_table_against_the_folder_is_one_line_and_changes_nothing(owned_folder, own_table, tmp_path):
    other = tmp_path / "other.csv"
    simulate_flows(300, seed=12).to_csv(other, index=False)
    before = hashes(owned_folder.root)
    for script, extra in ((SETUP, ()), (ANALYZER, ()), (TRAINER, ("--evaluate-only",))):
        result = run_in_process(script, "--data", str(other), "--output-dir", str(owned_folder.root), *extra)
        assert_user_error(result, str(other), str(own_table.resolve()))
    assert hashes(owned_folder.root) == before
    # the same bytes under another name are the same table
    same = tmp_path / "same.csv"
    shutil.copy(own_table, same)
    from common.core.cli import data_for_stage

    assert data_for_stage([same], owned_folder) == [same]


def test_setup_force_points_the_folder_at_another_table(own_table, tmp_path):
    out = tmp_path / "out"
    other = tmp_path / "other.csv"
    simulate_flows(300, seed=12).to_csv(other, index=False)
    assert run_in_process(SETUP, "--data", str(own_table), "--output-dir", str(out)).returncode == 0
    assert run_in_process(SETUP, "--data", str(other), "--output-dir", str(out)).returncode == 2
    assert run_in_process(SETUP, "--data", str(other), "--output-dir", str(out), "--force").returncode == 0
    assert json.loads(OutputLayout(out).data_source_json.read_text())["sha256"] == file_sha256(other)


def test_make_run_with_data_uses_a_folder_of_its_own():
    dry = subprocess.run(["make", "-n", "run", "DATA=some/where/my_capture.csv.gz"], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert '--data "some/where/my_capture.csv.gz"' in dry
    assert '--output-dir "synthetic_datasets/my_capture"' in dry


# ----------------------------------------------------------------------------- messages


def test_loader_names_the_kept_column_right(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,rate,rate,label\n1,2,3,x\n4,5,6,y\n")
    _, report = read_table(path)
    assert "repeated column name 'rate' renamed to 'rate.1'" in report.summary_lines()


def test_cuda_without_gpu_fails_in_generation_too(owned_folder):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert_user_error(generate(owned_folder, "--device", "cuda"), "cuda", "no GPU")


def test_misspelt_column_and_class_get_a_did_you_mean(owned_folder, own_table):
    assert_user_error(run_in_process(SETUP, "--data", str(own_table), "--output-dir", str(owned_folder.root),
                                     "--label-column", "activty"), "did you mean 'activity'")
    label = max(model_classes(owned_folder), key=len)
    misspelt = label[:-1]   # one letter short
    line = assert_user_error(run_in_process(TRAINER, "--output-dir", str(owned_folder.root), "--generate-only",
                                            "--models", "ctgan", "--class-counts", f"{misspelt}=5"), "did you mean")
    assert f"'{label}'" in line


def test_help_says_each_default_once_and_its_example_is_valid():
    sample, _ = read_table(REPO_ROOT / "data" / "tcp_flag_sample.csv")
    for script in ALL_SCRIPTS:
        result = run_in_process(script, "--help")
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        assert "(default: None)" not in text
        for option_help in re.split(r"\s--", text):
            assert option_help.count("default") <= 1, option_help
    trainer_help = " ".join(run_in_process(TRAINER, "--help").stdout.split())
    example = re.sub(r"-\s+", "-", re.search(r'e\.g\. "([^"]+)"', trainer_help).group(1))  # argparse wraps at hyphens
    from train_synthetic_models_improved import class_counts_arg

    assert set(class_counts_arg(example)) <= set(sample["activity"].astype(str))
    docstring_examples = re.findall(r'--class-counts "([^"]+)"', Path(REPO_ROOT / TRAINER).read_text())
    for counts in docstring_examples:
        assert set(class_counts_arg(counts)) <= set(sample["activity"].astype(str)), counts


def test_asking_for_a_class_left_out_as_too_small_says_why(owned_folder):
    small = json.loads(owned_folder.manifest_json.read_text())["small_classes"]
    if not small:
        pytest.skip("no class of this table fell below min_class_rows")
    label = next(iter(small["classes"]))
    result = run_in_process(TRAINER, "--output-dir", str(owned_folder.root), "--generate-only", "--models", "ctgan",
                            "--class-counts", f"{label}=5")
    assert_user_error(result, f"class '{label}'", "left out of training", "small_classes")


def test_a_model_folder_signed_with_another_key_needs_trust(owned_folder, monkeypatch):
    monkeypatch.setenv("TCPSYNTH_MODEL_KEY", "a key that did not sign these models")
    assert_user_error(generate(owned_folder), "signed with another key", "--trust-model-folder")
    trusted = generate(owned_folder, "--trust-model-folder")
    assert trusted.returncode == 0, trusted.stderr[-1500:]
