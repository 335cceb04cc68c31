"""report.html: one self-contained page that proves (or disproves) the synthetic flows.

It reads top to bottom: the verdict (recommended model, the rule behind it, the headline
table and chart), then the evidence per question (fidelity, validity, attack signatures,
utility, privacy), then how it was measured (samples, timings). Every figure is embedded as
a base64 PNG data URI, so the single file opens offline and can be mailed; the only links
are relative ones to the JSON files written beside it.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Iterable

from common.evaluation.comparison import format_value
from common.evaluation.sections import ModelEvaluation, OverfittingProtection
from common.core.io import write_text

MAX_KS_ROWS = 12
MAX_RULE_ROWS = 15

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Arial,sans-serif;margin:0 auto;max-width:1180px;padding:1.5em 2em;
color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
h3{margin-top:1.4em}.sub{color:#666;margin-top:0}
.verdict{background:#f1f7ee;border-left:6px solid #55A868;padding:.8em 1.2em;margin:1em 0}
.verdict .model{font-size:1.5em;font-weight:bold}
.notices{background:#fff6e5;border-left:6px solid #DD8452;padding:.6em 1.2em;margin:1em 0}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}td.best{font-weight:bold;background:#eef6ff}
td.text{text-align:left}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.88em;margin-top:.3em}.note{color:#666;font-size:.9em}
.skip{background:#fff6e5;border-left:4px solid #DD8452;padding:.5em 1em}
nav a{margin-right:1em}code{background:#f4f4f4;padding:0 .25em}
"""


# ----------------------------------------------------------------------------- small pieces


def escape(value: Any) -> str:
    return html.escape(str(value))


def percent(value: Any) -> str:
    return format_value(value, "percent")


def number(value: Any, digits: int = 4) -> str:
    """Fixed decimals; scientific notation for huge values (stranded values make errors of 1e9)."""
    if value is None:
        return "—"
    return f"{value:.3g}" if abs(value) >= 1e4 else f"{value:.{digits}f}"


