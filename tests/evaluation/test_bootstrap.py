from __future__ import annotations

import numpy as np
import pytest

from modelloop.evaluation import bootstrap_ci, score
from modelloop.evaluation._bootstrap import _auc_vectorised, _label_vectorised, _vectorised
from modelloop.exceptions import InvalidInputError

RNG = np.random.default_rng(0)
Y_REG = RNG.normal(size=300)
P_REG = Y_REG + RNG.normal(scale=0.5, size=300)
Y_BIN = RNG.integers(0, 2, size=300)
P_BIN = np.clip(Y_BIN * 0.4 + RNG.uniform(0, 0.6, size=300), 0, 1)


@pytest.mark.parametrize("name", ["rmse", "mae", "r2", "mape"])
def test_bootstrap_ci_contains_point_estimate(name: str) -> None:
    point = score(name, Y_REG, y_pred=P_REG)
    low, high = bootstrap_ci(name, Y_REG, y_pred=P_REG, n_boot=300)
    assert low < point < high
    assert high - low < abs(point)  # not absurdly wide on 300 rows


@pytest.mark.parametrize("name", ["accuracy", "rmse", "mae", "r2", "mape"])
def test_bootstrap_fast_path_matches_metric(name: str) -> None:
    idx = np.random.default_rng(1).integers(0, 300, size=(5, 300))
    y, p = (Y_BIN, (P_BIN > 0.5).astype(int)) if name == "accuracy" else (Y_REG, P_REG)
    fast = _vectorised(name, y.astype(float), p.astype(float), idx)
    slow = [score(name, y[i], y_pred=p[i]) for i in idx]
    np.testing.assert_allclose(fast, slow)


LABEL_METRICS = ["balanced_accuracy", "precision", "recall", "f1", "precision_macro",
                 "recall_macro", "f1_macro", "f1_weighted"]  # fmt: skip


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize(
    ("name", "k"),
    [
        (name, k)
        for name in [*LABEL_METRICS, "roc_auc"]
        for k in (2, 3)
        if k == 2 or name not in ("precision", "recall", "f1")
    ],
)
def test_bootstrap_label_and_auc_fast_paths_match_the_metric(name: str, k: int) -> None:
    rng = np.random.default_rng(k)
    classes = np.array(["no", "yes", "maybe"][:k], dtype=object)
    # 40 rows, one class rare: some resamples miss it, some predictions are constant
    codes = rng.choice(k, size=40, p=[0.6, 0.37, 0.03][:k] / np.sum([0.6, 0.37, 0.03][:k]))
    y = classes[codes]
    proba = rng.dirichlet(np.ones(k), size=40)
    proba[:, 0] = np.round(proba[:, 0], 1)  # ties in the scores
    proba /= proba.sum(axis=1, keepdims=True)
    pred = classes[np.where(rng.uniform(size=40) < 0.7, codes, rng.integers(0, k, 40))]
    idx = rng.integers(0, 40, size=(60, 40))
    if name == "roc_auc":
        fast = _auc_vectorised(y, proba, classes, idx)
    else:
        fast = _label_vectorised(name, y, pred, classes, idx)
    slow = []
    for i in idx:
        try:
            if name == "roc_auc":
                slow.append(score(name, y[i], y_proba=proba[i], classes=classes))
            else:
                slow.append(score(name, y[i], y_pred=pred[i], classes=classes))
        except ValueError:  # undefined on this resample (one class only)
            slow.append(np.nan)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


def test_bootstrap_ci_proba_metric_and_reproducible() -> None:
    a = bootstrap_ci("roc_auc", Y_BIN, y_proba=P_BIN, classes=[0, 1], n_boot=50, seed=3)
    b = bootstrap_ci("roc_auc", Y_BIN, y_proba=P_BIN, classes=[0, 1], n_boot=50, seed=3)
    assert a == b
    point = score("roc_auc", Y_BIN, y_proba=P_BIN, classes=[0, 1])
    assert a[0] < point < a[1]


def test_bootstrap_ci_smaller_alpha_gives_wider_interval() -> None:
    narrow = bootstrap_ci("mae", Y_REG, y_pred=P_REG, alpha=0.5)
    wide = bootstrap_ci("mae", Y_REG, y_pred=P_REG, alpha=0.01)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


def test_bootstrap_ci_bad_arguments_raise() -> None:
    with pytest.raises(InvalidInputError, match="n_boot must be a positive integer"):
        bootstrap_ci("mae", Y_REG, y_pred=P_REG, n_boot=0)
    with pytest.raises(InvalidInputError, match="alpha must be in"):
        bootstrap_ci("mae", Y_REG, y_pred=P_REG, alpha=1.5)
