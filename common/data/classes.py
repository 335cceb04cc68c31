"""How many rows of each class: quotas from shares (largest remainder) and a seeded per-row plan.

Used by generation (common.synth.sampling: exact class counts per batch) and by the domain layer
(splitting a class's conditional rows over the encoded values that carry it).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def class_quotas(shares: dict[str, float], num_rows: int) -> dict[str, int]:
    """Rows per class for `num_rows` rows in the proportions `shares` (largest remainder, so
    the counts add up to `num_rows` and each is within one row of its exact share)."""
    if num_rows < 0:
        raise ValueError(f"num_rows must be >= 0, got {num_rows}")
    total = sum(shares.values())
    if not shares or total <= 0:
        raise ValueError("class shares must hold at least one positive share")
    exact = {label: num_rows * share / total for label, share in shares.items()}
    quotas = {label: int(math.floor(value)) for label, value in exact.items()}
    left = num_rows - sum(quotas.values())
    for label in sorted(exact, key=lambda k: (-(exact[k] - quotas[k]), str(k)))[:left]:
        quotas[label] += 1
    return quotas


def class_codes(quotas: dict[str, int], seed: int) -> tuple[list[str], np.ndarray]:
    """(the classes with rows to deliver, one small integer per row indexing them), shuffled
    (seeded): the plan in a byte or two per row, for plans of millions of rows."""
    names = [label for label, count in quotas.items() if count > 0]
    dtype = np.min_scalar_type(max(len(names) - 1, 0))
    codes = np.repeat(np.arange(len(names), dtype=dtype), [int(quotas[label]) for label in names])
    np.random.default_rng(seed).shuffle(codes)
    return names, codes


def class_plan(quotas: dict[str, int], seed: int) -> np.ndarray:
    """One class label per row to deliver, shuffled (seeded; class_codes's order): batch k
    delivers the labels of its slice, so every batch is a fair share and the total is exact."""
    names, codes = class_codes(quotas, seed)
    return np.array(names, dtype=object)[codes] if names else np.array([], dtype=object)


__all__ = ["class_codes", "class_plan", "class_quotas"]


def shortfall_notice(model: str, sampling: dict, target: str | None) -> str | None:
    """One plain sentence about the classes a model delivered short, or None when none was.

    In:  `sampling` the sampling record of a run as written to the manifest (rows, asked,
         shortfalls: {class: {asked, delivered, reason, advice}}), `target` the class column.
    Out: "tvae made 4,700 of 4,800 rows asked: class 'x' ('label') 0 of 100 (the model did not
         generate it; train longer ...); ..." or None.
    """
    shortfalls = (sampling or {}).get("shortfalls") or {}
    if not shortfalls:
        return None
    parts = []
    for label, short in sorted(shortfalls.items(), key=lambda item: -item[1]["asked"]):
        what = f"class '{label}'" + (f" ('{target}')" if target else "")
        parts.append(f"{what}: {short['delivered']:,} of {short['asked']:,} ({short['reason']}; {short['advice']})")
    return (f"{model} made {int(sampling.get('rows', 0)):,} of {int(sampling.get('asked', 0)):,} rows asked; "
            + "; ".join(parts))


def small_classes(counts: dict[str, int], min_rows: int) -> dict[str, int]:
    """{class: rows} of the classes with fewer than `min_rows` rows (but at least one), smallest first."""
    return dict(sorted(((str(k), int(v)) for k, v in counts.items() if 0 < int(v) < min_rows),
                       key=lambda item: (item[1], item[0])))


MERGED_CLASS = "other"


def apply_small_class_policy(train: pd.DataFrame, target: str | None, min_rows: int,
                             policy: str) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The training rows with the classes below `min_rows` rows handled as `policy` says.

    In:  `train` (the training split), `target` (the class column or None), `min_rows`, `policy`
         ("drop": their rows are left out; "merge": their label becomes "other" (or "other
         (merged)" when the table has an "other" class); "generate": kept as they are).
    Out: (rows to learn, record) where record is None when no class is that small, else
         {"min_class_rows", "policy", "classes": {class: training rows}, "merged_into", "notice"}.
    """
    if target is None or target not in train.columns or min_rows <= 0:
        return train, None
    labels = train[target].astype(str)
    small = small_classes(labels.value_counts().to_dict(), min_rows)
    if not small:
        return train, None
    listed = ", ".join(f"{label} ({rows})" for label, rows in small.items())
    merged_into = None
    is_small = labels.isin(small).to_numpy()
    if policy == "drop":
        kept = train[~is_small].reset_index(drop=True)
        what = "left out of training and generation"
    elif policy == "merge":
        merged_into = MERGED_CLASS if MERGED_CLASS not in set(labels) else f"{MERGED_CLASS} (merged)"
        kept = train.copy()
        kept[target] = kept[target].astype(object)
        kept.loc[is_small, target] = merged_into
        what = f"learned and generated as one class '{merged_into}'"
    else:
        kept = train
        what = "learned and generated as they are (their few rows may be imitated closely)"
    notice = (f"{len(small)} class(es) of '{target}' have fewer than {min_rows} training rows and were {what} "
              f"(min_class_rows {min_rows}, small_classes \"{policy}\" in training_configs.json): {listed}")
    if policy != "generate" and len(kept) == 0:
        return train, {"min_class_rows": min_rows, "policy": "generate", "classes": small, "merged_into": None,
                       "notice": notice.replace(what, "kept all the same: every class is that small")}
    return kept, {"min_class_rows": min_rows, "policy": policy, "classes": small, "merged_into": merged_into,
                  "notice": notice}
