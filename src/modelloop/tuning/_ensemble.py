"""Greedy ensemble selection over out-of-fold predictions, and the ensemble it yields.

The selection (after Caruana et al., "Ensemble selection from libraries of models", ICML
2004) starts from the best single model and, round by round, adds with replacement the
candidate whose inclusion most improves the metric of the averaged out-of-fold predictions.
Weights are the number of times each candidate was picked. Because every candidate's
out-of-fold predictions come from the same folds, the average is scored on rows no member
saw during fitting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.utils import Bunch

from modelloop.data import Task
from modelloop.evaluation import get_metric, score

__all__ = [
    "EnsembleSelection",
    "blend_rows_per_s",
    "build_ensemble",
    "fitted_subset",
    "oof_score",
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


def oof_score(
    metric: str, y: np.ndarray, oof: np.ndarray, task: Task, classes: np.ndarray | None
) -> float:
    """The metric of out-of-fold predictions (probabilities, or values for regression)."""
    if task == "regression":
        return float(score(metric, y, y_pred=oof[:, 0]))
    proba = oof / oof.sum(axis=1, keepdims=True)
    pred = np.asarray(classes)[np.argmax(proba, axis=1)]
    return float(score(metric, y, y_pred=pred, y_proba=proba, classes=classes))


def select_ensemble(
    oofs: dict[str, np.ndarray],
    y: np.ndarray,
    *,
    task: Task,
    metric: str,
    classes: np.ndarray | None = None,
    rounds: int = 25,
    patience: int = 5,
    rows_per_s: dict[str, float | None] | None = None,
    min_rows_per_s: float | None = None,
) -> EnsembleSelection:
    """Greedy forward selection with replacement over candidates' out-of-fold predictions.

    With ``min_rows_per_s``, a candidate joins only while the blend's estimated batch speed
    (``blend_rows_per_s`` of its distinct members' ``rows_per_s``) stays at or above it; a
    candidate of unknown speed is not held back. The first pick, the best single candidate,
    is always taken.

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
    single = {n: oof_score(metric, y, oofs[n], task, classes) for n in names}
    first = max(names, key=lambda n: sign * single[n])
    picks: list[str] = [first]
    total = oofs[first].astype(float).copy()
    best_score, best_len, stale = single[first], 1, 0
    speeds = rows_per_s or {}
    for _ in range(rounds - 1):
        allowed = [
            n
            for n in names
            if min_rows_per_s is None
            or n in picks
            or blend_rows_per_s([speeds.get(m) for m in {*picks, n}]) >= min_rows_per_s
        ]
        trial = {
            n: oof_score(metric, y, (total + oofs[n]) / (len(picks) + 1), task, classes)
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
