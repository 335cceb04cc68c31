"""Column typing, label and identifier detection, and feature categories.

Everything here is detected from the data (values first, names only where a name is the
only evidence, such as "Destination Port"), so that NTLFlowLyzer, CICFlowMeter and
KDD-style exports are all typed without a list of known column names.

Kinds of column
---------------
identifier   flow ids, IP addresses, ports, timestamps: never learned, never copied (excluded)
label        a class column (label, activity, attack, attack_cat, class)
categorical  text with few distinct values (e.g. KDD `flag`, `protocol_type`, `service`)
boolean      True/False values
count        non-negative integer values (packet and flag counts, header lengths)
integer      integer values that can be negative (e.g. -1 "not applicable" windows)
fraction     real values within [0, 1] (flag percentages)
continuous   any other real values (rates, inter-arrival times, means)
"""
from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from common.core.errors import UserError

LABEL_NAMES = ("label", "activity", "attack", "attack_cat", "attack_type", "class")
NUMERIC_KINDS = ("count", "integer", "fraction", "continuous")

# Ordered: a column goes to the first category whose pattern matches its normalised name,
# so "syn_flag_counts" is a tcp flag, not a packet count. Patterns are matched against the
# lower-cased name with runs of spaces, dashes and dots turned into "_" and "/" into "_per_",
# which makes NTLFlowLyzer ("fwd_psh_flag_percentage_in_fwd_packets"), CICFlowMeter
# ("SYN Flag Count", "Fwd PSH Flags", "Init_Win_bytes_forward", "Fwd Packets/s") and
# CSE-CIC-IDS2018 ("Fwd PSH Flags", "Tot Fwd Pkts") names meet the same patterns.
DEFAULT_FEATURE_CATEGORIES: dict[str, list[str]] = {
    "tcp_flags": [
        "syn_flag_*", "rst_flag_*", "psh_flag_*", "*_syn_flag*", "*_rst_flag*", "*_psh_flag*",
        "*fin_flag*", "*ack_flag*", "*urg_flag*", "*cwe_flag*", "*ece_flag*", "*cwr_flag*",
        "flag", "flags", "tcp_flags",
    ],
    "header_bytes": ["*header_bytes*", "*header_len*", "*hdr_len*"],
    "timing": ["*iat*", "*time*", "*duration*", "*active*", "*idle*"],
    "rate": ["*rate*", "*_per_s", "*_per_sec*", "*/s"],
    "window": ["*win*"],
    "packet_counts": ["*count*", "*total*", "*tot_*", "*pkts*", "*packets*", "*bytes*"],
}

_IDENTIFIER_NAME = re.compile(
    r"(^|_)(flow_?id|src_?ip|dst_?ip|source_?ip|destination_?ip|ip_?src|ip_?dst|src|dst|"
    r"src_?addr|dst_?addr|ip|ip_?address|mac|src_?port|dst_?port|source_?port|destination_?port|"
    r"sport|dport|port|timestamp|time_?stamp|date|datetime|uid|id)$"
)
_FLOW_ID = re.compile(r"^[0-9a-fA-F:.]+-[0-9a-fA-F:.]+-\d+-\d+-\d+$")


def normalise_name(name: str) -> str:
    """Lower-case name with separators unified, used for pattern matching only."""
    text = str(name).strip().lower().replace("/", "_per_")
    text = re.sub(r"[\s\-.]+", "_", text)
    return re.sub(r"_+", "_", text).strip("_")


@dataclass
class ColumnInfo:
    """What one column is and why we think so."""

    name: str
    kind: str
    dtype: str
    distinct: int
    constant: bool = False
    reason: str = ""


