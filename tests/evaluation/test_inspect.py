"""Permutation importance and learning curves of fitted models, within a time allowance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from modelloop.evaluation import learning_curve, permutation_importance
from modelloop.exceptions import InvalidInputError


@pytest.fixture
def classification():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=400), "noise": rng.normal(size=400)})
    y = np.where(X["signal"] + rng.normal(scale=0.3, size=400) > 0, "yes", "no")
    return X, y, LogisticRegression().fit(X, y)


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss", "accuracy"])
def test_permutation_importance_ranks_the_signal_first(classification, metric):
    X, y, model = classification
    table, info = permutation_importance(model, X, y, metric=metric, n_repeats=2, max_rows=300)
    assert table["feature"].tolist() == ["signal", "noise"]
    assert table["importance"].iloc[0] > 0.05 and abs(table["importance"].iloc[1]) < 0.05
    assert info == {**info, "n_rows": 300, "n_repeats": 2, "skipped": ""}


def test_permutation_importance_stops_at_the_time_limit(classification):
    X, y, model = classification
    table, info = permutation_importance(model, X, y, metric="roc_auc", time_limit=0.0)
    assert table.empty and "time ran out" in info["skipped"]


def test_permutation_importance_rejects_bad_repeats(classification):
    X, y, model = classification
    with pytest.raises(InvalidInputError, match="n_repeats"):
        permutation_importance(model, X, y, metric="roc_auc", n_repeats=0)


def test_learning_curve_grows_the_training_rows(classification):
    X, y, model = classification
    curve = learning_curve(model, X, y, X, y, metric="accuracy", stratify=True)
    assert curve["n_train"].tolist() == [40, 100, 200, 400]
    assert curve["test_score"].between(0, 1).all()


def test_learning_curve_time_limit_leaves_no_curve():
    X = pd.DataFrame({"x": np.arange(200.0)})
    model = LinearRegression().fit(X, 2 * X["x"])
    curve = learning_curve(
        model, X, 2 * X["x"], X, 2 * X["x"], metric="mae", time_limit=0.0, fit_time=10.0
    )
    assert curve.empty
