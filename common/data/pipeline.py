"""What every stage starts from: the loaded table, its schema and its detected rules.

The setup script writes the schema and the rules; later scripts load them from the output
folder. A later script run alone (no setup outputs, or outputs made for another file)
computes them the same way and says so, so each script runs standalone.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from common.core.errors import UserError
from common.core.io import LoadReport, read_json, read_table
from common.core.layout import OutputLayout
from common.rules import RuleSet, discover_rules
from common.data.schema import Schema, infer_schema, load_category_patterns, modelling_frame

log = logging.getLogger("tcpsynth")

MIN_ROWS = 10


@dataclass
class DatasetContext:
    """A loaded table and what the setup knows about it."""

    frame: pd.DataFrame
    report: LoadReport
    schema: Schema
    rules: RuleSet
    layout: OutputLayout
    from_setup: bool

    @property
    def modelled(self) -> pd.DataFrame:
        """The columns synthesizers learn (identifiers out, inf as missing)."""
        return modelling_frame(self.frame, self.schema)


def detect_rules(frame: pd.DataFrame, schema: Schema, seed: int = 0) -> RuleSet:
    """Discover relationships on the modelled columns (identifiers never take part)."""
    modelled = modelling_frame(frame, schema)
    numeric = [c for c in schema.numeric_columns if c in modelled.columns]
    categorical = [c for c in schema.categorical_columns if c in modelled.columns]
    return discover_rules(modelled, numeric_columns=numeric, categorical_columns=categorical, seed=seed)


def _setup_outputs_match(layout: OutputLayout, report: LoadReport) -> bool:
    """True when the saved schema and rules were made from this very file (same SHA-256)."""
    if not (layout.schema_json.exists() and layout.rules_json.exists()):
        return False
    saved = read_json(layout.schema_json, "column schema")
    return isinstance(saved, dict) and saved.get("source_sha256") == report.sha256


def load_context(
    data: Path | list[Path],
    output_dir: Path,
    label_column: str | None = None,
    categories_file: Path | None = None,
    seed: int = 0,
) -> DatasetContext:
    """Load the table and the setup's schema and rules, or compute them when they are missing.

    Saved setup outputs are used only when they were made from the same file (by hash) and,
    if --label-column is given, with the same label column.
    """
    layout = OutputLayout(output_dir)
    frame, report = read_table(data, min_rows=MIN_ROWS)
    if _setup_outputs_match(layout, report):
        saved = read_json(layout.schema_json, "column schema")
        schema = Schema.from_dict(saved["schema"])
        if label_column is None or schema.target == label_column:
            schema.check_matches(frame, str(layout.schema_json))
            rules = RuleSet.from_dict(read_json(layout.rules_json, "detected rules"))
            return DatasetContext(frame, report, schema, rules, layout, from_setup=True)
    log.info("   setup outputs for %s not found in %s: computing schema and rules the same way", report.path, output_dir)
    schema = infer_schema(frame, label_column, load_category_patterns(categories_file))
    rules = detect_rules(frame, schema, seed=seed)
    return DatasetContext(frame, report, schema, rules, layout, from_setup=False)


def schema_payload(schema: Schema, report: LoadReport) -> dict:
    """What goes into metadata/column_schema.json: the schema plus the file it was made from."""
    return {"source": report.path, "source_sha256": report.sha256, "schema": schema.to_dict()}


def require_target(schema: Schema, what: str) -> str:
    """The class column, or a UserError explaining that `what` needs one."""
    if schema.target is None:
        raise UserError(f"{what} needs a class column: none found by name; give one with --label-column")
    return schema.target
