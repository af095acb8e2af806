from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from modelloop.evaluation import (
    METRICS,
    UndefinedMetricError,
    default_metric,
    get_metric,
    is_better,
    metrics_for_task,
    score,
    score_all,
    sign,
)
from modelloop.exceptions import ConfigurationError, InvalidInputError

# Binary: labels are strings so that the positive class (the second sorted one) matters.
YB_TRUE = np.array(["no", "yes", "yes", "no", "yes", "no", "no", "yes"])
YB_PRED = np.array(["no", "yes", "no", "no", "yes", "yes", "no", "yes"])
PB = np.array([0.1, 0.8, 0.4, 0.3, 0.9, 0.6, 0.2, 0.7])  # P(yes)
CB = np.array(["no", "yes"])

YM_TRUE = np.array([0, 1, 2, 2, 1, 0, 2, 1])
YM_PRED = np.array([0, 2, 2, 2, 1, 0, 1, 1])
PM = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.2, 0.3, 0.5],
        [0.1, 0.2, 0.7],
        [0.2, 0.2, 0.6],
        [0.1, 0.8, 0.1],
        [0.6, 0.3, 0.1],
        [0.3, 0.4, 0.3],
        [0.2, 0.5, 0.3],
    ]
)
CM = np.array([0, 1, 2])

YR_TRUE = np.array([3.0, 5.0, 2.5, 7.0, 4.0])
YR_PRED = np.array([2.5, 5.0, 3.0, 8.0, 3.5])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accuracy", skm.accuracy_score(YB_TRUE, YB_PRED)),
        ("balanced_accuracy", skm.balanced_accuracy_score(YB_TRUE, YB_PRED)),
        ("precision", skm.precision_score(YB_TRUE, YB_PRED, pos_label="yes")),
        ("recall", skm.recall_score(YB_TRUE, YB_PRED, pos_label="yes")),
        ("f1", skm.f1_score(YB_TRUE, YB_PRED, pos_label="yes")),
        ("f1_macro", skm.f1_score(YB_TRUE, YB_PRED, average="macro")),
    ],
)
def test_score_binary_label_metrics_match_sklearn(name: str, expected: float) -> None:
    assert score(name, YB_TRUE, y_pred=YB_PRED, classes=CB) == pytest.approx(expected)


def test_score_binary_positive_class_is_second_sorted_class() -> None:
    # With 'b' positive: TP=2, FP=1, FN=1. With 'a' positive precision would be 0.
    y_true = ["a", "b", "b", "b"]
    y_pred = ["b", "b", "b", "a"]
    assert score("precision", y_true, y_pred=y_pred) == pytest.approx(2 / 3)
    assert score("recall", y_true, y_pred=y_pred, classes=["a", "b"]) == pytest.approx(2 / 3)
    assert score("f1", y_true, y_pred=y_pred, classes=["a", "b"]) == pytest.approx(2 / 3)


def test_score_binary_proba_metrics_match_sklearn() -> None:
    auc = score("roc_auc", YB_TRUE, y_proba=PB, classes=CB)
    assert auc == pytest.approx(skm.roc_auc_score(YB_TRUE == "yes", PB))
    two_col = np.column_stack([1 - PB, PB])
    assert score("roc_auc", YB_TRUE, y_proba=two_col, classes=CB) == pytest.approx(auc)
    ll = score("log_loss", YB_TRUE, y_proba=two_col, classes=CB)
    assert ll == pytest.approx(skm.log_loss(YB_TRUE, two_col, labels=CB))
    assert score("log_loss", YB_TRUE, y_proba=PB, classes=CB) == pytest.approx(ll)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accuracy", skm.accuracy_score(YM_TRUE, YM_PRED)),
        ("precision_macro", skm.precision_score(YM_TRUE, YM_PRED, average="macro")),
        ("recall_macro", skm.recall_score(YM_TRUE, YM_PRED, average="macro")),
        ("f1_macro", skm.f1_score(YM_TRUE, YM_PRED, average="macro")),
        ("f1_weighted", skm.f1_score(YM_TRUE, YM_PRED, average="weighted")),
    ],
)
def test_score_multiclass_label_metrics_match_sklearn(name: str, expected: float) -> None:
    assert score(name, YM_TRUE, y_pred=YM_PRED, classes=CM) == pytest.approx(expected)


def test_score_multiclass_roc_auc_is_one_vs_rest_macro() -> None:
    expected = skm.roc_auc_score(YM_TRUE, PM, multi_class="ovr", average="macro")
    assert score("roc_auc", YM_TRUE, y_proba=PM, classes=CM) == pytest.approx(expected)


def test_score_multiclass_roc_auc_averages_over_present_classes() -> None:
    keep = YM_TRUE != 2
    got = score("roc_auc", YM_TRUE[keep], y_proba=PM[keep], classes=CM)
    expected = np.mean([skm.roc_auc_score(YM_TRUE[keep] == c, PM[keep, c]) for c in (0, 1)])
    assert got == pytest.approx(expected)