def table(headers: list[str], rows: Iterable[list[str]], classes: Iterable[list[str]] | None = None) -> str:
    """An HTML table of already-formatted (unescaped) cell texts; `classes` per cell optional."""
    rows = list(rows)
    classes = list(classes) if classes is not None else [[""] * len(r) for r in rows]
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td class='{c}'>{escape(v)}</td>" if c else f"<td>{escape(v)}</td>" for v, c in zip(r, cl)) + "</tr>"
        for r, cl in zip(rows, classes)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def embedded_image(path: Path, alt: str) -> str:
    """An <img> whose source is the PNG itself (base64 data URI)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{data}'>"


def figure_html(figure: dict[str, Any]) -> str:
    return (f"<figure>{embedded_image(figure['path'], figure['title'])}"
            f"<figcaption><b>{escape(figure['title'])}.</b> {escape(figure['caption'])}</figcaption></figure>")


def figures_of(figures: list[dict[str, Any]], section: str) -> str:
    return "".join(figure_html(f) for f in figures if f["section"] == section)


def facts_table(facts: Any) -> str:
    """A two-column table of recorded facts (nested values shown as compact JSON)."""
    if not isinstance(facts, dict):
        return f"<p><code>{escape(json.dumps(facts, default=str))}</code></p>"
    rows = [[str(key), value if isinstance(value, str) else json.dumps(value, default=str)] for key, value in facts.items()]
    return table(["fact", "value"], rows, [["", "text"] for _ in rows])


def skipped(reason: str) -> str:
    return f"<p class='skip'>Skipped: {escape(reason)}</p>"


# ----------------------------------------------------------------------------- sections


def verdict_section(comparison: dict[str, Any], figures: list[dict[str, Any]]) -> str:
    """Recommendation, the rule behind it, the headline table (best model value in bold)."""
    recommendation = comparison["recommendation"]
    models = comparison["models"]
    columns = ["holdout_ceiling"] + models
    rows, classes = [], []
    for row in comparison["rows"]:
        values = [comparison["headline"][c].get(row["key"]) for c in columns]
        cells = [row["label"]] + [format_value(v, row["format"]) for v in values]
        marks = [""] * len(cells)
        model_values = {m: comparison["headline"][m].get(row["key"]) for m in models}
        known = {m: v for m, v in model_values.items() if v is not None}
        if row["better"] in ("higher", "lower") and len(known) > 1:
            pick = max if row["better"] == "higher" else min
            best = pick(known.values())
            for m, v in known.items():
                if v == best:
                    marks[2 + models.index(m)] = "best"
        rows.append(cells)
        classes.append(marks)
    missing = comparison.get("models_not_evaluated") or []
    return (
        "<h2 id='verdict'>Verdict</h2>"
        f"<div class='verdict'><div>Recommended model for this dataset:</div>"
        f"<div class='model'>{escape(recommendation['model'])}</div>"
        f"<p>{escape(recommendation['reason'])}.</p>"
        f"<p class='note'>Rule: {escape(recommendation['rule'])}.</p></div>"
        + (f"<p class='note'>Not evaluated (no synthetic CSV): {escape(', '.join(missing))}.</p>" if missing else "")
        + "<p>Every figure of each model beside the holdout ceiling: the real holdout rows compared with the "
          "train rows in the same way, which is what a perfect synthesizer could reasonably reach. "
          "The better model value of each row is in bold.</p>"
        + table(["Metric", "Holdout (ceiling)"] + models, rows, classes)
        + figures_of(figures, "verdict")
    )


def fidelity_section(comparison: dict[str, Any], evaluations: dict[str, ModelEvaluation], figures: list[dict[str, Any]]) -> str:
    models = list(evaluations)
    fidelity = {m: evaluations[m].fidelity for m in models}
    first = fidelity[models[0]]
    report_rows = []
    for metadata_name, holdout_scores, model_scores in (
        ("SDV-detected", first.holdout_quality_detected, {m: fidelity[m].quality_detected for m in models}),
        ("project", first.holdout_quality, {m: fidelity[m].quality for m in models}),
    ):
        for name, scores in {"holdout (ceiling)": holdout_scores, **model_scores}.items():
            report_rows.append([
                name, metadata_name, percent(scores.overall), percent(scores.column_shapes),
                percent(scores.column_pair_trends), f"{scores.pairs_contributing} / {scores.pairs_total}",
                percent(scores.all_pairs_mean), percent(scores.diagnostic_overall), percent(scores.data_validity),
                percent(scores.data_structure),
            ])
    sdtypes_text = ", ".join(f"{count} {sdtype}" for sdtype, count in first.detected_sdtypes.items())
    sample = first.holdout_quality.sample["real"]
    sample_text = (f"seeded samples of {sample['rows_used']:,} rows per table" if sample["sampled"]
                   else "all rows")
    ks_columns = sorted(
        {x["column"] for m in models for x in fidelity[m].columns.summary.largest_ks_columns},
        key=lambda c: (-max(fidelity[m].columns.numeric[c]["ks_statistic"] or 0 for m in models), c),   # ties by name
    )[:MAX_KS_ROWS]
    holdout_ks = first.holdout_columns.ks_by_column()
    ks_rows = []
    for column in ks_columns:
        row = [column, number(holdout_ks.get(column), 3)]
        for m in models:
            item = fidelity[m].columns.numeric[column]
            row += [number(item["ks_statistic"], 3), number(item["wasserstein_normalised"], 3)]
        ks_rows.append(row)
    categorical_rows = []
    for column in first.columns.categorical:
        categorical_rows.append([column] + [number(fidelity[m].columns.categorical[column]["total_variation_distance"], 3)
                                            for m in models])
    correlation_rows = []
    for name, figures_of_table in [("holdout (ceiling)", first.holdout_correlations)] + [(m, fidelity[m].correlations) for m in models]:
        pearson = figures_of_table.pearson
        correlation_rows.append([name, number(pearson.mean_absolute_difference, 3),
                                 number(figures_of_table.spearman.mean_absolute_difference, 3),
                                 f"{pearson.strong_kept_count} / {pearson.strong_real_count}",
                                 percent(pearson.strong_kept_share)])
    return (
        "<h2 id='fidelity'>1. Fidelity: do the synthetic rows look like the training rows?</h2>"
        "<h3>sdmetrics QualityReport and DiagnosticReport</h3>"
        f"<p class='note'>Against the train split, on {escape(sample_text)}, under two metadata: SDV's "
        f"auto-detected metadata (<code>Metadata.detect_from_dataframes</code> on the train rows: "
        f"{escape(sdtypes_text)}), which is what a plain-SDV user computes and what the verdict uses, and the "
        "project's (header lengths and counts numerical). Ordinal columns must match value for value. "
        "Column Pair Trends (sdmetrics 0.32) averages the pairs whose real correlation exceeds 0.5 (or association "
        "0.3); the next column says how many pairs that is, and 'all pairs' gives the plain mean over every pair.</p>"
        + table(["Table", "Metadata", "Quality", "Column Shapes", "Column Pair Trends", "pairs counted", "all pairs",
                 "Diagnostic", "Data Validity", "Data Structure"], report_rows)
        + "<h3>Columns whose distribution differs most</h3>"
          "<p class='note'>Two-sample KS statistic (0 = same distribution) and Wasserstein distance divided by the real "
          "range, on measured values (placeholder cells set apart). Per-column mean, std, min, max and quantiles "
          "with relative differences are in the evaluation JSON files.</p>"
        + table(["Column", "holdout KS"] + [f"{m} {k}" for m in models for k in ("KS", "W/range")], ks_rows)
        + (("<h3>Categorical columns</h3>" + table(["Column"] + [f"{m} TV distance" for m in models], categorical_rows))
           if categorical_rows else "")
        + per_class_table(evaluations)
        + figures_of([f for f in figures if f["title"].startswith(("Distributions", "Class"))], "fidelity")
        + "<h3>Correlation structure</h3>"
          "<p class='note'>Mean absolute difference between correlation matrices (numeric columns that vary; "
          "placeholder cells left out), and how many strongly correlated real pairs (|r| &gt; 0.7) keep |r| &gt; 0.7 "
          "with the same sign.</p>"
        + table(["Table", "Pearson |Δr|", "Spearman |Δr|", "strong pairs kept", "share"], correlation_rows)
        + figures_of([f for f in figures if "correlation" in f["title"].lower()], "fidelity")
    )


def per_class_table(evaluations: dict[str, ModelEvaluation]) -> str:
    """Quality per class (present when a class mix was asked for), or nothing."""
    per_class = {m: evaluation.fidelity.per_class.get("classes") for m, evaluation in evaluations.items()
                 if evaluation.fidelity.per_class}
    models = [m for m, classes in per_class.items() if classes]
    if not models:
        return ""
    classes = sorted({c for m in models for c in per_class[m]})
    rows = []
    for label in classes:
        row = [label]
        for m in models:
            entry = per_class[m].get(label) or {}
            row += [f"{entry.get('synthetic_rows', 0):,}",
                    percent(entry.get("quality_overall")) if "quality_overall" in entry else escape(entry.get("skipped", "—"))]
        rows.append(row)
    return ("<h3>Per class</h3><p class='note'>The class mix was chosen (not the training shares), so each class's "
            "synthetic rows are compared with that class's train rows (sdmetrics quality, SDV-detected metadata).</p>"
            + table(["Class"] + [f"{m} {k}" for m in models for k in ("rows", "quality")], rows))


def validity_section(evaluations: dict[str, ModelEvaluation], figures: list[dict[str, Any]]) -> str:
    models = list(evaluations)
    validity = {m: evaluations[m].validity for m in models}
    rules = {m: validity[m].rules for m in models}
    first = rules[models[0]]
    overall_rows = [["holdout (real)", f"{first.holdout.rows:,}", percent(first.holdout.valid_share),
                     f"{first.holdout.violating_rows:,}"]]
    for m in models:
        overall_rows.append([m, f"{rules[m].synthetic.rows:,}", percent(rules[m].synthetic.valid_share),
                             f"{rules[m].synthetic.violating_rows:,}"])
    rate = {m: {r["id"]: r["synthetic_violation_rate"] for r in rules[m].per_rule} for m in models}
    worst = sorted(first.per_rule, key=lambda r: -max(rate[m][r["id"]] for m in models))
    rule_rows = [[r["description"], percent(r["holdout_violation_rate"])] + [percent(rate[m][r["id"]]) for m in models]
                 for r in worst[:MAX_RULE_ROWS] if max(rate[m][r["id"]] for m in models) > 0]
    rule_classes = [["text"] + [""] * (len(models) + 1) for _ in rule_rows]
    placeholder_html = ""
    placeholders = {m: validity[m].placeholders for m in models}
    if placeholders[models[0]].columns:
        rows = []
        for column, item in placeholders[models[0]].columns.items():
            row = [column, percent(item["placeholder_share"]["real"]), percent(item["placeholder_share"]["holdout"])]
            for m in models:
                other = placeholders[m].columns[column]
                row += [percent(other["placeholder_share"]["synthetic"]), percent(other["stranded_share"]["synthetic"])]
            rows.append(row)
        placeholder_html = (
            "<h3>Placeholders</h3><p class='note'>Share of rows holding the 'not applicable' placeholder the setup "
            "detected (e.g. an epoch timestamp in an IAT column of a one-packet direction), and the share of "
            "stranded values: neither placeholder nor inside the real range, but in the gap between them "
            "(impossible values).</p>"
            + table(["Column", "real", "holdout"] + [f"{m} {k}" for m in models for k in ("placeholder", "stranded")], rows))
    else:
        placeholder_html = f"<h3>Placeholders</h3><p class='note'>{escape(placeholders[models[0]].skipped or 'none')}</p>"
    flags = {m: validity[m].flags for m in models}
    if flags[models[0]].skipped:
        flag_html = f"<h3>TCP flags</h3><p class='note'>{escape(flags[models[0]].skipped)}</p>"
    else:
        flag_rows = [[flag, percent(flags[models[0]].flag_share[flag]["real"])]
                     + [percent(flags[m].flag_share[flag]["synthetic"]) for m in models] for flag in flags[models[0]].flags]
        holdout_flags = validity[models[0]].holdout_flags
        flag_html = (
            "<h3>TCP flags</h3><p class='note'>Share of flows with each flag, and the mean absolute difference of the "
            f"co-occurrence matrix: holdout {number(holdout_flags.mean_absolute_difference, 4)}, "
            + ", ".join(f"{m} {number(flags[m].mean_absolute_difference, 4)}" for m in models) + ".</p>"
            + table(["Flag", "real (train)"] + models, flag_rows))
    domain = {m: validity[m].domain_layer for m in models}
    domain_html = ""
    if any(v is not None for v in domain.values()):
        domain_html = ("<h3>Domain layer</h3><p class='note'>What training recorded about the sampled rows "
                       "(models/manifest.json), e.g. rows that needed resampling.</p>"
                       + "".join(f"<p><b>{escape(m)}</b></p>" + facts_table(v) for m, v in domain.items() if v is not None))
    return (
        "<h2 id='validity'>2. Validity: do the synthetic rows obey TCP and extractor logic?</h2>"
        f"<p>{first.rules_checked} relationships detected by the setup in the real table "
        f"({escape(', '.join(f'{k}: {v}' for k, v in first.rules_by_kind.items()))}) are checked on every row. "
        "The holdout shows what real rows score.</p>"
        + table(["Table", "rows", "valid under every rule", "rows breaking a rule"], overall_rows)
        + (("<h3>Rules broken most often</h3>"
            + table(["Rule", "holdout"] + models, rule_rows, rule_classes)) if rule_rows else
           "<p>No synthetic row breaks any rule.</p>")
        + figures_of([f for f in figures if f["title"] == "Most violated rules"], "validity")
        + placeholder_html
        + figures_of([f for f in figures if f["title"] == "Placeholders"], "validity")
        + flag_html
        + figures_of([f for f in figures if f["title"] == "Flag co-occurrence"], "validity")
        + domain_html
    )


def signatures_section(evaluations: dict[str, ModelEvaluation], figures: list[dict[str, Any]]) -> str:
    models = list(evaluations)
    holdout = evaluations[models[0]].signatures.holdout
    source = evaluations[models[0]].signatures.source
    head = "<h2 id='signatures'>3. Attack signatures: does each class keep what sets it apart?</h2>"
    if holdout.skipped:
        return head + skipped(holdout.skipped)
    rows = []
    for cls, item in holdout.classes.items():
        row = [cls, f"{item['summary']['features_checked']}", percent(item["summary"]["share_inside_real_iqr"])]
        for m in models:
            other = evaluations[m].signatures.synthetic.classes.get(cls, {})
            summary = other.get("summary", {})
            absent = " (class not generated)" if other.get("absent_from_synthetic") else ""
            row += [percent(summary.get("share_inside_real_iqr")) + absent, number(summary.get("median_relative_error"), 3)]
        rows.append(row)
    return (
        head
        + f"<p class='note'>Signatures: {escape(source)}; reference class: {escape(holdout.reference_class)}. "
          "A feature is kept when the class median in the synthetic rows lies inside the real class IQR; the relative "
          "error is |synthetic median − real median| / |real median| (or / the feature's real range when the real "
          "median is 0); the table gives its median over the class's features.</p>"
        + table(["Class", "features", "holdout kept"] + [f"{m} {k}" for m in models for k in ("kept", "median rel. error")], rows)
        + figures_of(figures, "signatures")
    )


def utility_section(evaluations: dict[str, ModelEvaluation], figures: list[dict[str, Any]]) -> str:
    models = list(evaluations)
    head = "<h2 id='utility'>4. Utility: train on synthetic, test on real</h2>"
    first = evaluations[models[0]].utility
    if first.trtr is None:
        return head + skipped(first.skipped or "no classifier could be trained on the real rows")
    trtr = first.trtr
    rows = [["TRTR (train on real)", percent(trtr.accuracy), percent(trtr.macro_f1), "1.00"]]
    notes = []
    for m in models:
        utility = evaluations[m].utility
        if utility.tstr:
            rows.append([f"TSTR {m}", percent(utility.tstr.accuracy), percent(utility.tstr.macro_f1),
                         format_value(utility.tstr_to_trtr_macro_f1, "ratio")])
        else:
            notes.append(f"{m}: {utility.skipped}")
    return (
        head
        + f"<p class='note'>{escape(first.classifier)}; class column '{escape(first.target)}'; other class columns "
          "are kept out of the features. Scored on the real holdout.</p>"
        + table(["Training data", "accuracy", "macro-F1", "macro-F1 / TRTR"], rows)
        + "".join(skipped(n) for n in notes)
        + figures_of(figures, "utility")
    )


def privacy_section(evaluations: dict[str, ModelEvaluation], figures: list[dict[str, Any]]) -> str:
    models = list(evaluations)
    first = evaluations[models[0]].privacy
    holdout = first.holdout
    rows = [["holdout (real, unseen)", number(holdout.dcr.median), number(holdout.dcr.p05), "—", "—",
             percent(holdout.exact_copy_share), percent(holdout.new_rows.score)]]
    for m in models:
        privacy = evaluations[m].privacy
        rows.append([m, number(privacy.dcr.median), number(privacy.dcr.p05),
                     percent(privacy.overfitting.closer_to_train_share), overfitting_cell(privacy.overfitting),
                     percent(privacy.exact_copy_share), percent(privacy.new_rows.score)])
    return (
        "<h2 id='privacy'>5. Privacy: are synthetic rows closer to training rows than unseen real rows are?</h2>"
        f"<p class='note'>Distances in {escape(first.distance_space)}. Real flow tables repeat rows, so the holdout's "
        "own share of rows equal to a train row is the baseline for exact copies, not zero. 'Closer to train' is "
        "sdmetrics DCROverfittingProtection on equal-size train and holdout samples (0.5 is what an unbiased "
        "generator scores; its score is min(1, 2 × share closer to holdout)), the mean of several seeded draws "
        "with the lowest and highest in brackets: sdmetrics scales each column by the range of the sample it "
        "measures against, so on heavy-tailed flow columns one draw moves with the extreme rows it happens to "
        "hold.</p>"
        + table(["Rows", "DCR median", "DCR 5th pct", "closer to train than holdout", "DCROverfittingProtection",
                 "equal to a train row", "NewRowSynthesis"], rows)
        + attacks_part(evaluations)
        + figures_of(figures, "privacy")
    )


def overfitting_cell(overfitting: OverfittingProtection) -> str:
    """The mean score, and the lowest and highest draw where there were several."""
    if overfitting.draws > 1 and overfitting.score_range:
        low, high = overfitting.score_range
        return f"{percent(overfitting.score)} [{percent(low)} – {percent(high)}]"
    return percent(overfitting.score)


def attacks_part(evaluations: dict[str, ModelEvaluation]) -> str:
    """Anonymeter's three attacks: one plain sentence per model and attack, and why when skipped."""
    parts = ["<h3>Re-identification attacks (anonymeter)</h3>"
             "<p class='note'>Each risk is what an attacker learns about the training flows beyond what the "
             "release tells about any flow of the same traffic (success on training rows minus success on held-out "
             "control rows), with its 95% confidence interval. The same attacks with unseen real flows as the "
             "release are the baseline.</p>"]
    for model, evaluation in evaluations.items():
        section, baseline = evaluation.privacy.attacks, evaluation.privacy.holdout.attacks
        if section is None or section.skipped:
            parts.append(f"<p><b>{escape(model)}</b>: not measured ({escape(section.skipped if section else 'off')}).</p>")
            continue
        items = "".join(
            f"<li>{escape(risk.sentence(baseline.risks.get(name) if baseline is not None else None))}</li>"
            for name, risk in section.risks.items())
        parts.append(f"<p><b>{escape(model)}</b>:</p><ul>{items}</ul>")
    return "".join(parts) + goal_part(evaluations)