@dataclass
class Schema:
    """The typed view of a table that every later stage works from.

    `target` is the class column used for stratification, signatures and utility (the finest
    of the label columns, e.g. `activity` rather than `label`); `label_columns` are all class
    columns found. `modelled_columns` are the columns a synthesizer learns (identifiers out).
    """

    columns: dict[str, ColumnInfo]
    label_columns: list[str]
    target: str | None
    identifiers: list[str]
    feature_categories: dict[str, list[str]]
    category_patterns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def modelled_columns(self) -> list[str]:
        return [name for name in self.columns if name not in self.identifiers]

    @property
    def numeric_columns(self) -> list[str]:
        return [n for n, info in self.columns.items() if info.kind in NUMERIC_KINDS]

    @property
    def categorical_columns(self) -> list[str]:
        """Label, categorical and boolean columns (everything discrete that is not an id)."""
        return [n for n, info in self.columns.items() if info.kind in ("label", "categorical", "boolean")]

    @property
    def constant_columns(self) -> list[str]:
        return [n for n, info in self.columns.items() if info.constant]

    def kind(self, name: str) -> str:
        return self.columns[name].kind

    def category_of(self, name: str) -> str | None:
        for category, members in self.feature_categories.items():
            if name in members:
                return category
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": {name: asdict(info) for name, info in self.columns.items()},
            "label_columns": self.label_columns,
            "target": self.target,
            "identifiers": self.identifiers,
            "feature_categories": self.feature_categories,
            "category_patterns": self.category_patterns,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "Schema":
        return cls(
            columns={name: ColumnInfo(**info) for name, info in payload["columns"].items()},
            label_columns=list(payload["label_columns"]),
            target=payload["target"],
            identifiers=list(payload["identifiers"]),
            feature_categories={k: list(v) for k, v in payload["feature_categories"].items()},
            category_patterns={k: list(v) for k, v in payload.get("category_patterns", {}).items()},
        )

    def check_matches(self, frame: pd.DataFrame, source: str) -> None:
        """Refuse a schema written for another table (a user pointed --data at a new file)."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise UserError(
                f"{source} was made for another table: column '{missing[0]}' is not in the data "
                f"(re-run synthetic_data_setup.py on this file)"
            )


# ----------------------------------------------------------------------------- detection


def _looks_like_ip(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(50)
    if sample.empty:
        return False
    hits = 0
    for text in sample:
        try:
            ipaddress.ip_address(text.strip())
            hits += 1
        except ValueError:
            pass
    return hits / len(sample) > 0.9


def _looks_like_datetime(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(50)
    if sample.empty or not sample.str.contains(r"\d[-/:]\d|\d{1,2}:\d{2}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() > 0.9


def _identifier_reason(name: str, column: pd.Series) -> str | None:
    """Why a column is an identifier, or None. Content decides where it can."""
    normalised = normalise_name(name)
    if column.dtype == object:
        if _looks_like_ip(column):
            return "values are IP addresses"
        sample = column.dropna().astype(str).head(50)
        if len(sample) and sample.str.match(_FLOW_ID).mean() > 0.9:
            return "values are flow ids (address-address-port-port-protocol)"
        if _looks_like_datetime(column):
            return "values are timestamps"
        distinct_share = column.nunique(dropna=True) / max(column.notna().sum(), 1)
        if distinct_share > 0.5 and column.nunique(dropna=True) > 50:
            return f"text with {distinct_share:.0%} distinct values (an identifier, not a category)"
    if _IDENTIFIER_NAME.search(normalised):
        return "its name marks an address, port, id or timestamp"
    return None


def did_you_mean(name: str, columns: Iterable[Any]) -> str:
    """' (did you mean 'x'?)' for the closest column names (case and spaces ignored, then by
    spelling), the label-like columns named when nothing is close; '' for a table without columns."""
    import difflib

    names = [str(c) for c in columns]
    folded = {normalise_name(c): c for c in names}
    exact = folded.get(normalise_name(name))
    close = [exact] if exact is not None else [folded[c] for c in difflib.get_close_matches(
        normalise_name(name), list(folded), n=3, cutoff=0.6)]
    if close:
        return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
    labels = [c for c in names if normalise_name(c) in LABEL_NAMES]
    if labels:
        return "; columns named like a class: " + ", ".join(f"'{c}'" for c in labels)
    return f"; it has {len(names)} columns, from '{names[0]}' to '{names[-1]}'" if names else ""


def find_label_columns(frame: pd.DataFrame, label_column: str | None = None) -> list[str]:
    """Class columns: the one given, else those named like a label (case-insensitive)."""
    if label_column is not None:
        if label_column not in frame.columns:
            raise UserError(f"label column '{label_column}' is not in the data{did_you_mean(label_column, frame.columns)}")
        others = [c for c in frame.columns if normalise_name(c) in LABEL_NAMES and c != label_column]
        return [label_column] + [c for c in others if frame[c].nunique() <= 1000]
    found = [c for c in frame.columns if normalise_name(c) in LABEL_NAMES]
    # A "class" with thousands of distinct values is not a class.
    return [c for c in found if frame[c].nunique(dropna=True) <= 1000]


def choose_target(frame: pd.DataFrame, label_columns: list[str], label_column: str | None) -> str | None:
    """The class column for analysis: the user's choice, else the finest label column."""
    if label_column is not None:
        return label_column
    if not label_columns:
        return None
    # Ties (e.g. a single-class file where label and activity both hold one value) go to the
    # column with the longer, more specific values: "Attack-TCP-Flag-OSYN" over "Attack".
    def specificity(column: str) -> tuple[int, float]:
        values = frame[column].dropna().astype(str)
        return frame[column].nunique(dropna=True), float(values.str.len().mean()) if len(values) else 0.0

    return max(label_columns, key=specificity)


