"""Full-size tables on one machine: a table too large for memory, read out of core with Polars.

`load_table` is what the setup and the analyzer call instead of read_table. A table that fits
comfortably in memory (common.core.scan.plan_table) is read whole, exactly as before, and
comes back with `full=None`. A larger one comes back as a seeded sample in memory plus a
`FullTable`: the files scanned lazily by Polars, so that

* the engine parses the files once more into a temporary, compressed Parquet copy (in $TMPDIR,
  removed at exit), which the later queries read column by column instead of parsing CSV again;
* exact figures come from the engine over every row: row counts (per file and per class),
  missing, infinite and duplicate counts (the LoadReport), each numeric column's missing /
  infinite / zero / placeholder shares and the min, max, mean and standard deviation of its
  measured values, categorical value shares, TCP flag presence and co-occurrence;
* what needs rows in memory (column typing, rule discovery, quantiles, skew, correlations,
  clustering, mutual information, feature importance, plots) runs on the sample: every class
  keeps min(its rows, cap) rows, the largest cap that fits `sample_rows` (rare classes whole);
* rules found on the sample have their data-fitted ranges refitted on every row (placeholder
  ranges, grid extents: the engine's min/max, as discovery refits them on the frame it
  verifies on) and are then confirmed on every row by streaming the table in batches through
  RuleSet.validity; a rule broken on more rows than discovery allows (any row for a count rule,
  more than 1 - min_support of the rows for the others) is dropped, and the log names it.
"""
from __future__ import annotations

import hashlib
import logging
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.core.errors import UserError
from common.core.io import (
    LoadReport, common_header, expand_data_paths, file_sha256, parse_text_rows, read_table,
)
from common.core.scan import ROW_NUMBER, TablePlan, capped_positions, count_rows, plan_table, scan_text, typed
from common.data.flags import TCP_FLAGS, flag_columns
from common.data.schema import LABEL_NAMES, Schema, choose_target, find_label_columns, modelling_frame, normalise_name
from common.rules import GridRule, PlaceholderRule, RuleSet
from common.rules.base import FLOAT_REPRESENTATION, PLACEHOLDER_SPREAD
from common.rules.counts import COUNT_RULE_TYPES

log = logging.getLogger("tcpsynth")

# Rows held in memory when a table is read out of core: enough for the rule search (which
# itself searches 200,000 rows) and the costly analyses, at about a tenth of the memory of
# 5,000,000 rows.
DEFAULT_SAMPLE_ROWS = 500_000
# Rows per batch of the rule confirmation (about 60 MB of floats for 80 columns).
CONFIRM_BATCH_ROWS = 100_000


@dataclass
class FullTable:
    """A table read out of core: its files and header, the Polars scan of them, how it was
    sampled, and the columns the sample parsed as numbers."""

    files: list[Path]
    names: list[str]
    plan: TablePlan
    rows: int
    sampling: dict[str, Any]
    numeric: list[str]
    target: str | None
    # every row, numeric columns as Float64, written once by the engine to a temporary Parquet
    # file: the queries after the sample read only the columns they need instead of parsing the
    # CSV again (removed with the folder when the process ends)
    _parquet: Path | None = field(repr=False, default=None)
    _folder: Any = field(repr=False, default=None)

    def lazy(self):
        """A Polars LazyFrame of every row, numeric columns as Float64 (missing as null)."""
        import polars as pl

        return pl.scan_parquet(self._parquet)

    def statement(self) -> dict[str, Any]:
        """What was computed on all rows and what on the sample: for the JSON artifacts."""
        return {
            "out_of_core": True,
            "engine": "polars (lazy scan, streaming engine)",
            "decision": self.plan.to_dict(),
            "rows_total": self.rows,
            "sample": self.sampling,
            "computed_on_all_rows": [
                "row counts (per file and per class)", "missing, infinite and duplicate counts",
                "missing, infinite, zero and placeholder shares per column",
                "min, max, mean and std of measured values", "categorical value shares",
                "TCP flag presence and co-occurrence", "rule ranges (placeholders, grids) and rule confirmation",
            ],
            "computed_on_sample": [
                "column types", "rule discovery", "quantiles, skew and kurtosis", "heavy-tail test",
                "correlations", "clustering", "mutual information", "feature importance",
                "signatures and traffic statistics", "plots",
            ],
        }


