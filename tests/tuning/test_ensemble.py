"""The blend of fitted members: a subset of a fitted soft-voting ensemble."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier

from modelloop.models import with_threshold
from modelloop.store._artifacts import untrusted_types
from modelloop.tuning._ensemble import build_ensemble, fitted_subset


def _three_classifiers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.where(X[:, 0] + rng.normal(scale=0.7, size=120) > 0, "yes", "no")
    members = [
        ("lr", LogisticRegression()),
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("strong", LogisticRegression(C=0.01)),
    ]
    return X, y, build_ensemble(members, [0.5, 0.3, 0.2], "binary").fit(X, y)


def test_fitted_subset_blends_the_kept_members_without_refitting_them() -> None:
    X, _, blend = _three_classifiers()
    fitted = blend.named_estimators_
    subset = fitted_subset(blend, {"strong": 0.25, "lr": 0.75})
    assert subset.named_estimators_["lr"] is fitted["lr"]  # the very fitted member
    assert [n for n, _ in subset.estimators] == ["strong", "lr"]
    expected = 0.25 * fitted["strong"].predict_proba(X) + 0.75 * fitted["lr"].predict_proba(X)
    np.testing.assert_allclose(subset.predict_proba(X), expected, rtol=1e-12)
    assert set(subset.predict(X)) <= {"yes", "no"}  # the members' codes map back to labels
    assert subset.classes_.tolist() == ["no", "yes"]
    assert len(blend.estimators_) == 3  # the original is untouched
    thresholded = with_threshold(subset, 0.2)  # around the fitted subset, not refitted
    assert thresholded.predict(X).tolist() == np.where(expected[:, 1] >= 0.2, "yes", "no").tolist()


def test_fitted_subset_of_a_regressor_and_a_bad_name() -> None:
    X = np.arange(20.0)[:, None]
    y = 2 * X[:, 0] + 1
    blend = build_ensemble([("ols", LinearRegression()), ("ridge", Ridge(alpha=50.0))],
                           [0.5, 0.5], "regression").fit(X, y)  # fmt: skip
    np.testing.assert_allclose(fitted_subset(blend, {"ols": 1.0}).predict(X), y, rtol=1e-9)
    with pytest.raises(ValueError, match="knn not among the members: ols, ridge"):
        fitted_subset(blend, {"knn": 1.0})


def test_fitted_subset_round_trips_through_skops_with_trusted_types_only() -> None:
    X, _, blend = _three_classifiers()
    subset = fitted_subset(blend, {"lr": 0.5, "tree": 0.5})
    data = sio.dumps(subset)
    assert untrusted_types(data=data) == []
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(loaded.predict_proba(X), subset.predict_proba(X))
