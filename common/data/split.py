"""Train/holdout split of the real rows, shared by training and evaluation.

The synthesizers learn from `train` only; the evaluation compares synthetic rows with the
`holdout` rows the models never saw (utility: train on synthetic, test on holdout; privacy:
a synthetic row should not sit closer to a training row than holdout rows do). Both stages
must use the very same rows, so the split is saved as JSON next to the models and reloaded
by evaluation, refusing a split that was made for another input file (checked by SHA-256).

Row numbers are positions (0-based) in the table as `common.core.io.read_table` loads it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from common.core.errors import UserError

log = logging.getLogger("tcpsynth")

# A class needs at least this many rows to appear on both sides of a stratified split.
MIN_ROWS_PER_STRATUM = 2


@dataclass
class Split:
    """Which rows (positions in the loaded table) are for training and which are held out."""

    train_index: np.ndarray
    holdout_index: np.ndarray
    target: str | None
    fraction: float
    seed: int
    source_sha256: str
    # False when there was no class column or too few rows to stratify on it.
    stratified: bool = False

    # ------------------------------------------------------------------ selection
    def _rows(self, frame: pd.DataFrame, positions: np.ndarray, side: str) -> pd.DataFrame:
        expected = len(self.train_index) + len(self.holdout_index)
        if len(frame) != expected:
            raise UserError(
                f"the train/holdout split covers {expected} rows but the table has {len(frame)}: "
                f"it was made for another table (re-run train_synthetic_models_improved.py)"
            )
        selected = frame.iloc[positions]
        log.debug("split: %s side has %d rows", side, len(selected))
        return selected.reset_index(drop=True)

    def train(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The training rows of `frame` (the loaded table), index reset to 0..n-1."""
        return self._rows(frame, self.train_index, "train")

    def holdout(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The held-out rows of `frame` (never seen by a model), index reset to 0..n-1."""
        return self._rows(frame, self.holdout_index, "holdout")

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "source_sha256": self.source_sha256,
            "target": self.target,
            "fraction": self.fraction,
            "seed": self.seed,
            "stratified": self.stratified,
            "train_rows": int(len(self.train_index)),
            "holdout_rows": int(len(self.holdout_index)),
            "train_index": [int(i) for i in self.train_index],
            "holdout_index": [int(i) for i in self.holdout_index],
        }

    def save(self, path: Path | str) -> Path:
        """Write the split as JSON, atomically."""
        from common.core.io import write_json

        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path | str, expected_sha256: str) -> "Split":
        """Read a saved split; UserError when it is missing, malformed or made for another file."""
        from common.core.io import read_json

        path = Path(path)
        if not path.exists():
            raise UserError(
                f"train/holdout split not found: {path} (run train_synthetic_models_improved.py "
                f"without --evaluate-only first)"
            )
        payload = read_json(path, "train/holdout split")
        required = ("source_sha256", "target", "fraction", "seed", "train_index", "holdout_index")
        if not isinstance(payload, dict) or any(key not in payload for key in required):
            raise UserError(f"{path} is not a train/holdout split (expected keys: {', '.join(required)})")
        if payload["source_sha256"] != expected_sha256:
            raise UserError(
                f"{path} was made for another data file (SHA-256 differs): re-run "
                f"train_synthetic_models_improved.py on this file"
            )
        try:
            train_index = np.asarray(payload["train_index"], dtype=np.int64)
            holdout_index = np.asarray(payload["holdout_index"], dtype=np.int64)
        except (TypeError, ValueError):
            raise UserError(f"{path}: 'train_index' and 'holdout_index' must be lists of row numbers") from None
        if np.intersect1d(train_index, holdout_index).size:
            raise UserError(f"{path}: some rows are both in train and holdout; re-create the split")
        return cls(
            train_index=train_index,
            holdout_index=holdout_index,
            target=payload["target"],
            fraction=float(payload["fraction"]),
            seed=int(payload["seed"]),
            source_sha256=str(payload["source_sha256"]),
            stratified=bool(payload.get("stratified", False)),
        )


def _strata(frame: pd.DataFrame, target: str | None) -> pd.Series | None:
    """Class of each row as text (missing class counts as its own class), or None."""
    if target is None:
        return None
    if target not in frame.columns:
        raise UserError(f"class column '{target}' is not in the data; give another with --label-column")
    return frame[target].astype(str).reset_index(drop=True)


def _every_class_in_train(train: np.ndarray, holdout: np.ndarray,
                          strata: pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
    """Move one holdout row of each class that has no training row into train (a plain random
    split can hold out every row of a small class; a model cannot make a class it never saw)."""
    if strata is None or len(holdout) == 0:
        return train, holdout
    labels = strata.to_numpy()
    missing = sorted(set(labels[holdout]) - set(labels[train]))
    if not missing:
        return train, holdout
    moved = np.array([holdout[labels[holdout] == label][0] for label in missing], dtype=np.int64)
    log.info("   split: %d class(es) had no training row; one row each moved from holdout to train: %s",
             len(missing), ", ".join(map(str, missing[:5])))
    return np.concatenate([train, moved]), np.setdiff1d(holdout, moved)


def make_split(
    frame: pd.DataFrame,
    target: str | None,
    fraction: float,
    seed: int,
    source_sha256: str,
) -> Split:
    """Split the rows of `frame` into train and holdout.

    Parameters
    ----------
    frame : the loaded table (every row, identifiers included: positions are what is kept).
    target : the class column to stratify on, or None for a plain random split.
    fraction : share of rows held out, 0 < fraction < 1.
    seed : random seed; the same seed and table give the same split.
    source_sha256 : SHA-256 of the input file, stored so a split is never used for another file.

    Stratified on `target` when there is one; classes with fewer than 2 rows cannot be on both
    sides and go to train (logged). Falls back to a plain random split (logged) when there are
    too few rows to give every class a holdout row.
    """
    if not 0 < fraction < 1:
        raise UserError(f"holdout fraction must be between 0 and 1, got {fraction}")
    rows = len(frame)
    if rows < 2:
        raise UserError(f"a train/holdout split needs at least 2 rows, the table has {rows}")
    positions = np.arange(rows)
    strata = _strata(frame, target)
    forced_train = np.array([], dtype=np.int64)
    stratify = None
    if strata is not None:
        counts = strata.value_counts()
        rare = counts[counts < MIN_ROWS_PER_STRATUM]
        if len(rare):
            rare_mask = strata.isin(rare.index).to_numpy()
            forced_train = positions[rare_mask]
            positions = positions[~rare_mask]
            log.info(
                "   split: %d class(es) of '%s' have fewer than %d rows and stay in train: %s",
                len(rare), target, MIN_ROWS_PER_STRATUM, ", ".join(map(str, rare.index[:5])),
            )
        stratify = strata.iloc[positions].to_numpy()
        if len(positions) < 2:
            stratify = None
    if len(positions) < 2:
        raise UserError(f"too few rows for a holdout: {rows} rows in the table")
    try:
        train_positions, holdout_positions = train_test_split(
            positions, test_size=fraction, random_state=seed, shuffle=True, stratify=stratify
        )
    except ValueError as error:
        if stratify is None:
            raise UserError(f"cannot split {rows} rows with holdout fraction {fraction}: {error}") from None
        # scikit-learn needs at least one holdout and one train row per class.
        log.info("   split: too few rows to stratify on '%s' (%s); using a plain random split", target, error)
        stratify = None
        train_positions, holdout_positions = train_test_split(
            positions, test_size=fraction, random_state=seed, shuffle=True
        )
    train_positions, holdout_positions = _every_class_in_train(
        np.concatenate([train_positions, forced_train]).astype(np.int64),
        np.asarray(holdout_positions, dtype=np.int64), strata)
    train_index = np.sort(train_positions)
    holdout_index = np.sort(holdout_positions)
    return Split(
        train_index=train_index,
        holdout_index=holdout_index,
        target=target,
        fraction=float(fraction),
        seed=int(seed),
        source_sha256=source_sha256,
        stratified=stratify is not None,
    )