def _class_column(text, names: list[str], label_column: str | None) -> tuple[str | None, pd.Series | None]:
    """The class column chosen as infer_schema chooses it, from all rows of the label-like
    columns (read as categoricals), and its values; (None, None) without one."""
    import polars as pl

    if label_column is not None and label_column not in names:
        find_label_columns(pd.DataFrame(columns=names), label_column)   # raises its UserError
    candidates = [c for c in names if normalise_name(c) in LABEL_NAMES or c == label_column]
    if not candidates:
        return None, None
    labels = text.select([pl.col(c).cast(pl.Categorical) for c in candidates]).collect(engine="streaming").to_pandas()
    target = choose_target(labels, find_label_columns(labels, label_column), label_column)
    return target, (labels[target] if target is not None else None)


def _label_codes(labels: pd.Series) -> np.ndarray:
    """Each row's class as an integer in the order of the classes' text (missing as 'nan', as
    astype(str) writes it): groups in the order the in-memory sample draws them, without a
    string per row."""
    text = labels
    if labels.isna().any():
        text = (labels if "nan" in labels.cat.categories else labels.cat.add_categories(["nan"])).fillna("nan")
    ordered = text.cat.reorder_categories(sorted(text.cat.categories, key=str))
    return ordered.cat.codes.to_numpy()


def _report(full: FullTable, lazy, stripped: int, renamed: dict[str, str], entries: list[dict]) -> LoadReport:
    """The LoadReport of every row from engine queries (duplicates by a 64-bit hash of each row)."""
    import polars as pl

    exprs = [pl.len().alias("__rows")]
    exprs += [pl.col(c).null_count().alias(f"null:{c}") for c in full.names]
    exprs += [pl.col(c).is_infinite().sum().alias(f"inf:{c}") for c in full.numeric]
    exprs.append(pl.struct(pl.all()).hash(seed=0).n_unique().alias("__unique_rows"))
    counts = lazy.select(exprs).collect(engine="streaming").row(0, named=True)
    unique_rows = counts["__unique_rows"]
    empty = [c for c in full.names if counts[f"null:{c}"] == full.rows]
    if empty:
        raise UserError(f"column '{empty[0]}' in {full.files[0]} has no values at all"
                        + (f" (and {len(empty) - 1} more)" if len(empty) > 1 else "") + ": remove it from the file")
    if len(entries) > 1:
        digest = hashlib.sha256("\n".join(e["sha256"] for e in entries).encode()).hexdigest()
        parents = {str(Path(e["path"]).parent) for e in entries}
        shown = f"{len(entries)} files in {parents.pop()}" if len(parents) == 1 else f"{len(entries)} files"
    else:
        digest, shown = entries[0]["sha256"], entries[0]["path"]
    return LoadReport(
        path=shown, rows=full.rows, columns=len(full.names), sha256=digest, stripped_names=stripped,
        renamed_duplicates=renamed,
        infinite_counts={c: int(counts[f"inf:{c}"]) for c in full.numeric if counts[f"inf:{c}"]},
        missing_counts={c: int(counts[f"null:{c}"]) for c in full.names if counts[f"null:{c}"]},
        duplicate_rows=int(full.rows - unique_rows), files=entries if len(entries) > 1 else [],
    )


def load_table(data, min_rows: int, mode: str | None = None, sample_rows: int = DEFAULT_SAMPLE_ROWS,
               seed: int = 0, label_column: str | None = None) -> tuple[pd.DataFrame, LoadReport, FullTable | None]:
    """The table `data` names (--data: files, folders, globs) for the setup and the analyzer.

    In:  `min_rows` (fewer rows is a UserError); `mode` "auto" / "always" / "never" (out of
         core; None: $TCPSYNTH_OUT_OF_CORE or auto); `sample_rows` held in memory out of core;
         `seed` of the sample; `label_column` (--label-column) to stratify by.
    Out: (frame, report, full): read whole, the table, its LoadReport and None; out of core,
         the seeded stratified sample (parsed as read_table parses), the LoadReport of every
         row and the FullTable.
    """
    files = expand_data_paths(data)
    plan = plan_table(files, mode)
    if not plan.out_of_core:
        frame, report = read_table(files if len(files) > 1 else files[0], min_rows=min_rows)
        return frame, report, None
    if sample_rows < min_rows:
        raise UserError(f"--sample-rows must be at least {min_rows} (got {sample_rows})")
    log.info("   out of core: %s", plan.reason)
    with _engine_errors(files):
        sample, report, full = _read_out_of_core(files, plan, min_rows, sample_rows, seed, label_column)
    log.info("   %s rows in memory of %s (%s)", f"{len(sample):,}", f"{full.rows:,}", full.sampling["method"])
    return sample, report, full


