"""The classes of a flow table and the benign reference class they are compared with.

The reference is found from the values, not from a known column name: a value whose words
include "benign" or "normal" (case-insensitive: BENIGN, Benign-SSH, normal.) in the class
column, else in another label column (label = Benign when the class column is a finer
`activity`), else the benign values of the class column together, else the majority class.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.core.errors import UserError
from common.data.schema import Schema

BENIGN_WORDS = ("benign", "normal")


@dataclass
class Reference:
    """The rows traffic is compared with, and how they were chosen."""

    name: str
    column: str
    values: list[str]
    mask: np.ndarray
    reason: str


def class_labels(frame: pd.DataFrame, schema: Schema) -> pd.Series | None:
    """The class column as text (KDD labels may be read as numbers), or None without one."""
    if schema.target is None or schema.target not in frame.columns:
        return None
    return frame[schema.target].astype(str)


def class_counts(frame: pd.DataFrame, schema: Schema) -> dict[str, int]:
    """Rows per class, largest first; empty without a class column."""
    labels = class_labels(frame, schema)
    if labels is None:
        return {}
    return {str(k): int(v) for k, v in labels.value_counts().items()}


def two_class_problem(frame: pd.DataFrame, schema: Schema) -> str | None:
    """None when the table has at least two classes, else the reason analyses needing them skip."""
    if schema.target is None or schema.target not in frame.columns:
        return "no class column was found (name one with --label-column)"
    distinct = frame[schema.target].nunique(dropna=True)
    if distinct < 2:
        only = frame[schema.target].dropna().astype(str).unique()
        name = f" ('{only[0]}')" if len(only) else ""
        return f"class column '{schema.target}' holds a single class{name}: there is nothing to compare it with"
    return None


def is_benign_value(value: str) -> bool:
    """True for values such as BENIGN, Benign-SSH, normal. (a word, not a substring)."""
    words = re.split(r"[^a-z]+", str(value).lower())
    return any(word in BENIGN_WORDS for word in words)


def _union_name(values: list[str]) -> str:
    return " + ".join(sorted(values))


def _label_columns_in(frame: pd.DataFrame, schema: Schema) -> list[str]:
    ordered = [schema.target] + [c for c in schema.label_columns if c != schema.target]
    return [c for c in ordered if c is not None and c in frame.columns]


def _explicit_reference(frame: pd.DataFrame, schema: Schema, wanted: str) -> Reference:
    for column in _label_columns_in(frame, schema):
        labels = frame[column].astype(str)
        if (labels == wanted).any():
            return Reference(wanted, column, [wanted], (labels == wanted).to_numpy(), "given by the caller")
    labels = frame[schema.target].astype(str)
    parts = wanted.split(" + ")
    if len(parts) > 1 and set(parts) <= set(labels.unique()):
        return Reference(wanted, schema.target, parts, labels.isin(parts).to_numpy(), "given by the caller")
    shown = ", ".join(labels.value_counts().index[:6])
    raise UserError(f"reference class '{wanted}' is not a value of '{schema.target}' or another label column "
                    f"(values: {shown})")


def find_reference(frame: pd.DataFrame, schema: Schema, wanted: str | None = None) -> Reference:
    """The benign reference class (see the module docstring), or the one the caller names.

    Raises UserError when there is no class column or `wanted` is not a class value.
    """
    if schema.target is None or schema.target not in frame.columns:
        raise UserError("a reference class needs a class column: none found by name; give one with --label-column")
    if wanted is not None:
        return _explicit_reference(frame, schema, wanted)
    target_labels = frame[schema.target].astype(str)
    benign_in_target = sorted(v for v in target_labels.unique() if is_benign_value(v))
    if len(benign_in_target) == 1:
        value = benign_in_target[0]
        return Reference(value, schema.target, [value], (target_labels == value).to_numpy(),
                         f"the benign value of '{schema.target}'")
    for column in _label_columns_in(frame, schema)[1:]:
        labels = frame[column].astype(str)
        benign = sorted(v for v in labels.unique() if is_benign_value(v))
        if len(benign) == 1:
            return Reference(benign[0], column, benign, (labels == benign[0]).to_numpy(),
                             f"the benign value of label column '{column}'")
    if benign_in_target:
        return Reference(_union_name(benign_in_target), schema.target, benign_in_target,
                         target_labels.isin(benign_in_target).to_numpy(),
                         f"the benign values of '{schema.target}' together")
    majority = str(target_labels.value_counts().index[0])
    return Reference(majority, schema.target, [majority], (target_labels == majority).to_numpy(),
                     "no benign or normal value found: the majority class")


def classes_inside(frame: pd.DataFrame, schema: Schema, reference: Reference) -> list[str]:
    """Classes of the class column whose rows all belong to the reference (e.g. Benign-SSH in label = Benign)."""
    labels = frame[schema.target].astype(str).to_numpy()
    outside = set(labels[~reference.mask])
    return sorted(set(labels[reference.mask]) - outside)
