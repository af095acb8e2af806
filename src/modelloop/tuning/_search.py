"""The time-budgeted search: portfolio, then Optuna, then a greedy ensemble; then the refit.

Every trial (one configuration of one catalog model, cross-validated on the same folds)
runs in a worker process with a time limit (see ``_worker``), so the search keeps its
deadline even when one fit is slow: the fit is stopped, recorded as failed, and the
search goes on. Before each trial the search keeps back the time the refit of the best
model so far would need, so the whole search, refit included, ends by the deadline.

Stages (``strategy="auto"``):

1. *portfolio*: strong, diverse default configurations (``models.portfolio``), cheapest
   first; boosted trees stop early on a slice of each training fold. On a non-negative,
   right-skewed regression target (``models.wants_log_target``) the first two models are
   also tried on ``log1p(y)`` (``target_transform: "log1p"``), scored on the original scale.
2. *optuna*: TPE over the two model families that did best, pruning a trial after a fold
   when its mean score is far behind the best. A family whose best portfolio trial used
   the log target keeps it in all its Optuna trials.
3. *ensemble*: greedy selection (Caruana) over the trials' out-of-fold predictions, kept
   only when it beats the best single trial.

``strategy="grid"`` and ``"random"`` evaluate the combinations of ``param_grid`` for each
candidate model (exhaustively, or a random subset of ``max_trials``), like scikit-learn's
``GridSearchCV`` and ``RandomizedSearchCV``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import Role, Schema, Task
from modelloop.evaluation import get_metric, score
from modelloop.exceptions import ConfigurationError, TrainingError
from modelloop.features import TEXT_METHODS, check_text_column, sentence_model_available
from modelloop.models import (
    BALANCED,
    LOG1P,
    THRESHOLD_METRICS,
    cross_fit_temperature,
    cross_fit_threshold,
    get_spec,
    portfolio,
    search_space,
    wants_log_target,
)
from modelloop.tuning._budget import available_memory, row_limits
from modelloop.tuning._cv import make_folds
from modelloop.tuning._ensemble import (
    blend_rows_per_s,
    fitted_subset,
    oof_score,
    select_ensemble,
)
from modelloop.tuning._executors import make_executor, parse_cluster
from modelloop.tuning._grid import check_param_grid, grid_configs, random_configs
from modelloop.tuning._worker import (
    TARGET_TRANSFORM,
    TEMPERATURE,
    THRESHOLD,
    Job,
    Outcome,
    WorkerError,
    WorkerTimeout,
    build_pipeline,
    measure_speed,
    refit_estimator_params,
)

__all__ = [
    "FINAL_FITS",
    "STRATEGIES",
    "CandidateResult",
    "SearchEvent",
    "SearchResult",
    "check_search_options",
    "search",
]

STRATEGIES = ("auto", "grid", "random")
_OPTUNA_FAMILIES = 2
_OPTUNA_PATIENCE = 12  # trials without a new best before the model-based stage ends
_ENSEMBLE_POOL = 15
_EMBED_LOAD_S, _EMBED_TEXTS_PER_S = 9.0, 70.0  # see _embedding_cost
_CALIBRATION_GAIN = 1e-4  # CV log loss a temperature must save to be kept
_THRESHOLD_GAIN = 1e-4  # CV score a tuned decision threshold must add to be kept
_RARE_CLASS_METRICS = frozenset({"balanced_accuracy", "recall_macro", "f1_macro"})
FINAL_FITS = ("auto", "refit", "bag")
_MIN_OUTER = 2  # held-out folds the bagging check needs at least
_BAG_RESERVE = 0.1  # of the budget: at most this much is kept back for the bagging check
# The blend's speed is estimated from fold models; the refitted members are a little
# bigger (10 % more boosting rounds, more rows) and the voting wrapper costs a little:
# the estimate must clear --min-rows-per-second by this factor.
_SPEED_MARGIN = 1.15
# The final model is timed itself; a blend under the floor keeps the members whose own
# timings, in the same process, clear it by this factor (noise between two timings).
_MEASURED_MARGIN = 1.05
_TIMED_BATCHES = 2  # the final model's speed is the fastest of this many 10,000-row batches
_REFIT_HERE_S = 1.0  # estimated refit seconds below which a refit may run in this process
# Rough peak memory of one fit, in multiples of the training frame's size.
_MEMORY_FACTOR = {"knn": 4.0, "svm": 6.0, "random_forest": 12.0, "extra_trees": 12.0}


@dataclass(frozen=True)
class SearchEvent:
    """A step of the search, for progress display.

    ``kind`` is 'start', 'stage', 'candidate', 'fold', 'done', 'skipped', 'failed' or
    'pruned'. ``trials`` counts finished trials, ``best`` is the best CV score so far,
    ``elapsed`` and ``left`` are seconds (``left`` is ``None`` without a time budget).
    """

    kind: str
    candidate: str = ""
    fold: int = 0
    total: int = 0
    score: float | None = None
    message: str = ""
    stage: str = ""
    trials: int = 0
    best: float | None = None
    elapsed: float = 0.0
    left: float | None = None


@dataclass(frozen=True)
class CandidateResult:
    """One trial's cross-validated outcome (or the ensemble's)."""

    name: str
    family: str  # the catalog model name ("lightgbm"); "ensemble" for the blend
    status: str  # 'ok', 'pruned', 'failed', 'skipped' or 'excluded'
    cv_scores: tuple[float, ...] = ()
    fit_time: float = 0.0  # mean seconds per fold fit
    error: str | None = None
    oof: np.ndarray | None = field(default=None, repr=False, compare=False)
    members: str = ""  # for an ensemble: "lightgbm 0.60 + random_forest 0.40"
    number: int = 0
    stage: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    refit_params: dict[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    rows_per_s: float | None = None
    duration: float = 0.0
    weights: dict[str, float] = field(default_factory=dict)

    @property
    def cv_mean(self) -> float:
        return float(np.mean(self.cv_scores)) if self.cv_scores else float("nan")

    @property
    def cv_std(self) -> float:
        return float(np.std(self.cv_scores)) if self.cv_scores else float("nan")

    def to_record(self) -> dict[str, Any]:
        """JSON-safe description of the trial (what the store keeps)."""
        return {
            "number": self.number,
            "name": self.name,
            "stage": self.stage,
            "model": self.family,
            "params": _jsonable(
                {**self.weights, **{k: v for k, v in self.refit_params.items() if k == THRESHOLD}}
                if self.members
                else {
                    **self.params,
                    **{k: v for k, v in self.refit_params.items() if k in (TEMPERATURE, THRESHOLD)},
                }
            ),
            "fold_scores": [float(s) for s in self.cv_scores],
            "score": None if not np.isfinite(self.cv_mean) else self.cv_mean,
            "fit_time": float(self.fit_time),
            "duration": float(self.duration),
            "status": self.status,
            "reason": self.error or "",
            "latency_ms": self.latency_ms,
            "rows_per_s": self.rows_per_s,
        }


@dataclass(frozen=True)
class SearchResult:
    """All trials, best first, the winner, and (with ``refit``) the final model.

    ``final_fit`` says how the final model was made: 'refit' (on all rows) or 'bagged'
    (the winner's fold models, a ``models.FoldBag``); empty without ``refit``.
    """

    metric: str
    greater_is_better: bool
    candidates: tuple[CandidateResult, ...]
    best: CandidateResult
    best_pipeline: object = field(repr=False)
    n_folds: int = 0
    elapsed: float = 0.0
    model: object = field(default=None, repr=False)
    refit_time: float = 0.0
    notes: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)  # {'search': n, 'refit': m} if sampled
    final_fit: str = ""  # 'refit' (one model on all rows) or 'bagged' (the fold models)
    # the final model's own speed: {'latency_ms': one row, 'rows_per_s': 10,000-row batch}
    speed: dict[str, float] = field(default_factory=dict)

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best.params)

    @property
    def trials(self) -> list[dict[str, Any]]:
        """Every trial as a JSON-safe record, in the order they ran."""
        return [c.to_record() for c in sorted(self.candidates, key=lambda c: c.number)]

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row per trial, best first: model, CV mean and std, times, latency, status."""
        rows = [
            {
                "model": c.name,
                "family": c.family,
                f"cv_{self.metric}": c.cv_mean,
                "cv_std": c.cv_std,
                "fit_time_s": round(c.fit_time, 3),
                "latency_ms": None if c.latency_ms is None else round(c.latency_ms, 3),
                "rows_per_s": None if c.rows_per_s is None else round(c.rows_per_s),
                "status": c.status,
                "members": c.members,
                "final_fit": self.final_fit if c is self.best else "",
                "error": c.error or "",
            }
            for c in self.candidates
        ]
        return pd.DataFrame(rows)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _rank(candidates: Sequence[CandidateResult], greater_is_better: bool) -> list[CandidateResult]:
    def key(c: CandidateResult) -> tuple[int, float, int]:
        if c.status != "ok" or not np.isfinite(c.cv_mean):
            return (1, 0.0, c.number)
        return (0, -c.cv_mean if greater_is_better else c.cv_mean, c.number)

    return sorted(candidates, key=key)


class _Search:
    """The state of one search: trials so far, the worker, the clock."""

    def __init__(self, X, y, *, schema, task, metric, folds, seed, n_jobs, deadline, emit, **where):
        # ``where``: ``cluster`` (run trials there) and ``n_search`` (the folds cover the
        # first n_search rows; the others join only the refit).
        n_search = where.get("n_search") or len(y)
        self.X, self.y, self.task, self.metric, self.folds = X, y[:n_search], task, metric, folds
        self.schema, self.seed, self.n_jobs = schema, seed, n_jobs
        self.greater = get_metric(metric).greater_is_better
        self.deadline = deadline
        self.started = time.monotonic()
        self.emit_raw = emit
        self.results: list[CandidateResult] = []
        self.names: dict[str, int] = {}
        self.stage = ""
        self.max_latency_ms: float | None = None
        # Ensembles may not predict a 10,000-row batch slower than this (rows per second).
        self.min_rows_per_s: float | None = None
        self.final_fit = "refit"  # 'refit', 'bag' or 'auto' (see _final_fit)
        self.budget = None if deadline is None else deadline - self.started
        self.n_rows = len(y)  # the refit's rows (the folds may cover fewer)
        self.payload = {
            "X": X,
            "y": np.asarray(y),
            "n_search": n_search,
            "schema": schema,
            "task": task,
            "metric": metric,
            "folds": folds,
            "seed": seed,
            "n_jobs": n_jobs,
        }
        self.pool = make_executor(self.payload, where.get("cluster"))
        self.classes = None if task == "regression" else np.unique(self.y)
        self.ensemble = False  # an ensemble stage follows the trials
        self.study_journal: str | None = None  # where the Optuna study is kept
        self.balanced = False  # Optuna's trials weight classes (see _rewards_rare_classes)
        # Parameters Optuna keeps fixed per family (the target transform its best trial used).
        self.fixed: dict[str, dict[str, Any]] = {}
        # Temperature-scale classifiers' probabilities when it helps (the 'auto' strategy).
        self.calibration = self.classes is not None
        # Tune binary classifiers' decision threshold for metrics it can raise ('auto').
        self.thresholding = (
            task == "binary" and metric in THRESHOLD_METRICS and len(self.classes) == 2
        )
        self.in_flight = 0
        self.frame_bytes = int(X.memory_usage(deep=True).sum())
        self.worker_started = False
        self.grace = 0.0
        # Models whose Optuna trials also choose ``text_features`` (tfidf or embedding).
        self.text_models: frozenset[str] = frozenset()

    # -- bookkeeping ---------------------------------------------------------------

    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def ok(self) -> list[CandidateResult]:
        return [c for c in self.results if c.status == "ok"]

    def best(self) -> CandidateResult | None:
        ok = self.ok()
        return _rank(ok, self.greater)[0] if ok else None

    def emit(self, kind: str, **kw: Any) -> None:
        best = self.best()
        left = None if self.deadline is None else max(0.0, self.left())
        self.emit_raw(
            SearchEvent(
                kind,
                stage=self.stage,
                trials=len(self.results),
                best=None if best is None else best.cv_mean,
                elapsed=time.monotonic() - self.started,
                left=left,
                **kw,
            )
        )

    def label(self, model: str) -> str:
        n = self.names.get(model, 0) + 1
        self.names[model] = n
        return model if n == 1 else f"{model}_{n}"

    def refit_reserve(self) -> float:
        """Seconds to keep back for refitting the best model so far on all rows."""
        ok = _rank(self.ok(), self.greater)
        if not ok:
            return 0.0
        k = len(self.folds)
        # The ensemble's members come from the top trials: keep room for the top three.
        fit = sum(c.fit_time for c in ok[:3])
        restart = 0.0 if self.pool.alive else self.pool.startup_s
        # Greedy ensemble selection scores blends of every candidate's out-of-fold rows.
        blend = 2e-5 * len(self.y) * min(len(ok), _ENSEMBLE_POOL) if self.ensemble else 0.0
        refit = 1.3 * fit * k / max(k - 1, 1) + 1.0 + restart + blend
        bag = _bag_cost(self, ok[0], _MIN_OUTER) if self.final_fit != "refit" else None
        if bag is not None and self.budget is not None and bag <= _BAG_RESERVE * self.budget:
            # Bagging the best so far is cheap: keep room to compare it with the refit.
            refit += bag
        return refit

    # -- running one trial ---------------------------------------------------------

    def memory_problem(self, model: str) -> str | None:
        free = available_memory()
        need = self.frame_bytes * _MEMORY_FACTOR.get(model, 6.0) + 200e6
        if free is not None and need > 0.8 * free:
            return f"needs about {need / 1e9:.1f} GB of memory; {free / 1e9:.1f} GB are free"
        return None

    def run(
        self,
        model: str,
        params: dict[str, Any],
        *,
        prune_below: float | None = None,
        cap: float | None = None,
    ) -> CandidateResult | None:
        """Run one trial; ``None`` when no time is left to start it."""
        timeout = self.left() - self.refit_reserve()
        if self.pool.alive:
            # A trial stopped at its limit takes the worker with it: leave time to restart it.
            timeout -= self.pool.startup_s
        if self.ok() and timeout < 1.0:
            return None
        if not self.ok():
            # Without any model yet, the first fits may use the promised margin over the
            # budget (max(10 %, 5 s)): better a little late than no model at all.
            timeout = max(timeout, 1.0) + self.grace
        if cap is not None and self.ok():
            timeout = min(timeout, cap)
        name = self.label(model)
        number = len(self.results) + 1
        self.emit("candidate", candidate=name, total=len(self.folds))
        problem = self.memory_problem(model)
        folds: list[float] = []
        started = time.monotonic()
        if problem is not None:
            outcome = Outcome(number, model, params, "failed", reason=problem)
        else:
            job = Job(number, model, params, prune_below=prune_below)
            try:
                outcome = self.pool.run(
                    "trial",
                    job,
                    timeout if math.isfinite(timeout) else 1e9,
                    on_fold=lambda i, s: (
                        folds.append(s),
                        self.emit(
                            "fold", candidate=name, fold=i + 1, total=len(self.folds), score=s
                        ),
                    ),
                )
                self.worker_started = True
            except WorkerTimeout as exc:
                outcome = Outcome(number, model, params, "failed", list(folds), reason=str(exc))
            except WorkerError as exc:
                outcome = Outcome(number, model, params, "failed", list(folds), reason=str(exc))
        result = self.record(name, outcome, time.monotonic() - started)
        return result

    def run_stream(self, next_job: Callable[[], Any], cap: float | None, on_result=None) -> None:
        """Keep every slot of a parallel executor busy with trials from ``next_job``.

        ``next_job()`` gives ``(model, params, prune_below, token)`` or ``None`` when there
        is nothing more to try; it is called only when a slot is free, so it sees every
        result so far. ``on_result(token, result)`` is called as each trial ends. Each trial
        gets the time limit ``run`` would give it, and is cancelled when it passes.
        """
        running: dict[Any, tuple] = {}
        exhausted = False
        try:
            while True:
                while not exhausted and len(running) < self.pool.slots:
                    timeout = self.left() - self.refit_reserve()
                    if self.ok() and timeout < 1.0:
                        exhausted = True
                        break
                    if not self.ok():
                        timeout = max(timeout, 1.0) + self.grace
                    if cap is not None and self.ok():
                        timeout = min(timeout, cap)
                    item = next_job()
                    if item is None:
                        exhausted = True
                        break
                    model, params, prune_below, token = item
                    name, number = self.label(model), len(self.results) + len(running) + 1
                    self.emit("candidate", candidate=name, total=len(self.folds))
                    problem = self.memory_problem(model)
                    if problem is not None:
                        outcome = Outcome(number, model, params, "failed", reason=problem)
                        self._finish(name, outcome, 0.0, token, on_result)
                        continue
                    job = Job(number, model, params, prune_below=prune_below)
                    future = self.pool.submit("trial", job)
                    limit = timeout if math.isfinite(timeout) else 1e9
                    running[future] = (name, job, token, time.monotonic(), limit)
                    self.in_flight = len(running)
                if not running:
                    return
                now = time.monotonic()
                wait = min(start + limit - now for _, _, _, start, limit in running.values())
                done = set(self.pool.wait(list(running), max(wait, 0.0)))
                now = time.monotonic()
                for future, (name, job, token, start, limit) in list(running.items()):
                    if future in done:
                        try:
                            outcome = self.pool.result(future)
                        except WorkerError as exc:
                            outcome = Outcome(job.number, job.model, job.params, "failed")
                            outcome.reason = str(exc)
                    elif now - start >= limit:
                        self.pool.cancel(future)
                        outcome = Outcome(job.number, job.model, job.params, "failed")
                        outcome.reason = f"stopped at its time limit of {limit:.1f} s"
                    else:
                        continue
                    del running[future]
                    self.in_flight = len(running)
                    self._finish(name, outcome, now - start, token, on_result)
        finally:
            for future in running:
                self.pool.cancel(future)
            self.in_flight = 0

    def _finish(self, name, outcome, duration, token, on_result) -> None:
        result = self.record(name, outcome, duration)
        if on_result is not None:
            on_result(token, result)

    def record(self, name: str, outcome: Outcome, duration: float) -> CandidateResult:
        status = outcome.status
        reason = outcome.reason
        if (
            status == "ok"
            and self.max_latency_ms is not None
            and outcome.latency_ms is not None
            and outcome.latency_ms > self.max_latency_ms
        ):
            status = "excluded"
            reason = (
                f"latency {outcome.latency_ms:.1f} ms > --max-latency-ms {self.max_latency_ms:g}"
            )
        cv_scores, oof, refit_params = tuple(outcome.fold_scores), outcome.oof, None
        if self.calibration and status == "ok" and oof is not None:
            calibrated = self.calibrate(oof)
            if calibrated is not None:
                cv_scores, oof, temperature = calibrated
                refit_params = {**refit_estimator_params(outcome), TEMPERATURE: temperature}
        if self.thresholding and status == "ok" and oof is not None:
            tuned = self.tune_threshold(oof, cv_scores)
            if tuned is not None:
                cv_scores, threshold = tuned
                refit_params = {
                    **(refit_params or refit_estimator_params(outcome)),
                    THRESHOLD: threshold,
                }
        result = CandidateResult(
            name,
            outcome.model,
            status,
            cv_scores=cv_scores,
            fit_time=float(np.mean(outcome.fit_times)) if outcome.fit_times else 0.0,
            error=reason or None,
            oof=oof if status == "ok" else None,
            number=outcome.number,
            stage=self.stage,
            params=dict(outcome.params),
            refit_params=refit_params or refit_estimator_params(outcome),
            latency_ms=outcome.latency_ms,
            rows_per_s=outcome.rows_per_s,
            duration=duration,
        )
        self.results.append(result)
        if status == "ok":
            self.emit("done", candidate=name, score=result.cv_mean)
        else:
            self.emit(
                "failed" if status == "failed" else status,
                candidate=name,
                total=len(self.folds),
                message=reason,
            )
        return result

    def calibrate(self, oof: np.ndarray) -> tuple[tuple[float, ...], np.ndarray, float] | None:
        """Temperature-scaled out-of-fold probabilities, when they lower the CV log loss.

        Returns ``(fold scores, calibrated oof, temperature)``, or None when scaling does
        not help (or the probabilities are incomplete). Each fold's temperature comes from
        the other folds (see ``models.cross_fit_temperature``), so the scores stay honest.
        """
        if not np.isfinite(oof).all():
            return None
        classes = self.classes
        y_idx = np.searchsorted(classes, self.y)
        proba = oof / oof.sum(axis=1, keepdims=True)
        calibrated, temperature = cross_fit_temperature(proba, y_idx, self.folds)
        raw_ll = [oof_score("log_loss", self.y[va], proba[va], self.task, classes)
                  for _, va in self.folds]  # fmt: skip
        cal_ll = [oof_score("log_loss", self.y[va], calibrated[va], self.task, classes)
                  for _, va in self.folds]  # fmt: skip
        if not np.mean(cal_ll) < np.mean(raw_ll) - _CALIBRATION_GAIN:
            return None
        scores = tuple(
            oof_score(self.metric, self.y[va], calibrated[va], self.task, classes)
            for _, va in self.folds
        )
        return scores, calibrated, round(temperature, 4)

    def tune_threshold(
        self, oof: np.ndarray, cv_scores: tuple[float, ...]
    ) -> tuple[tuple[float, ...], float] | None:
        """Fold scores with a tuned decision threshold, and the threshold, when they are better.

        ``oof`` holds the (calibrated) out-of-fold probabilities, ``cv_scores`` their scores
        with the most probable class. Each fold's threshold comes from the other folds (see
        ``models.cross_fit_threshold``), so the scores stay honest. None when it does not help.
        """
        if not np.isfinite(oof).all() or len(cv_scores) != len(self.folds):
            return None
        classes = self.classes
        p1 = oof[:, 1] / oof.sum(axis=1)
        y_idx = np.searchsorted(classes, self.y)
        pred, threshold = cross_fit_threshold(y_idx, p1, self.folds, self.metric)
        scores = tuple(
            float(score(self.metric, self.y[va], y_pred=classes[pred[va]], classes=classes))
            for _, va in self.folds
        )
        if not np.mean(scores) > np.mean(cv_scores) + _THRESHOLD_GAIN:
            return None
        return scores, round(threshold, 6)

    def prune_threshold(self) -> float | None:
        best = self.best()
        if best is None:
            return None
        margin = 2.0 * best.cv_std + 0.01 * abs(best.cv_mean)
        return best.cv_mean - margin if self.greater else best.cv_mean + margin


def _optuna_stage(
    state: _Search, models: Sequence[str], max_trials: int | None, cap: float | None
) -> None:
    import optuna

    ranked = _rank(state.ok(), state.greater)
    families: list[str] = []
    for c in ranked:
        if c.family in models and search_space(c.family) and c.family not in families:
            families.append(c.family)
    families = families[:_OPTUNA_FAMILIES]
    if not families:
        return
    for family in families:  # raw or log target: as the family's best trial had it
        top = next(c for c in ranked if c.family == family)
        if TARGET_TRANSFORM in top.params:
            state.fixed[family] = {TARGET_TRANSFORM: top.params[TARGET_TRANSFORM]}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if state.greater else "minimize",
        sampler=optuna.samplers.TPESampler(seed=state.seed, n_startup_trials=5, multivariate=True),
        storage=_journal(state.study_journal),
        study_name=None if state.study_journal is None else Path(state.study_journal).stem,
        load_if_exists=state.study_journal is not None,
    )
    for c in ranked:  # what the portfolio learned seeds the model
        same_target = c.params.get(TARGET_TRANSFORM) == state.fixed.get(c.family, {}).get(
            TARGET_TRANSFORM
        )
        if c.family in families and same_target:
            try:
                own = {k: v for k, v in c.params.items() if k not in BALANCED.get(c.family, {})}
                dist_params = _distribution_params(
                    c.family, own, families, text=c.family in state.text_models
                )
                if dist_params is not None:
                    study.add_trial(
                        optuna.trial.create_trial(
                            params=dist_params[0], distributions=dist_params[1], value=c.cv_mean
                        )
                    )
            except (ValueError, TypeError, AttributeError):
                pass
    if state.pool.slots > 1:
        _optuna_parallel(state, study, families, max_trials, cap)
        return
    stale = 0
    best = state.best()
    while max_trials is None or len(state.results) < max_trials:
        if state.deadline is None and max_trials is None:
            return
        if max_trials is None and stale >= _OPTUNA_PATIENCE:
            # Converged: more trials rarely pay off; the time is better left to the user.
            state.emit("stage", message=f"Optuna stopped: {stale} trials without improvement")
            return
        trial = study.ask()
        model = trial.suggest_categorical("model", families) if len(families) > 1 else families[0]
        params = _suggest(trial, model, state.text_models, balanced=state.balanced)
        params.update(state.fixed.get(model, {}))
        result = state.run(model, params, prune_below=state.prune_threshold(), cap=cap)
        if result is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        now = state.best()
        stale = 0 if now is not best and now is not None else stale + 1
        best = now
        if result.status == "ok":
            study.tell(trial, result.cv_mean)
        elif result.status == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _optuna_parallel(state: _Search, study: Any, families, max_trials, cap) -> None:
    """The Optuna stage on a parallel executor: ask a trial whenever a slot frees up."""
    import optuna

    progress: dict[str, Any] = {"stale": 0, "best": state.best()}

    def next_job() -> tuple | None:
        if max_trials is not None and len(state.results) + state.in_flight >= max_trials:
            return None
        if state.deadline is None and max_trials is None:
            return None
        if max_trials is None and progress["stale"] >= _OPTUNA_PATIENCE:
            return None
        trial = study.ask()
        model = trial.suggest_categorical("model", families) if len(families) > 1 else families[0]
        params = _suggest(trial, model, state.text_models, balanced=state.balanced)
        params.update(state.fixed.get(model, {}))
        return model, params, state.prune_threshold(), trial

    def on_result(trial: Any, result: CandidateResult) -> None:
        now = state.best()
        improved = now is not progress["best"] and now is not None
        progress["stale"] = 0 if improved else progress["stale"] + 1
        progress["best"] = now
        if result.status == "ok":
            study.tell(trial, result.cv_mean)
        elif result.status == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)

    state.run_stream(next_job, cap, on_result)
    if max_trials is None and progress["stale"] >= _OPTUNA_PATIENCE:
        state.emit(
            "stage", message=f"Optuna stopped: {progress['stale']} trials without improvement"
        )


