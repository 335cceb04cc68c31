"""Feature importance for attack detection, by three methods, and how far they agree.

- impurity: random-forest mean decrease in impurity, averaged over the cross-validation fold
  models (scikit-learn);
- permutation: drop in balanced accuracy when one feature is shuffled, on each held-out fold
  (sklearn.inspection.permutation_importance), mean and spread over folds and repeats;
- mutual information: with the class, under the discretisation of common.analysis.information.

Placeholders and infinities enter the forest as missing values (scikit-learn's trees route
missing values natively), so "this direction had one packet" stays usable without a fake
number. Correlated features share impurity importance and hide each other under permutation;
the agreement figures (overlap of the top-k sets, Spearman correlation of the ranks) show how
much the ranking depends on the method.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold

from common.analysis.values import analysis_categorical_columns, analysis_numeric_columns, clean_numeric_frame
from common.core.errors import UserError
from common.rules import RuleSet
from common.data.schema import Schema

TOP_K = 10


def feature_matrix(frame: pd.DataFrame, schema: Schema, rules: RuleSet | None) -> pd.DataFrame:
    """Numeric features (placeholders, infinities as NaN) and categorical features as integer codes."""
    numeric = analysis_numeric_columns(frame, schema)
    matrix = clean_numeric_frame(frame, numeric, rules)
    for column in analysis_categorical_columns(frame, schema):
        matrix[column] = pd.factorize(frame[column].astype("string"))[0].astype(float)
    return matrix


ROWS_PER_TREE = 20_000
PERMUTATION_ROWS = 2_000


def _forest(seed: int, n_estimators: int, n_jobs: int, training_rows: int) -> RandomForestClassifier:
    # Each tree's bootstrap draws at most ROWS_PER_TREE rows and leaves hold at least 3 rows:
    # on large samples this cuts fit and predict time several-fold; a hundred trees still see
    # every row many times over, so the ranking of features hardly moves.
    return RandomForestClassifier(
        n_estimators=n_estimators, min_samples_leaf=3, class_weight="balanced",
        max_samples=min(ROWS_PER_TREE, training_rows), random_state=seed, n_jobs=n_jobs,
    )


def _n_splits(labels: np.ndarray, wanted: int) -> int:
    smallest = int(pd.Series(labels).value_counts().min())
    return max(2, min(wanted, smallest))


def cross_validated_importance(
    matrix: pd.DataFrame, labels: np.ndarray, seed: int, folds: int = 3, n_estimators: int = 100,
    permutation_rows: int = PERMUTATION_ROWS, n_repeats: int = 3, n_jobs: int = -1,
) -> dict:
    """Impurity and permutation importance under stratified k-fold cross-validation.

    Classes with fewer rows than folds lower the number of folds (never under 2); a class with
    a single row cannot be cross-validated and raises UserError (callers skip beforehand).
    """
    if pd.Series(labels).value_counts().min() < 2:
        raise UserError("every class needs at least 2 rows for cross-validated importance")
    splitter = StratifiedKFold(n_splits=_n_splits(labels, folds), shuffle=True, random_state=seed)
    rng = np.random.default_rng(seed)
    impurity, permutation, scores = [], [], []
    for train, test in splitter.split(matrix, labels):
        model = _forest(seed, n_estimators, n_jobs, len(train)).fit(matrix.iloc[train], labels[train])
        impurity.append(model.feature_importances_)
        model.set_params(n_jobs=1)  # thread start-up per call would dominate the many small permutation predictions
        if len(test) > permutation_rows:
            test = np.sort(rng.choice(test, size=permutation_rows, replace=False))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true" on tiny folds
            result = permutation_importance(
                model, matrix.iloc[test], labels[test], scoring="balanced_accuracy",
                n_repeats=n_repeats, random_state=seed, n_jobs=1,
            )
            scores.append(float(balanced_accuracy_score(labels[test], model.predict(matrix.iloc[test]))))
        permutation.append(result.importances)
    stacked = np.concatenate(permutation, axis=1)
    columns = list(matrix.columns)
    return {
        "folds": splitter.get_n_splits(),
        "held_out_balanced_accuracy": round(float(np.mean(scores)), 4),
        "impurity": dict(zip(columns, np.mean(impurity, axis=0).round(5).tolist())),
        "permutation": {c: {"mean": round(float(m), 5), "std": round(float(s), 5)}
                        for c, m, s in zip(columns, stacked.mean(axis=1), stacked.std(axis=1))},
    }


def top_features(scores: dict[str, float], k: int = TOP_K) -> list[str]:
    """Names of the k highest scores (ties in name order, so the result is reproducible)."""
    return [name for name, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]]


def agreement(methods: dict[str, dict[str, float]], k: int = TOP_K) -> list[dict]:
    """For each pair of methods: overlap of their top-k sets and Spearman correlation over all features."""
    pairs = []
    for first, second in itertools.combinations(methods, 2):
        shared = sorted(set(methods[first]) & set(methods[second]))
        top_a, top_b = set(top_features(methods[first], k)), set(top_features(methods[second], k))
        rho = None
        if len(shared) > 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant scores: rho is undefined, reported as None
                value = spearmanr([methods[first][c] for c in shared], [methods[second][c] for c in shared]).statistic
            rho = None if not np.isfinite(value) else round(float(value), 4)
        pairs.append({
            "methods": [first, second],
            "top_k": k,
            "top_k_overlap": len(top_a & top_b),
            "top_k_jaccard": round(len(top_a & top_b) / max(len(top_a | top_b), 1), 4),
            "spearman_rho": rho,
        })
    return pairs


def feature_importance(
    frame: pd.DataFrame, schema: Schema, rules: RuleSet | None, labels: pd.Series,
    mutual_information: dict[str, dict[str, float]], seed: int, n_estimators: int = 100, n_jobs: int = -1,
) -> dict:
    """The importance section: the three methods, their top features and their agreement.

    `frame` is the seeded row sample, `labels` its classes, `mutual_information` the output of
    information.feature_class_mi on the same rows.
    """
    matrix = feature_matrix(frame, schema, rules)
    if matrix.shape[1] == 0:
        return {"skipped": "no feature columns to rank"}
    label_array = labels.to_numpy()
    if pd.Series(label_array).value_counts().min() < 2:
        rare = pd.Series(label_array).value_counts()
        return {"skipped": f"class '{rare.index[-1]}' has a single row: cross-validation needs at least 2 per class"}
    forest = cross_validated_importance(matrix, label_array, seed, n_estimators=n_estimators, n_jobs=n_jobs)
    methods = {
        "impurity": forest["impurity"],
        "permutation": {c: v["mean"] for c, v in forest["permutation"].items()},
        "mutual_information": {c: v["mi_nats"] for c, v in mutual_information.items() if c in matrix.columns},
    }
    return {
        "model": (f"RandomForestClassifier({n_estimators} trees, min_samples_leaf=3, class_weight=balanced, "
                  f"at most {ROWS_PER_TREE:,} bootstrap rows per tree)"),
        "cross_validation": {
            "folds": forest["folds"],
            "held_out_balanced_accuracy": forest["held_out_balanced_accuracy"],
            "permutation_scoring": "balanced_accuracy",
            "permutation_rows_per_fold": f"at most {PERMUTATION_ROWS:,} held-out rows, 3 repeats",
        },
        "scores": {"impurity": forest["impurity"], "permutation": forest["permutation"],
                   "mutual_information": methods["mutual_information"]},
        "top_features": {name: top_features(scores) for name, scores in methods.items()},
        "agreement": agreement(methods),
        "note": "correlated features share impurity importance and mask each other under permutation",
        "skipped": None,
    }