def _numeric_kind(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "continuous"
    integral = bool(np.all(np.equal(np.mod(finite, 1), 0)))
    if integral:
        return "count" if finite.min() >= 0 else "integer"
    if finite.min() >= 0 and finite.max() <= 1:
        return "fraction"
    return "continuous"


def classify_column(name: str, column: pd.Series, label_columns: list[str]) -> ColumnInfo:
    """Type one column from its values (see the module docstring for the kinds)."""
    distinct = int(column.nunique(dropna=True))
    dtype = str(column.dtype)
    constant = distinct <= 1
    if name in label_columns:
        return ColumnInfo(name, "label", dtype, distinct, constant, "class column")
    reason = _identifier_reason(name, column)
    if reason:
        return ColumnInfo(name, "identifier", dtype, distinct, constant, reason)
    if pd.api.types.is_bool_dtype(column):
        return ColumnInfo(name, "boolean", dtype, distinct, constant, "True/False values")
    if pd.api.types.is_numeric_dtype(column):
        kind = _numeric_kind(column.to_numpy(dtype=float))
        return ColumnInfo(name, kind, dtype, distinct, constant, "numeric values")
    lowered = set(column.dropna().astype(str).str.lower().unique())
    if lowered and lowered <= {"true", "false"}:
        return ColumnInfo(name, "boolean", dtype, distinct, constant, "True/False text")
    return ColumnInfo(name, "categorical", dtype, distinct, constant, f"text with {distinct} distinct values")


def load_category_patterns(path: Path | None) -> dict[str, list[str]]:
    """Category -> glob patterns, from a user's JSON file or the defaults.

    The file holds {"category": ["glob", ...], ...}; its order is the matching order.
    """
    if path is None:
        return {k: list(v) for k, v in DEFAULT_FEATURE_CATEGORIES.items()}
    from common.core.io import read_json  # local: io imports nothing from here, keep it that way

    payload = read_json(path, what="feature category file")
    if not isinstance(payload, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(p, str) for p in v)
        for k, v in payload.items()
    ):
        raise UserError(f'{path} must map category names to lists of glob patterns, e.g. {{"rate": ["*rate*"]}}')
    return {k: list(v) for k, v in payload.items()}


def categorise_features(columns: list[str], patterns: dict[str, list[str]]) -> dict[str, list[str]]:
    """Assign each column to the first category with a matching glob; the rest go to 'other'."""
    categories: dict[str, list[str]] = {name: [] for name in patterns}
    categories["other"] = []
    for column in columns:
        normalised = normalise_name(column)
        raw = str(column).strip().lower()
        for category, globs in patterns.items():
            if any(fnmatch.fnmatchcase(normalised, g.lower()) or fnmatch.fnmatchcase(raw, g.lower()) for g in globs):
                categories[category].append(column)
                break
        else:
            categories["other"].append(column)
    return {name: members for name, members in categories.items() if members}


def infer_schema(
    frame: pd.DataFrame,
    label_column: str | None = None,
    category_patterns: dict[str, list[str]] | None = None,
) -> Schema:
    """Type every column of `frame` and group the features into categories.

    Parameters
    ----------
    frame : the loaded table (common.core.io.read_table).
    label_column : the user's class column (--label-column); found by name when None.
    category_patterns : category -> globs; DEFAULT_FEATURE_CATEGORIES when None.

    Returns a Schema. Raises UserError when `label_column` is not a column.
    """
    patterns = category_patterns or {k: list(v) for k, v in DEFAULT_FEATURE_CATEGORIES.items()}
    label_columns = find_label_columns(frame, label_column)
    columns = {str(name): classify_column(str(name), frame[name], label_columns) for name in frame.columns}
    identifiers = [name for name, info in columns.items() if info.kind == "identifier"]
    features = [name for name, info in columns.items() if info.kind not in ("identifier", "label")]
    return Schema(
        columns=columns,
        label_columns=label_columns,
        target=choose_target(frame, label_columns, label_column),
        identifiers=identifiers,
        feature_categories=categorise_features(features, patterns),
        category_patterns=patterns,
    )


def sdv_metadata_dict(schema: Schema, table_name: str = "flows") -> dict[str, Any]:
    """SDV 2.x multi-table-style metadata dict for the modelled columns (identifiers left out).

    Numeric kinds are numerical (SDV 2.x learns integer-ness from the data and rounds on the
    way back); labels and categories are categorical, booleans boolean.
    """
    columns: dict[str, dict[str, str]] = {}
    for name in schema.modelled_columns:
        kind = schema.columns[name].kind
        if kind in NUMERIC_KINDS:
            columns[name] = {"sdtype": "numerical"}
        elif kind == "boolean":
            columns[name] = {"sdtype": "boolean"}
        else:
            columns[name] = {"sdtype": "categorical"}
    return {
        "METADATA_SPEC_VERSION": "V1",
        "tables": {table_name: {"columns": columns}},
        "relationships": [],
    }


def modelling_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The columns a synthesizer learns: identifiers dropped, +-inf read as missing.

    Infinite rates (CICFlowMeter's 'Infinity' for zero-duration flows) cannot be learned as
    numbers; SDV models missing values natively, so they become NaN here.
    """
    modelled = frame[schema.modelled_columns].copy()
    numeric = [c for c in schema.numeric_columns if c in modelled.columns]
    if numeric:
        values = modelled[numeric]
        float_columns = [c for c in numeric if pd.api.types.is_float_dtype(values[c])]
        if float_columns:
            modelled[float_columns] = values[float_columns].replace([np.inf, -np.inf], np.nan)
    return modelled
