"""Evaluate candidate model families with the same CV folds, within a time budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from modelloop.data import Schema, Task
from modelloop.evaluation import get_metric
from modelloop.exceptions import ConfigurationError, TrainingError
from modelloop.features import make_pipeline
from modelloop.models import get_spec
from modelloop.tuning._cv import cross_validate, make_folds
from modelloop.tuning._ensemble import build_ensemble, oof_score, select_ensemble

__all__ = ["CandidateResult", "SearchEvent", "SearchResult", "search"]


@dataclass(frozen=True)
class SearchEvent:
    """A step of the search, for progress display.

    ``kind`` is one of 'start' (``total`` folds planned), 'candidate', 'fold', 'done',
    'skipped' or 'failed'.
    """

    kind: str
    candidate: str = ""
    fold: int = 0
    total: int = 0
    score: float | None = None
    message: str = ""


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's cross-validated outcome."""

    name: str
    family: str
    status: str  # 'ok', 'failed' or 'skipped'
    cv_scores: tuple[float, ...] = ()
    fit_time: float = 0.0  # mean seconds per fold fit
    error: str | None = None
    oof: np.ndarray | None = field(default=None, repr=False, compare=False)
    members: str = ""  # for an ensemble: "lightgbm 0.6 + random_forest 0.4"

    @property
    def cv_mean(self) -> float:
        return float(np.mean(self.cv_scores)) if self.cv_scores else float("nan")

    @property
    def cv_std(self) -> float:
        return float(np.std(self.cv_scores)) if self.cv_scores else float("nan")


