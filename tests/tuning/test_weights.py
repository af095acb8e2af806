"""Sample weights in the search: every fit, fold score and blend uses them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelloop.data import load
from modelloop.exceptions import ConfigurationError
from modelloop.models import accepts_sample_weight
from modelloop.tuning import search
from modelloop.tuning._ensemble import build_ensemble, fit_voting


def _noisy(n: int = 240, seed: int = 0):
    """Rows where y = (a > 0), plus as many copies with the label flipped (weight 0)."""
    rng = np.random.default_rng(seed)
    clean = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    clean["y"] = np.where(clean["a"] > 0, "yes", "no")
    flipped = clean.assign(y=np.where(clean["a"] > 0, "no", "yes"))
    frame = pd.concat([clean, flipped], ignore_index=True)
    weights = np.r_[np.ones(n), np.zeros(n)]
    return load(frame, target="y"), weights


def test_fit_voting_fits_each_member_with_the_weights() -> None:
    X = pd.DataFrame({"a": np.linspace(-1, 1, 40)})
    y = np.where(X["a"] > 0, "b", "a")
    w = np.linspace(0.1, 2.0, 40)

    def pipe():
        return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])

    voting = fit_voting(
        build_ensemble([("p", pipe()), ("q", pipe())], [0.5, 0.5], "binary"), X, y, w
    )
    alone = pipe().fit(X, (y == "b").astype(int), model__sample_weight=w)
    assert voting.classes_.tolist() == ["a", "b"]
    assert np.allclose(voting.predict_proba(X), alone.predict_proba(X))
    assert not np.allclose(alone.predict_proba(X), pipe().fit(X, y).predict_proba(X))


def test_catalog_says_which_models_take_sample_weights() -> None:
    assert accepts_sample_weight("lightgbm", "regression")
    assert not accepts_sample_weight("knn", "multiclass")
    assert not accepts_sample_weight("mlp_torch", "binary")


def test_search_fits_and_scores_with_the_weights() -> None:
    ds, w = _noisy()
    kwargs = dict(
        schema=ds.schema,
        task="binary",
        metric="roc_auc",
        candidates=["logistic_regression"],
        max_trials=1,
        cv=3,
    )
    weighted = search(ds.features(), ds.target_series(), sample_weight=w, **kwargs)
    plain = search(ds.features(), ds.target_series(), **kwargs)
    # the zero-weight rows (flipped labels) neither teach the model nor count in its score
    assert weighted.best.cv_mean > 0.95
    assert plain.best.cv_mean < 0.8
    assert weighted.model.predict(pd.DataFrame({"a": [2.0], "b": [0.0]}))[0] == "yes"


def test_search_refuses_named_models_that_cannot_take_weights() -> None:
    ds, w = _noisy(40)
    with pytest.raises(ConfigurationError, match=r"knn cannot be fitted with sample weights"):
        search(
            ds.features(),
            ds.target_series(),
            schema=ds.schema,
            task="binary",
            metric="roc_auc",
            candidates=["knn"],
            max_trials=1,
            sample_weight=w,
        )
    with pytest.raises(ConfigurationError, match="one finite weight >= 0 per row"):
        search(
            ds.features(),
            ds.target_series(),
            schema=ds.schema,
            task="binary",
            metric="roc_auc",
            max_trials=1,
            sample_weight=w[:-1],
        )
