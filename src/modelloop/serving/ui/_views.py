"""What pages show, computed from store records: metric tables, leaderboards and charts.

Pure functions of records (no request, no HTML beyond the SVG charts), so they are tested
without a server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from modelloop.evaluation import get_metric
from modelloop.serving.ui._charts import Series, bar_chart, line_chart
from modelloop.serving.ui._live import Bucket

__all__ = [
    "MetricRow",
    "compare_rows",
    "headline_metrics",
    "leaderboard_chart",
    "leaderboard_table",
    "live_charts",
    "metric_sections",
    "search_history_chart",
]

_HEADLINE = {
    "binary": ("roc_auc", "accuracy", "f1"),
    "multiclass": ("log_loss", "accuracy", "f1_macro"),
    "regression": ("rmse", "mae", "r2"),
}


def greater_is_better(metric: str | None) -> bool | None:
    """Whether a larger value of ``metric`` is better (``None`` for an unknown name)."""
    if not metric:
        return None
    try:
        return get_metric(metric.removeprefix("cv_")).greater_is_better
    except Exception:  # an unknown or custom name: no direction to show
        return None


def metric_sections(metrics: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """A version's metrics as ``[(section, {name: value})]``: ``test``, ``cv``, or one flat list."""
    if not metrics:
        return []
    nested = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    flat = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    sections = [(k, v) for k, v in nested.items()]
    if flat:
        sections.insert(0, ("metrics", flat))
    return sections


def headline_metrics(metrics: dict[str, Any] | None, task: str | None) -> dict[str, Any]:
    """The few metrics a list shows for a model version (test split first, else CV)."""
    if not metrics:
        return {}
    test, cv = metrics.get("test"), metrics.get("cv")
    if isinstance(test, dict) and test:
        source = test
    elif isinstance(cv, dict) and cv:
        source = cv
    else:
        source = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    wanted = _HEADLINE.get(task or "", ())
    chosen = {k: source[k] for k in wanted if k in source}
    if not chosen:
        chosen = dict(list(source.items())[:3])
    return chosen


def leaderboard_table(leaderboard: list[dict[str, Any]] | None) -> tuple[list[str], list[list]]:
    """Columns and rows of a leaderboard, with empty columns left out."""
    if not leaderboard:
        return [], []
    columns: list[str] = []
    for row in leaderboard:
        for key in row:
            if key not in columns:
                columns.append(key)
    columns = [c for c in columns if any(row.get(c) not in (None, "") for row in leaderboard)]
    return columns, [[row.get(c) for c in columns] for row in leaderboard]


def _score_column(leaderboard: list[dict[str, Any]], metric: str | None) -> str | None:
    if metric and f"cv_{metric}" in leaderboard[0]:
        return f"cv_{metric}"
    return next((k for k in leaderboard[0] if k.startswith("cv_") and k != "cv_std"), None)


def leaderboard_chart(leaderboard: list[dict[str, Any]] | None, metric: str | None) -> Markup:
    """A bar chart of each leaderboard entry's cross-validated score."""
    title = "Cross-validated score by model"
    if not leaderboard:
        return bar_chart(title, [], value_label=metric or "score", empty="no leaderboard")
    column = _score_column(leaderboard, metric)
    bars = []
    if column is not None:
        for row in leaderboard:
            value = row.get(column)
            if isinstance(value, int | float) and math.isfinite(value):
                bars.append((str(row.get("model", "?")), float(value)))
    return bar_chart(title, bars, value_label=column or "score", empty="no scores")


def search_history_chart(runs: Sequence[tuple[str, str | None, Sequence[Any]]]) -> Markup:
    """Score by trial number, and the best so far, for one run or several (overlaid).

    ``runs`` holds ``(label, metric, trials)`` per run.
    """
    series: list[Series] = []
    metric_names = {m for _, m, _ in runs if m}
    for label, metric, trials in runs:
        higher = greater_is_better(metric)
        scored = [
            (float(t.number), float(t.score))
            for t in trials
            if t.score is not None and math.isfinite(t.score) and t.status == "ok"
        ]
        if not scored:
            continue
        best: list[tuple[float, float]] = []  # a step line: flat until a new best
        for x, y in scored:
            if not best:
                best.append((x, y))
                continue
            prev = best[-1][1]
            better = y > prev if higher is not False else y < prev
            if better:
                best.append((x, prev))
            best.append((x, y if better else prev))
        one = len(runs) == 1
        series.append(Series("trial score" if one else f"{label} trials", scored, markers=True))
        series.append(
            Series("best so far" if one else f"{label} best", best, dashed=True, markers=False)
        )
    metric = ", ".join(sorted(metric_names)) or "score"
    return line_chart(
        "Search history",
        series,
        x_label="trial",
        y_label=f"CV {metric}",
        empty="no trials recorded for this run",
    )


@dataclass(frozen=True)
class MetricRow:
    """One metric across several runs, and which run has the best value."""

    name: str
    values: list[Any]
    best: int | None


