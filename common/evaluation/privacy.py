"""Privacy: do synthetic rows sit closer to the training rows than unseen real rows do?

Real flow tables repeat rows (the same scan flow, thousands of times), so "no synthetic row
equals a training row" is not the baseline: the holdout's own closeness to train is. Every
figure for the synthetic rows comes with the same figure for the holdout rows.

- DCR (distance to the closest train record): scikit-learn NearestNeighbors on numeric
  columns min-max scaled to the train's measured range (placeholder cells, e.g. an epoch
  timestamp in an IAT column, are "not a measurement": they become missing, encoded as 0 plus
  a missing-indicator column, so a placeholder cannot dominate a distance) plus one-hot
  categoricals. Range scaling keeps a slightly perturbed copy of a train row close to it,
  which is what this check must catch; values beyond the train range are clipped to it (as
  sdmetrics caps each column's distance at 1), so one impossible value cannot swamp a row.
- closer to train than to holdout: sdmetrics DCROverfittingProtection on equal-size seeded
  samples of train and holdout (a larger reference set would be closer by chance alone),
  averaged over several draws (each draw's column ranges come from its own extreme rows).
- exact copies: synthetic rows identical to a train row, beside the holdout's rate.
- sdmetrics NewRowSynthesis (a row is "new" when no train row matches it within 1% per
  numeric column and exactly per category), for a seeded sample of synthetic and of holdout rows.
"""
from __future__ import annotations

import logging
import warnings
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

from common.evaluation.fidelity import measured_frame
from common.evaluation.sections import (
    DistanceSummary, HoldoutPrivacy, NewRowSynthesisScore, OverfittingProtection, PrivacySection,
)
from common.evaluation.tables import TABLE_NAME, EvaluationInputs, SampleNote, seeded_sample

log = logging.getLogger("tcpsynth")

# Seeded sample sizes (the cost of each metric grows with them; said in the JSON).
DCR_REFERENCE_ROWS = 20_000   # train rows searched for nearest neighbours
DCR_QUERY_ROWS = 5_000        # synthetic rows and holdout rows whose DCR is measured
OVERFITTING_ROWS = 500        # sdmetrics DCROverfittingProtection: a cross join, quadratic cost
OVERFITTING_DRAWS = 5         # ... averaged over this many seeded draws (one draw is too noisy)
NEW_ROW_ROWS = 200            # sdmetrics NewRowSynthesis: one pandas query per row
DISTANCE_SPACE_TEXT = ("numeric columns min-max scaled to the train's measured range and clipped to it (placeholder or "
                       "missing cells: 0 plus a missing indicator) + one-hot categoricals; Euclidean")


