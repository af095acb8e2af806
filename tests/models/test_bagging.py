"""FoldBag: models averaged as one; frozen fold models stay as the search fitted them."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression

from modelloop.models import FoldBag, apply_temperature, decision_threshold, predicted_labels
from modelloop.store._artifacts import untrusted_types


def _classifiers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)]
    full = LogisticRegression(max_iter=500).fit(X, y)
    no_c = LogisticRegression(max_iter=500).fit(X[y != "c"], y[y != "c"])  # a fold without 'c'
    return X, y, full, no_c


def _frozen(*models):
    return [FrozenEstimator(m) for m in models]


def test_fold_bag_averages_regressors_with_normalised_weights() -> None:
    X = np.arange(8.0).reshape(-1, 1)
    a = LinearRegression().fit(X, X[:, 0])
    b = LinearRegression().fit(X, 2 * X[:, 0])
    bag = FoldBag(_frozen(a, b), weights=[3, 1]).fit(X, X[:, 0])
    np.testing.assert_allclose(bag.predict(X), 0.75 * X[:, 0] + 0.25 * 2 * X[:, 0], atol=1e-12)
    assert bag.n_features_in_ == 1
    assert bag.estimators_[0] is a and bag.estimators_[1] is b  # frozen: kept as fitted
    with pytest.raises(AttributeError, match="has no attribute 'predict_proba'"):
        bag.predict_proba(X)


def test_fold_bag_fits_members_that_are_not_frozen_and_never_fits_in_predict() -> None:
    from sklearn.exceptions import NotFittedError

    X = np.arange(8.0).reshape(-1, 1)
    bag = FoldBag([LinearRegression()])
    with pytest.raises(NotFittedError):
        bag.predict(X)
    np.testing.assert_allclose(bag.fit(X, 3 * X[:, 0]).predict(X), 3 * X[:, 0], atol=1e-9)


def test_fold_bag_places_each_members_classes_and_applies_its_temperature() -> None:
    X, y, full, no_c = _classifiers()
    classes = np.array(["a", "b", "c"])
    bag = FoldBag(_frozen(full, no_c), [0.5, 0.5], temperatures=[2.0, None]).fit(X, y)
    expected = 0.5 * apply_temperature(full.predict_proba(X), 2.0)
    expected[:, :2] += 0.5 * no_c.predict_proba(X)  # 'c' gets nothing from the second
    np.testing.assert_allclose(bag.predict_proba(X), expected)
    np.testing.assert_allclose(bag.predict_proba(X).sum(axis=1), 1.0)
    assert bag.predict(X).tolist() == classes[expected.argmax(axis=1)].tolist()
    assert decision_threshold(bag) is None


def test_fold_bag_with_a_threshold_predicts_the_positive_class_from_it() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] + rng.normal(size=300) > 1.0).astype(int)
    members = [LogisticRegression().fit(X[i::2], y[i::2]) for i in range(2)]
    bag = FoldBag(_frozen(*members), threshold=0.2).fit(X, y)
    proba = bag.predict_proba(X)
    assert bag.predict(X).tolist() == (proba[:, 1] >= 0.2).astype(int).tolist()
    assert (bag.predict(X) != proba.argmax(axis=1)).any()  # the threshold changes some labels
    assert decision_threshold(bag) == 0.2
    assert predicted_labels(bag, proba).tolist() == bag.predict(X).tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimators": []}, "at least one estimator"),
        ({"weights": [1.0]}, "weights must be 2 non-negative numbers"),
        ({"weights": [-1.0, 2.0]}, "weights must be 2 non-negative numbers"),
        ({"threshold": 0.3}, "needs two classes"),
        ({"columns": [[0, 1, 2]]}, "needs 2 column maps"),
    ],
)
def test_fold_bag_refuses_inconsistent_members(kwargs, message) -> None:
    X, y, full, no_c = _classifiers()
    with pytest.raises(ValueError, match=message):
        FoldBag(**{"estimators": _frozen(full, no_c), **kwargs}).fit(X, y)


def test_fold_bag_round_trips_through_skops_with_trusted_types_only() -> None:
    X, y, full, no_c = _classifiers()
    bag = FoldBag(_frozen(full, no_c), temperatures=[1.5, None]).fit(X, y)
    data = sio.dumps(bag)
    assert untrusted_types(data=data) == []
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(loaded.predict_proba(X), bag.predict_proba(X))
