"""Greedy ensemble selection over out-of-fold predictions, and the ensemble it yields.

The selection (after Caruana et al., "Ensemble selection from libraries of models", ICML
2004) starts from the best single model and, round by round, adds with replacement the
candidate whose inclusion most improves the metric of the averaged out-of-fold predictions.
Weights are the number of times each candidate was picked. Because every candidate's
out-of-fold predictions come from the same folds, the average is scored on rows no member
saw during fitting.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from modelloop.data import Task
from modelloop.evaluation import get_metric
from modelloop.tuning._records import THRESHOLD, CandidateResult, rank
from modelloop.tuning._scoring import fold_scores, oof_score, tune_threshold

if TYPE_CHECKING:
    from modelloop.tuning._runner import TrialRunner

log = logging.getLogger("modelloop.tuning")

POOL = 15  # the best trials greedy selection chooses from
# The blend's speed is estimated from fold models; the refitted members are a little
# bigger (10 % more boosting rounds, more rows) and the voting wrapper costs a little:
# the estimate must clear --min-rows-per-second by this factor.
SPEED_MARGIN = 1.15

__all__ = [
    "EnsembleSelection",
    "blend",
    "blend_rows_per_s",
    "build_ensemble",
    "fit_voting",
    "fitted_subset",
    "run_ensemble",
    "select_ensemble",
]


@dataclass(frozen=True)
class EnsembleSelection:
    """Members and their weights (summing to 1), and the out-of-fold score of the blend."""

    weights: dict[str, float]
    score: float

    @property
    def members(self) -> list[str]:
        return list(self.weights)


def select_ensemble(
    oofs: dict[str, np.ndarray],
    y: np.ndarray,
    *,
    task: Task,
    metric: str,
    classes: np.ndarray | None = None,
    rounds: int = 25,
    patience: int = 5,
    rows_per_s: Mapping[str, float | None] | None = None,
    min_rows_per_s: float | None = None,
    sizes_mb: Mapping[str, float | None] | None = None,
    max_mb: float | None = None,
    sample_weight: np.ndarray | None = None,
) -> EnsembleSelection:
    """Greedy forward selection with replacement over candidates' out-of-fold predictions.

    With ``min_rows_per_s``, a candidate joins only while the blend's estimated batch speed
    (``blend_rows_per_s`` of its distinct members' ``rows_per_s``) stays at or above it; with
    ``max_mb``, only while its distinct members' ``sizes_mb`` add up to at most that. A
    candidate of unknown speed or size is not held back. The first pick, the best single
    candidate, is always taken. Blends are scored with ``sample_weight`` when given.

    >>> import numpy as np
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> oofs = {"low": (y - 1)[:, None], "high": (y + 1)[:, None]}
    >>> sel = select_ensemble(oofs, y, task="regression", metric="rmse")
    >>> sel.weights, round(sel.score, 6)
    ({'low': 0.5, 'high': 0.5}, 0.0)
    """
    names = [n for n, o in oofs.items() if o is not None and np.isfinite(o).all()]
    if not names:
        raise ValueError("select_ensemble needs at least one candidate with complete predictions.")
    greater = get_metric(metric).greater_is_better
    sign = 1.0 if greater else -1.0
    w = sample_weight
    single = {n: oof_score(metric, y, oofs[n], task, classes, w) for n in names}
    first = max(names, key=lambda n: sign * single[n])
    picks: list[str] = [first]
    total = oofs[first].astype(float).copy()
    best_score, best_len, stale = single[first], 1, 0
    speeds, sizes = rows_per_s or {}, sizes_mb or {}

    def fits(members: set[str]) -> bool:
        fast = (
            min_rows_per_s is None
            or blend_rows_per_s([speeds.get(m) for m in members]) >= min_rows_per_s
        )
        small = max_mb is None or sum(sizes.get(m) or 0.0 for m in members) <= max_mb
        return fast and small

    for _ in range(rounds - 1):
        allowed = [n for n in names if n in picks or fits({*picks, n})]
        trial = {
            n: oof_score(metric, y, (total + oofs[n]) / (len(picks) + 1), task, classes, w)
            for n in allowed
        }
        choice = max(allowed, key=lambda n: sign * trial[n])
        picks.append(choice)
        total += oofs[choice]
        if sign * trial[choice] > sign * best_score + 1e-12:
            best_score, best_len, stale = trial[choice], len(picks), 0
        else:
            stale += 1
            if stale >= patience:
                break
    counts = Counter(picks[:best_len])
    weights = {n: counts[n] / best_len for n in dict.fromkeys(picks[:best_len])}
    return EnsembleSelection(weights=weights, score=float(best_score))


def blend_rows_per_s(speeds: Sequence[float | None]) -> float:
    """Estimated rows per second of a blend whose members predict one after the other.

    Members of unknown speed (``None``) are left out of the estimate.

    >>> blend_rows_per_s([20_000.0, 20_000.0, None])
    10000.0
    """
    known = [s for s in speeds if s is not None]
    if not known:
        return float("inf")
    return 1.0 / sum(1.0 / max(s, 1e-9) for s in known)


def build_ensemble(pipelines: Sequence[tuple[str, object]], weights: Sequence[float], task: Task):
    """An unfitted soft-voting ensemble of full pipelines (each takes raw rows).

    ``VotingClassifier`` label-encodes the target for its members and maps predictions back
    to the original labels, so ``predict`` and ``classes_`` speak the user's labels.
    """
    if task == "regression":
        return VotingRegressor(list(pipelines), weights=list(weights))
    return VotingClassifier(list(pipelines), voting="soft", weights=list(weights))


def fit_voting(voting, X: Any, y: Any, sample_weight: np.ndarray | None = None):
    """Fit the voting ensemble ``voting`` of pipelines, each with ``sample_weight``.

    ``VotingClassifier.fit(sample_weight=)`` would hand the weights to each pipeline as
    ``sample_weight=``, which a ``Pipeline`` refuses: here each member pipeline is fitted
    with ``<last step>__sample_weight`` on the targets ``voting.fit`` would give it (label
    codes for a classifier), and the fitted attributes set as ``voting.fit`` sets them.
    """
    if sample_weight is None:
        return voting.fit(X, y)
    y = np.asarray(y)
    if isinstance(voting, VotingClassifier):
        voting.le_ = LabelEncoder().fit(y)
        voting.classes_ = voting.le_.classes_
        y = voting.le_.transform(y)
    fitted = []
    for _name, pipe in voting.estimators:
        member = clone(pipe)
        fitted.append(member.fit(X, y, **{f"{member.steps[-1][0]}__sample_weight": sample_weight}))
    voting.estimators_ = fitted
    voting.named_estimators_ = Bunch(
        **{name: est for (name, _), est in zip(voting.estimators, fitted, strict=True)}
    )
    if hasattr(fitted[-1], "feature_names_in_"):
        voting.feature_names_in_ = fitted[-1].feature_names_in_
    return voting


def fitted_subset(voting, weights: dict[str, float]):
    """The fitted soft-voting ``voting`` cut down to the members named in ``weights``.

    Nothing is refitted: the kept members are the very pipelines ``voting`` fitted, and
    the label encoding of a classifier is shared, so the subset predicts as a blend of
    those members fitted together would. Used when a refitted blend turns out slower than
    the speed floor and a faster blend of the same members is wanted.

    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression, Ridge
    >>> X, y = np.arange(8.0)[:, None], np.arange(8.0)
    >>> blend = build_ensemble(
    ...     [("a", LinearRegression()), ("b", Ridge(alpha=100.0))], [0.5, 0.5], "regression"
    ... ).fit(X, y)
    >>> only_a = fitted_subset(blend, {"a": 1.0})
    >>> bool(np.allclose(only_a.predict(X), blend.named_estimators_["a"].predict(X)))
    True
    """
    fitted = dict(zip([name for name, _ in voting.estimators], voting.estimators_, strict=True))
    unknown = [n for n in weights if n not in fitted]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not among the members: {', '.join(fitted)}.")
    params = voting.get_params(deep=False)
    params["estimators"] = [(n, fitted[n]) for n in weights]
    params["weights"] = [float(w) for w in weights.values()]
    subset = type(voting)(**params)
    for key, value in vars(voting).items():  # fitted attributes: le_, classes_, ...
        if key.endswith("_") and not key.startswith("_"):
            setattr(subset, key, value)
    subset.estimators_ = [fitted[n] for n in weights]
    subset.named_estimators_ = Bunch(**{n: fitted[n] for n in weights})
    return subset


def run_ensemble(runner: TrialRunner) -> CandidateResult | None:
    """The ensemble stage: greedy selection over the best trials' out-of-fold predictions.

    The blend is kept (and returned) only when it beats the best single trial, predicts
    within ``--max-latency-ms`` and, as estimated from its members' trials, within the
    speed floor; otherwise None.
    """
    problem, policy = runner.problem, runner.policy
    ok = rank(runner.ok(), problem.greater)[:POOL]
    if len(ok) < 2:
        return None
    floor = policy.min_rows_per_s
    try:
        rows = problem.covered  # time-ordered folds never validate the earliest rows
        selection = select_ensemble(
            {c.name: _oof(c)[rows] for c in ok},
            problem.y[rows],
            task=problem.task,
            metric=problem.metric,
            classes=problem.classes,
            rows_per_s={c.name: c.rows_per_s for c in ok},
            min_rows_per_s=None if floor is None else floor * SPEED_MARGIN,
            sizes_mb={c.name: c.size_mb for c in ok},
            max_mb=policy.max_model_mb,
            sample_weight=None if problem.w is None else problem.w[rows],
        )
    except ValueError as exc:  # a metric undefined on these predictions: no blend
        log.warning("The ensemble stage was skipped: %s", exc)
        runner.emit("stage", message=f"Ensemble skipped: {exc}")
        return None
    if len(selection.weights) < 2:
        return None
    candidate = blend(runner, {c.name: c for c in ok}, selection.weights, "ensemble")
    if rank([candidate, ok[0]], problem.greater)[0] is not candidate:
        return None
    limit = policy.max_latency_ms
    if limit is not None and candidate.latency_ms is not None and candidate.latency_ms > limit:
        # every member is within the limit, but together they are not
        runner.emit(
            "stage",
            message=f"Ensemble left out: {candidate.latency_ms:.1f} ms per row > "
            f"--max-latency-ms {limit:g}",
        )
        return None
    return candidate


def _oof(candidate: CandidateResult) -> np.ndarray:
    """The out-of-fold predictions of a candidate that has them (every trial that ran)."""
    assert candidate.oof is not None  # a pruned or failed trial is never blended
    return candidate.oof


def blend(
    runner: TrialRunner,
    by_name: dict[str, CandidateResult],
    weights: dict[str, float],
    name: str,
    rows_per_s: float | None = None,
) -> CandidateResult:
    """The candidate for the blend of ``weights``' members: its cross-validated scores
    (with its own decision threshold where one helps), summed latency and blended speed
    (``rows_per_s`` when measured, else estimated from the members' trials)."""
    problem = runner.problem
    oof = cast(np.ndarray, sum(w * _oof(by_name[n]) for n, w in weights.items()))
    scores = fold_scores(problem, oof)
    refit_params: dict = {}
    if runner.policy.thresholding:  # the blend's own threshold, cross-fitted like a trial's
        tuned = tune_threshold(problem, oof, scores)
        if tuned is not None:
            scores, refit_params[THRESHOLD] = tuned
    members = [by_name[n] for n in weights]
    latency = [m.latency_ms for m in members]
    speeds = [m.rows_per_s for m in members]
    if rows_per_s is None and None not in speeds:
        rows_per_s = blend_rows_per_s(speeds)
    sizes = [m.size_mb for m in members]
    return CandidateResult(
        name,
        "ensemble",
        "ok",
        cv_scores=scores,
        fit_time=float(sum(m.fit_time for m in members)),
        oof=oof,
        members=" + ".join(f"{n} {w:.2f}" for n, w in weights.items()),
        number=runner.next_number(),
        stage="ensemble",
        latency_ms=None if None in latency else float(sum(latency)),  # type: ignore[arg-type]
        rows_per_s=rows_per_s,
        weights=dict(weights),
        refit_params=refit_params,
        size_mb=None if None in sizes else float(sum(sizes)),  # type: ignore[arg-type]
    )
