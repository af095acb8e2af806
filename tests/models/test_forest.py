"""``models.PackedForest`` answers as the scikit-learn forest it was packed from."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from modelloop.models import PackedForest, is_forest


@pytest.mark.parametrize(
    "kind", [RandomForestClassifier, ExtraTreesClassifier, RandomForestRegressor,
             ExtraTreesRegressor],
)  # fmt: skip
def test_packed_forest_predicts_as_the_forest_with_missing_values(kind) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6))
    X[rng.random(X.shape) < 0.1] = np.nan  # trees send missing values the way they learned
    signal = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1])
    classifier = kind.__name__.endswith("Classifier")
    y = np.digitize(signal, [-0.5, 0.5]) if classifier else signal + rng.normal(size=600)
    forest = kind(n_estimators=25, min_samples_leaf=2, random_state=0).fit(X, y)
    assert is_forest(forest)
    packed = PackedForest(forest)
    rows = X[:80]
    if classifier:
        # the same leaves; the average over trees only adds in another order
        np.testing.assert_allclose(
            packed.predict_proba(rows), forest.predict_proba(rows), rtol=1e-12, atol=1e-15
        )
        assert (forest.classes_[packed.predict(rows)] == forest.predict(rows)).all()
    else:
        np.testing.assert_allclose(packed.predict(rows), forest.predict(rows), rtol=1e-12)


def test_only_fitted_single_output_forests_are_packed() -> None:
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    assert not is_forest(RandomForestRegressor())  # not fitted
    assert not is_forest(RandomForestRegressor(5).fit(X, np.c_[y, y]))  # two outputs
    from sklearn.tree import DecisionTreeRegressor

    assert not is_forest(DecisionTreeRegressor().fit(X, y))
