"""Trials run in a separate worker process, so a fit that would overrun is stopped, not awaited.

The parent sends the training data to one long-lived worker once, then one job per trial
(a model name and its parameters). The worker cross-validates the configuration on the
shared folds and streams each fold's score back. When a trial's time limit passes the
parent kills the worker (and starts a fresh one for the next trial): nothing in a
scikit-learn, LightGBM or CatBoost fit can be interrupted from inside its own process.

The worker is started with ``spawn``: forking a process whose OpenMP runtime has already
run (LightGBM, XGBoost, HistGradientBoosting) makes the child hang on its first fit.
"""

from __future__ import annotations

import math
import pickle
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from modelloop._spare import preload, spawn, take_spare
from modelloop.data import Schema, Task
from modelloop.evaluation import get_metric, install_metric, score
from modelloop.exceptions import ConfigurationError
from modelloop.features import make_pipeline
from modelloop.models import (
    LOG1P,
    FoldBag,
    LogTargetRegressor,
    TemperatureScaled,
    get_spec,
    log_target,
    predicted_labels,
    with_threshold,
)
from modelloop.tuning._records import TARGET_TRANSFORM, TEMPERATURE, THRESHOLD
from modelloop.tuning._validation import Validation

__all__ = [
    "BOOSTERS",
    "TARGET_TRANSFORM",
    "TEMPERATURE",
    "THRESHOLD",
    "Job",
    "Outcome",
    "Worker",
    "build_pipeline",
    "early_stopping_split",
    "fit_weighted",
    "measure_speed",
    "model_size_mb",
    "refit_estimator_params",
    "run_request",
]

# Boosted trees that get early stopping on a slice of each training fold.
BOOSTERS = {"lightgbm": "n_estimators", "xgboost": "n_estimators", "catboost": "iterations"}
_ES_ROUNDS = 50
_ES_MIN_ROWS = 200


@dataclass(frozen=True)
class Job:
    """One trial: a catalog model with estimator parameters, evaluated on every fold."""

    number: int
    model: str
    params: dict[str, Any]
    prune_below: float | None = None  # a score: stop after a fold when the mean is worse
    measure_latency: bool = True


@dataclass
class Outcome:
    """What a trial produced (also built by the parent for a trial it had to stop)."""

    number: int
    model: str
    params: dict[str, Any]
    status: str  # 'ok', 'pruned' or 'failed'
    fold_scores: list[float] = field(default_factory=list)
    fit_times: list[float] = field(default_factory=list)
    best_iterations: list[int] = field(default_factory=list)
    oof: np.ndarray | None = None
    reason: str = ""
    latency_ms: float | None = None
    rows_per_s: float | None = None
    size_mb: float | None = None  # the fold model's pickled size, scaled to all rows
    duration: float = 0.0


def build_pipeline(
    schema: Schema,
    task: Task,
    model: str,
    params: dict[str, Any],
    *,
    seed: int,
    n_jobs: int,
    time_ordered: bool = False,
) -> Pipeline:
    """``features.make_pipeline`` around the catalog estimator with ``params`` set.

    ``params["text_features"]`` (``"tfidf"`` or ``"embedding"``), when present, is not an
    estimator parameter: it chooses how text columns are featurized. Nor is
    ``params[TEMPERATURE]``: the estimator is wrapped in ``models.TemperatureScaled``; nor
    ``params[THRESHOLD]``: then wrapped (outermost) by ``models.with_threshold``; nor
    ``params[TARGET_TRANSFORM]`` (``"log1p"``): a regressor wrapped in
    ``models.LogTargetRegressor``, fitted on ``log1p(y)`` and predicting ``expm1``.

    ``time_ordered``: the rows it will be fitted on come in time order; a model that holds
    out rows of its own to stop early (the PyTorch network) holds out the last, the latest.
    """
    spec = get_spec(model, task)
    estimator = spec.make(task, seed=seed, n_jobs=n_jobs)
    if time_ordered and "validation_split" in estimator.get_params():
        estimator.set_params(validation_split="last")
    params = dict(params)
    text_features = params.pop("text_features", "tfidf")
    temperature = params.pop(TEMPERATURE, None)
    threshold = params.pop(THRESHOLD, None)
    transform = params.pop(TARGET_TRANSFORM, None)
    if params:
        estimator.set_params(**params)
    if transform is not None:
        if transform != LOG1P or task != "regression":
            raise ConfigurationError(
                f"The '{TARGET_TRANSFORM}' parameter must be {LOG1P!r}, for a regression "
                f"task. Got {transform!r} for a {task} task."
            )
        estimator = LogTargetRegressor(estimator)
    if temperature is not None:
        estimator = TemperatureScaled(estimator, temperature=float(temperature))
    if threshold is not None:
        estimator = with_threshold(estimator, float(threshold))
    return make_pipeline(schema, spec.family, estimator, task=task, text_features=text_features)


