#!/usr/bin/env python
"""Stage 1: profile a flow table, detect column types, patterns and rules, write metadata and configs.

    python synthetic_data_setup.py [--data PATH] [--output-dir synthetic_datasets]
                                   [--label-column NAME] [--seed N] [--reset-config]
                                   [--feature-categories categories.json]

Writes (under the output folder): metadata/metadata.json (SDV), metadata/metadata_summary.json,
metadata/column_schema.json, metadata/training_configs.json (kept if it exists, unless
--reset-config), patterns/detected_patterns.json, patterns/detected_rules.json and PNG plots in
visualizations/setup/. See README.md, "Stage 1".
"""
from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common.core.cli import DEFAULT_SEED, build_parser, data_for_stage, remember_table, run_cli
from common.core.progress import stage
from common.synth.config import DEFAULT_TRAINING_CONFIG, TrainingConfig, TrainingConfigFile, data_notes
from common.core.errors import UserError
from common.core.io import ensure_output_dir, write_json
from common.core.layout import OutputLayout
from common.data.fullsize import (
    FullTable, class_counts, confirm_rules, flag_presence_all_rows, load_table, numeric_figures, value_shares,
)
from common.data.pipeline import MIN_ROWS, add_full_size_options, detect_rules, schema_payload
from common.profiling.profiles import (
    categorical_distributions,
    clustering_summary,
    column_profile,
    correlation_pairs,
    heavy_tailed_columns,
    placeholder_findings,
    sample_rows,
    tcp_flag_summary,
)
from common.data.schema import Schema, infer_schema, load_category_patterns, sdv_metadata_dict

log = logging.getLogger("tcpsynth")

CORRELATION_SAMPLE_ROWS = 200_000
CLUSTERING_SAMPLE_ROWS = 20_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser(__doc__.splitlines()[1])
    parser.add_argument(
        "--reset-config", action="store_true",
        help="rewrite metadata/training_configs.json with the defaults (otherwise a user's edits are kept)",
    )
    parser.add_argument(
        "--feature-categories", type=Path, default=None,
        help='JSON file {"category": ["glob", ...]} replacing the default feature categories',
    )
    add_full_size_options(parser)
    parser.add_argument(
        "--force", action="store_true",
        help="set up an output folder that holds another table's outputs for this --data (without it, "
             "that is an error: one folder, one table)",
    )
    return parser.parse_args(argv)


def metadata_summary(schema: Schema, report_rows: int) -> dict[str, Any]:
    """The SDV metadata in plain words: what is learned, how, and what is left out and why."""
    kinds = Counter(info.kind for info in schema.columns.values())
    return {
        "rows": report_rows,
        "columns_by_kind": dict(kinds),
        "modelled_columns": len(schema.modelled_columns),
        "class_column": schema.target,
        "label_columns": schema.label_columns,
        "excluded_identifiers": {
            name: schema.columns[name].reason for name in schema.identifiers
        },
        "constant_columns": schema.constant_columns,
        "explanation": [
            "numeric kinds (count, integer, fraction, continuous) are SDV 'numerical'; SDV learns "
            "integer-ness and min/max from the data and restores them when sampling",
            "label and categorical columns are SDV 'categorical'",
            "identifier columns (flow ids, addresses, ports, timestamps) are left out of the metadata: "
            "they are never learned and never appear in synthetic data",
        ],
    }


def write_metadata(schema: Schema, layout: OutputLayout) -> None:
    """Validate the SDV metadata and write it in the format Metadata.load_from_json reads."""
    from sdv.metadata import Metadata  # seconds to import: not before the input is known to be good

    metadata = Metadata.load_from_dict(sdv_metadata_dict(schema))
    metadata.validate()
    # Metadata.save_to_json refuses to overwrite; write its own dict atomically instead.
    write_json(layout.metadata_json, metadata.to_dict())


