"""Folds, cross-validation and the budgeted search over candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import load
from modelloop.exceptions import ConfigurationError
from modelloop.tuning import cross_validate, make_folds, search


@pytest.fixture
def binary_data():
    rng = np.random.default_rng(0)
    n = 240
    x1 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = np.where(x1 + (colour == "red") * 1.5 + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    ds = load(pd.DataFrame({"x1": x1, "colour": colour, "y": y}), target="y")
    return ds


def test_make_folds_stratifies_and_covers_every_row():
    y = pd.Series(["a"] * 80 + ["b"] * 20)
    folds = make_folds(y, "binary", 5, seed=1)
    assert len(folds) == 5
    seen = np.concatenate([va for _, va in folds])
    assert sorted(seen) == list(range(100))
    for _, va in folds:
        assert (y.iloc[va] == "b").sum() == 4


def test_make_folds_reduces_k_for_rare_class():
    y = pd.Series(["a"] * 30 + ["b"] * 3)
    assert len(make_folds(y, "binary", 5)) == 3


def test_make_folds_rejects_fewer_than_two():
    with pytest.raises(ConfigurationError, match="cv must be an integer >= 2"):
        make_folds(pd.Series([1.0, 2.0, 3.0]), "regression", 1)


def test_cross_validate_keeps_out_of_fold_probabilities(binary_data):
    from modelloop.features import make_pipeline
    from modelloop.models import get_spec

    spec = get_spec("logistic_regression", "binary")
    pipe = make_pipeline(binary_data.schema, spec.family, spec.make("binary"))
    X, y = binary_data.features(), binary_data.target_series()
    folds = make_folds(y, "binary", 4)
    res = cross_validate(pipe, X, y, folds, task="binary", metric="roc_auc")
    assert len(res.scores) == 4
    assert 0.75 < res.mean <= 1.0
    assert res.oof.shape == (len(y), 2)
    assert not np.isnan(res.oof).any()
    np.testing.assert_allclose(res.oof.sum(axis=1), 1.0)


def test_search_ranks_best_first_and_lists_every_candidate(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="log_loss",
        candidates=["logistic_regression", "decision_tree", "hist_gradient_boosting"],
        cv=3,
        ensemble=False,
    )
    board = res.leaderboard
    assert set(board["model"]) == {"logistic_regression", "decision_tree", "hist_gradient_boosting"}
    scores = board["cv_log_loss"].to_numpy()
    assert (np.diff(scores) >= 0).all()  # log loss: lower is better, best first
    assert res.best.name == board["model"].iloc[0]


def test_search_stops_starting_candidates_after_budget(binary_data, monkeypatch):
    import modelloop.tuning._search as mod

    clock = iter([0.0, 0.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    monkeypatch.setattr(mod.time, "monotonic", lambda: next(clock))
    X, y = binary_data.features(), binary_data.target_series()
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["logistic_regression", "decision_tree"],
        cv=2,
        time_budget=10,
    )
    status = dict(zip(res.leaderboard["model"], res.leaderboard["status"], strict=True))
    assert status == {"logistic_regression": "ok", "decision_tree": "skipped"}


def test_search_records_a_failing_candidate_and_goes_on(binary_data, monkeypatch):
    from modelloop import models

    real = models.get_spec

    class Broken:
        name, family = "broken", "linear"

        def make(self, task, *, seed=0, n_jobs=1):
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=-1.0)  # invalid: fails in fit

    import modelloop.tuning._search as mod

    monkeypatch.setattr(
        mod, "get_spec", lambda name, task: Broken() if name == "broken" else real(name, task)
    )
    X, y = binary_data.features(), binary_data.target_series()
    res = search(
        X,
        y,
        schema=binary_data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["broken", "logistic_regression"],
        cv=2,
    )
    row = res.leaderboard.set_index("model").loc["broken"]
    assert row["status"] == "failed"
    assert "C" in row["error"]
    assert res.best.name == "logistic_regression"


def test_search_rejects_nonpositive_budget(binary_data):
    X, y = binary_data.features(), binary_data.target_series()
    with pytest.raises(ConfigurationError, match="time_budget must be > 0"):
        search(
            X,
            y,
            schema=binary_data.schema,
            task="binary",
            metric="roc_auc",
            candidates=["logistic_regression"],
            time_budget=0,
        )
