"""The log-target regressor, and the rule for when the search tries it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from modelloop.models import LOG1P, LogTargetRegressor, log_target, wants_log_target


def _prices(n: int, seed: int = 0) -> pd.DataFrame:
    """A house-price-like table: the target is multiplicative in its features."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 250, n).round(1)
    rooms = rng.integers(1, 7, n)
    town = rng.choice(["north", "south", "centre"], n)
    log_price = (
        10.5 + 0.012 * area + 0.08 * rooms + (town == "centre") * 0.5 + rng.normal(0, 0.15, n)
    )
    return pd.DataFrame({"area": area, "rooms": rooms, "town": town, "price": np.exp(log_price)})


@parametrize_with_checks([LogTargetRegressor(Ridge())])
def test_log_target_regressor_passes_the_estimator_checks(estimator, check) -> None:
    check(estimator)


def test_log_target_regressor_fits_log1p_and_predicts_expm1() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.expm1(X @ [0.5, -0.3, 0.2] + 3.0 + rng.normal(0, 0.1, 200))
    model = LogTargetRegressor(Ridge(alpha=0.1)).fit(X, y)
    inner = Ridge(alpha=0.1).fit(X, np.log1p(y))
    np.testing.assert_allclose(model.predict(X), np.expm1(inner.predict(X)), rtol=1e-12)
    np.testing.assert_allclose(model.regressor_.coef_, inner.coef_)
    assert model.n_features_in_ == 3


def test_log_target_regressor_clips_extrapolation_to_the_training_range() -> None:
    X = np.arange(10.0)[:, None]
    y = np.expm1(X[:, 0])  # log1p(y) from 0 to 9
    model = LogTargetRegressor(Ridge(alpha=1e-9)).fit(X, y)
    far = model.predict(np.array([[1000.0], [-1000.0]]))  # unclipped: expm1(1000) = inf
    assert np.isfinite(far).all()
    np.testing.assert_allclose(far, [np.expm1(9.1), -np.expm1(0.1)], rtol=1e-9)


def test_log_target_regressor_rejects_a_nonfinite_target() -> None:
    with pytest.raises(ValueError, match="needs a finite target"):
        LogTargetRegressor(Ridge()).fit([[0.0], [1.0]], [1.0, np.inf])


def test_log_target_is_log1p_on_nonnegative_values() -> None:
    y = np.array([0.0, 0.5, 10.0, 1e6])
    np.testing.assert_array_equal(log_target(y), np.log1p(y))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.exp(np.random.default_rng(0).normal(12, 0.4, 500)), True),  # prices
        (np.random.default_rng(0).poisson(0.7, 500).astype(float), True),  # rare counts
        (np.random.default_rng(0).normal(100, 10, 500), False),  # symmetric
        (np.exp(np.random.default_rng(0).normal(0, 1, 500)) - 2.0, False),  # negatives
        (np.array([1.0, np.nan, 1e6, 2.0]), False),  # missing values
        (np.full(50, 3.0), False),  # constant
    ],
)
def test_wants_log_target_only_for_skewed_nonnegative_targets(values, expected) -> None:
    assert wants_log_target(values) is expected


def test_train_keeps_the_log_target_twin_and_round_trips_it_through_the_store(settings) -> None:
    import modelloop as ml
    from modelloop.store import Store
    from modelloop.workflows import load_model

    df = _prices(300)
    result = ml.train(
        df, target="price", name="prices", models=["ridge"], cv=3, max_trials=2,
        time_budget=None, seed=0, settings=settings,
    )  # fmt: skip
    plain, twin = result.trials[:2]
    assert plain["params"] == {} and twin["params"] == {"target_transform": LOG1P}
    assert twin["score"] < plain["score"]  # RMSE on prices: the log scale fits better here
    loaded = load_model("prices", store=Store.from_settings(settings))
    assert _log_targets(result.model) and _log_targets(loaded.pipeline)  # alone or blended
    X = df.drop(columns=["price"])
    np.testing.assert_array_equal(loaded.pipeline.predict(X), result.model.predict(X))


def _log_targets(model) -> list[LogTargetRegressor]:
    """The fitted LogTargetRegressors in a pipeline, or a voting ensemble or fold bag of them."""
    pipes = getattr(model, "estimators_", None) or getattr(model, "estimators", [model])
    return [p[-1] for p in pipes if isinstance(p[-1], LogTargetRegressor)]