def test_score_log_loss_with_class_missing_from_y_true() -> None:
    keep = YM_TRUE != 1
    got = score("log_loss", YM_TRUE[keep], y_proba=PM[keep], classes=CM)
    assert got == pytest.approx(skm.log_loss(YM_TRUE[keep], PM[keep], labels=CM))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rmse", skm.root_mean_squared_error(YR_TRUE, YR_PRED)),
        ("mae", skm.mean_absolute_error(YR_TRUE, YR_PRED)),
        ("r2", skm.r2_score(YR_TRUE, YR_PRED)),
        ("mape", skm.mean_absolute_percentage_error(YR_TRUE, YR_PRED)),
        ("rmsle", skm.root_mean_squared_log_error(YR_TRUE, YR_PRED)),
    ],
)
def test_score_regression_metrics_match_sklearn(name: str, expected: float) -> None:
    assert score(name, YR_TRUE, y_pred=YR_PRED) == pytest.approx(expected)


def test_score_missing_proba_raises() -> None:
    with pytest.raises(InvalidInputError, match="needs predicted probabilities"):
        score("roc_auc", YB_TRUE, y_pred=YB_PRED, classes=CB)


def test_score_missing_pred_raises() -> None:
    with pytest.raises(InvalidInputError, match="needs predictions"):
        score("rmse", YR_TRUE)


def test_score_proba_without_classes_raises() -> None:
    with pytest.raises(InvalidInputError, match="Pass classes="):
        score("log_loss", YB_TRUE, y_proba=PB)


def test_score_length_mismatch_raises() -> None:
    with pytest.raises(InvalidInputError, match="Got 4 predictions for 5 rows"):
        score("mae", YR_TRUE, y_pred=YR_PRED[:4])


def test_score_proba_shape_mismatch_raises() -> None:
    with pytest.raises(InvalidInputError, match=r"one column per class \(3\)"):
        score("log_loss", YM_TRUE, y_proba=PM[:, :2], classes=CM)


def test_score_binary_metric_on_multiclass_raises() -> None:
    with pytest.raises(InvalidInputError, match="use 'f1_macro' instead"):
        score("f1", YM_TRUE, y_pred=YM_PRED, classes=CM)


def test_score_roc_auc_single_class_is_undefined() -> None:
    with pytest.raises(UndefinedMetricError, match="at least two classes"):
        score("roc_auc", ["yes", "yes"], y_proba=[0.3, 0.6], classes=CB)


def test_get_metric_unknown_suggests_close_name() -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown metric 'acc'\. Did you mean 'accuracy'"):
        get_metric("acc")
    with pytest.raises(ConfigurationError, match="Metrics for binary: accuracy"):
        get_metric("nonsense")


def test_metrics_for_task_lists_only_task_metrics() -> None:
    assert "f1" in metrics_for_task("binary")
    assert "f1" not in metrics_for_task("multiclass")
    assert metrics_for_task("regression") == ["rmse", "mae", "r2", "mape", "rmsle"]
    for task in ("binary", "multiclass", "regression"):
        assert all(task in METRICS[m].tasks for m in metrics_for_task(task))
    with pytest.raises(ConfigurationError, match="Task must be one of"):
        metrics_for_task("ranking")


def test_default_metric_per_task() -> None:
    assert default_metric("binary") == "roc_auc"
    assert default_metric("multiclass") == "log_loss"
    assert default_metric("regression") == "rmse"
    for task in ("binary", "multiclass", "regression"):
        assert default_metric(task) in metrics_for_task(task)


def test_is_better_and_sign_follow_direction() -> None:
    assert sign("roc_auc") == 1 and sign("log_loss") == -1
    assert is_better("roc_auc", 0.9, 0.8)
    assert not is_better("roc_auc", 0.8, 0.9)
    assert is_better("rmse", 1.0, 2.0)
    assert not is_better("rmse", 2.0, 2.0)
    assert is_better("rmse", 5.0, math.nan)
    assert not is_better("rmse", math.nan, 5.0)


def test_score_all_binary_with_and_without_proba() -> None:
    without = score_all("binary", YB_TRUE, y_pred=YB_PRED, classes=CB)
    assert "roc_auc" not in without and "log_loss" not in without
    assert without["f1"] == pytest.approx(skm.f1_score(YB_TRUE, YB_PRED, pos_label="yes"))
    full = score_all("binary", YB_TRUE, y_pred=YB_PRED, y_proba=PB, classes=CB)
    assert set(full) == set(metrics_for_task("binary"))
    assert full["roc_auc"] == pytest.approx(skm.roc_auc_score(YB_TRUE == "yes", PB))


def test_score_all_undefined_metric_is_nan() -> None:
    out = score_all("regression", [-3.0, 2.0], y_pred=[-2.0, 2.0])
    assert math.isnan(out["rmsle"])
    assert out["mae"] == pytest.approx(0.5)


def test_score_all_multiclass_keys() -> None:
    out = score_all("multiclass", YM_TRUE, y_pred=YM_PRED, y_proba=PM, classes=CM)
    assert set(out) == set(metrics_for_task("multiclass"))
    assert out["log_loss"] == pytest.approx(skm.log_loss(YM_TRUE, PM))


def test_score_all_binary_single_observed_class_without_classes_is_nan() -> None:
    out = score_all("binary", ["yes", "yes"], y_pred=["yes", "yes"])
    assert math.isnan(out["f1"]) and out["accuracy"] == 1.0
    assert score("f1", ["yes", "yes"], y_pred=["yes", "yes"], classes=CB) == 1.0


def test_log_loss_renormalises_rows_that_do_not_quite_sum_to_one():
    import warnings

    proba = np.array([[0.7, 0.3], [0.2, 0.8]], dtype=np.float32) * np.float32(1.001)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = score("log_loss", np.array([0, 1]), y_proba=proba, classes=np.array([0, 1]))
    assert got == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2, rel=1e-6)