def prepare_training_config(layout: OutputLayout, rows: int, seed: int | None, reset: bool,
                            columns: int | None = None) -> tuple[TrainingConfig, bool]:
    """Keep (and validate) a user's config, or write the defaults with notes for this data."""
    config_file = TrainingConfigFile(layout.training_configs_json)
    if layout.training_configs_json.exists() and not reset:
        config = config_file.load()
        return config, False
    holdout = DEFAULT_TRAINING_CONFIG["holdout_fraction"]
    config = config_file.write_defaults(training_rows=int(rows * (1 - holdout)), seed=seed, columns=columns)
    return config, True


def build_patterns(frame, schema: Schema, rules, report, seed: int) -> dict[str, Any]:
    """Everything patterns/detected_patterns.json holds (see README.md, "detected_patterns.json")."""
    profiles = {c: column_profile(frame, c, schema, rules) for c in schema.columns if c not in schema.identifiers}
    heavy = heavy_tailed_columns(profiles, frame, rules)
    correlation_sample, correlation_sampled = sample_rows(frame, CORRELATION_SAMPLE_ROWS, seed)
    correlations = correlation_pairs(correlation_sample, schema.numeric_columns)
    correlations["rows_used"] = len(correlation_sample)
    correlations["sampled"] = correlation_sampled
    return {
        "source": {"path": report.path, "sha256": report.sha256, "rows": report.rows, "columns": report.columns},
        "loading": report.to_dict(),
        "schema": {
            "class_column": schema.target,
            "label_columns": schema.label_columns,
            "identifiers": schema.identifiers,
            "constant_columns": schema.constant_columns,
            "feature_categories": schema.feature_categories,
        },
        "column_profiles": profiles,
        "high_correlations": correlations,
        "categorical_distributions": categorical_distributions(frame, schema),
        "tcp_flag_summary": tcp_flag_summary(frame, schema),
        "clustering": clustering_summary(frame, schema, rules, seed, max_rows=CLUSTERING_SAMPLE_ROWS),
        "placeholders": placeholder_findings(frame, rules),
        "heavy_tailed": heavy,
        "relationships": {
            "rules_file": "detected_rules.json",
            "count": len(rules.rules),
            "by_kind": dict(Counter(rule.kind for rule in rules.rules)),
            "described": [{"id": rule.id, "support": rule.support, "text": rule.describe()} for rule in rules.rules],
        },
    }


def small_class_finding(frame, schema: Schema, config: TrainingConfig,
                        full: FullTable | None = None) -> dict[str, Any] | None:
    """The classes whose training part will likely be below the config's min_class_rows (a
    privacy matter: a handful of rows cannot be imitated without copying them), with their rows
    in the table and what the training will do with them; None without a class column."""
    from common.data.classes import small_classes

    if schema.target is None:
        return None
    minimum, share = config.min_class_rows, 1 - float(config.holdout_fraction)
    counts = (class_counts(full, schema.target) if full is not None
              else frame[schema.target].astype(str).value_counts().to_dict())
    rows = full.rows if full is not None else len(frame)
    small = {label: rows for label, rows in small_classes(counts, rows + 1).items() if rows * share < minimum}
    return {"min_class_rows": minimum, "policy": config.small_classes, "classes": small,
            "note": (f"{len(small)} class(es) will have fewer than {minimum} training rows "
                     f"(about {share:.0%} of their rows in the table) and be handled as small_classes "
                     f"\"{config.small_classes}\" says (training_configs.json: drop, merge or generate)")
            if small else f"no class will have fewer than {minimum} training rows"}


ALL_ROW_PROFILE_FIELDS = ("missing_share", "infinite_share", "zero_share", "placeholder_share",
                          "min", "max", "mean", "std")