def refit_estimator_params(outcome: Outcome) -> dict[str, Any]:
    """The trial's parameters, with the early-stopped number of rounds for a refit."""
    params = dict(outcome.params)
    if outcome.model in BOOSTERS and outcome.best_iterations:
        # A refit sees 1/(k-1) more rows than a fold fit: a few more rounds help.
        rounds = int(np.mean(outcome.best_iterations) * 1.1) + 1
        params[BOOSTERS[outcome.model]] = max(10, rounds)
    return params


# ------------------------------------------------------------------ inside the worker


class _Context:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.X: pd.DataFrame = payload["X"]
        self.y: np.ndarray = payload["y"]
        self.schema: Schema = payload["schema"]
        self.task: Task = payload["task"]
        install_metric(payload.get("custom_metric"))  # a user's metric, by name from here on
        self.metric: str = payload["metric"]
        self.folds = payload["folds"]
        self.seed: int = payload["seed"]
        # group or time validation, aligned with X: early-stopping slices follow it
        self.validation: Validation | None = payload.get("validation")
        # the search puts the rows in time order under a time validation (see ``search``)
        self.time_ordered = self.validation is not None and self.validation.kind == "time"
        # Rows the folds index (the first ones); the rest only join the refit.
        self.n_search: int = int(payload.get("n_search") or len(self.y))
        # One thread: OpenMP threads that spin while waiting for a busy core slow LightGBM
        # down 50x on a loaded machine, and on small data threads cost more than they bring.
        # (Running trials in parallel workers is how the cores should be used.)
        self.n_jobs: int = 1
        self.classes = None if self.task == "regression" else np.unique(self.y[: self.n_search])
        self.y_codes = (
            None if self.classes is None else np.searchsorted(self.classes, self.y).astype(int)
        )
        self.greater = get_metric(self.metric).greater_is_better
        self.sample_weight: np.ndarray | None = payload.get("sample_weight")

    def weights(self, rows: Any = None) -> np.ndarray | None:
        """The sample weights of ``rows`` (all rows: ``None``), or ``None`` without weights."""
        if self.sample_weight is None:
            return None
        return self.sample_weight if rows is None else self.sample_weight[rows]

    def labels(self, model: str) -> np.ndarray:
        # XGBoost wants labels 0..K-1; the others take the user's labels as they are.
        if model == "xgboost" and self.y_codes is not None:
            return self.y_codes
        return self.y


def early_stopping_split(
    X: pd.DataFrame,
    y: np.ndarray,
    task: str,
    seed: int,
    validation: Validation | None = None,
    rows: np.ndarray | None = None,
    *,
    sample_weight: np.ndarray | None = None,
) -> list[Any]:
    """The rows a booster trains on and the 10 % slice it stops early on:
    ``[X_fit, X_es, y_fit, y_es]`` (with ``sample_weight``, aligned with ``X``, then
    ``[w_fit, w_es]``), stratified by class where the classes allow.

    With a group or time ``validation`` (its arrays indexed by ``rows``, the positions of
    ``X``'s rows) the slice is whole groups, or the latest rows: a slice drawn at random
    from a time-ordered fold would let the booster choose its rounds on rows that lie
    between its training rows, and score them as if it had seen the future.
    """
    more = () if sample_weight is None else (np.asarray(sample_weight),)
    if validation is not None and validation.kind != "random" and rows is not None:
        split = validation.early_stopping(np.asarray(rows), 0.1, seed)
        if split is not None and len(split[0]) and len(split[1]):
            fit, stop = split
            out = [X.iloc[fit], X.iloc[stop], y[fit], y[stop]]
            return out + [w for m in more for w in (m[fit], m[stop])]
    stratify = y if task != "regression" else None
    try:
        return train_test_split(X, y, *more, test_size=0.1, random_state=seed, stratify=stratify)
    except ValueError:  # a class too rare to stratify
        return train_test_split(X, y, *more, test_size=0.1, random_state=seed)