@contextmanager
def _engine_errors(files: list[Path]):
    """A file the engine cannot parse (ragged rows, bad bytes) is one UserError line, as the
    in-memory loader's ParserError is."""
    import polars as pl

    try:
        yield
    except pl.exceptions.PolarsError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        shown = files[0] if len(files) == 1 else f"the {len(files)} files in --data"
        raise UserError(f"cannot parse {shown} as CSV/Parquet: {first}") from None


def _file_entries(files: list[Path], names: list[str]) -> list[dict[str, Any]]:
    """[{"path", "rows", "sha256"}] of each file, rows counted by the engine."""
    entries = []
    for path in files:
        rows = count_rows(path, names)
        if rows == 0:
            raise UserError(f"{path} has a header but no data rows: export the flow table with its rows")
        entries.append({"path": str(path), "rows": rows, "sha256": file_sha256(path)})
    return entries


def _fetch_rows(text, positions: np.ndarray) -> pd.DataFrame:
    """The rows at `positions` (over all files) parsed exactly as read_table parses a CSV."""
    import polars as pl

    wanted = pl.Series(positions, dtype=pl.UInt64).implode()
    picked = (text.with_row_index(ROW_NUMBER).filter(pl.col(ROW_NUMBER).is_in(wanted)).drop(ROW_NUMBER)
              .collect(engine="streaming"))
    return parse_text_rows(picked)


def _read_out_of_core(files: list[Path], plan: TablePlan, min_rows: int, sample_rows: int, seed: int,
                      label_column: str | None) -> tuple[pd.DataFrame, LoadReport, FullTable]:
    """load_table's out-of-core path: header check, row counts, the class-capped sample, the
    typed Parquet copy and the LoadReport of every row."""
    names, stripped, renamed = common_header(files)
    entries = _file_entries(files, names)
    total = sum(entry["rows"] for entry in entries)
    if total < min_rows:
        raise UserError(f"the table holds {total} data row(s); at least {min_rows} are needed")
    text = scan_text(files, names)
    target, labels = _class_column(text, names, label_column)
    positions, method = capped_positions(None if labels is None else _label_codes(labels), total, sample_rows, seed)
    sample = _fetch_rows(text, positions)
    numeric = [c for c in sample.columns
               if pd.api.types.is_numeric_dtype(sample[c]) and not pd.api.types.is_bool_dtype(sample[c])]
    sampling = {"rows_used": int(len(sample)), "rows_total": int(total), "seed": int(seed),
                "stratified_by": target, "method": method}
    full = FullTable(files, names, plan, total, sampling, numeric, target)
    full._folder = tempfile.TemporaryDirectory(prefix="tcpsynth-table-")
    full._parquet = Path(full._folder.name) / "table.parquet"
    typed(text, numeric).sink_parquet(full._parquet)
    return sample, _report(full, full.lazy(), stripped, renamed, entries), full


# ----------------------------------------------------------------------------- all-row figures


def class_counts(full: FullTable, column: str | None) -> dict[str, int]:
    """Rows per value of `column` over every row, largest first (missing as 'nan', as
    pandas' astype(str) shows it); empty without a column."""
    import polars as pl

    if column is None:
        return {}
    counts = (full.lazy().group_by(pl.col(column).cast(pl.String).fill_null("nan")).len()
              .collect(engine="streaming").sort(["len", column], descending=[True, False]))
    return {str(value): int(n) for value, n in counts.iter_rows()}


def value_shares(full: FullTable, column: str, top: int = 50) -> dict[str, Any]:
    """{"distinct", "shares"} of one categorical column over every row (the `top` values)."""
    import polars as pl

    counts = (full.lazy().group_by(pl.col(column).cast(pl.String).fill_null("<missing>")).len()
              .collect(engine="streaming").sort(["len", column], descending=[True, False]))
    return {"distinct": int(counts.height),
            "shares": {str(v): round(n / full.rows, 6) for v, n in counts.head(top).iter_rows()}}


def _placeholder_expr(column: str, rule: PlaceholderRule | None):
    import polars as pl

    if rule is None:
        return pl.lit(False)
    return pl.col(column).is_between(rule.lo, rule.hi).fill_null(False)


