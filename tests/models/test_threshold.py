from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from modelloop.evaluation import score
from modelloop.exceptions import ConfigurationError
from modelloop.models import (
    THRESHOLD_METRICS,
    TemperatureScaled,
    cross_fit_threshold,
    decision_threshold,
    fit_threshold,
    predicted_labels,
    with_threshold,
)


def _imbalanced(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """20 % positives whose probability is under-estimated: the argmax misses most of them."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    p1 = np.clip(0.2 + 0.2 * y + rng.normal(0, 0.12, n), 0.0, 1.0)
    return y, p1


def _folds(n: int, k: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.setdiff1d(np.arange(n), va), va) for va in np.array_split(np.arange(n), k)]


def _data(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = np.where(X["a"] + rng.normal(scale=1.0, size=n) > 1.0, "yes", "no")
    return X, y


@pytest.mark.parametrize("metric", sorted(THRESHOLD_METRICS))
def test_fit_threshold_beats_the_argmax_and_a_grid(metric) -> None:
    y, p1 = _imbalanced(2000)
    t = fit_threshold(y, p1, metric)
    classes = np.array([0, 1])
    tuned = score(metric, y, y_pred=(p1 >= t).astype(int), classes=classes)
    argmax = score(metric, y, y_pred=(p1 > 0.5).astype(int), classes=classes)
    assert t < 0.5 and tuned > argmax + 0.05
    # no grid point scores better than the chosen threshold
    grid = np.linspace(0.05, 0.95, 19)
    assert tuned >= max(
        score(metric, y, y_pred=(p1 >= g).astype(int), classes=classes) for g in grid
    )


def test_fit_threshold_count_scores_equal_sklearn_metrics() -> None:
    from modelloop.models._threshold import _scores

    y, p1 = _imbalanced(500, seed=3)
    thresholds = np.array([0.0, 0.15, 0.3, 0.5, 0.9, 1.01])
    for metric in THRESHOLD_METRICS:
        fast = _scores(y, p1, thresholds, metric)
        slow = [score(metric, y, y_pred=(p1 >= t).astype(int), classes=[0, 1]) for t in thresholds]
        np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_fit_threshold_keeps_one_half_for_well_separated_probabilities() -> None:
    y = np.array([0] * 50 + [1] * 50)
    p1 = np.where(y == 1, 0.9, 0.1)
    assert fit_threshold(y, p1, "f1") == 0.5


def test_fit_threshold_rejects_a_metric_it_cannot_tune() -> None:
    with pytest.raises(ConfigurationError, match="Got metric 'accuracy'"):
        fit_threshold([0, 1], [0.2, 0.8], "accuracy")


def test_cross_fit_threshold_labels_each_fold_with_the_other_folds_threshold() -> None:
    y, p1 = _imbalanced(1200, seed=1)
    folds = _folds(1200)
    pred, t_all = cross_fit_threshold(y, p1, folds, "f1")
    assert t_all == fit_threshold(y, p1, "f1")
    for tr, va in folds:
        expected = (p1[va] >= fit_threshold(y[tr], p1[tr], "f1")).astype(int)
        np.testing.assert_array_equal(pred[va], expected)


def test_cross_fit_threshold_is_honest_on_noise() -> None:
    """On labels unrelated to p1, the in-sample threshold looks better than the cross-fitted."""
    rng = np.random.default_rng(2)
    y = (rng.random(400) < 0.3).astype(int)
    p1 = rng.random(400)
    folds = _folds(400, 5)
    pred, t_all = cross_fit_threshold(y, p1, folds, "balanced_accuracy")
    honest = np.mean([score("balanced_accuracy", y[va], y_pred=pred[va]) for _, va in folds])
    in_sample = np.mean(
        [score("balanced_accuracy", y[va], y_pred=(p1[va] >= t_all).astype(int)) for _, va in folds]
    )
    assert in_sample > honest


def test_with_threshold_predicts_from_the_threshold_and_passes_probabilities() -> None:
    X, y = _data()
    raw = LogisticRegression().fit(X, y)
    low = with_threshold(LogisticRegression(), 0.2).fit(X, y)
    assert low.classes_.tolist() == ["no", "yes"]
    np.testing.assert_allclose(low.predict_proba(X), raw.predict_proba(X))
    expected = np.where(raw.predict_proba(X)[:, 1] >= 0.2, "yes", "no")
    np.testing.assert_array_equal(low.predict(X), expected)
    assert (low.predict(X) == "yes").sum() > (raw.predict(X) == "yes").sum()


def test_with_threshold_rejects_bad_thresholds_and_multiclass() -> None:
    X, y = _data()
    with pytest.raises(ConfigurationError, match=r"probability in \[0, 1\]. Got 1.5"):
        with_threshold(LogisticRegression(), 1.5)
    # scikit-learn's FixedThresholdClassifier refuses more than two classes
    with pytest.raises(ValueError, match=r"Only binary classification is supported"):
        with_threshold(LogisticRegression(), 0.5).fit(X, np.arange(len(y)) % 3)


def test_with_threshold_around_temperature_scaled_nests() -> None:
    X, y = _data()
    model = with_threshold(TemperatureScaled(LogisticRegression(), 2.0), 0.35)
    model.fit(X, y)
    scaled = TemperatureScaled(LogisticRegression(), 2.0).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(model.predict_proba(X), scaled)
    np.testing.assert_array_equal(model.predict(X), np.where(scaled[:, 1] >= 0.35, "yes", "no"))


def test_predicted_labels_follow_predict_through_every_wrapper() -> None:
    X, y = _data()
    models = [
        make_pipeline(LogisticRegression()),
        make_pipeline(with_threshold(LogisticRegression(), 0.25)),
        make_pipeline(with_threshold(TemperatureScaled(LogisticRegression(), 0.5), 0.7)),
        make_pipeline(TemperatureScaled(with_threshold(LogisticRegression(), 0.3), 3.0)),
        with_threshold(VotingClassifier([("a", LogisticRegression())], voting="soft"), 0.3),
        VotingClassifier(
            [("a", make_pipeline(with_threshold(LogisticRegression(), 0.1)))], voting="soft"
        ),
    ]
    for model in models:
        model.fit(X, y)
        labels = predicted_labels(model, model.predict_proba(X))
        np.testing.assert_array_equal(labels, model.predict(X))
    assert decision_threshold(models[0]) is None and decision_threshold(models[-1]) is None
    assert decision_threshold(models[1]) == 0.25


def test_with_threshold_survives_the_store_model_file(tmp_path) -> None:
    from modelloop.store._artifacts import load_model_bytes, write_model_file

    X, y = _data()
    model = make_pipeline(with_threshold(TemperatureScaled(LogisticRegression(), 1.5), 0.3))
    model.fit(X, y)
    path, _, _ = write_model_file(model, tmp_path, what="m")
    loaded = load_model_bytes(path.read_bytes(), what="m", path=path)
    assert decision_threshold(loaded) == 0.3
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
