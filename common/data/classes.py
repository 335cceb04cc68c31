"""How many rows of each class: quotas from shares (largest remainder) and a seeded per-row plan.

Used by generation (common.synth.sampling: exact class counts per batch) and by the domain layer
(splitting a class's conditional rows over the encoded values that carry it).
"""
from __future__ import annotations

import math

import numpy as np


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


def class_plan(quotas: dict[str, int], seed: int) -> np.ndarray:
    """One class label per row to deliver, shuffled (seeded): batch k delivers the labels of
    its slice, so every batch is a fair share and the total is exact."""
    labels = np.concatenate([np.full(count, label, dtype=object) for label, count in quotas.items() if count > 0]) \
        if any(quotas.values()) else np.array([], dtype=object)
    np.random.default_rng(seed).shuffle(labels)
    return labels


__all__ = ["class_plan", "class_quotas"]