def fit_weighted(pipeline: Pipeline, X: Any, y: Any, sample_weight: np.ndarray | None) -> Any:
    """``pipeline.fit(X, y)``, with ``sample_weight`` routed to its last step (the model)."""
    if sample_weight is None:
        return pipeline.fit(X, y)
    return pipeline.fit(X, y, **{f"{pipeline.steps[-1][0]}__sample_weight": sample_weight})


def _fit(ctx: _Context, job: Job, pipeline: Pipeline, rows: np.ndarray, y: np.ndarray):
    """Fit ``pipeline`` on the rows at positions ``rows`` (``y``: their labels), with their
    sample weights if the search has any; boosted trees stop early on a 10 % slice.
    Returns (model, rounds)."""
    X = ctx.X.iloc[rows]
    w = ctx.weights(rows)
    if job.model not in BOOSTERS or len(X) < _ES_MIN_ROWS:
        return fit_weighted(pipeline, X, y, w), None
    parts = early_stopping_split(X, y, ctx.task, ctx.seed, ctx.validation, rows, sample_weight=w)
    X_fit, X_es, y_fit, y_es = parts[:4]
    w_fit, w_es = parts[4:] if w is not None else (None, None)
    weighted = {} if w_fit is None else {"sample_weight": w_fit}
    # fit_transform, as Pipeline.fit does: a cross-fitted encoder (the target encoding of
    # high-cardinality columns) gives each training row an encoding learned without its own
    # label. fit() then transform() would encode every row with its own label in it, and a
    # booster fed those columns learns the leak and scores far worse on unseen rows.
    pre = Pipeline(pipeline.steps[:-1])
    A = pre.fit_transform(X_fit, y_fit)
    B = pre.transform(X_es)
    est = pipeline.steps[-1][1]
    wrapper = est if isinstance(est, LogTargetRegressor) else None
    if wrapper is not None:  # stop early on the scale the booster learns
        est, y_raw = clone(wrapper.regressor), y_fit
        y_fit, y_es = log_target(y_fit), log_target(y_es)
    if job.model == "lightgbm":
        import lightgbm

        est.fit(
            A,
            y_fit,
            eval_set=[(B, y_es)],
            callbacks=[lightgbm.early_stopping(_ES_ROUNDS, verbose=False)],
            **weighted,
            **({} if w_es is None else {"eval_sample_weight": [w_es]}),
        )
        rounds = int(est.best_iteration_ or est.n_estimators)
    elif job.model == "xgboost":
        est.set_params(early_stopping_rounds=_ES_ROUNDS)
        est.fit(
            A,
            y_fit,
            eval_set=[(B, y_es)],
            verbose=False,
            **weighted,
            **({} if w_es is None else {"sample_weight_eval_set": [w_es]}),
        )
        rounds = int(est.best_iteration) + 1
    else:  # catboost
        # the stopping slice is unweighted here: its rows only choose the number of rounds
        est.fit(A, y_fit, eval_set=(B, y_es), early_stopping_rounds=_ES_ROUNDS, **weighted)
        rounds = int(est.get_best_iteration() or 0) + 1
    if wrapper is not None:
        est = LogTargetRegressor.from_fitted(est, y_raw)
    return Pipeline([*pre.steps, ("model", est)]), rounds


def _predict(ctx: _Context, job: Job, model: Any, X: pd.DataFrame):
    if ctx.classes is None:  # regression
        return np.asarray(model.predict(X), dtype=float), None
    proba = _placed(
        ctx, model.predict_proba(X), _class_columns(ctx, model, codes=job.model == "xgboost")
    )
    return ctx.classes[np.argmax(proba, axis=1)], proba


