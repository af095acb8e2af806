"""Evaluation: the only home of metrics, looked up by name.

>>> from modelloop.evaluation import score, default_metric
>>> score(default_metric("regression"), [1.0, 2.0], y_pred=[1.0, 4.0])
1.4142135623730951
"""

from __future__ import annotations

from modelloop.evaluation._bootstrap import bootstrap_ci
from modelloop.evaluation._metrics import (
    METRICS,
    TASKS,
    Metric,
    UndefinedMetricError,
    default_metric,
    get_metric,
    is_better,
    metrics_for_task,
    score,
    score_all,
    sign,
)

__all__ = [
    "METRICS",
    "TASKS",
    "Metric",
    "UndefinedMetricError",
    "bootstrap_ci",
    "default_metric",
    "get_metric",
    "is_better",
    "metrics_for_task",
    "score",
    "score_all",
    "sign",
]