def _journal(path: str | None) -> Any:
    """An Optuna journal storage in file ``path`` (its folder is made), or None."""
    if path is None:
        return None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def _suggest(
    trial: Any, model: str, text_models: frozenset[str], *, balanced: bool = False
) -> dict[str, Any]:
    """The model's search space on ``trial``; for ``text_models`` also ``text_features``;
    with ``balanced`` the model's class weights (``models.BALANCED``)."""
    prefixed = _Prefixed(trial, model)
    params = search_space(model)(prefixed)  # type: ignore[misc]
    if model in text_models:
        params["text_features"] = prefixed.suggest_categorical("text_features", TEXT_METHODS)
    if balanced:
        params.update(BALANCED.get(model, {}))
    return params


class _Prefixed:
    """An Optuna trial whose parameter names carry the model (families share names)."""

    def __init__(self, trial: Any, model: str) -> None:
        self._trial, self._model = trial, model

    def suggest_float(self, name: str, *args: Any, **kw: Any) -> float:
        return self._trial.suggest_float(f"{self._model}.{name}", *args, **kw)

    def suggest_int(self, name: str, *args: Any, **kw: Any) -> int:
        return self._trial.suggest_int(f"{self._model}.{name}", *args, **kw)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._trial.suggest_categorical(f"{self._model}.{name}", choices)