@dataclass(frozen=True)
class SearchResult:
    """All candidates, best first, and the winning (unfitted) pipeline."""

    metric: str
    greater_is_better: bool
    candidates: tuple[CandidateResult, ...]
    best: CandidateResult
    best_pipeline: object = field(repr=False)
    n_folds: int = 0
    elapsed: float = 0.0

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row per candidate, best first: model, CV mean and std, fit time, status."""
        rows = [
            {
                "model": c.name,
                "family": c.family,
                f"cv_{self.metric}": c.cv_mean,
                "cv_std": c.cv_std,
                "fit_time_s": round(c.fit_time, 3),
                "status": c.status,
                "members": c.members,
                "error": c.error or "",
            }
            for c in self.candidates
        ]
        return pd.DataFrame(rows)


def _try_ensemble(
    results: list[CandidateResult],
    pipelines: dict[str, object],
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    task: Task,
    metric: str,
    classes: np.ndarray | None,
) -> tuple[CandidateResult, object] | None:
    """The ensemble candidate, or ``None`` when blending does not beat the best single model."""
    ok = [c for c in results if c.status == "ok" and c.oof is not None]
    if len(ok) < 2:
        return None
    try:
        selection = select_ensemble(
            {c.name: c.oof for c in ok}, y, task=task, metric=metric, classes=classes
        )
    except Exception:  # an undefined metric on some blend must not end the search
        return None
    if len(selection.weights) < 2:
        return None
    by_name = {c.name: c for c in ok}
    blend = sum(w * by_name[n].oof for n, w in selection.weights.items())
    scores = tuple(oof_score(metric, y[va], blend[va], task, classes) for _, va in folds)
    best_single = _rank(ok, get_metric(metric).greater_is_better)[0]
    candidate = CandidateResult(
        "ensemble",
        "ensemble",
        "ok",
        cv_scores=scores,
        fit_time=float(sum(by_name[n].fit_time for n in selection.weights)),
        oof=blend,
        members=" + ".join(f"{n} {w:.2f}" for n, w in selection.weights.items()),
    )
    if _rank([candidate, best_single], get_metric(metric).greater_is_better)[0] is not candidate:
        return None
    model = build_ensemble(
        [(n, clone(pipelines[n])) for n in selection.weights],
        list(selection.weights.values()),
        task,
    )
    return candidate, model


def _rank(candidates: list[CandidateResult], greater_is_better: bool) -> list[CandidateResult]:
    def key(c: CandidateResult) -> tuple[int, float]:
        if c.status != "ok" or not np.isfinite(c.cv_mean):
            return (1, 0.0)
        return (0, -c.cv_mean if greater_is_better else c.cv_mean)

    return sorted(candidates, key=key)


def search(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    schema: Schema,
    task: Task,
    metric: str,
    candidates: Sequence[str],
    cv: int = 5,
    time_budget: float | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    ensemble: bool = True,
    on_event: Callable[[SearchEvent], None] | None = None,
) -> SearchResult:
    """Cross-validate each candidate model family on the same folds and rank them.

    Each candidate is ``features.make_pipeline(schema, family, estimator)``: preprocessing is
    refitted inside every fold. Once ``time_budget`` seconds are spent no new candidate is
    started (the first one always runs, so there is a model to return). A candidate that
    raises is recorded as failed with its error, and the search goes on.

    Parameters
    ----------
    X, y : the training rows (the test split is kept away by the caller).
    schema : the training schema (its feature columns are the model input).
    task, metric : what is learned and what selection optimises (a name in ``evaluation``).
    candidates : model names from ``models.catalog``.
    ensemble : try a weighted soft-voting ensemble of the candidates, chosen by greedy
        selection on their out-of-fold predictions; it is kept (and ranked like any other
        candidate, by its per-fold scores) only when it beats the best single model.

    Raises
    ------
    TrainingError
        When every candidate failed.

    Examples
    --------
    >>> result = search(X, y, schema=ds.schema, task="binary", metric="roc_auc",
    ...                 candidates=["logistic_regression", "lightgbm"])  # doctest: +SKIP
    >>> result.leaderboard  # doctest: +SKIP
    """
    if not candidates:
        raise ConfigurationError("At least one candidate model is needed. Got an empty list.")
    if time_budget is not None and time_budget <= 0:
        raise ConfigurationError(f"time_budget must be > 0 seconds. Got {time_budget} instead.")
    specs = [get_spec(name, task) for name in candidates]
    metric_spec = get_metric(metric)
    emit = on_event or (lambda event: None)
    folds = make_folds(y, task, cv, seed=seed)
    classes = None if task == "regression" else np.unique(np.asarray(y))
    started = time.monotonic()
    emit(SearchEvent("start", total=len(specs) * len(folds)))

    results: list[CandidateResult] = []
    pipelines: dict[str, object] = {}
    for spec in specs:
        elapsed = time.monotonic() - started
        if results and time_budget is not None and elapsed >= time_budget:
            results.append(
                CandidateResult(spec.name, spec.family, "skipped", error="time budget spent")
            )
            emit(SearchEvent("skipped", spec.name, total=len(folds), message="time budget spent"))
            continue
        emit(SearchEvent("candidate", spec.name, total=len(folds)))
        pipeline = make_pipeline(
            schema, spec.family, spec.make(task, seed=seed, n_jobs=n_jobs), task=task
        )
        try:
            folded = cross_validate(
                pipeline,
                X,
                y,
                folds,
                task=task,
                metric=metric,
                classes=classes,
                on_fold=lambda i, s, name=spec.name: emit(
                    SearchEvent("fold", name, fold=i + 1, total=len(folds), score=s)
                ),
            )
        except Exception as exc:  # a failing family must not end the search
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            results.append(CandidateResult(spec.name, spec.family, "failed", error=message))
            emit(SearchEvent("failed", spec.name, total=len(folds), message=message))
            continue
        pipelines[spec.name] = pipeline
        result = CandidateResult(
            spec.name,
            spec.family,
            "ok",
            cv_scores=folded.scores,
            fit_time=float(np.mean(folded.fit_times)),
            oof=folded.oof,
        )
        results.append(result)
        emit(SearchEvent("done", spec.name, total=len(folds), score=result.cv_mean))

    if not any(c.status == "ok" for c in results):
        errors = "; ".join(f"{c.name}: {c.error}" for c in results if c.error)
        raise TrainingError(f"No candidate model could be fitted. {errors}")
    if ensemble:
        blended = _try_ensemble(results, pipelines, np.asarray(y), folds, task, metric, classes)
        if blended is not None:
            results.append(blended[0])
            pipelines[blended[0].name] = blended[1]
            emit(
                SearchEvent(
                    "done", blended[0].name, score=blended[0].cv_mean, message=blended[0].members
                )
            )
    ranked = _rank(results, metric_spec.greater_is_better)
    best = ranked[0]
    return SearchResult(
        metric=metric,
        greater_is_better=metric_spec.greater_is_better,
        candidates=tuple(ranked),
        best=best,
        best_pipeline=pipelines[best.name],
        n_folds=len(folds),
        elapsed=time.monotonic() - started,
    )
