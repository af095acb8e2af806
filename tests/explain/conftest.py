"""A small table with a column of every role (and missing values), and fitted models on it."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelloop.data import ColumnSchema, Role, Schema

N_ROWS = 240
WORDS = ("red", "blue", "fast", "slow", "big", "small", "old", "new", "good", "bad")


def mixed_frame(n: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """Numeric (with gaps), boolean, low- and high-cardinality categorical (with gaps),
    datetime and free text columns; ``y`` (regression), ``label`` (binary) and ``kind``
    (three classes) depend on several of them."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, n)
    age[rng.random(n) < 0.1] = np.nan
    income = rng.lognormal(10, 0.5, n)
    member = rng.random(n) < 0.4
    city = rng.choice(["Oslo", "Rome", "Lima", "Pune"], n)
    city = np.where(rng.random(n) < 0.08, None, city)
    shop = rng.choice([f"shop{i:02d}" for i in range(30)], n)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    note = [" ".join(rng.choice(WORDS, rng.integers(2, 7))) for _ in range(n)]
    shop_effect = (np.array([int(s[4:]) for s in shop]) % 5) / 2.0
    score = (
        0.05 * np.nan_to_num(age, nan=40.0)
        + 1.5 * member
        + np.where(city == "Rome", 1.0, 0.0)
        + shop_effect
        + np.array(["fast" in t for t in note]) * 1.0
        + 0.002 * (day - day.min()).days.to_numpy()
        + rng.normal(0, 0.5, n)
    )
    frame = pd.DataFrame(
        {
            "age": age,
            "income": income,
            "member": np.where(member, "yes", "no"),
            "city": city,
            "shop": shop,
            "day": day.strftime("%Y-%m-%d"),
            "note": note,
        }
    )
    frame["y"] = score * 10
    frame["label"] = np.where(score > np.median(score), "high", "low")
    frame["kind"] = np.array(["a", "b", "c"])[np.digitize(score, np.quantile(score, [0.33, 0.66]))]
    return frame


def mixed_schema(target: str) -> Schema:
    columns = (
        ColumnSchema("age", Role.NUMERIC, "float64", n_missing=1),
        ColumnSchema("income", Role.NUMERIC, "float64"),
        ColumnSchema("member", Role.BOOLEAN, "object", categories=("no", "yes"), n_unique=2),
        ColumnSchema("city", Role.CATEGORICAL, "object", n_unique=4,
                     categories=("Lima", "Oslo", "Pune", "Rome")),
        ColumnSchema("shop", Role.CATEGORICAL, "object", n_unique=30),
        ColumnSchema("day", Role.DATETIME, "datetime64[ns]", format="%Y-%m-%d"),
        ColumnSchema("note", Role.TEXT, "object", n_unique=200),
        ColumnSchema("y", Role.NUMERIC, "float64"),
        ColumnSchema("label", Role.CATEGORICAL, "object", categories=("high", "low")),
        ColumnSchema("kind", Role.CATEGORICAL, "object", categories=("a", "b", "c")),
    )  # fmt: skip
    others = {"y", "label", "kind"} - {target}
    return Schema(tuple(c for c in columns if c.name not in others), target=target)


TARGETS = {"binary": "label", "multiclass": "kind", "regression": "y"}
FEATURES = ["age", "income", "member", "city", "shop", "day", "note"]


def small(name: str, task: str, seed: int = 0) -> Any:
    """The catalog's estimator, made small enough for a quick test."""
    from modelloop.models import get_spec

    est = get_spec(name, task).make(task, seed=seed)
    sizes = {
        "lightgbm": {"n_estimators": 30},
        "xgboost": {"n_estimators": 30},
        "catboost": {"iterations": 30},
        "random_forest": {"n_estimators": 20},
        "extra_trees": {"n_estimators": 20},
        "hist_gradient_boosting": {"max_iter": 30},
        "mlp_torch": {"max_epochs": 3},
    }
    if name in sizes:
        est.set_params(**sizes[name])
    return est


_FITTED: dict[tuple[Any, ...], tuple[pd.DataFrame, Any]] = {}


def fitted(
    name: str, task: str, frame: pd.DataFrame, *, wrap: Any = None, seed: int = 0,
    fit_task: str | None = None,
) -> Any:  # fmt: skip
    """``features.make_pipeline`` around the catalog's (small) estimator, fitted on
    ``frame`` as the search fits it (XGBoost classifiers on label codes). Unwrapped models
    are fitted once per frame. ``fit_task`` fits a multiclass target's two-class subset."""
    key = (name, task, seed, id(frame), fit_task)
    if wrap is None and key in _FITTED and _FITTED[key][0] is frame:
        return _FITTED[key][1]
    model = _fit(name, task, frame, wrap, seed, fit_task or task)
    if wrap is None:
        _FITTED[key] = (frame, model)
    return model


def _fit(name: str, task: str, frame: pd.DataFrame, wrap: Any, seed: int, fit_task: str) -> Any:
    from modelloop.features import make_pipeline
    from modelloop.models import get_spec

    est = small(name, fit_task, seed)
    if wrap is not None:
        est = wrap(est)
    pipe = make_pipeline(
        mixed_schema(TARGETS[task]), get_spec(name, task).family, est, task=fit_task
    )
    y = frame[TARGETS[task]]
    if name == "xgboost" and task != "regression":
        y = pd.Series(np.unique(y, return_inverse=True)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipe.fit(frame[FEATURES], y)


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return mixed_frame()


def output_of(model: Any, X: pd.DataFrame, task: str, output: str, classes: Any) -> np.ndarray:
    """What an explanation of ``output`` must add up to, per row, for ``classes`` (one per
    row: the class explained)."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    known = list(np.asarray(model.classes_).tolist())
    idx = np.array([known.index(c) for c in classes])
    p = proba[np.arange(len(X)), idx]
    if output == "probability":
        return p
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One OpenMP / BLAS thread, as the search's workers fit: on a busy machine threads
    that wait for a core make histogram boosting fits many times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