def goal_part(evaluations: dict[str, ModelEvaluation]) -> str:
    """Which model's singling-out or linkability risk is over the goal (once the holdout baseline
    is taken into account) and why; one line saying none is, when measured and none is."""
    from common.evaluation.attacks import RISK_GOAL

    measured = [m for m, e in evaluations.items() if e.privacy.attacks is not None and not e.privacy.attacks.skipped]
    if not measured:
        return ""
    findings = [(model, finding) for model in measured for finding in evaluations[model].privacy.risks_above_goal()]
    if not findings:
        return (f"<p>Goal met: no singling-out or linkability risk is more than {100 * RISK_GOAL:g} points above releasing "
                f"unseen real flows ({', '.join(escape(m) for m in measured)}).</p>")
    return (f"<p><b>Over the goal</b> (singling out and linkability at most {100 * RISK_GOAL:g} points above releasing unseen "
            "real flows):</p><ul>" + "".join(f"<li>{escape(finding.sentence(model))}</li>" for model, finding in findings)
            + "</ul>")


def evaluation_rows_sentence(rows: dict[str, Any] | None) -> str:
    """One paragraph: how many rows of each table the evaluation used, and of how many."""
    if not rows:
        return ""

    def used(note: dict[str, Any] | None) -> str:
        if not note:
            return "none"
        if note["sampled"]:
            return f"{note['rows_used']:,} of {note['rows_available']:,}"
        return f"all {note['rows_used']:,}"

    synthetic = "; ".join(f"{escape(model)} {used(note)}" for model, note in rows.get("synthetic", {}).items())
    caps = rows.get("caps", {})
    return (f"<p>Rows evaluated: train {used(rows.get('train'))}, holdout {used(rows.get('holdout'))}; "
            f"synthetic: {synthetic or 'none'}. Tables above {caps.get('train', 0):,} train, "
            f"{caps.get('holdout', 0):,} holdout or {caps.get('synthetic', 0):,} synthetic rows are evaluated on "
            f"a seeded sample stratified by class (each class keeps its share).</p>")