def _class_columns(ctx: _Context, fitted: Any, *, codes: bool = False) -> np.ndarray:
    """The position in ``ctx.classes`` of each column of ``fitted.predict_proba``.

    A fold may miss a rare class; with ``codes`` the model learned the label codes 0..K-1
    (XGBoost fitted directly, not inside a voting wrapper), which are the positions.
    """
    assert ctx.classes is not None  # asked of classifiers only
    named = np.asarray(fitted.classes_)
    return named.astype(int) if codes else np.searchsorted(ctx.classes, named)


def _placed(ctx: _Context, proba: Any, columns: np.ndarray) -> np.ndarray:
    """``proba`` with one column per class of ``ctx.classes`` (0 for a class it lacks)."""
    assert ctx.classes is not None  # asked of classifiers only
    proba = np.asarray(proba, dtype=float)
    if np.array_equal(columns, np.arange(len(ctx.classes))):
        return proba
    full = np.zeros((len(proba), len(ctx.classes)))
    full[:, columns] = proba
    return full


def measure_speed(
    model: Any, X: pd.DataFrame, task: str, *, batches: int = 1
) -> tuple[float, float]:
    """Median milliseconds for one row (of 5 calls), and rows per second on a batch of
    10,000 rows drawn from ``X`` (seed 0): the ``latency_ms`` and ``rows_per_s`` the search
    records. With ``batches`` > 1 the batch is timed that many times and the fastest counts
    (a busy machine only ever slows a call down). Classifiers are timed on
    ``predict_proba``, regressors on ``predict``."""
    call = model.predict if task == "regression" else model.predict_proba
    one = X.iloc[[0]]
    times = []
    for _ in range(5):
        t = time.perf_counter()
        call(one)
        times.append(time.perf_counter() - t)
    batch = X.iloc[np.random.default_rng(0).integers(0, len(X), 10_000)]
    fastest = math.inf
    for _ in range(batches):
        t = time.perf_counter()
        call(batch)
        fastest = min(fastest, time.perf_counter() - t)
    return float(np.median(times) * 1000), float(10_000 / max(fastest, 1e-9))


def model_size_mb(model: Any) -> float:
    """Megabytes ``model`` takes when saved: its pickled size, compressed as quickly as
    zlib can. The store's model file (skops, deflated) comes within about 10 % of it (a
    random forest on spambase: 3.5 MB this way, 3.4 MB on disk, 14.2 MB pickled)."""
    import zlib

    return len(zlib.compress(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), 1)) / 1e6


def _run_trial(ctx: _Context, job: Job, conn: Any) -> Outcome:
    started = time.perf_counter()
    spec = get_metric(ctx.metric)
    width = 1 if ctx.classes is None else len(ctx.classes)  # None: regression
    oof = np.full((ctx.n_search, width), np.nan)
    out = Outcome(job.number, job.model, dict(job.params), "ok")
    base = build_pipeline(
        ctx.schema, ctx.task, job.model, job.params, seed=ctx.seed, n_jobs=ctx.n_jobs,
        time_ordered=ctx.time_ordered,
    )  # fmt: skip
    y_fit = ctx.labels(job.model)
    for i, (tr, va) in enumerate(ctx.folds):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # per-fold convergence chatter is not actionable
            model, rounds = _fit(ctx, job, clone(base), tr, y_fit[tr])
        out.fit_times.append(time.perf_counter() - t)
        if rounds is not None:
            out.best_iterations.append(rounds)
        pred, proba = _predict(ctx, job, model, ctx.X.iloc[va])
        oof[va] = pred[:, None] if proba is None else proba
        s = float(
            score(
                ctx.metric,
                ctx.y[va],
                y_pred=pred,
                y_proba=proba if spec.needs_proba else None,
                classes=ctx.classes,
                sample_weight=ctx.weights(va),
            )
        )
        out.fold_scores.append(s)
        if i == 0 and job.measure_latency:
            out.latency_ms, out.rows_per_s = measure_speed(model, ctx.X.iloc[va], ctx.task)
            out.size_mb = model_size_mb(model) * len(ctx.folds) / max(len(ctx.folds) - 1, 1)
        conn.send(("fold", (i, s)))
        mean = float(np.mean(out.fold_scores))
        if (
            job.prune_below is not None
            and i < len(ctx.folds) - 1
            and (mean < job.prune_below if ctx.greater else mean > job.prune_below)
        ):
            out.status = "pruned"
            out.reason = f"mean {mean:.4g} after {i + 1} folds, worse than {job.prune_below:.4g}"
            break
    if out.status == "ok":
        out.oof = oof
    out.duration = time.perf_counter() - started
    return out


