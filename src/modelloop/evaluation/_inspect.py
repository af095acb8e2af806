"""What a fitted model reveals on held-out rows: permutation importance and a learning curve.

Both work on any fitted scikit-learn estimator or Pipeline that takes the raw input
columns, score with the metrics of :mod:`._metrics` by name, and stay within a time
allowance the caller gives (training keeps its time budget).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelloop.evaluation._metrics import get_metric, score, sign
from modelloop.exceptions import InvalidInputError

__all__ = ["learning_curve", "permutation_importance", "score_model", "threshold_labels"]


def threshold_labels(proba: Any, classes: Any, threshold: float | None = None) -> np.ndarray:
    """``classes[1]`` where ``proba[:, 1] >= threshold`` (binary), else the most probable class.

    The one rule that turns probabilities into labels: ``threshold`` is a binary
    classifier's decision threshold (``models.decision_threshold`` finds it in a fitted
    model), ``None`` the most probable class.

    Examples
    --------
    >>> proba = np.array([[0.7, 0.3], [0.9, 0.1]])
    >>> threshold_labels(proba, ["no", "yes"]).tolist(), threshold_labels(proba, ["no", "yes"], 0.2).tolist()
    (['no', 'no'], ['yes', 'no'])
    """
    proba = np.asarray(proba, dtype=float)
    classes = np.asarray(classes)
    if threshold is not None and proba.shape[1] == 2:
        return classes[(proba[:, 1] >= threshold).astype(int)]
    return classes[np.argmax(proba, axis=1)]


def score_model(
    model: Any, X: pd.DataFrame, y: Any, metric: str, *, threshold: float | None = None
) -> float:
    """Metric ``metric`` of ``model`` on rows ``X`` with true values ``y``.

    ``threshold``: a binary classifier's decision threshold on the probability of
    ``classes_[1]`` (``models.decision_threshold`` finds it); the most probable class when
    ``None``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"x": [0.0, 1, 2, 3]})
    >>> model = LinearRegression().fit(X, [0.0, 1, 2, 3])
    >>> round(score_model(model, X, [0.0, 1, 2, 3], "rmse"), 6)
    0.0
    """
    spec = get_metric(metric)
    if spec.needs_proba:
        return score(metric, y, y_proba=model.predict_proba(X), classes=model.classes_)
    if "regression" in spec.tasks or not hasattr(model, "predict_proba"):
        return score(metric, y, y_pred=model.predict(X))
    proba = model.predict_proba(X)
    classes = np.asarray(model.classes_)
    return score(metric, y, y_pred=threshold_labels(proba, classes, threshold), classes=classes)


def permutation_importance(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    *,
    metric: str,
    n_repeats: int = 3,
    max_rows: int = 2_000,
    time_limit: float | None = None,
    seed: int = 0,
    threshold: float | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """How much ``metric`` worsens when each input column is shuffled, on held-out rows.

    Works on the raw input columns (what the user sees), at most ``max_rows`` rows. The
    shuffled copies of several columns are scored in one ``predict`` call, so small test
    splits cost few calls. With ``time_limit`` (seconds) a repeat starts only when the
    previous one says it fits; when not every column could be shuffled once in time, the
    table is empty and ``info['skipped']`` says why.
    ``threshold`` is a binary classifier's decision threshold, as in :func:`score_model`.

    Returns
    -------
    (DataFrame, dict)
        ``feature``, ``importance`` (mean drop, larger = more important), ``std`` per
        column, largest first; and ``n_rows``, ``n_repeats``, ``baseline``, ``skipped``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=200), "noise": rng.normal(size=200)})
    >>> y = 3 * X["a"]
    >>> model = LinearRegression().fit(X, y)
    >>> table, info = permutation_importance(model, X, y, metric="rmse", n_repeats=2)
    >>> table["feature"].tolist()[0], info["n_repeats"]
    ('a', 2)
    """
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise InvalidInputError(f"n_repeats must be an integer >= 1. Got {n_repeats!r}.")
    t0 = time.monotonic()
    rng = np.random.default_rng(seed)
    y_arr = np.asarray(y)
    if len(X) > max_rows:
        keep = np.sort(rng.choice(len(X), max_rows, replace=False))
        X, y_arr = X.iloc[keep], y_arr[keep]
    X = X.reset_index(drop=True)
    n, columns = len(X), list(X.columns)
    s = sign(metric)
    baseline = score_model(model, X, y_arr, metric, threshold=threshold)
    per_column = time.monotonic() - t0  # seconds to score one shuffled copy, about
    # Columns per predict call: each call under ~2 million cells and, with a time limit,
    # under a quarter of it, so the clock is checked often enough.
    per_call = max(1, min(len(columns), 2_000_000 // max(1, n * len(columns))))
    if time_limit is not None:
        per_call = max(1, min(per_call, int(0.25 * time_limit / max(per_column, 1e-6))))
    drops = np.full((len(columns), n_repeats), np.nan)
    done, skipped = 0, ""
    for r in range(n_repeats):
        started = time.monotonic()
        if r and time_limit is not None:
            one = (started - t0) / r
            if started - t0 + one > time_limit:
                skipped = f"{r} of {n_repeats} repeats fitted in the {time_limit:.1f}s allowed"
                break
        for lo in range(0, len(columns), per_call):
            chunk_cost = per_column * min(per_call, len(columns) - lo)
            if time_limit is not None and time.monotonic() - t0 + chunk_cost > time_limit:
                skipped = (
                    f"time ran out after {lo} of {len(columns)} columns ({time_limit:.1f}s allowed)"
                )
                break
            chunk = columns[lo : lo + per_call]
            frames = []
            for column in chunk:
                shuffled = X.copy()
                shuffled[column] = X[column].iloc[rng.permutation(n)].set_axis(X.index)
                frames.append(shuffled)
            big = pd.concat(frames, ignore_index=True)
            scores = _chunk_scores(model, big, y_arr, metric, len(chunk), threshold)
            for k, value in enumerate(scores):
                drops[lo + k, r] = s * (baseline - value)
        if skipped:
            break
        done = r + 1
    table = pd.DataFrame(
        {
            "feature": [str(c) for c in columns],
            "importance": [_nan_stat(np.nanmean, row) for row in drops],
            "std": [_nan_stat(np.nanstd, row) for row in drops],
        }
    )
    if done == 0:  # not every column was shuffled once: a partial ranking would mislead
        table = table.iloc[0:0]
    table = table.dropna(subset=["importance"])
    table = table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    info: dict[str, Any] = {"n_rows": n, "n_repeats": done, "baseline": baseline}
    info["skipped"] = skipped
    return table, info


def _nan_stat(func: Any, row: np.ndarray) -> float:
    return float(func(row)) if np.isfinite(row).any() else float("nan")


def _chunk_scores(
    model: Any, big: pd.DataFrame, y: np.ndarray, metric: str, k: int, threshold: float | None
) -> list[float]:
    """Score ``k`` stacked copies of the rows (one predict call), one score per copy."""
    n = len(y)
    spec = get_metric(metric)
    out = []
    if spec.needs_proba or ("regression" not in spec.tasks and hasattr(model, "predict_proba")):
        proba = np.asarray(model.predict_proba(big))
        classes = np.asarray(model.classes_)
        for i in range(k):
            part = proba[i * n : (i + 1) * n]
            try:
                if spec.needs_proba:
                    out.append(score(metric, y, y_proba=part, classes=classes))
                else:
                    pred = threshold_labels(part, classes, threshold)
                    out.append(score(metric, y, y_pred=pred, classes=classes))
            except InvalidInputError:
                out.append(float("nan"))
        return out
    pred = np.asarray(model.predict(big))
    for i in range(k):
        try:
            out.append(score(metric, y, y_pred=pred[i * n : (i + 1) * n]))
        except InvalidInputError:
            out.append(float("nan"))
    return out


def learning_curve(
    model: Any,
    X_train: pd.DataFrame,
    y_train: Any,
    X_test: pd.DataFrame,
    y_test: Any,
    *,
    metric: str,
    fractions: Sequence[float] = (0.1, 0.25, 0.5),
    stratify: bool = False,
    max_score_rows: int = 2_000,
    time_limit: float | None = None,
    fit_time: float | None = None,
    seed: int = 0,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Score of ``model``'s configuration refitted on growing shares of the training rows.

    ``model`` is fitted on all of ``X_train`` already: it is the last point, not refitted.
    A share that cannot be fitted (too few rows of a class, a failing fit) is left out.
    Train and test scores use at most ``max_score_rows`` rows. With ``time_limit``
    (seconds), a share is fitted only when the time of the last fit (at first
    ``fit_time``, the full fit's seconds), scaled by rows, says it fits.
    ``threshold`` is a binary classifier's decision threshold, as in :func:`score_model`.

    Returns
    -------
    DataFrame
        ``n_train``, ``train_score``, ``test_score`` per share, smallest first; empty
        when no share could be fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"x": np.arange(100.0)}); y = 2 * X["x"]
    >>> model = LinearRegression().fit(X, y)
    >>> learning_curve(model, X, y, X, y, metric="mae", fractions=(0.5,))["n_train"].tolist()
    [50, 100]
    """
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    t0 = time.monotonic()
    if _holds_frozen(model):  # its frozen parts would not be refitted on a share
        return pd.DataFrame(columns=["n_train", "train_score", "test_score"])
    y_arr = np.asarray(y_train)
    y_test = np.asarray(y_test)
    if len(X_test) > max_score_rows:  # the same test rows for every point
        keep = np.random.default_rng(seed).choice(len(X_test), max_score_rows, replace=False)
        X_test, y_test = X_test.iloc[np.sort(keep)], y_test[np.sort(keep)]
    rows = []
    # Seconds per training row of a fit: from ``fit_time`` (the full fit) until measured.
    per_row = None if not fit_time else fit_time / max(len(X_train), 1)
    for frac in sorted(f for f in fractions if 0.0 < f < 1.0):
        n = round(frac * len(X_train))
        if n < 20:
            continue
        if (
            time_limit is not None
            and per_row is not None
            and time.monotonic() - t0 + per_row * n > time_limit
        ):
            break
        started = time.monotonic()
        try:
            X_sub, _, y_sub, _ = train_test_split(
                X_train,
                y_arr,
                train_size=n,
                random_state=seed,
                stratify=y_arr if stratify else None,
            )
            fitted = clone(model).fit(X_sub, y_sub)
            point = _point(fitted, X_sub, y_sub, X_test, y_test, metric, max_score_rows, threshold)
            rows.append(point)
        except Exception:  # a share too small for this model: leave the point out
            continue
        per_row = (time.monotonic() - started) / n
    if rows:  # one point alone is no curve
        rows.append(
            _point(model, X_train, y_arr, X_test, y_test, metric, max_score_rows, threshold)
        )
    return pd.DataFrame(rows, columns=["n_train", "train_score", "test_score"])


def _holds_frozen(model: Any) -> bool:
    """Whether ``model`` holds a ``FrozenEstimator`` (kept as fitted by every ``fit``), as
    a bag of fold models does: refitting its clone on fewer rows refits nothing."""
    from sklearn.base import BaseEstimator
    from sklearn.frozen import FrozenEstimator

    if isinstance(model, FrozenEstimator):
        return True
    if isinstance(model, list | tuple):
        return any(_holds_frozen(v) for v in model)
    if isinstance(model, BaseEstimator):
        return any(_holds_frozen(v) for v in model.get_params(deep=False).values())
    return False


def _point(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    X_test: pd.DataFrame,
    y_test: Any,
    metric: str,
    max_rows: int,
    threshold: float | None = None,
) -> dict[str, float]:
    n = len(X)
    if n > max_rows:
        X, y = X.iloc[:max_rows], y[:max_rows]
    return {
        "n_train": n,
        "train_score": score_model(model, X, y, metric, threshold=threshold),
        "test_score": score_model(model, X_test, y_test, metric, threshold=threshold),
    }