def method_section(comparison: dict[str, Any], evaluations: dict[str, ModelEvaluation]) -> str:
    models = list(evaluations)
    caps = [[name.replace("_", " "), f"{value:,}"] for name, value in comparison["sampling_caps"].items()]
    timing_rows = [[m, *(f"{v:.1f}" for v in evaluations[m].timings_seconds.values())] for m in models]
    timing_head = ["Model"] + [k.replace("_", " ") for k in evaluations[models[0]].timings_seconds]
    split = comparison["split"]
    files = [f"{m}_evaluation.json" for m in models] + ["model_comparison.json"]
    return (
        "<h2 id='method'>6. How this was measured</h2>"
        f"<p>Data: <code>{escape(comparison['data']['path'])}</code> ({comparison['data']['rows']:,} rows, SHA-256 "
        f"{escape(comparison['data']['sha256'][:12])}…). Split: {split['train_rows']:,} train / {split['holdout_rows']:,} "
        f"holdout rows (seed {escape(split['seed'])}, stratified: {escape(split['stratified'])}). Rules: "
        f"{escape(comparison['rules_source'])}. Seed of every sample and classifier: {comparison['seed']}.</p>"
        "<p class='note'>Costly metrics run on seeded samples when a table is larger than these caps (each JSON "
        "section says whether it was sampled):</p>" + table(["metric", "rows at most"], caps)
        + evaluation_rows_sentence(comparison.get("evaluation_rows"))
        + "<h3>Evaluation time (seconds)</h3>" + table(timing_head, timing_rows)
        + f"<p class='note'>Holdout reference (computed once): {comparison['timings_seconds']['reference']:.1f} s; "
          f"whole evaluation: {comparison['timings_seconds']['total']:.1f} s.</p>"
        + "<p>All figures in machine-readable form: "
        + ", ".join(f"<a href='{escape(name)}'>{escape(name)}</a>" for name in files) + ".</p>"
    )


