"""Where every artifact lives: the one place that spells the output file names.

A script never writes another script's file name by hand; it asks an OutputLayout.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class _Under:
    """A read-only layout path: `name` inside the layout's `folder` path (the root when None)."""

    def __init__(self, folder: str | None, name: str, doc: str = "") -> None:
        self.folder, self.name = folder, name
        self.__doc__ = doc or f"{name} under {folder or 'the output root'}"

    def __get__(self, layout: "OutputLayout | None", owner: type | None = None) -> Path:
        if layout is None:
            return self   # type: ignore[return-value]   # the descriptor itself, for help()
        base = layout.root if self.folder is None else getattr(layout, self.folder)
        return base / self.name


class _PerModel(_Under):
    """A layout path per model: `name` holds `{model}`; the attribute is a function of the model name."""

    def __get__(self, layout: "OutputLayout | None", owner: type | None = None) -> Callable[[str], Path]:  # type: ignore[override]
        if layout is None:
            return self   # type: ignore[return-value]
        base = layout.root if self.folder is None else getattr(layout, self.folder)
        return lambda model: base / self.name.format(model=model)


@dataclass(frozen=True)
class OutputLayout:
    """Paths of the artifacts under one output folder (default `synthetic_datasets/`)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- stage 1: setup
    metadata_dir = _Under(None, "metadata")
    metadata_json = _Under("metadata_dir", "metadata.json", "SDV 2.x Metadata, loadable with Metadata.load_from_json.")
    metadata_summary_json = _Under("metadata_dir", "metadata_summary.json")
    schema_json = _Under("metadata_dir", "column_schema.json",
                         "Column typing, label and identifier columns, feature categories (common.data.schema).")
    training_configs_json = _Under("metadata_dir", "training_configs.json")
    data_source_json = _Under("metadata_dir", "data_source.json",
                              "The table this folder's outputs were made from (common.core.source).")
    patterns_dir = _Under(None, "patterns")
    detected_patterns_json = _Under("patterns_dir", "detected_patterns.json")
    rules_json = _Under("patterns_dir", "detected_rules.json",
                        "The detected relationships in the machine-readable form common.rules loads.")
    visualizations_dir = _Under(None, "visualizations")
    setup_plots_dir = _Under("visualizations_dir", "setup",
                             "The setup's profile PNGs (the analyzer and the evaluation have folders of their own).")

    # --- stage 2: analyzer
    comprehensive_analysis_json = _Under("patterns_dir", "comprehensive_tcp_analysis.json")
    correlation_network_json = _Under("patterns_dir", "correlation_network.json")
    interactive_dir = _Under("visualizations_dir", "interactive")
    interactive_index_html = _Under("interactive_dir", "index.html")

    # --- stage 3: training and evaluation
    models_dir = _Under(None, "models")
    model_pickle = _PerModel("models_dir", "{model}_model.pkl")
    manifest_json = _Under("models_dir", "manifest.json")
    split_json = _Under("models_dir", "train_holdout_split.json",
                        "Train/holdout row indices, so that evaluation uses the split training used.")
    loss_csv = _PerModel("models_dir", "{model}_loss.csv")
    loss_png = _PerModel("visualizations_dir", "{model}_loss_curve.png")
    synthetic_csv = _PerModel(None, "{model}_synthetic_data.csv")
    evaluation_json = _PerModel(None, "{model}_evaluation.json")
    model_comparison_json = _Under(None, "model_comparison.json")
    report_html = _Under(None, "report.html")
    evaluation_plots_dir = _Under("visualizations_dir", "evaluation")
    generated_dir = _Under(None, "generated",
                           "Rows written by --generate-only (a new file per run) and their evaluations.")

    def owns(self, path: Path | str) -> bool:
        """True when `path` is, or will be, one of the pipeline's own artifacts: a file or folder the
        layout names at the root (any model's for the per-model names) or anything inside one of
        them; generated/ is left out, its files each belong to the generation run that made them.
        By name, not by existence: a report.html not written yet is still the next run's."""
        resolved, root = Path(path).resolve(), self.root.resolve()
        if not resolved.is_relative_to(root) or resolved == root:
            return False
        top = resolved.relative_to(root).parts[0]
        return any(fnmatch.fnmatchcase(top, entry.name.replace("{model}", "*"))
                   for name, entry in vars(type(self)).items()
                   if isinstance(entry, _Under) and entry.folder is None and name != "generated_dir")

    def generated_csv(self, model: str, rows: int) -> Path:
        """A new file name under generated/ for `rows` rows of `model` (model, rows and UTC time in
        the name; a number added when a file of that name exists already)."""
        import time

        stem = f"{model}_{rows}rows_{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
        candidate, number = self.generated_dir / f"{stem}.csv", 1
        while candidate.exists():
            number += 1
            candidate = self.generated_dir / f"{stem}-{number}.csv"
        return candidate
