"""Utility: is a classifier trained on synthetic rows as good on real rows as one trained on
real rows?

TSTR (train on synthetic, test on the real holdout) is compared with TRTR (train on the real
train split, test on the same holdout) using the same scikit-learn random forest with a fixed
seed. The class is schema.target; every class column (e.g. `label` beside `activity`) is kept
out of the features, since one class column gives the other away.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from common.evaluation.sections import ClassifierScores, ClassShares, UtilitySection
from common.evaluation.tables import EvaluationInputs, seeded_sample

TREES = 100
# Training rows per classifier and holdout rows scored, seeded samples beyond (said in the JSON).
TRAIN_ROWS = 20_000
TEST_ROWS = 20_000
CLASSIFIER_TEXT = f"RandomForestClassifier(n_estimators={TREES}, random_state=seed); median imputation, one-hot categoricals"


def feature_columns(inputs: EvaluationInputs) -> tuple[list[str], list[str]]:
    """(numeric, discrete) feature columns: every modelled column except the class columns."""
    labels = set(inputs.schema.label_columns) | ({inputs.target} if inputs.target else set())
    numeric = [c for c in inputs.numeric_columns if c not in labels]
    discrete = [c for c in inputs.discrete_columns if c not in labels]
    return numeric, discrete


def make_classifier(numeric: list[str], discrete: list[str], seed: int) -> Pipeline:
    """Median imputation for numbers, one-hot for categories, then a seeded random forest."""
    transformers = []
    if numeric:
        transformers.append(("numeric", SimpleImputer(strategy="median", keep_empty_features=True), numeric))
    if discrete:
        transformers.append(("discrete", Pipeline([
            ("fill", SimpleImputer(strategy="constant", fill_value="<missing>")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]), discrete))
    return Pipeline([
        ("encode", ColumnTransformer(transformers)),
        ("forest", RandomForestClassifier(n_estimators=TREES, random_state=seed, n_jobs=1)),
    ])


def single_class_reason(frame: pd.DataFrame, target: str, what: str) -> str | None:
    """Why `frame` cannot train or test a classifier on `target`, or None when it can."""
    classes = frame[target].dropna().unique()
    if len(classes) == 0:
        return f"the {what} has no value in class column '{target}'"
    if len(classes) == 1:
        return (f"the {what} holds a single class ('{classes[0]}') in column '{target}': "
                f"a classifier has nothing to tell apart")
    return None


def class_shares(frame: pd.DataFrame, target: str) -> pd.Series:
    """Share of each class (as text; missing as "<missing>") in `frame`."""
    labels = frame[target].astype(object).where(frame[target].notna(), "<missing>").astype(str)
    return labels.value_counts(normalize=True)


def class_share_error(real: pd.DataFrame, synthetic: pd.DataFrame, target: str | None) -> float | None:
    """Largest |synthetic share - real share| over the classes of either table (0.01 = 1 point);
    None without a class column."""
    if target is None:
        return None
    real_shares, synthetic_shares = class_shares(real, target), class_shares(synthetic, target)
    classes = real_shares.index.union(synthetic_shares.index)
    difference = (synthetic_shares.reindex(classes, fill_value=0.0) - real_shares.reindex(classes, fill_value=0.0)).abs()
    return float(difference.max()) if len(difference) else 0.0


def class_share_section(inputs: EvaluationInputs, synthetic: pd.DataFrame) -> ClassShares | None:
    """Each class's share in the train rows and in the synthetic rows, and the largest gap
    (None without a class column)."""
    if inputs.target is None:
        return None
    real, candidate = class_shares(inputs.train, inputs.target), class_shares(synthetic, inputs.target)
    if inputs.expected_class_shares is not None:      # rows asked in a class mix: compared with the mix
        real = pd.Series(inputs.expected_class_shares, dtype=float)
    classes = sorted(real.index.union(candidate.index), key=lambda c: -real.get(c, 0.0))
    difference = (candidate.reindex(classes, fill_value=0.0) - real.reindex(classes, fill_value=0.0)).abs()
    return ClassShares(
        target=inputs.target,
        shares={c: {"train": float(real.get(c, 0.0)), "synthetic": float(candidate.get(c, 0.0))} for c in classes},
        max_absolute_difference=float(difference.max()) if len(difference) else 0.0,
        reference="asked" if inputs.expected_class_shares is not None else "train",
    )


def utility_skip_reason(inputs: EvaluationInputs) -> str | None:
    """Why TRTR/TSTR cannot run on this table at all, or None."""
    if inputs.target is None:
        return "no class column (give one with --label-column): nothing to classify"
    numeric, discrete = feature_columns(inputs)
    if not numeric and not discrete:
        return "no feature columns beside the class columns"
    return single_class_reason(inputs.train, inputs.target, "train split") or \
        single_class_reason(inputs.holdout, inputs.target, "holdout")


def fit_and_score(train: pd.DataFrame, test: pd.DataFrame, inputs: EvaluationInputs) -> ClassifierScores:
    """Train the classifier on `train`, score it on `test` (both seeded samples when large).

    Returns accuracy, macro-F1 and per-class F1 over the classes present in `test`, and the
    rows used.
    """
    target = inputs.target
    numeric, discrete = feature_columns(inputs)
    train = train[train[target].notna()]
    train_rows, train_note = seeded_sample(train, TRAIN_ROWS, inputs.seed)
    test_rows, test_note = seeded_sample(test[test[target].notna()], TEST_ROWS, inputs.seed)
    model = make_classifier(numeric, discrete, inputs.seed)
    model.fit(train_rows[numeric + discrete], train_rows[target].astype(str))
    predicted = model.predict(test_rows[numeric + discrete])
    truth = test_rows[target].astype(str).to_numpy()
    classes = sorted(np.unique(truth))
    per_class = f1_score(truth, predicted, labels=classes, average=None, zero_division=0)
    return ClassifierScores(
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)),
        per_class_f1={cls: float(score) for cls, score in zip(classes, per_class)},
        train_rows=train_note.to_dict(),
        test_rows=test_note.to_dict(),
    )


def trtr(inputs: EvaluationInputs) -> ClassifierScores | None:
    """Train on the real train split, test on the holdout: the ceiling for TSTR (None when the
    table cannot be classified: utility_skip_reason says why)."""
    if utility_skip_reason(inputs):
        return None
    return fit_and_score(inputs.train, inputs.holdout, inputs)


def utility_section(inputs: EvaluationInputs, synthetic: pd.DataFrame, real: ClassifierScores | None) -> UtilitySection:
    """TSTR of `synthetic` beside `real` (the TRTR result of trtr(inputs)), per class and overall."""
    def section(skipped: str | None, trtr_scores: ClassifierScores | None, tstr_scores: ClassifierScores | None):
        return UtilitySection(CLASSIFIER_TEXT, inputs.target, skipped, trtr_scores, tstr_scores)

    if real is None:
        return section(utility_skip_reason(inputs), None, None)
    if synthetic[inputs.target].notna().sum() == 0:
        return section(f"the synthetic data has no value in class column '{inputs.target}'", real, None)
    # A synthetic table that collapsed to one class is still scored, not skipped: a classifier
    # trained on it predicts that class everywhere, and the low TSTR is the finding.
    collapsed = single_class_reason(synthetic, inputs.target, "synthetic data")
    scores = fit_and_score(synthetic, inputs.holdout, inputs)
    return section(None, real, replace(scores, note=collapsed) if collapsed else scores)
