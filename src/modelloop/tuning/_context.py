"""What every stage of one search shares: the problem, the policy and the clock.

``Problem`` (frozen) is the data: the rows, the folds, the task and the metric. ``Policy``
(frozen) is what the caller asked of the search and what it decided up front: the limits on
the final model, which post-processing trials get, how the final model is made, and whether
the run is *deterministic*. ``Clock`` is the time budget.

A search with a trial budget (``max_trials``) is deterministic: with the same seed it makes
the same trials, the same ensemble and the same final model on an idle or a busy machine,
because none of its decisions reads a clock. The speed floor (``min_rows_per_s``) is then off
unless the caller set it, bagging is compared with the refit on every fold rather than on as
many as the time left allows, no candidate is passed over for a slow refit, and parallel
trials are told to Optuna in the order they were asked. The time budget stays a hard limit:
a trial stopped at its time limit is the one thing a busy machine can still change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import Schema, Task
from modelloop.evaluation import get_metric, metric_payload
from modelloop.tuning._validation import Validation

__all__ = ["Clock", "Policy", "Problem"]


@dataclass(frozen=True, eq=False)
class Problem:
    """The rows a search learns from, its folds and what it optimises.

    ``X`` holds every row the final model is fitted on; the folds index its first
    ``len(y)`` rows (all of them, unless the search was given a sample: then the other rows
    only join the final refit). ``y_all`` are the targets of every row of ``X``.
    """

    X: pd.DataFrame
    y_all: np.ndarray
    n_search: int
    schema: Schema
    task: Task
    metric: str
    folds: list[tuple[np.ndarray, np.ndarray]]
    seed: int = 0
    validation: Validation | None = None  # group or time; aligned with ``X``
    # one weight per row of ``X`` (``None``: every row counts once): every fit and score
    sample_weight: np.ndarray | None = None

    @cached_property
    def covered(self) -> np.ndarray:
        """The searched rows some fold validates (all of them, unless the folds chain
        forward in time: then the earliest rows are only ever trained on)."""
        return np.unique(np.concatenate([va for _, va in self.folds]))

    @property
    def y(self) -> np.ndarray:
        """The targets of the searched rows (those the folds index)."""
        return self.y_all[: self.n_search]

    @property
    def w(self) -> np.ndarray | None:
        """The weights of the searched rows (``None`` without weights)."""
        return None if self.sample_weight is None else self.sample_weight[: self.n_search]

    @cached_property
    def classes(self) -> np.ndarray | None:
        return None if self.task == "regression" else np.unique(self.y)

    @cached_property
    def greater(self) -> bool:
        return get_metric(self.metric).greater_is_better

    @property
    def n_rows(self) -> int:
        """Rows of the final refit (the folds may cover fewer)."""
        return len(self.X)

    @property
    def k(self) -> int:
        return len(self.folds)

    @cached_property
    def fold_rows(self) -> float:
        """The mean number of rows a fold trains on: (k-1)/k of the searched rows, but about
        half of them for forward-chaining time folds (fold *i* trains on *i* blocks)."""
        if self.validation is not None and self.validation.kind == "time":
            return max(float(np.mean([len(tr) for tr, _ in self.folds])), 1.0)
        return max(len(self.y) * (self.k - 1) / max(self.k, 1), 1.0)

    def payload(self, preload: tuple[str, ...] = ()) -> dict[str, Any]:
        """What a worker process needs (see ``_worker._Context``); ``preload``: modules it
        imports as it starts."""
        return {
            "preload": preload,
            "X": self.X,
            "y": self.y_all,
            "n_search": self.n_search,
            "schema": self.schema,
            "task": self.task,
            "metric": self.metric,
            "folds": self.folds,
            "seed": self.seed,
            "validation": self.validation,
            "n_jobs": 1,
            "sample_weight": self.sample_weight,
            # a custom metric travels with the data (a worker has not imported it)
            "custom_metric": metric_payload(self.metric),
        }


@dataclass(frozen=True)
class Policy:
    """What the search was asked for and decided before its first trial.

    ``max_latency_ms`` excludes trials slower than that for one row; ``min_rows_per_s`` is
    the speed floor of ensembles and bags (``None``: no floor); ``max_model_mb`` the largest
    final model, a trial, blend or bag (``None``: no limit); ``final_fit`` is 'auto',
    'refit' or 'bag'; ``calibration`` and ``thresholding`` say whether trials get a
    temperature and a decision threshold where those help; ``balanced`` whether Optuna's
    trials weight classes; ``text_models`` the models whose trials also choose how text
    columns are featurized; ``deterministic``: see the module docstring.
    """

    max_latency_ms: float | None = None
    min_rows_per_s: float | None = None
    max_model_mb: float | None = None
    final_fit: str = "refit"
    ensemble: bool = False
    calibration: bool = False
    thresholding: bool = False
    balanced: bool = False
    deterministic: bool = False
    text_models: frozenset[str] = frozenset()
    max_trials: int | None = None


@dataclass
class Clock:
    """The time budget on the monotonic clock: ``deadline`` (``None``: no limit) and the
    ``grace`` the final fit may use past it (part of the promised margin)."""

    deadline: float | None
    grace: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, seconds: float | None, grace: float = 0.0) -> Clock:
        now = time.monotonic()
        return cls(None if seconds is None else now + seconds, grace, now)

    @property
    def budget(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.started

    def left(self) -> float:
        """Seconds left (``inf`` without a limit)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started
