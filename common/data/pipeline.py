"""What every stage starts from: the loaded table, its schema and its detected rules.

The setup script writes the schema and the rules; later scripts load them from the output
folder. A later script run alone (no setup outputs, or outputs made for another file)
computes them the same way and says so, so each script runs standalone.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from common.core.errors import UserError
from common.core.io import LoadReport, read_json
from common.core.scan import OUT_OF_CORE_MODES
from common.data.fullsize import DEFAULT_SAMPLE_ROWS, FullTable, confirm_rules, load_table
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
    # the whole table's scan when it was read out of core (`frame` is then its sample), else None
    full: FullTable | None = None

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


def add_full_size_options(parser: argparse.ArgumentParser) -> None:
    """--out-of-core and --sample-rows, for the scripts that read a whole table (setup, analyzer)."""
    parser.add_argument(
        "--out-of-core", choices=OUT_OF_CORE_MODES, default=None,
        help="read the table out of core (Polars over the files; exact counts over every row, the rest on a "
             "seeded sample): auto decides from the files' size and the memory available (default; "
             "$TCPSYNTH_OUT_OF_CORE sets it too), always, never",
    )
    parser.add_argument(
        "--sample-rows", type=int, default=DEFAULT_SAMPLE_ROWS,
        help="rows held in memory when the table is read out of core (a seeded sample, rare classes whole)",
    )


def load_context(
    data: Path | list[Path],
    output_dir: Path,
    label_column: str | None = None,
    categories_file: Path | None = None,
    seed: int = 0,
    out_of_core: str | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
) -> DatasetContext:
    """Load the table and the setup's schema and rules, or compute them when they are missing.

    Saved setup outputs are used only when they were made from the same file (by hash) and,
    if --label-column is given, with the same label column. A table too large for memory
    (common.data.fullsize) is held as a sample; rules computed here are then confirmed on
    every row.
    """
    layout = OutputLayout(output_dir)
    frame, report, full = load_table(data, MIN_ROWS, out_of_core, sample_rows, seed, label_column)
    if _setup_outputs_match(layout, report):
        saved = read_json(layout.schema_json, "column schema")
        schema = Schema.from_dict(saved["schema"])
        if label_column is None or schema.target == label_column:
            schema.check_matches(frame, str(layout.schema_json))
            rules = RuleSet.from_dict(read_json(layout.rules_json, "detected rules"))
            return DatasetContext(frame, report, schema, rules, layout, from_setup=True, full=full)
    log.info("   setup outputs for %s not found in %s: computing schema and rules the same way", report.path, output_dir)
    schema = infer_schema(frame, label_column, load_category_patterns(categories_file))
    rules = detect_rules(frame, schema, seed=seed)
    if full is not None:
        rules = confirm_rules(rules, full, schema)
    return DatasetContext(frame, report, schema, rules, layout, from_setup=False, full=full)


def schema_payload(schema: Schema, report: LoadReport) -> dict:
    """What goes into metadata/column_schema.json: the schema plus the file it was made from."""
    return {"source": report.path, "source_sha256": report.sha256, "schema": schema.to_dict()}


def require_target(schema: Schema, what: str) -> str:
    """The class column, or a UserError explaining that `what` needs one."""
    if schema.target is None:
        raise UserError(f"{what} needs a class column: none found by name; give one with --label-column")
    return schema.target