def _distribution_params(
    model: str, params: dict[str, Any], families: list[str], *, text: bool = False
):
    """Optuna distributions for a portfolio config, so TPE starts from it (or ``None``).

    ``text``: the model's trials also choose ``text_features`` (absent means TF-IDF).
    """
    import optuna

    space = search_space(model)
    if space is None:
        return None
    dists: dict[str, Any] = {}
    values: dict[str, Any] = {}

    class _Probe:
        def suggest_float(self, name, low, high, log=False):
            dists[name] = optuna.distributions.FloatDistribution(low, high, log=log)
            return params.get(name)

        def suggest_int(self, name, low, high, log=False):
            dists[name] = optuna.distributions.IntDistribution(low, high, log=log)
            return params.get(name)

        def suggest_categorical(self, name, choices):
            dists[name] = optuna.distributions.CategoricalDistribution(choices)
            return params.get(name)

    space(_Probe())
    if text:
        params = {"text_features": TEXT_METHODS[0], **params}
        dists["text_features"] = optuna.distributions.CategoricalDistribution(TEXT_METHODS)
    for name, dist in list(dists.items()):
        value = params.get(name)
        if value is None or not dist._contains(dist.to_internal_repr(value)):
            return None
        values[f"{model}.{name}"] = value
        dists[f"{model}.{name}"] = dists.pop(name)
    if len(families) > 1:
        dists["model"] = optuna.distributions.CategoricalDistribution(families)
        values["model"] = model
    return values, dists