class DistanceSpace:
    """The encoding that DCR distances are measured in, fitted on train rows."""

    def __init__(self, inputs: EvaluationInputs, reference: pd.DataFrame):
        self.inputs = inputs
        self.numeric = list(inputs.numeric_columns)
        self.discrete = list(inputs.discrete_columns)
        transformers = []
        if self.numeric:
            transformers.append(("numeric", Pipeline([
                ("range", MinMaxScaler(clip=True)),
                ("missing", SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True,
                                          keep_empty_features=True)),
            ]), self.numeric))
        if self.discrete:
            transformers.append(("discrete", Pipeline([
                ("fill", SimpleImputer(strategy="constant", fill_value="<missing>")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]), self.discrete))
        self.encoder = ColumnTransformer(transformers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # all-missing columns are kept as zeros
            self.encoder.fit(self._measured(reference))

    def _measured(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The encoder's input: placeholder cells of numeric columns as missing."""
        values = frame[self.numeric + self.discrete].copy()
        if self.numeric:
            values[self.numeric] = measured_frame(frame, self.inputs, self.numeric)
        return values

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.encoder.transform(self._measured(frame)), dtype=float)


def distance_summary(distances: np.ndarray, note: SampleNote) -> DistanceSummary:
    """Median, 5th percentile, mean and the share of exact (zero-distance) matches."""
    return DistanceSummary(
        median=float(np.median(distances)),
        p05=float(np.percentile(distances, 5)),
        mean=float(np.mean(distances)),
        zero_distance_share=float(np.mean(distances <= 1e-12)),
        sample=note.to_dict(),
    )


class TrainNeighbours:
    """Nearest train record of any row, in the DistanceSpace (fitted once per evaluation run)."""

    def __init__(self, inputs: EvaluationInputs):
        self.reference, self.reference_note = seeded_sample(inputs.train, DCR_REFERENCE_ROWS, inputs.seed)
        self.space = DistanceSpace(inputs, self.reference)
        self.index = NearestNeighbors(n_neighbors=1).fit(self.space.encode(self.reference))
        self.seed = inputs.seed

    def distances(self, frame: pd.DataFrame) -> tuple[np.ndarray, SampleNote]:
        """Distance from each row of a seeded sample of `frame` to its closest train record."""
        rows, note = seeded_sample(frame, DCR_QUERY_ROWS, self.seed)
        distances, _ = self.index.kneighbors(self.space.encode(rows))
        return distances[:, 0], note


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """One 64-bit hash per row (floats compared exactly, text as text)."""
    return pd.util.hash_pandas_object(frame, index=False)


def copy_share(frame: pd.DataFrame, train_hashes: set[int]) -> float:
    """Share of rows of `frame` identical to some train row."""
    hashes = row_hashes(frame)
    return float(hashes.isin(train_hashes).mean()) if len(hashes) else 0.0


def overfitting_protection(inputs: EvaluationInputs, synthetic: pd.DataFrame,
                           draws: int = OVERFITTING_DRAWS) -> OverfittingProtection:
    """sdmetrics DCROverfittingProtection on `draws` seeded draws of equal-size train and holdout
    samples (and of the synthetic rows), averaged.

    sdmetrics scales each column by the range of the reference rows of each distance: the train
    sample's for the distance to train, the holdout sample's for the distance to holdout. A flow
    table's heavy-tailed columns get their range from the one extreme row a sample holds, so in
    one draw whichever sample drew the larger extremes looks nearer to every synthetic row at
    once (CIC-IDS2017, one CTGAN's rows: 27% to 88% nearer train across draws of 500). The mean
    of several draws is the figure; their lowest and highest scores come with it.
    """
    from sdmetrics.single_table import DCROverfittingProtection

    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    size = min(len(inputs.train), len(inputs.holdout), OVERFITTING_ROWS)
    scores, nearer_train, nearer_holdout, notes = [], [], [], {}
    for draw in range(draws):
        seed = inputs.seed + draw
        train, train_note = seeded_sample(inputs.train, size, seed)
        holdout, holdout_note = seeded_sample(inputs.holdout, size, seed)
        rows, synthetic_note = seeded_sample(synthetic, OVERFITTING_ROWS, seed)
        if not notes:   # the first draw's; the others differ in their seed only
            notes = {"train": train_note, "holdout": holdout_note, "synthetic": synthetic_note}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            breakdown = DCROverfittingProtection.compute_breakdown(train, rows, holdout, inputs.metadata, TABLE_NAME)
        scores.append(float(breakdown["score"]))
        nearer_train.append(float(breakdown["synthetic_data_percentages"]["closer_to_training"]))
        nearer_holdout.append(float(breakdown["synthetic_data_percentages"]["closer_to_holdout"]))
    sample = {name: note.to_dict() for name, note in notes.items()}
    sample.update(draws=draws, seeds=list(range(inputs.seed, inputs.seed + draws)))
    return OverfittingProtection(
        score=float(np.mean(scores)),
        closer_to_train_share=float(np.mean(nearer_train)),
        closer_to_holdout_share=float(np.mean(nearer_holdout)),
        sample=sample,
        draws=draws,
        score_range=(min(scores), max(scores)),
        closer_to_train_range=(min(nearer_train), max(nearer_train)),
    )


def new_row_synthesis(inputs: EvaluationInputs, candidate: pd.DataFrame) -> NewRowSynthesisScore:
    """sdmetrics NewRowSynthesis of a seeded sample of `candidate` against every train row."""
    from sdmetrics.single_table import NewRowSynthesis

    rows, note = seeded_sample(candidate, NEW_ROW_ROWS, inputs.seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            breakdown = NewRowSynthesis.compute_breakdown(inputs.train, rows, inputs.metadata, TABLE_NAME)
    except Exception as error:  # noqa: BLE001 - sdmetrics builds pandas queries from column names
        log.info("   NewRowSynthesis could not run: %s", error)
        return NewRowSynthesisScore(score=None, sample=note.to_dict(), failed=f"{type(error).__name__}: {error}")
    return NewRowSynthesisScore(score=float(breakdown["score"]), sample=note.to_dict(), new_rows=int(breakdown["num_new_rows"]),
                                matched_rows=int(breakdown["num_matched_rows"]))


def holdout_baseline(inputs: EvaluationInputs, neighbours: TrainNeighbours, train_hashes: set[int]) -> HoldoutPrivacy:
    """The holdout's own figures against train: what an unseen real row looks like."""
    distances, note = neighbours.distances(inputs.holdout)
    return HoldoutPrivacy(dcr=distance_summary(distances, note), distances=distances,
                          exact_copy_share=copy_share(inputs.holdout, train_hashes),
                          new_rows=new_row_synthesis(inputs, inputs.holdout))


def privacy_section(
    inputs: EvaluationInputs, synthetic: pd.DataFrame, neighbours: TrainNeighbours,
    train_hashes: set[int], baseline: HoldoutPrivacy,
) -> tuple[PrivacySection, np.ndarray]:
    """Privacy figures of `synthetic` beside the holdout baseline; also returns the DCRs."""
    distances, note = neighbours.distances(synthetic)
    section = PrivacySection(
        distance_space=DISTANCE_SPACE_TEXT,
        dcr=distance_summary(distances, note),
        train_reference_sample=neighbours.reference_note.to_dict(),
        overfitting=overfitting_protection(inputs, synthetic),
        exact_copy_share=copy_share(synthetic, train_hashes),
        synthetic_rows=len(synthetic),
        new_rows=new_row_synthesis(inputs, synthetic),
        holdout=baseline,
    )
    return section, distances
