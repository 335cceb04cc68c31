"""Where every artifact lives: the one place that spells the output file names.

A script never writes another script's file name by hand; it asks an OutputLayout.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_NAMES = ("ctgan", "tvae")


@dataclass(frozen=True)
class OutputLayout:
    """Paths of the artifacts under one output folder (default `synthetic_datasets/`)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- stage 1: setup
    @property
    def metadata_dir(self) -> Path:
        return self.root / "metadata"

    @property
    def metadata_json(self) -> Path:
        """SDV 2.x Metadata, loadable with Metadata.load_from_json."""
        return self.metadata_dir / "metadata.json"

    @property
    def metadata_summary_json(self) -> Path:
        return self.metadata_dir / "metadata_summary.json"

    @property
    def schema_json(self) -> Path:
        """Column typing, label and identifier columns, feature categories (common.data.schema)."""
        return self.metadata_dir / "column_schema.json"

    @property
    def training_configs_json(self) -> Path:
        return self.metadata_dir / "training_configs.json"

    @property
    def patterns_dir(self) -> Path:
        return self.root / "patterns"

    @property
    def detected_patterns_json(self) -> Path:
        return self.patterns_dir / "detected_patterns.json"

    @property
    def rules_json(self) -> Path:
        """The detected relationships in the machine-readable form common.rules loads."""
        return self.patterns_dir / "detected_rules.json"

    @property
    def visualizations_dir(self) -> Path:
        return self.root / "visualizations"

    @property
    def setup_plots_dir(self) -> Path:
        """The setup's profile PNGs (the analyzer and the evaluation have folders of their own)."""
        return self.visualizations_dir / "setup"

    # --- stage 2: analyzer
    @property
    def comprehensive_analysis_json(self) -> Path:
        return self.patterns_dir / "comprehensive_tcp_analysis.json"

    @property
    def correlation_network_json(self) -> Path:
        return self.patterns_dir / "correlation_network.json"

    @property
    def interactive_dir(self) -> Path:
        return self.visualizations_dir / "interactive"

    @property
    def interactive_index_html(self) -> Path:
        return self.interactive_dir / "index.html"

    # --- stage 3: training and evaluation
    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def model_pickle(self, model: str) -> Path:
        return self.models_dir / f"{model}_model.pkl"

    @property
    def manifest_json(self) -> Path:
        return self.models_dir / "manifest.json"

    @property
    def split_json(self) -> Path:
        """Train/holdout row indices, so that evaluation uses the split training used."""
        return self.models_dir / "train_holdout_split.json"

    def loss_csv(self, model: str) -> Path:
        return self.models_dir / f"{model}_loss.csv"

    def loss_png(self, model: str) -> Path:
        return self.visualizations_dir / f"{model}_loss_curve.png"

    def synthetic_csv(self, model: str) -> Path:
        return self.root / f"{model}_synthetic_data.csv"

    def evaluation_json(self, model: str) -> Path:
        return self.root / f"{model}_evaluation.json"

    @property
    def model_comparison_json(self) -> Path:
        return self.root / "model_comparison.json"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def evaluation_plots_dir(self) -> Path:
        return self.visualizations_dir / "evaluation"