def _ensemble(state: _Search) -> CandidateResult | None:
    ok = _rank(state.ok(), state.greater)[:_ENSEMBLE_POOL]
    if len(ok) < 2:
        return None
    y = np.asarray(state.y)
    classes = None if state.task == "regression" else np.unique(y)
    try:
        selection = select_ensemble(
            {c.name: c.oof for c in ok},
            y,
            task=state.task,
            metric=state.metric,
            classes=classes,
            rows_per_s={c.name: c.rows_per_s for c in ok},
            min_rows_per_s=None
            if state.min_rows_per_s is None
            else state.min_rows_per_s * _SPEED_MARGIN,
        )
    except Exception:  # an undefined metric on some blend must not end the search
        return None
    if len(selection.weights) < 2:
        return None
    by_name = {c.name: c for c in ok}
    candidate = _blend(state, by_name, selection.weights, "ensemble")
    if _rank([candidate, ok[0]], state.greater)[0] is not candidate:
        return None
    if (
        state.max_latency_ms is not None
        and candidate.latency_ms is not None
        and candidate.latency_ms > state.max_latency_ms
    ):  # every member is within the limit, but together they are not
        state.emit(
            "stage",
            message=f"Ensemble left out: {candidate.latency_ms:.1f} ms per row > "
            f"--max-latency-ms {state.max_latency_ms:g}",
        )
        return None
    return candidate


