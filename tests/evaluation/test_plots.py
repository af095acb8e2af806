"""Evaluation plots: labelled, titled, colour-blind safe figures from plain data."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from modelloop.evaluation import (
    OKABE_ITO,
    calibration_figure,
    confusion_matrix_figure,
    importance_figure,
    learning_curve_figure,
    optimization_history_figure,
    pr_curve_figure,
    predicted_vs_actual_figure,
    probability_histogram_figure,
    residual_histogram_figure,
    residuals_figure,
    roc_curve_figure,
    target_distribution_figure,
)
from modelloop.exceptions import InvalidInputError


def _binary(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return y, np.column_stack([1 - p, p]), np.where(p > 0.5, 1, 0)


def _multiclass(n: int = 300, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(k)]
    y = np.asarray(classes, dtype=object)[rng.integers(0, k, n)]
    raw = rng.random((n, k)) + 2 * (y[:, None] == np.asarray(classes)[None, :])
    proba = raw / raw.sum(axis=1, keepdims=True)
    pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    return y, proba, pred, classes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _check(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_title() or fig.get_suptitle(), "every plot has a title"
        assert ax.get_xlabel() and ax.get_ylabel(), "both axes are labelled"
    assert len(_png(fig)) > 2_000


def test_classifier_figures_binary_are_labelled_and_render():
    y, proba, pred = _binary()
    for fig in (
        confusion_matrix_figure(y, pred, [0, 1]),
        roc_curve_figure(y, proba, [0, 1]),
        pr_curve_figure(y, proba, [0, 1]),
        calibration_figure(y, proba, [0, 1]),
        probability_histogram_figure(y, proba, [0, 1]),
    ):
        _check(fig)


def test_classifier_figures_multiclass_draw_one_curve_per_class():
    y, proba, pred, classes = _multiclass()
    roc = roc_curve_figure(y, proba, classes)
    labels = [line.get_label() for line in roc.axes[0].get_lines()]
    assert sum(label.startswith("c") and "AUC" in label for label in labels) == 3
    assert "one-vs-rest" in roc.axes[0].get_title()
    for fig in (
        roc,
        pr_curve_figure(y, proba, classes),
        confusion_matrix_figure(y, pred, classes),
        calibration_figure(y, proba, classes),
        probability_histogram_figure(y, proba, classes),
    ):
        _check(fig)


def test_roc_curve_figure_uses_the_okabe_ito_palette():
    y, proba, _pred, classes = _multiclass()
    fig = roc_curve_figure(y, proba, classes)
    colours = {line.get_color().lower() for line in fig.axes[0].get_lines()[:3]}
    assert colours <= {c.lower() for c in OKABE_ITO}


def test_confusion_matrix_figure_counts_match_the_labels():
    fig = confusion_matrix_figure(["a", "b", "b", "b"], ["a", "b", "a", "b"], ["a", "b"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0", "1", "1", "2"]


def test_confusion_matrix_figure_many_classes_shows_the_most_frequent():
    y, _proba, pred, classes = _multiclass(n=600, k=30)
    fig = confusion_matrix_figure(y, pred, classes)
    assert "25 most frequent of 30" in fig.axes[0].get_title()
    assert len(fig.axes[0].get_xticklabels()) == 25


def test_probability_figures_reject_probabilities_of_the_wrong_shape():
    y, proba, _ = _binary()
    with pytest.raises(InvalidInputError, match="one column per class"):
        roc_curve_figure(y, proba[:, :1].T, [0, 1])
    with pytest.raises(InvalidInputError, match="one column per class"):
        calibration_figure(y, proba, [0, 1, 2])


def test_regression_figures_are_labelled_and_render():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.3, size=300)
    for fig in (
        predicted_vs_actual_figure(y, pred),
        residuals_figure(y, pred),
        residual_histogram_figure(y, pred),
    ):
        _check(fig)


def test_predicted_vs_actual_figure_samples_large_inputs():
    y = np.arange(20_000, dtype=float)
    fig = predicted_vs_actual_figure(y, y + 1)
    assert len(fig.axes[0].collections[0].get_offsets()) == 5_000
    assert "sampled" in fig.axes[0].get_title()


def test_regression_figures_reject_mismatched_lengths():
    with pytest.raises(InvalidInputError, match="same length"):
        residuals_figure([1.0, 2.0], [1.0])


def test_importance_figure_shows_the_largest_first_and_top_n():
    frame = pd.DataFrame(
        {"feature": [f"f{i}" for i in range(30)], "importance": np.arange(30.0), "std": 0.1}
    )
    fig = importance_figure(frame, metric="roc_auc", top=10)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 10 and labels[-1] == "f29"  # barh draws bottom-up
    _check(fig)


def test_importance_figure_rejects_empty_input():
    with pytest.raises(InvalidInputError, match="at least one row"):
        importance_figure(pd.DataFrame(columns=["feature", "importance"]))


def test_optimization_history_figure_tracks_the_best_so_far():
    trials = [
        {"number": 1, "score": 0.7, "duration": 1.0, "model": "a", "status": "ok"},
        {"number": 2, "score": 0.9, "duration": 1.0, "model": "b", "status": "ok"},
        {"number": 3, "score": None, "duration": 1.0, "model": "b", "status": "failed"},
        {"number": 4, "score": 0.8, "duration": 1.0, "model": "a", "status": "ok"},
    ]
    fig = optimization_history_figure(trials, metric="roc_auc", greater_is_better=True)
    best = next(line for line in fig.axes[0].get_lines() if line.get_label() == "best so far")
    assert list(best.get_ydata()) == [0.7, 0.9, 0.9, 0.9]
    lower = optimization_history_figure(trials, metric="rmse", greater_is_better=False)
    best = next(line for line in lower.axes[0].get_lines() if line.get_label() == "best so far")
    assert list(best.get_ydata()) == [0.7, 0.7, 0.7, 0.7]
    _check(fig)


def test_learning_curve_figure_plots_train_and_test():
    points = [
        {"n_train": 100, "train_score": 0.95, "test_score": 0.7},
        {"n_train": 400, "train_score": 0.9, "test_score": 0.8},
    ]
    fig = learning_curve_figure(points, metric="accuracy")
    assert {line.get_label() for line in fig.axes[0].get_lines()} == {
        "training rows",
        "test split",
    }
    _check(fig)
    with pytest.raises(InvalidInputError, match="n_train"):
        learning_curve_figure([{"x": 1}], metric="accuracy")


def test_target_distribution_figure_classes_and_histogram():
    _check(target_distribution_figure({"classes": {"no": 60, "yes": 40}}, target="churn"))
    _check(target_distribution_figure({"edges": [0, 1, 2], "counts": [3, 4]}, target="price"))
    with pytest.raises(InvalidInputError, match="one more edge"):
        target_distribution_figure({"edges": [0, 1], "counts": [3, 4]})
    with pytest.raises(InvalidInputError, match="'classes' or 'edges'"):
        target_distribution_figure({})
