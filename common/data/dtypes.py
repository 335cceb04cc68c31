"""Generated rows back in the training table's shape: its column order and dtypes."""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd


def restore_dtypes(frame: pd.DataFrame, columns: list[str], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """`frame`'s `columns`, in that order, with the training dtypes `dtypes` {column: dtype or its name}.

    Integer columns stay integers: models and decoders hand back floats; values are rounded, and
    with missing values the column becomes pandas' nullable Int64. A missing column is a
    RuntimeError (a programming error, not a user's).
    """
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise RuntimeError(f"generated frame lacks column '{missing[0]}'")
    frame = frame[columns].copy()
    for name in columns:
        wanted = str(dtypes[name])
        current = frame[name]
        if str(current.dtype) == wanted:
            continue
        if pd.api.types.is_integer_dtype(wanted):
            values = pd.to_numeric(current, errors="coerce").round()
            frame[name] = values.astype(wanted) if values.notna().all() else values.astype("Int64")
        elif pd.api.types.is_float_dtype(wanted):
            frame[name] = pd.to_numeric(current, errors="coerce").astype(wanted)
        elif pd.api.types.is_bool_dtype(wanted) and current.notna().all():
            frame[name] = current.astype(bool)
    return frame