def _blend(
    state: _Search,
    by_name: dict[str, CandidateResult],
    weights: dict[str, float],
    name: str,
    rows_per_s: float | None = None,
) -> CandidateResult:
    """The candidate for the blend of ``weights``' members: its cross-validated scores
    (with its own decision threshold where one helps), summed latency and blended speed
    (``rows_per_s`` when measured, else estimated from the members' trials)."""
    y = np.asarray(state.y)
    classes = None if state.task == "regression" else np.unique(y)
    blend = sum(w * by_name[n].oof for n, w in weights.items())
    scores = tuple(
        oof_score(state.metric, y[va], blend[va], state.task, classes) for _, va in state.folds
    )
    refit_params: dict[str, Any] = {}
    if state.thresholding:  # the blend's own threshold, cross-fitted like a trial's
        tuned = state.tune_threshold(blend, scores)
        if tuned is not None:
            scores, threshold = tuned
            refit_params[THRESHOLD] = threshold
    members = [by_name[n] for n in weights]
    latency = [m.latency_ms for m in members]
    speeds = [m.rows_per_s for m in members]
    if rows_per_s is None and None not in speeds:
        rows_per_s = blend_rows_per_s(speeds)
    return CandidateResult(
        name,
        "ensemble",
        "ok",
        cv_scores=scores,
        fit_time=float(sum(m.fit_time for m in members)),
        oof=blend,
        members=" + ".join(f"{n} {w:.2f}" for n, w in weights.items()),
        number=len(state.results) + 1,
        stage="ensemble",
        latency_ms=None if None in latency else float(sum(latency)),  # type: ignore[arg-type]
        rows_per_s=rows_per_s,
        weights=dict(weights),
        refit_params=refit_params,
    )


def _refit_members(c: CandidateResult, by_name: dict[str, CandidateResult]):
    """``(members, weights, threshold)`` of the refit request for ``c``.

    A single model's parameters carry its own threshold (``weights`` and ``threshold`` are
    None). An ensemble's members lose theirs: the blend is labelled by its own threshold,
    tuned on the blend's out-of-fold probabilities, or by its most probable class.
    """
    if c.family == "ensemble":
        members = [
            (
                n,
                by_name[n].family,
                {k: v for k, v in by_name[n].refit_params.items() if k != THRESHOLD},
            )
            for n in c.weights
        ]
        return members, list(c.weights.values()), c.refit_params.get(THRESHOLD)
    return [(c.name, c.family, c.refit_params)], None, None


def _unfitted(state: _Search, c: CandidateResult, by_name: dict[str, CandidateResult]):
    from modelloop.models import DecisionThreshold
    from modelloop.tuning._ensemble import build_ensemble

    members, weights, threshold = _refit_members(c, by_name)
    pipes = [
        (n, build_pipeline(state.schema, state.task, m, p, seed=state.seed, n_jobs=state.n_jobs))
        for n, m, p in members
    ]
    if weights is None:
        return pipes[0][1]
    blend = build_ensemble(pipes, weights, state.task)
    return blend if threshold is None else DecisionThreshold(blend, threshold=float(threshold))


def search(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    schema: Schema,
    task: Task,
    metric: str,
    candidates: Sequence[str] | None = None,
    cv: int = 5,
    time_budget: float | None = None,
    max_trials: int | None = None,
    strategy: str = "auto",
    param_grid: dict[str, Any] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    ensemble: bool = True,
    max_latency_ms: float | None = None,
    min_rows_per_s: float | None = 10_000.0,
    refit: bool = True,
    final_fit: str = "auto",
    on_event: Callable[[SearchEvent], None] | None = None,
    cluster: Any = None,
    max_search_rows: int | None = None,
    study_journal: str | None = None,
) -> SearchResult:
    """Search model configurations with the same CV folds, within a time and trial budget.

    Each trial is ``features.make_pipeline(schema, family, estimator)`` with the trial's
    estimator parameters: preprocessing is refitted inside every fold. A trial that fails
    (an error, out of memory, its time limit) is recorded with its reason and the search
    goes on. With ``refit`` the winner is fitted on all rows within the same budget and
    returned as ``result.model``.

    Parameters
    ----------
    X, y : the training rows (the test split is kept away by the caller).
    schema : the training schema (its feature columns are the model input).
    task, metric : what is learned and what selection optimises (a name in ``evaluation``).
    candidates : catalog model names to consider; the task's whole portfolio when omitted.
    time_budget : seconds for the whole search, refit included (``None``: no limit).
    max_trials : stop after this many trials (the ensemble is not counted).
    strategy : 'auto' (portfolio, Optuna, ensemble), 'grid' or 'random' (over ``param_grid``).
    param_grid : for 'grid' / 'random': estimator parameter names to lists of values.
    max_latency_ms : trials slower than this for one row are excluded from the choice.
    min_rows_per_s : an ensemble member joins only while the blend's estimated batch speed
        stays at or above this many rows per second (``None`` or 0: no floor). A single
        model is never excluded for its speed.
    final_fit : 'auto' (default), 'refit' or 'bag': how the winner becomes the final model.
        'refit' fits it once on all rows; 'bag' keeps its k fold models (fitted as in the
        trials) and averages them (``models.FoldBag``); 'auto' bags only when, on held-out
        folds, the fold models score better than a refit and time allows. Bagging needs
        the search to have seen every row, and k fold models within ``min_rows_per_s`` and
        ``max_latency_ms``. ``result.final_fit`` says which was made. 'auto' means 'refit'
        for the grid and random strategies.
    cluster : run the trials on a Dask cluster: ``'local[:N]'``, ``'tcp://host:8786'`` or a
        ``distributed.Client`` (see ``_executors``); ``None``: one local worker process.
    study_journal : a file path: the model-based stage's Optuna study is kept there, in an
        Optuna journal (``optuna.storages.JournalStorage``), which outlives the run and
        can be opened by any process that reaches the file (``None``: in memory).
    max_search_rows : search on a stratified sample of at most this many rows (default:
        a limit from the time budget and free memory, see ``_budget.row_limits``) and
        refit on as many rows as memory allows; the notes say what was used.

    Raises
    ------
    ConfigurationError
        Bad options (checked before any work).
    InvalidInputError
        A text column with no usable text in any row (checked before any work).
    TrainingError
        When every trial failed.

    Examples
    --------
    >>> result = search(X, y, schema=ds.schema, task="binary", metric="roc_auc",
    ...                 candidates=["logistic_regression", "lightgbm"])  # doctest: +SKIP
    >>> result.leaderboard  # doctest: +SKIP
    """
    check_search_options(strategy, max_trials, final_fit, min_rows_per_s)
    if candidates is not None and not candidates:
        raise ConfigurationError("At least one candidate model is needed. Got an empty list.")
    if time_budget is not None and time_budget <= 0:
        raise ConfigurationError(f"time_budget must be > 0 seconds. Got {time_budget} instead.")
    if isinstance(cluster, str):
        parse_cluster(cluster)  # a malformed --cluster fails before any work
    for column in schema.by_role(Role.TEXT):
        if column in X.columns:  # one clear error, not one failed trial per model
            check_text_column(X[column].to_numpy(dtype=object), column)
    models = list(dict.fromkeys(candidates)) if candidates else None
    for name in models or ():
        get_spec(name, task)
    if strategy == "auto":
        if param_grid:
            raise ConfigurationError(
                "A param grid needs --search grid or --search random. Got --search auto."
            )
        configs = [
            (m, p)
            for m, p in portfolio(task, time_budget=None if models else time_budget)
            if models is None or m in models
        ]
        text_models: frozenset[str] = frozenset()
        if (
            schema.by_role(Role.TEXT)
            and sentence_model_available()
            and (time_budget is None or time_budget >= 4 * _embedding_cost(X, schema))
        ):
            # The search decides between TF-IDF and sentence embeddings for text columns:
            # the portfolio tries both for its first two models, and Optuna tunes the
            # choice as a hyperparameter of those models.
            text_models = frozenset(m for m, _ in configs[:2])
            configs[2:2] = [(m, {**p, "text_features": "embedding"}) for m, p in configs[:2]]
        if task == "regression" and wants_log_target(y):
            # A skewed non-negative target (prices, counts): the first two models are also
            # tried on log1p(y), right after them; CV on the original scale decides.
            configs[2:2] = [(m, {**p, TARGET_TRANSFORM: LOG1P}) for m, p in configs[:2]]
        configs += [(m, {}) for m in models or () if m not in {c[0] for c in configs}]
        balanced = _rewards_rare_classes(metric, task, np.asarray(y))
        if balanced:
            # Weighted classes for every model that has them, and the first model also
            # unweighted, so the CV shows whether weighting pays.
            first = configs[0]
            configs = [(m, {**p, **BALANCED.get(m, {})}) for m, p in configs]
            if configs[0] != first:
                configs.insert(1, first)
    else:
        if not models:
            raise ConfigurationError(
                f"--search {strategy} needs --models naming the model(s) to search."
            )
        if strategy == "grid" and not param_grid:
            raise ConfigurationError(
                "--search grid needs --param-grid, e.g. '{\"max_depth\": [3, 5]}'."
            )
        grid = check_param_grid(param_grid, models, task) if param_grid else None
        if grid is None:
            configs = []
        elif strategy == "grid":
            configs = [(m, p) for m in models for p in grid_configs(grid)]
        else:
            n = max_trials or 10
            configs = [(m, p) for m in models for p in random_configs(grid, n, seed=seed)]
    started = time.monotonic()
    X, y_arr, n_search, row_note = _limit_rows(
        X, np.asarray(y), task, cv, time_budget, max_search_rows, seed
    )
    folds = make_folds(pd.Series(y_arr[:n_search]), task, cv, seed=seed)
    emit = on_event or (lambda event: None)
    state = _Search(
        X.reset_index(drop=True),
        y_arr,
        schema=schema,
        task=task,
        metric=metric,
        folds=folds,
        seed=seed,
        n_jobs=n_jobs,
        deadline=None if time_budget is None else started + time_budget,
        emit=emit,
        cluster=cluster,
        n_search=n_search,
    )
    state.max_latency_ms = max_latency_ms
    state.min_rows_per_s = min_rows_per_s or None
    state.final_fit = final_fit if strategy == "auto" or final_fit == "bag" else "refit"
    if strategy == "auto":
        state.text_models = text_models
        state.balanced = balanced
        state.ensemble = ensemble
        state.study_journal = None if study_journal is None else str(study_journal)
    else:  # a grid or random search returns exactly the models it evaluated
        state.calibration = False
        state.thresholding = False
    # Refits may overrun the search budget by this much: about half the promised margin
    # (max(10 %, 5 s)); the caller keeps the rest for scoring and saving.
    state.grace = 0.0 if time_budget is None else max(0.06 * time_budget, 3.0)
    notes: list[str] = [row_note] if row_note else []
    cap = None if time_budget is None else max(0.4 * time_budget, 10.0)
    try:
        state.emit("start", total=len(folds))
        state.stage = {"auto": "portfolio", "grid": "grid", "random": "random"}[strategy]
        state.emit("stage", message=f"Stage {state.stage}")
        not_run = 0
        pending = list(configs) if state.pool.slots > 1 else []
        if pending:  # a parallel executor: a new configuration whenever a slot frees up

            def next_config() -> tuple | None:
                full = max_trials is not None and len(state.results) + state.in_flight >= max_trials
                return None if full or not pending else (*pending.pop(0), None, None)

            state.run_stream(next_config, cap)
            not_run = len(pending)
            configs = []
        for model, params in configs:
            if max_trials is not None and len(state.results) >= max_trials:
                not_run += 1
                continue
            if state.run(model, params, cap=cap) is None:
                not_run += 1
        if strategy == "random" and not param_grid:
            # No grid: random samples from the models' search spaces.
            _random_spaces(state, models or [], max_trials, cap)
        if not_run:
            notes.append(f"{not_run} configurations not tried (time or trial budget spent).")
        if strategy == "auto" and state.ok():
            state.stage = "optuna"
            state.emit("stage", message="Stage optuna")
            _optuna_stage(state, models or [m for m, _ in portfolio(task)], max_trials, cap)
        if not state.ok():
            errors = "; ".join(f"{c.name}: {c.error}" for c in state.results if c.error)
            raise TrainingError(f"No candidate model could be fitted. {errors}")
        if ensemble and strategy == "auto":
            state.stage = "ensemble"
            state.emit("stage", message="Stage ensemble")
            blended = _ensemble(state)
            if blended is not None:
                state.results.append(blended)
                state.emit("done", candidate="ensemble", score=blended.cv_mean)
        ranked = _rank(state.results, state.greater)
        by_name = {c.name: c for c in state.results}
        best = ranked[0]
        model, refit_time, how, speed = None, 0.0, "", None
        if refit:
            state.stage = "refit"
            model, best, refit_time, how = _final_fit(state, ranked, by_name, notes)
            timing = time.monotonic()
            model, best, speed = _speed_check(state, model, best, by_name, notes)
            refit_time += time.monotonic() - timing
            if best is not ranked[0]:  # a faster one, or a blend of fewer refitted members
                ranked = [best] + [c for c in ranked if c is not best]
        return SearchResult(
            metric=metric,
            greater_is_better=state.greater,
            candidates=tuple(ranked),
            best=best,
            best_pipeline=_unfitted(state, best, by_name),
            n_folds=len(folds),
            elapsed=time.monotonic() - started,
            model=model,
            refit_time=refit_time,
            notes=tuple(notes),
            rows={"search": n_search, "refit": len(X)} if row_note else {},
            final_fit=how,
            speed={}
            if speed is None
            else {"latency_ms": round(speed[0], 3), "rows_per_s": round(speed[1])},
        )
    finally:
        state.pool.close()