def numeric_figures(full: FullTable, columns: list[str], rules: RuleSet) -> dict[str, dict[str, float | None]]:
    """Per numeric column, over every row: missing, infinite, zero and placeholder shares, and
    min, max, mean, std (ddof 1) of the measured values (finite, not a placeholder)."""
    import polars as pl

    exprs = []
    for c in columns:
        x = pl.col(c)
        placeholder = _placeholder_expr(c, rules.placeholders.get(c))
        measured = x.filter(x.is_finite().fill_null(False) & ~placeholder)
        exprs += [x.null_count().alias(f"{c}|missing"), x.is_infinite().sum().alias(f"{c}|infinite"),
                  (x == 0).sum().alias(f"{c}|zero"), placeholder.sum().alias(f"{c}|placeholder"),
                  measured.count().alias(f"{c}|n"), measured.min().alias(f"{c}|min"),
                  measured.max().alias(f"{c}|max"), measured.mean().alias(f"{c}|mean"),
                  measured.std().alias(f"{c}|std")]
    row = full.lazy().select(exprs).collect(engine="streaming").row(0, named=True) if exprs else {}
    figures = {}
    for c in columns:
        n = row[f"{c}|n"]
        figures[c] = {
            "missing_share": row[f"{c}|missing"] / full.rows, "infinite_share": row[f"{c}|infinite"] / full.rows,
            "zero_share": row[f"{c}|zero"] / full.rows, "placeholder_share": row[f"{c}|placeholder"] / full.rows,
            "measured": n, "min": row[f"{c}|min"], "max": row[f"{c}|max"], "mean": row[f"{c}|mean"],
            "std": (row[f"{c}|std"] if n > 1 else 0.0) if n else None,
        }
    return figures


def _presence_expr(columns: list[str]):
    import polars as pl

    return pl.max_horizontal([pl.col(c).fill_null(0.0) for c in columns]) > 0


def flag_presence_all_rows(full: FullTable, schema: Schema) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series | None]:
    """TCP flag presence of every row as common.data.flags defines it (any of a flag's columns
    > 0), overall and per direction, and the class of every row: compact booleans the analyzer's
    co-occurrence counts exactly. (presence, {direction: presence}, labels or None)."""
    import polars as pl

    items = [item for item in flag_columns(schema) if item.column in full.numeric]
    by_flag: dict[str, list[str]] = {}
    by_direction: dict[str, dict[str, list[str]]] = {}
    for item in items:
        by_flag.setdefault(item.flag, []).append(item.column)
        by_direction.setdefault(item.direction, {}).setdefault(item.flag, []).append(item.column)
    exprs = [_presence_expr(by_flag[f]).alias(f"all|{f}") for f in TCP_FLAGS if f in by_flag]
    for direction, flags in by_direction.items():
        exprs += [_presence_expr(flags[f]).alias(f"{direction}|{f}") for f in TCP_FLAGS if f in flags]
    if schema.target is not None:
        exprs.append(pl.col(schema.target).cast(pl.String).fill_null("nan").cast(pl.Categorical).alias("|label"))
    table = full.lazy().select(exprs).collect(engine="streaming").to_pandas() if exprs else pd.DataFrame()

    def part(prefix: str) -> pd.DataFrame:
        chosen = [c for c in table.columns if c.startswith(prefix + "|")]
        return table[chosen].rename(columns=lambda c: c.split("|", 1)[1]).astype(bool)

    labels = table["|label"].astype(str) if "|label" in table.columns else None
    return part("all"), {direction: part(direction) for direction in by_direction}, labels


# ----------------------------------------------------------------------------- rules on all rows


