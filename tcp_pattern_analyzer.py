#!/usr/bin/env python3
"""
Analyse TCP flag patterns, traffic patterns, attack signatures and feature importance of a flow table.

Stage 2 of 3. Reads the setup's schema and rules from the output folder (or computes them the
same way when they are missing, and says so), then writes patterns/comprehensive_tcp_analysis.json,
patterns/correlation_network.json, PNG figures in visualizations/ and offline interactive pages in
visualizations/interactive/ (index.html links them all).

    python tcp_pattern_analyzer.py                                   # bundled sample
    python tcp_pattern_analyzer.py --data flows.csv --output-dir out --max-rows-for-costly-steps 50000

Cheap summaries (co-occurrence, timing, rates, headers, windows, handshakes) use every row;
mutual information, KS and Cliff's delta, the random forest and the correlations run on one
seeded row sample in which rare classes keep all their rows; the JSON states its size.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common.analysis.analysis_plots import (
    AnalyzerFigures, plot_class_distribution, plot_correlation_network, plot_feature_importance,
    plot_flag_cooccurrence, plot_flag_signatures,
)
from common.analysis.flag_patterns import flag_cooccurrence, sequential_flag_patterns
from common.analysis.groups import class_counts, class_labels, classes_inside, find_reference, two_class_problem
from common.analysis.importance import feature_importance
from common.analysis.information import mutual_information
from common.analysis.interactive import write_index, write_pages
from common.analysis.network import THRESHOLD, correlation_graph, network_summary, node_link, spearman_matrix
from common.analysis.signatures import attack_signatures
from common.analysis.traffic import traffic_patterns
from common.analysis.values import class_capped_sample
from common.core.cli import DEFAULT_SEED, build_parser, data_for_stage, remember_table, run_cli
from common.core.progress import stage
from common.core.errors import UserError
from common.data.flags import categorical_flag_column
from common.core.io import ensure_output_dir, write_json
from common.core.layout import OutputLayout
from common.data.fullsize import class_counts as all_row_class_counts, flag_presence_all_rows
from common.data.pipeline import add_full_size_options, load_context

log = logging.getLogger("tcpsynth")

DEFAULT_COSTLY_ROWS = 100_000
REPORT_VERSION = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser(__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--max-rows-for-costly-steps", type=int, default=DEFAULT_COSTLY_ROWS,
        help="rows of the seeded sample used by mutual information, KS/Cliff's delta, the random forest "
             "and the correlations (rare classes keep all their rows)",
    )
    parser.add_argument("--correlation-threshold", type=float, default=THRESHOLD,
                        help="|Spearman r| above which two features are joined in the correlation network")
    parser.add_argument("--trees", type=int, default=100, help="trees of the random forest used for importance")
    parser.add_argument("--feature-categories", type=Path, default=None,
                        help='JSON file {"category": ["glob", ...]} replacing the default feature categories')
    add_full_size_options(parser)
    args = parser.parse_args(argv)
    if args.max_rows_for_costly_steps < 100:
        raise UserError(f"--max-rows-for-costly-steps must be at least 100 (got {args.max_rows_for_costly_steps})")
    if not 0 < args.correlation_threshold < 1:
        raise UserError(f"--correlation-threshold must lie between 0 and 1 (got {args.correlation_threshold})")
    if args.trees < 1:
        raise UserError(f"--trees must be a positive integer (got {args.trees})")
    return args


def _reference_info(frame, schema) -> dict:
    if two_class_problem(frame, schema):
        return {"name": None, "column": None, "values": [], "classes": [], "reason": None}
    reference = find_reference(frame, schema)
    return {"name": reference.name, "column": reference.column, "values": reference.values,
            "classes": classes_inside(frame, schema, reference), "reason": reference.reason}


def _flag_skip_reason(flags: dict, schema) -> str | None:
    if not flags.get("skipped"):
        return None
    state_column = categorical_flag_column(schema)
    if state_column:
        return (f"no per-flag columns; '{state_column}' is a connection state, analysed in "
                "sequential_flag_patterns.connection_states and mutual_information.cramers_v")
    return flags["skipped"]


def run_analyses(ctx, args: argparse.Namespace, seed: int, timings: dict) -> tuple[dict, object]:
    """Every analysis section, each timed as one stage; returns (report dict, correlation graph)."""
    frame, schema, rules = ctx.frame, ctx.schema, ctx.rules
    labels = class_labels(frame, schema)
    class_skip = two_class_problem(frame, schema)
    sample, sampling = class_capped_sample(frame, schema.target, args.max_rows_for_costly_steps, seed)
    sample_labels = class_labels(sample, schema)
    report: dict = {"sampling_for_costly_steps": sampling}
    with stage("flag co-occurrence", timings):
        if ctx.full is not None:   # counted by the engine over every row, not on the sample
            presence, directional, all_labels = flag_presence_all_rows(ctx.full, schema)
            report["flag_cooccurrence"] = flag_cooccurrence(frame, schema, all_labels, presence, directional)
        else:
            report["flag_cooccurrence"] = flag_cooccurrence(frame, schema, labels)
    with stage("handshake evidence from flags", timings):
        report["sequential_flag_patterns"] = sequential_flag_patterns(frame, schema, rules, labels)
    with stage("mutual information", timings):
        report["mutual_information"] = mutual_information(sample, schema, rules, sample_labels, class_skip)
    with stage("traffic patterns", timings):
        report["traffic_patterns"] = traffic_patterns(frame, schema, rules, labels)
    with stage("attack signatures", timings):
        report["attack_signatures"] = attack_signatures(
            frame, schema, rules, sample_rows=args.max_rows_for_costly_steps, seed=seed)
    with stage("feature importance", timings):
        if class_skip:
            report["feature_importance"] = {"skipped": class_skip}
        else:
            report["feature_importance"] = feature_importance(
                sample, schema, rules, sample_labels, report["mutual_information"]["feature_vs_class"], seed,
                n_estimators=args.trees)
    with stage("correlation network", timings):
        graph = correlation_graph(spearman_matrix(sample, schema, rules), schema, args.correlation_threshold, seed)
        report["correlation_network"] = {**network_summary(graph, args.correlation_threshold),
                                         "file": _relative(ctx.layout.correlation_network_json, ctx.layout)}
        write_json(ctx.layout.correlation_network_json, node_link(graph))
    report["skipped"] = {
        name: reason for name, reason in {
            "flag_cooccurrence": _flag_skip_reason(report["flag_cooccurrence"], schema),
            "feature_vs_class_mutual_information": report["mutual_information"]["feature_vs_class_skipped"],
            "attack_signatures": report["attack_signatures"]["skipped"],
            "feature_importance": report["feature_importance"].get("skipped"),
            "comparisons_between_classes": class_skip,
        }.items() if reason
    }
    return report, graph


def draw_figures(report: dict, graph, ctx, args: argparse.Namespace) -> dict:
    """PNGs, interactive pages and the index; returns {"png": [...], "html": [...]} as paths."""
    figures_at = AnalyzerFigures(ctx.layout)
    states = report["sequential_flag_patterns"].get("connection_states")
    reference = report["dataset"]["reference_class"]
    pngs = [
        plot_class_distribution(report["dataset"]["class_counts"], report["dataset"]["class_column"], reference["name"],
                                reference["classes"], figures_at.class_distribution_png),
        plot_flag_cooccurrence(report["flag_cooccurrence"], states, figures_at.flag_cooccurrence_png),
        plot_flag_signatures(report["flag_cooccurrence"], states, figures_at.flag_signatures_png),
        plot_feature_importance(report["feature_importance"], figures_at.feature_importance_png),
        plot_correlation_network(graph, args.correlation_threshold, figures_at.correlation_network_png),
    ]
    pngs = [path for path in pngs if path is not None]
    pages = write_pages(figures_at, report)
    notes = [f"skipped {name}: {reason}" for name, reason in report["skipped"].items()]
    data_files = [ctx.layout.comprehensive_analysis_json, ctx.layout.correlation_network_json]
    index = write_index(ctx.layout.interactive_index_html, "TCP pattern analysis", pngs, pages, notes, data_files)
    return {"png": [_relative(p, ctx.layout) for p in pngs], "html": [_relative(p, ctx.layout) for p in pages],
            "index": _relative(index, ctx.layout)}


def _relative(path: Path, layout) -> str:
    """An artifact path relative to the output folder, so the report stays true when the folder moves."""
    return Path(path).relative_to(layout.root).as_posix()


def print_summary(report: dict) -> None:
    """A short console summary: classes, flags, signatures, top features, skipped analyses."""
    dataset = report["dataset"]
    log.info("")
    log.info("Summary: %s rows, class column %s, %d classes, reference %s", f"{dataset['rows']:,}",
             dataset["class_column"], len(dataset["class_counts"]), dataset["reference_class"]["name"])
    flags = report["flag_cooccurrence"]
    if not flags.get("skipped"):
        shares = ", ".join(f"{f} {s:.0%}" for f, s in flags["overall"]["presence_share"].items())
        log.info("  flags present in flows: %s", shares)
    for entry in report["attack_signatures"].get("classes", {}).values():
        log.info("  signature  %s", entry["summary"])
    importance = report["feature_importance"]
    if not importance.get("skipped"):
        log.info("  top features (permutation): %s", ", ".join(importance["top_features"]["permutation"][:5]))
    network = report["correlation_network"]
    log.info("  correlation network: %d features, %d edges, %d communities",
             network["nodes"], network["edges"], len(network["communities"]))
    computed = report.get("computed_on", {})
    if computed.get("out_of_core"):
        log.info("  out of core: class counts and flag co-occurrence over all %s rows; the other sections on a "
                 "seeded sample of %s rows (costly steps on %s of them)", f"{computed['rows_total']:,}",
                 f"{computed['sample']['rows_used']:,}", f"{report['sampling_for_costly_steps']['rows_used']:,}")
    for name, reason in report["skipped"].items():
        log.info("  skipped %s: %s", name, reason)
    log.info("  stage times (s): %s", ", ".join(f"{k} {v:.1f}" for k, v in report["timings_s"].items()))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else DEFAULT_SEED
    timings: dict[str, float] = {}
    layout = OutputLayout(ensure_output_dir(args.output_dir))
    data = data_for_stage(args.data, layout)
    with stage("load data and setup outputs", timings):
        ctx = load_context(data, args.output_dir, args.label_column, args.feature_categories, seed,
                           args.out_of_core, args.sample_rows)
    remember_table(layout, ctx.report, "tcp_pattern_analyzer.py")
    for line in ctx.report.summary_lines():
        log.info("   %s", line)
    analyses, graph = run_analyses(ctx, args, seed, timings)
    report = {
        "report_version": REPORT_VERSION,
        "dataset": {
            "source": ctx.report.path, "source_sha256": ctx.report.sha256, "rows": ctx.report.rows,
            "columns": ctx.report.columns, "load_notes": ctx.report.summary_lines(),
            "setup_outputs_used": ctx.from_setup, "class_column": ctx.schema.target,
            "label_columns": ctx.schema.label_columns,
            "class_counts": (all_row_class_counts(ctx.full, ctx.schema.target) if ctx.full is not None
                             else class_counts(ctx.frame, ctx.schema)),
            "reference_class": _reference_info(ctx.frame, ctx.schema), "seed": seed,
        },
        **analyses,
    }
    report["computed_on"] = (ctx.full.statement() if ctx.full is not None else
                             {"out_of_core": False, "rows_total": ctx.report.rows,
                              "note": "cheap summaries on every row; costly steps on sampling_for_costly_steps"})
    with stage("figures and interactive pages", timings):
        report["artifacts"] = draw_figures(report, graph, ctx, args)
    report["timings_s"] = timings
    write_json(ctx.layout.comprehensive_analysis_json, report)
    print_summary(report)
    log.info("  report: %s", ctx.layout.comprehensive_analysis_json)
    log.info("  figures: %s", ctx.layout.interactive_index_html)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