def check_search_options(
    strategy: str,
    max_trials: int | None,
    final_fit: str,
    min_rows_per_s: float | None,
    *,
    name: str = "min_rows_per_s",
) -> None:
    """Raise ``ConfigurationError`` for an unknown search strategy or ``final_fit``, a
    ``max_trials`` under 1, or a negative speed floor (``search`` and ``train`` both check
    before any work).

    ``name`` is what the caller calls the floor (``train`` says ``min_rows_per_second``).

    >>> check_search_options("auto", 10, "bag", 0)
    >>> check_search_options("auto", None, "folds", None)
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: final_fit must be one of auto, refit, bag. Got 'folds'.
    """
    if strategy not in STRATEGIES:
        raise ConfigurationError(
            f"search must be one of {', '.join(STRATEGIES)}. Got {strategy!r} instead."
        )
    if max_trials is not None and (not isinstance(max_trials, int) or max_trials < 1):
        raise ConfigurationError(f"max_trials must be an integer >= 1. Got {max_trials!r} instead.")
    if final_fit not in FINAL_FITS:
        raise ConfigurationError(
            f"final_fit must be one of {', '.join(FINAL_FITS)}. Got {final_fit!r}."
        )
    if min_rows_per_s is not None and not min_rows_per_s >= 0:
        raise ConfigurationError(f"{name} must be >= 0 (0: no floor). Got {min_rows_per_s!r}.")


def _rewards_rare_classes(metric: str, task: Task, y: np.ndarray) -> bool:
    """Whether ``metric`` on these labels calls for class weights.

    Balanced accuracy and macro averages count every class equally, and F1 is about the
    positive class: on imbalanced labels, an unweighted model's most-probable-class rule
    under-predicts the rare classes these metrics reward.
    """
    if task == "regression":
        return False
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        return False
    share = counts / counts.sum()
    if metric == "f1":  # the positive class is classes[1]
        return bool(share[1] < 0.4)
    return metric in _RARE_CLASS_METRICS and bool(share.min() < 0.8 / len(classes))


def _embedding_cost(X: pd.DataFrame, schema: Schema) -> float:
    """Seconds a worker needs to load the sentence model and embed X's distinct texts once.

    Measured on one loaded core: about 9 s to load and 70 texts/s. The search tries
    embeddings only when this is at most a quarter of the budget.
    """
    texts = sum(X[c].nunique() for c in schema.by_role(Role.TEXT) if c in X.columns)
    return _EMBED_LOAD_S + texts / _EMBED_TEXTS_PER_S


