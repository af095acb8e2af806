"""FoldBag: already fitted models averaged as one, as the search keeps fold models."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
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


def test_fold_bag_averages_regressors_with_normalised_weights() -> None:
    X = np.arange(8.0).reshape(-1, 1)
    a = LinearRegression().fit(X, X[:, 0])
    b = LinearRegression().fit(X, 2 * X[:, 0])
    bag = FoldBag([a, b], weights=[3, 1]).fit()
    np.testing.assert_allclose(bag.predict(X), 0.75 * X[:, 0] + 0.25 * 2 * X[:, 0], atol=1e-12)
    assert bag.n_features_in_ == 1
    with pytest.raises(AttributeError, match="regressor"):
        bag.predict_proba(X)


def test_fold_bag_places_each_members_classes_and_applies_its_temperature() -> None:
    X, _, full, no_c = _classifiers()
    classes = np.array(["a", "b", "c"])
    bag = FoldBag([full, no_c], [0.5, 0.5], classes=classes, temperatures=[2.0, None]).fit()
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
    bag = FoldBag(members, classes=[0, 1], threshold=0.2).fit()
    proba = bag.predict_proba(X)
    assert bag.predict(X).tolist() == (proba[:, 1] >= 0.2).astype(int).tolist()
    assert (bag.predict(X) != proba.argmax(axis=1)).any()  # the threshold changes some labels
    assert decision_threshold(bag) == 0.2
    assert predicted_labels(bag, proba).tolist() == bag.predict(X).tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimators": []}, "at least one fitted estimator"),
        ({"weights": [1.0]}, "weights must be 2 non-negative numbers"),
        ({"weights": [-1.0, 2.0]}, "weights must be 2 non-negative numbers"),
        ({"classes": ["a", "b", "c"], "threshold": 0.3}, "needs two classes"),
        ({"classes": ["a", "b", "c"], "columns": [[0, 1, 2]]}, "needs 2 column maps"),
    ],
)
def test_fold_bag_refuses_inconsistent_members(kwargs, message) -> None:
    _, _, full, no_c = _classifiers()
    with pytest.raises(ValueError, match=message):
        FoldBag(**{"estimators": [full, no_c], **kwargs}).fit()


def test_fold_bag_round_trips_through_skops_with_trusted_types_only() -> None:
    X, _, full, no_c = _classifiers()
    bag = FoldBag([full, no_c], classes=["a", "b", "c"], temperatures=[1.5, None]).fit()
    data = sio.dumps(bag)
    assert untrusted_types(data=data) == []
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(loaded.predict_proba(X), bag.predict_proba(X))
