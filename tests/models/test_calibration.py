from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelloop.models import (
    TemperatureScaled,
    apply_temperature,
    cross_fit_temperature,
    fit_temperature,
)


def _overconfident(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, right 70 % of the time, always 97 % sure."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    guess = np.where(rng.random(n) < 0.7, y, (y + 1) % 3)
    proba = np.full((n, 3), 0.015)
    proba[np.arange(n), guess] = 0.97
    return proba, y


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(proba[np.arange(len(y)), y])))


def test_apply_temperature_keeps_rows_summing_to_one_and_the_argmax():
    proba, _ = _overconfident(200)
    for t in (0.3, 1.0, 4.0):
        out = apply_temperature(proba, t)
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        np.testing.assert_array_equal(out.argmax(axis=1), proba.argmax(axis=1))


def test_fit_temperature_softens_overconfident_probabilities_and_lowers_log_loss():
    proba, y = _overconfident(3000)
    t = fit_temperature(proba, y)
    assert t > 1.5
    assert _log_loss(apply_temperature(proba, t), y) < _log_loss(proba, y) - 0.2


def test_fit_temperature_leaves_calibrated_probabilities_about_alone():
    rng = np.random.default_rng(1)
    p1 = rng.uniform(0.05, 0.95, 5000)
    y = (rng.random(5000) < p1).astype(int)
    assert fit_temperature(np.column_stack([1 - p1, p1]), y) == pytest.approx(1.0, abs=0.1)


def test_cross_fit_temperature_scales_each_fold_with_the_other_folds_temperature():
    proba, y = _overconfident(900)
    folds = [(np.setdiff1d(np.arange(900), va), va) for va in np.array_split(np.arange(900), 3)]
    calibrated, t_all = cross_fit_temperature(proba, y, folds)
    assert t_all == pytest.approx(fit_temperature(proba, y))
    first_tr, first_va = folds[0]
    expected = apply_temperature(proba[first_va], fit_temperature(proba[first_tr], y[first_tr]))
    np.testing.assert_allclose(calibrated[first_va], expected)


def test_temperature_scaled_changes_probabilities_not_predictions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.where(X[:, 0] + rng.normal(scale=0.5, size=300) > 0, "yes", "no")
    raw = LogisticRegression().fit(X, y)
    wrapped = TemperatureScaled(LogisticRegression(), temperature=2.0).fit(X, y)
    assert wrapped.classes_.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(wrapped.predict(X), raw.predict(X))
    np.testing.assert_allclose(
        wrapped.predict_proba(X), apply_temperature(raw.predict_proba(X), 2.0)
    )


def test_temperature_scaled_rejects_a_nonpositive_temperature():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        TemperatureScaled(LogisticRegression(), temperature=0.0).fit([[0.0], [1.0]], [0, 1])