def _limit_rows(X, y, task, cv, time_budget, max_search_rows, seed):
    """Reorder the rows so a stratified search sample comes first; drop what cannot be refit.

    Returns ``(X, y, n_search, note)``: the folds use the first ``n_search`` rows, the refit
    all of them. ``note`` says what was left out (empty when nothing was).
    """
    X = X.reset_index(drop=True)
    n = len(X)
    row_bytes = max(1.0, X.memory_usage(deep=True).sum() / max(n, 1))
    search_rows, refit_rows = row_limits(n, row_bytes, X.shape[1], cv, time_budget)
    if max_search_rows is not None:
        search_rows = max(1, min(n, int(max_search_rows)))
    refit_rows = max(refit_rows, search_rows)
    if search_rows >= n and refit_rows >= n:
        return X, y, n, ""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if task != "regression" and search_rows < n:
        from sklearn.model_selection import train_test_split

        try:
            head, tail = train_test_split(
                np.arange(n), train_size=search_rows, stratify=y, random_state=seed
            )
            order = np.concatenate([head, rng.permutation(tail)])
        except ValueError:  # a class too rare to stratify: a uniform sample
            pass
    order = order[:refit_rows]
    note = (
        f"Searched on a {'stratified ' if task != 'regression' else ''}sample of "
        f"{search_rows:,} of {n:,} rows (row limit from the time budget and memory); "
        f"refitted on {len(order):,} rows."
    )
    return X.iloc[order].reset_index(drop=True), y[order], search_rows, note


def _random_spaces(
    state: _Search, models: Sequence[str], max_trials: int | None, cap: float | None
) -> None:
    import optuna

    spaced = [m for m in models if search_space(m)]
    if not spaced:
        raise ConfigurationError(
            f"--search random without --param-grid needs a model with a search space. "
            f"Got {', '.join(models)}."
        )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=state.seed))
    limit = max_trials if max_trials is not None else (None if state.deadline else 10)
    while limit is None or len(state.results) < limit:
        trial = study.ask()
        model = trial.suggest_categorical("model", spaced) if len(spaced) > 1 else spaced[0]
        if state.run(model, search_space(model)(trial), cap=cap) is None:  # type: ignore[misc]
            return


def _refit_estimate(state: _Search, c: CandidateResult, by_name) -> float:
    """Seconds to refit ``c`` (all its members) on every row, from its fold fit times."""
    members = [by_name[n] for n in c.weights] if c.family == "ensemble" else [c]
    k = len(state.folds)
    fold_rows = max(len(state.y) * (k - 1) / max(k, 1), 1.0)
    return 1.3 * sum(m.fit_time for m in members) * len(state.X) / fold_rows


def _refit_in_process(state: _Search, members, weights, threshold):
    """The worker's refit, run here (for small refits when the worker would need a restart)."""
    from modelloop.tuning._worker import refit_here

    return refit_here(state.payload, members, weights, threshold)


def _final_refit(state: _Search, ranked, by_name, notes):
    """Refit the best on all rows in what is left of the budget; fall back to a faster one."""
    ok = [c for c in ranked if c.status == "ok"]
    fastest = min(ok, key=lambda c: _refit_estimate(state, c, by_name))
    passed_over: list[str] = []
    # Best first; a candidate that cannot be refitted in the time left is passed over for
    # the next best. The fastest is never passed over: it is the last resort, and the
    # candidates ranked below it are both worse and slower.
    for c in ok:
        left = state.left()
        # A model is owed: the refit may use the promised margin over the budget, all of it
        # for the fastest candidate (the last resort).
        grace = state.grace if c is fastest else 0.5 * state.grace
        timeout = 1e9 if not math.isfinite(left) else max(left, 0.0) + grace
        need = _refit_estimate(state, c, by_name)
        restart = 0.0 if state.pool.alive else state.pool.startup_s
        if c is not fastest and need + restart > timeout:
            # Waiting for a refit that cannot end in time would spend what the
            # fallback needs.
            passed_over.append(f"{c.name} (~{need + restart:.1f} s, {max(left, 0.0):.1f} s left)")
            continue
        if passed_over:
            notes.append(
                f"Not refitted, too slow for the time left: {', '.join(passed_over[:3])}"
                + (f" and {len(passed_over) - 3} more" if len(passed_over) > 3 else "")
                + f"; refitted {c.name} instead."
            )
            passed_over.clear()
        state.emit("stage", message=f"Refitting {c.name} on all {len(state.X)} training rows")
        started = time.monotonic()
        members, weights, threshold = _refit_members(c, by_name)
        try:
            if restart and need < _REFIT_HERE_S and state.pool.slots == 1:
                # A dead local worker takes seconds to restart; a refit this small is
                # quicker in this process.
                model = _refit_in_process(state, members, weights, threshold)
            else:
                model = state.pool.run("refit", (members, weights, None, threshold), timeout)
        except (WorkerTimeout, WorkerError) as exc:
            notes.append(f"Refit of {c.name} failed ({exc}); trying a faster model.")
            continue
        return model, c, time.monotonic() - started
    # Every refit ran out of time (a machine much busier than the search measured): the
    # fastest candidate gets one more try, bounded by its own measured cost rather than the
    # budget, because a run that searched must end with a model.
    timeout = max(30.0, 30.0 * fastest.fit_time) + state.grace
    state.emit("stage", message=f"Refitting {fastest.name} again, past the budget")
    started = time.monotonic()
    members, weights, threshold = _refit_members(fastest, by_name)
    try:
        model = state.pool.run("refit", (members, weights, None, threshold), timeout)
    except (WorkerTimeout, WorkerError) as exc:
        raise TrainingError(
            f"No model could be refitted on all training rows: the last try, {fastest.name} "
            f"with {timeout:.0f} s, failed too ({exc}). Give a larger --time-budget."
        ) from exc
    notes.append(
        f"Every refit within the budget failed; {fastest.name} was refitted past the budget "
        f"in {time.monotonic() - started:.1f} s."
    )
    return model, fastest, time.monotonic() - started


# ------------------------------------------------------------------ final speed


def _measured_speed(state: _Search, model: Any, expected: float | None):
    """``(latency_ms, rows_per_s)`` of ``model``, timed here as the trials were but on the
    fastest of two batches; None when timing it (at the ``expected`` rows/s) would overrun
    what the refit may use."""
    cost = _TIMED_BATCHES * (10_000 / expected if expected else 1.0)
    if state.left() + state.grace < 1.2 * cost:
        return None
    return measure_speed(model, state.X, state.task, batches=_TIMED_BATCHES)


