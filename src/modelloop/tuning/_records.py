"""What a search produces, as frozen records: its events, each trial, and the whole result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import json_value

__all__ = [
    "TARGET_TRANSFORM",
    "TEMPERATURE",
    "THRESHOLD",
    "CandidateResult",
    "SearchEvent",
    "SearchResult",
    "jsonable",
    "rank",
]

# Trial parameters that are not estimator parameters (see ``_worker.build_pipeline``): the
# final model wraps the estimator in ``TemperatureScaled`` / ``FixedThresholdClassifier`` with the
# first two, and a regressor in ``LogTargetRegressor`` with the third.
TEMPERATURE = "proba_temperature"
THRESHOLD = "decision_threshold"
TARGET_TRANSFORM = "target_transform"


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
    size_mb: float | None = None  # the saved model's estimated size (an ensemble: the sum)

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
            "params": jsonable(
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
            "size_mb": None if self.size_mb is None else round(self.size_mb, 3),
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
    best_pipeline: Any = field(repr=False)
    n_folds: int = 0
    elapsed: float = 0.0
    model: Any = field(default=None, repr=False)
    refit_time: float = 0.0
    notes: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)  # {'search': n, 'refit': m} if sampled
    final_fit: str = ""  # 'refit' (one model on all rows) or 'bagged' (the fold models)
    # the final model's own speed: {'latency_ms': one row, 'rows_per_s': 10,000-row batch}
    speed: dict[str, float] = field(default_factory=dict)
    size_mb: float | None = None  # the final model's pickled size

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
                "size_mb": None if c.size_mb is None else round(c.size_mb, 2),
                "status": c.status,
                "members": c.members,
                "final_fit": self.final_fit if c is self.best else "",
                "error": c.error or "",
            }
            for c in self.candidates
        ]
        return pd.DataFrame(rows)


def jsonable(value: Any) -> Any:
    """``value`` as JSON data; what JSON cannot hold becomes its ``repr``."""
    return json_value(value, unknown="repr")


def rank(candidates: Sequence[CandidateResult], greater_is_better: bool) -> list[CandidateResult]:
    def key(c: CandidateResult) -> tuple[int, float, int]:
        if c.status != "ok" or not np.isfinite(c.cv_mean):
            return (1, 0.0, c.number)
        return (0, -c.cv_mean if greater_is_better else c.cv_mean, c.number)

    return sorted(candidates, key=key)