def _refit(
    ctx: _Context,
    members: list[tuple[str, str, dict]],
    weights: list[float] | None,
    rows: np.ndarray | None = None,
    threshold: float | None = None,
):
    """The candidate fitted on every row (or on ``rows``): one pipeline, or a voting blend
    (wrapped by ``models.with_threshold`` when the blend has its own ``threshold``)."""
    from modelloop.tuning._ensemble import build_ensemble, fit_voting

    times = None if ctx.validation is None else ctx.validation.times
    if rows is None and times is not None:  # oldest first, as the folds saw them
        rows = np.argsort(times, kind="stable")
    X = ctx.X if rows is None else ctx.X.iloc[rows]
    y = ctx.y if rows is None else ctx.y[rows]
    w = ctx.weights(rows)
    encoded = weights is None and members[0][1] == "xgboost" and ctx.task != "regression"
    if encoded:
        threshold = members[0][2].get(THRESHOLD)
    if encoded and threshold is not None:  # the voting wrapper predicts the argmax: wrap it
        name, model, params = members[0]
        members = [(name, model, {k: v for k, v in params.items() if k != THRESHOLD})]
    pipes = [
        (
            name,
            build_pipeline(
                ctx.schema,
                ctx.task,
                model,
                params,
                seed=ctx.seed,
                n_jobs=ctx.n_jobs,
                time_ordered=ctx.time_ordered,
            ),
        )
        for name, model, params in members
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if weights is None and not encoded:
            return fit_weighted(pipes[0][1], X, y, w)
        # A voting ensemble label-encodes the target for its members (XGBoost needs that).
        voting = build_ensemble(pipes, weights or [1.0], ctx.task)
        if threshold is not None and w is not None:  # the search tunes none with weights
            raise ValueError("A tuned decision threshold is never fitted with sample weights.")
        if threshold is not None:
            return with_threshold(voting, float(threshold)).fit(X, y)
        return fit_voting(voting, X, y, w)


def _bag(
    ctx: _Context,
    members: list[tuple[str, str, dict, float]],
    threshold: float | None,
    folds: list[np.ndarray] | None = None,
) -> FoldBag:
    """Each member fitted as in its trial on each fold's training rows, kept as a ``FoldBag``.

    ``members`` are ``(name, model, trial params, weight)``; a member's ``TEMPERATURE`` is
    applied to its fold models' probabilities, as the search scored them. ``folds`` are
    training-row indices (default: the search's folds, so the fold models are the very
    models behind the trial's out-of-fold score).
    """
    folds = [tr for tr, _ in ctx.folds] if folds is None else folds
    estimators: list[Any] = []
    weights: list[float] = []
    columns: list[np.ndarray] = []
    temperatures: list[float | None] = []
    for _name, model, params, weight in members:
        temperature = params.get(TEMPERATURE)
        job = Job(0, model, {k: v for k, v in params.items() if k not in (TEMPERATURE, THRESHOLD)})
        base = build_pipeline(
            ctx.schema, ctx.task, model, job.params, seed=ctx.seed, n_jobs=ctx.n_jobs
        )
        y_fit = ctx.labels(model)
        for tr in folds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted, _ = _fit(ctx, job, clone(base), tr, y_fit[tr])
            estimators.append(FrozenEstimator(fitted))  # kept as fitted on its fold
            weights.append(weight / len(folds))
            temperatures.append(None if temperature is None else float(temperature))
            if ctx.classes is not None:
                columns.append(_class_columns(ctx, fitted, codes=model == "xgboost"))
    classified = ctx.classes is not None
    searched = slice(0, ctx.n_search)  # the rows whose labels are the search's classes
    return FoldBag(
        estimators,
        weights,
        columns=columns if classified else None,
        temperatures=temperatures if classified else None,
        threshold=threshold,
    ).fit(ctx.X.iloc[searched], ctx.y[searched])


def _holdout_score(ctx: _Context, model: Any, rows: np.ndarray) -> float:
    """The metric of ``model`` on the training rows ``rows`` (which it did not see)."""
    X, y, w = ctx.X.iloc[rows], ctx.y[rows], ctx.weights(rows)
    if ctx.task == "regression":
        pred = np.asarray(model.predict(X), dtype=float)
        return float(score(ctx.metric, y, y_pred=pred, sample_weight=w))
    # a refit or a bag speaks the user's labels (a voting wrapper encodes XGBoost's)
    proba = _placed(ctx, model.predict_proba(X), _class_columns(ctx, model))
    pred = predicted_labels(model, proba, ctx.classes)
    needs = get_metric(ctx.metric).needs_proba
    return float(
        score(
            ctx.metric,
            y,
            y_pred=pred,
            y_proba=proba if needs else None,
            classes=ctx.classes,
            sample_weight=w,
        )
    )


def _bag_check(
    ctx: _Context,
    bag_members: list[tuple[str, str, dict, float]],
    refit_members: list[tuple[str, str, dict]],
    weights: list[float] | None,
    threshold: float | None,
    outer: list[int],
) -> list[tuple[float, float]]:
    """Fold models against one refit, scored on held-out folds neither saw.

    For each fold ``o`` in ``outer``, its rows are held out; on the other rows the candidate
    is fitted both ways, as the final model would be on all rows: as fold models on the
    remaining folds (``_bag``) and as one model on all of them (``_refit``). Returns
    ``(bagged score, refit score)`` per held-out fold.
    """
    scores = []
    for o in outer:
        train_rows, held = ctx.folds[o]
        inner = [np.setdiff1d(train_rows, va) for j, (_, va) in enumerate(ctx.folds) if j != o]
        bagged = _bag(ctx, bag_members, threshold, folds=inner)
        # a single model's threshold is in its parameters; a blend's is passed on
        blend_threshold = threshold if weights is not None else None
        one = _refit(ctx, refit_members, weights, rows=train_rows, threshold=blend_threshold)
        scores.append((_holdout_score(ctx, bagged, held), _holdout_score(ctx, one, held)))
    return scores


# Requests after the search, each with a tuple of arguments after the context.
_REQUESTS: dict[str, Callable[..., Any]] = {"refit": _refit, "bag": _bag, "bagcheck": _bag_check}


def refit_here(payload: dict[str, Any], members, weights, threshold=None) -> Any:
    """A 'refit' request run in the calling process, on the worker's ``payload``."""
    return _refit(_Context(payload), members, weights, threshold=threshold)


def serve(conn: Any) -> None:
    """The worker's loop: 'setup' once, then 'trial' and ``_REQUESTS`` until 'stop'."""
    ctx: _Context | None = None
    while True:
        try:
            kind, payload = conn.recv()
        except EOFError:
            return
        try:
            if kind == "stop":
                return
            if kind == "setup":
                ctx = _Context(payload)
                # HistGradientBoosting's OpenMP and BLAS threads follow this limit too.
                from threadpoolctl import threadpool_limits

                threadpool_limits(limits=ctx.n_jobs)
                preload(payload.get("preload", ()))
                conn.send(("ready", None))
            elif kind == "trial":
                assert ctx is not None  # 'setup' always comes first
                conn.send(("done", _run_trial(ctx, payload, conn)))
            elif kind in _REQUESTS:
                conn.send(("done", _REQUESTS[kind](ctx, *payload)))
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            conn.send(("error", (message, traceback.format_exc()[-2000:])))
        except MemoryError:
            conn.send(("error", ("MemoryError: out of memory", "")))


class _NoFolds:
    """Where a Dask task sends fold scores: nowhere (the result carries them)."""

    def send(self, message: Any) -> None:
        pass


def run_request(kind: str, payload: Any, data: dict[str, Any]) -> Any:
    """Run one request on ``data`` (how a Dask worker runs a trial): 'trial' or a
    ``_REQUESTS`` kind ('refit', 'bag', 'bagcheck')."""
    from threadpoolctl import threadpool_limits

    ctx = _Context(data)
    with threadpool_limits(limits=ctx.n_jobs):
        if kind == "trial":
            return _run_trial(ctx, payload, _NoFolds())
        if kind in _REQUESTS:
            return _REQUESTS[kind](ctx, *payload)
    raise ValueError(
        f"Unknown request {kind!r}: expected 'trial', {', '.join(map(repr, _REQUESTS))}."
    )


# ------------------------------------------------------------------ in the parent


class WorkerTimeout(Exception):
    """The worker did not answer within its time limit and was stopped."""


class WorkerError(Exception):
    """The job raised inside the worker (the worker itself is still usable)."""


class Worker:
    """One worker process holding the training data; killed and restarted after a stopped job.

    Used two ways: ``run`` sends one request and waits for its answer (the final fit), and
    ``send`` / ``receive`` let an executor wait on several workers at once (the trials).
    """

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload
        self._proc: Any = None
        self.conn: Any = None
        self.startup_s = 3.0  # measured at each start

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def start(self, timeout: float) -> None:
        """Start the process (if it is not running) and send it the data."""
        if self.alive:
            return
        self.kill()
        started = time.monotonic()
        # a process started ahead (see modelloop._spare) has imported while the caller
        # worked; else one is started now
        self._proc, self.conn = take_spare() or spawn(self._payload.get("preload", ()))
        try:
            self.conn.send(("setup", self._payload))
        except OSError:
            code = self._proc.exitcode
            self.kill()
            raise WorkerError(f"the worker process died as it started (exit code {code})") from None
        self.wait(timeout, None)
        self.startup_s = time.monotonic() - started

    def send(self, kind: str, payload: Any) -> None:
        """Send one request to the (started) process; its answer comes through ``receive``."""
        self.conn.send((kind, payload))

    def receive(self, on_fold: Any = None) -> tuple[bool, Any]:
        """Read one message that is waiting: ``(False, None)`` for a fold score (passed to
        ``on_fold``), ``(True, value)`` for the answer; ``WorkerError`` when the request
        raised or the process died."""
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            code = self._proc.exitcode if self._proc is not None else None
            self.kill()
            raise WorkerError(
                f"the worker process died (exit code {code}; out of memory?)"
            ) from None
        if kind == "fold":
            if on_fold is not None:
                on_fold(*value)
            return False, None
        if kind == "error":
            raise WorkerError(value[0])
        return True, value

    def wait(self, timeout: float, on_fold: Any = None) -> Any:
        """The answer to the request in flight, within ``timeout`` seconds (else the process
        is killed and ``WorkerTimeout`` raised)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            left = deadline - time.monotonic()
            try:
                # poll() takes milliseconds as a C int: beyond a day means "no limit".
                ready = left > 0 and self.conn.poll(left if left < 86_400 else None)
            except (EOFError, OSError):
                ready = True
            if not ready:
                self.kill()
                raise WorkerTimeout(f"stopped at its time limit of {timeout:.1f} s")
            done, value = self.receive(on_fold)
            if done:
                return value

    def run(self, kind: str, payload: Any, timeout: float, on_fold: Any = None) -> Any:
        """Send one request and wait at most ``timeout`` seconds (worker start included)."""
        started = time.monotonic()
        self.start(timeout)
        self.send(kind, payload)
        return self.wait(timeout - (time.monotonic() - started), on_fold)

    def kill(self) -> None:
        if self._proc is not None and self._proc.pid is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=5)
        if self.conn is not None:
            self.conn.close()
        self._proc = self.conn = None

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            try:
                self.conn.send(("stop", None))
                self._proc.join(timeout=2)
            except (OSError, BrokenPipeError):
                pass
        self.kill()