def _speed_check(state: _Search, model: Any, c: CandidateResult, by_name, notes):
    """The final model's own speed, and a faster blend when a refitted one is too slow.

    The floor was applied to the blend's speed as estimated from its members' fold models.
    The refitted blend is timed itself; under ``--min-rows-per-second``, each of its (already
    fitted) members is timed, and greedy selection over the same out-of-fold predictions,
    now with the measured speeds, keeps the members that fit under the floor. Nothing is
    refitted. Returns ``(model, candidate, (latency_ms, rows_per_s) or None)``.
    """
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    from modelloop.models import DecisionThreshold, FoldBag

    expected = c.rows_per_s
    if expected is not None and isinstance(model, FoldBag):  # k fold models predict in turn
        expected /= len(state.folds)
    state.emit("stage", message="Timing the final model on 10,000 rows")
    speed = _measured_speed(state, model, expected)
    floor = state.min_rows_per_s
    if speed is None or floor is None or speed[1] >= floor:
        return model, c, speed
    voting = model.estimator_ if isinstance(model, DecisionThreshold) else model
    under = (
        f"The final model predicts {speed[1]:,.0f} rows/s on a 10,000-row batch, under "
        f"--min-rows-per-second {floor:,.0f}"
    )
    if not isinstance(voting, VotingClassifier | VotingRegressor):
        # a single model is never left out for its speed; a bag was checked as k models
        notes.append(f"{under}.")
        return model, c, speed
    measured: dict[str, float] = {}
    for (name, _), member in zip(voting.estimators, voting.estimators_, strict=True):
        timed = _measured_speed(state, member, by_name[name].rows_per_s)
        if timed is None:
            notes.append(f"{under}; no time was left to find a faster blend.")
            return model, c, speed
        measured[name] = timed[1]
    y = np.asarray(state.y)
    selection = select_ensemble(
        {n: by_name[n].oof for n in measured},
        y,
        task=state.task,
        metric=state.metric,
        classes=None if state.task == "regression" else np.unique(y),
        rows_per_s=measured,
        min_rows_per_s=floor * _MEASURED_MARGIN,
    )
    if selection.weights == c.weights:  # the members together clear it: a slow timing
        notes.append(
            f"{under}; its members, timed one by one, clear it together "
            f"({blend_rows_per_s(list(measured.values())):,.0f} rows/s), so it was kept."
        )
        return model, c, speed
    faster = fitted_subset(voting, selection.weights)
    if len(selection.weights) == 1:  # the best member alone, as its own trial labels rows
        chosen = by_name[next(iter(selection.weights))]
    else:
        chosen = _blend(
            state,
            by_name,
            selection.weights,
            "ensemble_fast",
            rows_per_s=blend_rows_per_s([measured[n] for n in selection.weights]),
        )
        state.results.append(chosen)
        by_name[chosen.name] = chosen
    threshold = chosen.refit_params.get(THRESHOLD)
    if threshold is not None:
        faster = DecisionThreshold.around(faster, float(threshold))
    timed = _measured_speed(state, faster, chosen.rows_per_s)
    notes.append(
        f"{under}; its members measured "
        + ", ".join(f"{n} {s:,.0f}" for n, s in measured.items())
        + f" rows/s. Kept {chosen.members or chosen.name} of the fitted members"
        + ("" if timed is None else f" ({timed[1]:,.0f} rows/s)")
        + f", CV {state.metric} {chosen.cv_mean:.6g} against {c.cv_mean:.6g}."
    )
    return faster, chosen, timed


# ------------------------------------------------------------------ bagging


def _bag_members(c: CandidateResult, by_name: dict[str, CandidateResult]):
    """``(name, model, trial params, weight)`` per member of ``c``, and ``c``'s threshold.

    Fold models are fitted as in the trials (early stopping included), with the member's
    temperature; the threshold is the single model's, or the blend's own (not its members').
    """
    pairs = (
        [(by_name[n], w) for n, w in c.weights.items()] if c.family == "ensemble" else [(c, 1.0)]
    )
    members = []
    for m, w in pairs:
        params = dict(m.params)
        if TEMPERATURE in m.refit_params:
            params[TEMPERATURE] = m.refit_params[TEMPERATURE]
        members.append((m.name, m.family, params, w))
    return members, c.refit_params.get(THRESHOLD)


def _bag_problem(state: _Search, c: CandidateResult) -> str | None:
    """Why ``c`` may not be kept as fold models, or None when it may."""
    k = len(state.folds)
    if state.n_rows > len(state.y):
        return f"the search used a sample of the rows; a refit uses all {state.n_rows}"
    speed = c.rows_per_s
    if state.min_rows_per_s is not None and speed is not None and speed / k < state.min_rows_per_s:
        return (
            f"{k} fold models would predict about {speed / k:,.0f} rows/s, "
            f"under --min-rows-per-second {state.min_rows_per_s:,.0f}"
        )
    latency, limit = c.latency_ms, state.max_latency_ms
    if limit is not None and latency is not None and latency * k > limit:
        return (
            f"{k} fold models would take about {latency * k:.1f} ms per row, over "
            f"--max-latency-ms {limit:g}"
        )
    return None


def _fold_fit(state: _Search, c: CandidateResult) -> float:
    """Seconds one fold fit of ``c`` took (of all its members, for an ensemble)."""
    members = [m for m in state.results if m.name in c.weights] if c.family == "ensemble" else [c]
    return sum(m.fit_time for m in members)


def _bag_cost(state: _Search, c: CandidateResult, n_outer: int) -> float | None:
    """Seconds to compare bagging with the refit on ``n_outer`` held-out folds, then bag.

    None when ``c`` may not be bagged. Per held-out fold: one refit on the other folds'
    rows, and k-1 fold fits on k-2 folds' rows each; then k fold fits for the bag itself.
    """
    if _bag_problem(state, c) is not None:
        return None
    fit = _fold_fit(state, c)
    k = len(state.folds)
    check = 1.3 * fit + (k - 2) * fit
    restart = 0.0 if state.pool.alive else state.pool.startup_s
    return n_outer * check + k * fit + restart


def _final_fit(state: _Search, ranked, by_name, notes):
    """The final model: the best candidate's fold models (bagging), or one refit on all rows.

    ``state.final_fit`` 'refit' always refits; 'bag' keeps the fold models when the
    candidate allows it (all rows searched, fast enough for ``--min-rows-per-second`` and
    ``--max-latency-ms`` as k models); 'auto' keeps them only when they score better than a
    refit on held-out folds neither saw (``_worker._bag_check``), time allowing. Returns
    ``(model, candidate, seconds, 'bagged' or 'refit')``.
    """
    best = next(c for c in ranked if c.status == "ok")
    if state.final_fit != "refit":
        problem = _bag_problem(state, best)
        if problem is None:
            bagged = _try_bag(state, best, by_name, notes)
            if bagged is not None:
                return (*bagged, "bagged")
        else:
            notes.append(f"Refitted rather than bagged: {problem}.")
    return (*_final_refit(state, ranked, by_name, notes), "refit")


def _try_bag(state: _Search, c: CandidateResult, by_name, notes):
    """``(FoldBag, c, seconds)``, or None when the refit should be made instead."""
    members, threshold = _bag_members(c, by_name)
    k = len(state.folds)
    started = time.monotonic()
    if state.final_fit == "auto":
        left = state.left()
        refit_need = _refit_estimate(state, c, by_name)
        costs = {n: _bag_cost(state, c, n) for n in range(k, _MIN_OUTER - 1, -1)}
        n_outer = next(
            (n for n, cost in costs.items() if cost is not None and cost + refit_need <= left), 0
        )
        if n_outer == 0:
            notes.append(f"Refitted {c.name}: too little time left to compare bagging with it.")
            return None
        refit_members, weights, _ = _refit_members(c, by_name)
        state.emit(
            "stage",
            message=f"Comparing {k} fold models of {c.name} with one refit "
            f"on {n_outer} held-out folds",
        )
        try:
            pairs = state.pool.run(
                "bagcheck",
                (members, refit_members, weights, threshold, list(range(n_outer))),
                # what is left after the check must still cover the bag or the refit
                max(left - max(refit_need, k * _fold_fit(state, c)), 1.0)
                if math.isfinite(left)
                else 1e9,
            )
        except (WorkerTimeout, WorkerError) as exc:
            notes.append(f"Bagging check of {c.name} failed ({exc}); refitted instead.")
            return None
        bagged = float(np.mean([b for b, _ in pairs]))
        one = float(np.mean([r for _, r in pairs]))
        wins = bagged > one if state.greater else bagged < one
        notes.append(
            f"Bagging check of {c.name} on {n_outer} held-out folds: fold models "
            f"{bagged:.6g}, one refit {one:.6g} ({state.metric}); "
            + ("kept the fold models." if wins else "refitted.")
        )
        if not wins:
            return None
    left = state.left()
    timeout = 1e9 if not math.isfinite(left) else max(left, 0.0) + 0.5 * state.grace
    restart = 0.0 if state.pool.alive else state.pool.startup_s
    if 1.1 * k * _fold_fit(state, c) + restart > timeout:
        notes.append(f"Refitted {c.name}: too little time left to fit its {k} fold models.")
        return None
    state.emit("stage", message=f"Keeping {k} fold models of {c.name} (bagging)")
    try:
        model = state.pool.run("bag", (members, threshold), timeout)
    except (WorkerTimeout, WorkerError) as exc:
        notes.append(f"Bagging {c.name} failed ({exc}); refitted instead.")
        return None
    return model, c, time.monotonic() - started