def all_row_figures(patterns: dict[str, Any], full: FullTable, schema: Schema, rules) -> None:
    """Replace the sample's figures in `patterns` by the engine's over every row (out of core):
    column shares and min/max/mean/std, categorical shares, flag presence, placeholder shares;
    and state in patterns["computed_on"] what came from all rows and what from the sample."""
    profiles = patterns["column_profiles"]
    numeric = [c for c in profiles if "infinite_share" in profiles[c] and c in full.numeric]
    for column, figures in numeric_figures(full, numeric, rules).items():
        profile = profiles[column]
        for key in ALL_ROW_PROFILE_FIELDS:
            if key in profile or key.endswith("_share"):   # no min/max/... where nothing was measured
                profile[key] = figures[key]
        profile["sampled_fields"] = [k for k in ("quantiles", "skew", "kurtosis") if k in profile]
    for column in profiles:
        if column not in numeric:
            profiles[column]["missing_share"] = class_missing_share(full, column)
    patterns["categorical_distributions"] = {c: value_shares(full, c) for c in schema.categorical_columns}
    presence, _, labels = flag_presence_all_rows(full, schema)
    if not presence.empty:
        summary = {"flags": list(presence.columns),
                   "presence_share": {f: round(float(presence[f].mean()), 6) for f in presence.columns}}
        if labels is not None:
            per_class = presence.groupby(labels.to_numpy()).mean()
            summary["presence_share_by_class"] = {
                str(cls): {f: round(float(v), 6) for f, v in row.items()} for cls, row in per_class.iterrows()}
        patterns["tcp_flag_summary"] = summary
    for entry in patterns["placeholders"]:
        entry["share"] = profiles.get(entry["column"], {}).get("placeholder_share", entry["share"])
    patterns["computed_on"] = full.statement()


def class_missing_share(full: FullTable, column: str) -> float:
    """Share of rows missing in a non-numeric column, over every row."""
    import polars as pl

    return float(full.lazy().select(pl.col(column).null_count()).collect(engine="streaming").item() / full.rows)


def write_plots(frame, schema: Schema, rules, patterns: dict, layout: OutputLayout, seed: int) -> list[Path]:
    from common.profiling import plots as profile_plots  # matplotlib and seaborn load only when there is something to draw

    folder = layout.setup_plots_dir
    written = []
    heatmap = profile_plots.correlation_clustermap(
        sample_rows(frame, CORRELATION_SAMPLE_ROWS, seed)[0], schema.numeric_columns, folder / "correlation_clustermap.png"
    )
    written += [heatmap] if heatmap else []
    heavy = {entry["column"] for entry in patterns["heavy_tailed"]}
    written += profile_plots.category_distributions(frame, schema, rules, heavy, folder, seed)
    if schema.target is not None:
        written.append(profile_plots.class_distribution(frame, schema.target, folder / "class_distribution.png"))
    shares = profile_plots.placeholder_and_zero_shares(patterns["column_profiles"], folder / "placeholder_zero_shares.png")
    written += [shares] if shares else []
    return written