def compare_rows(runs: Sequence[Any]) -> list[MetricRow]:
    """CV and test metrics of several runs, row by metric, the best value marked."""
    rows: list[MetricRow] = []
    for section, attr in (("cv", "cv_metrics"), ("test", "test_metrics")):
        names: list[str] = []
        for run in runs:
            for key in getattr(run, attr) or {}:
                if key not in names and not key.endswith("_std"):
                    names.append(key)
        for key in names:
            values = [(getattr(run, attr) or {}).get(key) for run in runs]
            rows.append(MetricRow(f"{section} {key}", values, _best(key, values)))
    return rows


def _best(metric: str, values: list[Any]) -> int | None:
    higher = greater_is_better(metric)
    numbers = [
        (i, float(v))
        for i, v in enumerate(values)
        if isinstance(v, int | float) and math.isfinite(float(v))
    ]
    if higher is None or len(numbers) < 2:
        return None
    pick = max if higher else min
    return pick(numbers, key=lambda item: item[1])[0]


def live_charts(
    buckets: list[Bucket], numeric: bool, values: Sequence[tuple[str, float]] = ()
) -> dict[str, Markup]:
    """The live view's charts: predictions, latency, prediction mix, accuracy over time.

    For a decision policy (buckets with reward rates): decisions, the action mix, and the
    reward rate over time beside ``values``, each policy version's estimated value
    (``(label, value)``, drawn as dashed levels).
    """
    if not buckets:
        empty = "no predictions logged yet"
        return {
            "requests": line_chart("Predictions over time", [], x_label="", y_label="", empty=empty)
        }
    t0 = buckets[0].start
    xs = [(b.start - t0).total_seconds() for b in buckets]
    span = xs[-1] - xs[0] if len(xs) > 1 else 0.0
    ticks = [(xs[i], buckets[i].start.strftime("%H:%M:%S")) for i in _tick_indexes(len(xs))]
    x_label = f"time (UTC, {buckets[0].start:%Y-%m-%d}, over {_duration(span)})"
    charts = {
        "requests": line_chart(
            "Predictions over time",
            [Series("rows predicted", list(zip(xs, [b.count for b in buckets], strict=True)))],
            x_label=x_label,
            y_label="rows per slice",
            x_ticks=ticks,
        ),
        "latency": line_chart(
            "Latency",
            [
                Series("mean", _pairs(xs, [b.latency_mean_ms for b in buckets])),
                Series("p95", _pairs(xs, [b.latency_p95_ms for b in buckets]), dashed=True),
            ],
            x_label=x_label,
            y_label="milliseconds",
            x_ticks=ticks,
        ),
    }
    if numeric:
        charts["predictions"] = line_chart(
            "Mean prediction",
            [Series("mean prediction", _pairs(xs, [b.mean_prediction for b in buckets]))],
            x_label=x_label,
            y_label="prediction",
            x_ticks=ticks,
        )
    else:
        classes = sorted({c for b in buckets for c in b.class_share})[:6]
        charts["predictions"] = line_chart(
            "Actions taken"
            if any(b.reward_rate is not None for b in buckets)
            else "Predicted classes",
            [
                Series(f"class {c}", _pairs(xs, [b.class_share.get(c, 0.0) for b in buckets]))
                for c in classes
            ],
            x_label=x_label,
            y_label="share of rows",
            x_ticks=ticks,
        )
    if any(b.reward_rate is not None for b in buckets) or values:
        levels = [
            Series(label, [(xs[0], v), (xs[-1], v)] if len(xs) > 1 else [(xs[0], v)], dashed=True)
            for label, v in values
        ]
        charts["rewards"] = line_chart(
            "Reward rate and policy values",
            [Series("reward rate", _pairs(xs, [b.reward_rate for b in buckets])), *levels],
            x_label=x_label,
            y_label="mean reward",
            x_ticks=ticks,
        )
        charts["requests"] = line_chart(
            "Decisions over time",
            [
                Series("decisions", list(zip(xs, [b.count for b in buckets], strict=True))),
                Series("rewarded", list(zip(xs, [b.labeled for b in buckets], strict=True))),
            ],
            x_label=x_label,
            y_label="decisions per slice",
            x_ticks=ticks,
        )
    if any(b.accuracy is not None for b in buckets):
        charts["accuracy"] = line_chart(
            "Accuracy on labelled rows",
            [Series("accuracy", _pairs(xs, [b.accuracy for b in buckets]))],
            x_label=x_label,
            y_label="accuracy",
            x_ticks=ticks,
        )
    return charts


def _pairs(xs: Sequence[float], ys: Sequence[float | None]) -> list[tuple[float, float]]:
    return [(x, float(y)) for x, y in zip(xs, ys, strict=True) if y is not None]


def _tick_indexes(n: int, most: int = 5) -> list[int]:
    if n <= most:
        return list(range(n))
    step = (n - 1) / (most - 1)
    return sorted({round(i * step) for i in range(most)})


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