def _refit_ranges(rules: RuleSet, full: FullTable) -> RuleSet:
    """The rules with their data-fitted ranges taken from every row, as discovery refits them on
    the frame it verifies on: a placeholder's cluster and real range, a grid's first and last step."""
    import polars as pl

    exprs, fitted = [], []
    for rule in rules.rules:
        if isinstance(rule, PlaceholderRule) and rule.column in full.numeric:
            x = pl.col(rule.column).filter(pl.col(rule.column).is_finite())
            pad = 0.0 if (rule.lo < 0 and rule.lo == rule.hi) else PLACEHOLDER_SPREAD * abs(rule.hi)
            inside = x.is_between(rule.lo - pad, rule.hi + pad)
            exprs += [x.filter(inside).min().alias(f"{rule.id}|lo"), x.filter(inside).max().alias(f"{rule.id}|hi"),
                      x.filter(~inside).min().alias(f"{rule.id}|real_lo"),
                      x.filter(~inside).max().alias(f"{rule.id}|real_hi"),
                      inside.mean().alias(f"{rule.id}|share")]
            fitted.append(rule)
        elif isinstance(rule, GridRule) and rule.column in full.numeric:
            x = pl.col(rule.column)
            usable = x.is_finite() & (x != 0)
            for lo, hi in rule.placeholder_ranges:
                usable = usable & ~x.is_between(lo, hi)
            k = (x.filter(usable) - rule.offset) / rule.step
            on = (k - k.round()).abs() <= FLOAT_REPRESENTATION * pl.max_horizontal(pl.lit(1.0), k.abs())
            exprs += [k.round().filter(on).min().alias(f"{rule.id}|kmin"),
                      k.round().filter(on).max().alias(f"{rule.id}|kmax")]
            fitted.append(rule)
    if not exprs:
        return rules
    row = full.lazy().select(exprs).collect(engine="streaming").row(0, named=True)
    refitted = {}
    for rule in fitted:
        if isinstance(rule, PlaceholderRule) and row[f"{rule.id}|lo"] is not None:
            refitted[rule.id] = replace(rule, lo=float(row[f"{rule.id}|lo"]), hi=float(row[f"{rule.id}|hi"]),
                                        share=round(float(row[f"{rule.id}|share"]), 6),
                                        real_lo=row[f"{rule.id}|real_lo"], real_hi=row[f"{rule.id}|real_hi"])
        elif isinstance(rule, GridRule) and row[f"{rule.id}|kmin"] is not None:
            kmin, kmax = int(row[f"{rule.id}|kmin"]), int(row[f"{rule.id}|kmax"])
            refitted[rule.id] = replace(rule, offset=float(rule.offset + kmin * rule.step), kmax=kmax - kmin)
    rules_out = [refitted.get(rule.id, rule) for rule in rules.rules]
    return RuleSet(rules=rules_out, meta=dict(rules.meta))


def confirm_rules(rules: RuleSet, full: FullTable, schema: Schema, batch_rows: int = CONFIRM_BATCH_ROWS) -> RuleSet:
    """Rules found on the sample, refitted and checked on every row (RuleSet.validity, batch by
    batch), with discovery's own threshold applied to all rows: a count rule (whole ratios,
    shares, products, count orders and bounds) is dropped when any row breaks it, any other rule
    when more than 1 - min_support of all rows break it (as discovery on the whole table in
    memory would drop it). Dropped rules are logged; meta["confirmed_on_all_rows"] lists them
    and the kept rules some rows break."""
    rules = _refit_ranges(rules, full)
    columns = [c for c in schema.modelled_columns if c in full.names]
    total = None
    for batch in full.lazy().select(columns).collect_batches(chunk_size=batch_rows, engine="streaming"):
        part = rules.validity(modelling_frame(batch.to_pandas(), schema))
        total = part if total is None else total.merge(part)
    min_support = float(rules.meta.get("min_support", 0.999))
    kept, dropped, tolerated = [], {}, {}
    for rule in rules.rules:
        broken = int(total.violations.get(rule.id, 0)) if total is not None else 0
        allowed = 0 if isinstance(rule, COUNT_RULE_TYPES) else (1 - min_support) * full.rows
        if broken <= allowed:
            kept.append(rule)
            if broken:
                tolerated[rule.id] = broken
        else:
            dropped[rule.id] = broken
            log.info("   rule dropped: broken on %s of %s rows: %s", f"{broken:,}", f"{full.rows:,}", rule.describe())
    meta = dict(rules.meta)
    meta["confirmed_on_all_rows"] = {
        "rows": full.rows, "batch_rows": batch_rows, "rules_found_on_sample": len(rules.rules),
        "rules_kept": len(kept), "dropped": dropped, "kept_though_broken": tolerated,
        "policy": "discovery's own threshold over all rows: a count rule is dropped when any row breaks it, "
                  f"any other rule when more than {1 - min_support:.3%} of all rows break it (min_support "
                  f"{min_support})",
    }
    log.info("   rules confirmed on all %s rows: %d of %d kept", f"{full.rows:,}", len(kept), len(rules.rules))
    return RuleSet(rules=kept, meta=meta)


__all__ = [
    "CONFIRM_BATCH_ROWS", "DEFAULT_SAMPLE_ROWS", "FullTable", "class_counts", "confirm_rules",
    "flag_presence_all_rows", "load_table", "numeric_figures", "value_shares",
]