def print_summary(schema: Schema, report, rules, patterns: dict, layout: OutputLayout, config_written: bool,
                  notes: list[str], timings: dict[str, float]) -> None:
    kinds = Counter(info.kind for info in schema.columns.values())
    log.info("")
    log.info("Summary")
    for line in report.summary_lines():
        log.info("  %s", line)
    log.info("  columns by type: %s", ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if schema.identifiers:
        log.info("  identifiers excluded from learning: %s", ", ".join(schema.identifiers))
    if schema.constant_columns:
        log.info("  constant columns: %s", ", ".join(schema.constant_columns))
    if schema.target:
        classes = patterns["categorical_distributions"][schema.target]["shares"]
        log.info("  class column '%s': %d classes (%s)", schema.target, len(classes),
                 ", ".join(f"{c} {s:.1%}" for c, s in list(classes.items())[:8]))
    else:
        log.info("  no class column found (give one with --label-column)")
    log.info("  relationships: %d (%s)", len(rules.rules),
             ", ".join(f"{k} {n}" for k, n in patterns["relationships"]["by_kind"].items()))
    if patterns["placeholders"]:
        log.info("  placeholder values in %d columns, e.g. %s", len(patterns["placeholders"]),
                 patterns["placeholders"][0]["column"])
    if patterns["heavy_tailed"]:
        log.info("  heavy-tailed columns (log scale suggested): %d", len(patterns["heavy_tailed"]))
    clustering = patterns["clustering"]
    if "best_k" in clustering:
        log.info("  clustering: k=%d, silhouette %.3f", clustering["best_k"], clustering["best_silhouette"])
    small = patterns.get("small_classes")
    if small and small["classes"]:
        log.warning("  small classes: %s: %s", small["note"],
                    ", ".join(f"{label} ({rows} rows)" for label, rows in small["classes"].items()))
    if patterns["computed_on"].get("out_of_core"):
        full = patterns["computed_on"]
        log.info("  out of core: counts, shares, min/max/mean/std, class and flag figures over all %s rows; types, "
                 "rule search, quantiles, correlations, clustering and plots on a seeded sample of %s rows; "
                 "rules confirmed on all rows", f"{full['rows_total']:,}", f"{full['sample']['rows_used']:,}")
    for note in notes:
        log.info("  note: %s", note)
    log.info("  training config %s: %s", "written" if config_written else "kept (your edits)", layout.training_configs_json)
    log.info("  metadata: %s", layout.metadata_dir)
    log.info("  patterns: %s", layout.detected_patterns_json)
    log.info("  plots: %s", layout.setup_plots_dir)
    log.info("  stage times: %s", ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    layout = OutputLayout(ensure_output_dir(args.output_dir))
    seed = DEFAULT_SEED if args.seed is None else args.seed
    patterns_file = load_category_patterns(args.feature_categories)

    data = data_for_stage(args.data, layout, force=args.force)
    with stage("load", timings):
        frame, report, full = load_table(data, MIN_ROWS, args.out_of_core, args.sample_rows, seed, args.label_column)
    with stage("column typing", timings):
        schema = infer_schema(frame, args.label_column, patterns_file)
        if not schema.modelled_columns:
            raise UserError(f"{report.path}: every column is an identifier; nothing is left to learn from")
    remember_table(layout, report, "synthetic_data_setup.py", replace=True)
    with stage("metadata and config", timings):
        # A broken hand-edited config is reported before the slow stages, not after them.
        columns = len(schema.modelled_columns)
        config, config_written = prepare_training_config(layout, report.rows, args.seed, args.reset_config, columns)
        notes = data_notes(config, int(report.rows * (1 - config.holdout_fraction)), columns)
        write_metadata(schema, layout)
        write_json(layout.metadata_summary_json, metadata_summary(schema, report.rows))
    with stage("relationships", timings):
        rules = detect_rules(frame, schema, seed=seed)
        if full is not None:
            rules = confirm_rules(rules, full, schema)
        write_json(layout.rules_json, rules.to_dict())
        write_json(layout.schema_json, schema_payload(schema, report))
    with stage("profile", timings):
        patterns = build_patterns(frame, schema, rules, report, seed)
        patterns["training_notes"] = notes
        if full is not None:
            all_row_figures(patterns, full, schema, rules)
        else:
            patterns["computed_on"] = {"out_of_core": False, "rows_total": report.rows,
                                       "note": "every figure from all rows, except where a section states its sample"}
        patterns["small_classes"] = small_class_finding(frame, schema, config, full)
    with stage("plots", timings):
        plots = write_plots(frame, schema, rules, patterns, layout, seed)
        patterns["plots"] = [str(p.relative_to(layout.root)) for p in plots]
    timings["total"] = round(time.perf_counter() - started, 3)
    patterns["timings_seconds"] = timings
    write_json(layout.detected_patterns_json, patterns)
    print_summary(schema, report, rules, patterns, layout, config_written, notes, timings)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