# ----------------------------------------------------------------------------- page


def notices_section(comparison: dict[str, Any]) -> str:
    """What a reader must know before the figures (a class mix asked for, classes not delivered),
    as the page's first lines; empty when there is nothing to say."""
    notices = [n for n in comparison.get("notices") or [] if n]
    if not notices:
        return ""
    return "<div class='notices'>" + "".join(f"<p>{escape(n)}</p>" for n in notices) + "</div>"


def report_html(comparison: dict[str, Any], evaluations: dict[str, ModelEvaluation], figures: list[dict[str, Any]]) -> str:
    """The whole page as text (figures read from their PNG paths and embedded)."""
    title = f"Synthetic flow evaluation: {Path(comparison['data']['path']).name}"
    nav = "".join(f"<a href='#{anchor}'>{label}</a>" for anchor, label in (
        ("verdict", "Verdict"), ("fidelity", "Fidelity"), ("validity", "Validity"), ("signatures", "Signatures"),
        ("utility", "Utility"), ("privacy", "Privacy"), ("method", "Method")))
    body = (
        f"<h1>{escape(title)}</h1>"
        f"<p class='sub'>Models: {escape(', '.join(comparison['models']))} · faithful, valid, useful, private?</p>"
        f"<nav>{nav}</nav>"
        + notices_section(comparison)
        + verdict_section(comparison, figures)
        + fidelity_section(comparison, evaluations, figures)
        + validity_section(evaluations, figures)
        + signatures_section(evaluations, figures)
        + utility_section(evaluations, figures)
        + privacy_section(evaluations, figures)
        + method_section(comparison, evaluations)
    )
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")


def write_report(target: Path, comparison: dict[str, Any], evaluations: dict[str, ModelEvaluation],
                 figures: list[dict[str, Any]]) -> Path:
    """Write report.html atomically; `figures` are {"section", "title", "path", "caption"}."""
    return write_text(target, report_html(comparison, evaluations, figures))
