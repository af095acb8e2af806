"""The live view's numbers: this process's serving counters and the prediction log over time.

Counters (requests, errors, latency) come from the server's Prometheus metrics and exist
only when the dashboard runs inside ``modelloop serve``; the prediction log is in the store
and is read by ``modelloop ui`` too, so the timeline works in both.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["Bucket", "LiveCounters", "counters_of", "timeline"]


@dataclass(frozen=True)
class LiveCounters:
    """What this server process has counted for one model since it started."""

    requests: int = 0
    errors: int = 0
    rows: int = 0
    latency_mean_ms: float | None = None
    latency_p95_ms: float | None = None
    by_status: dict[str, int] = field(default_factory=dict)
    error_types: dict[str, int] = field(default_factory=dict)


def _samples(metric: Any) -> list[Any]:
    return [s for family in metric.collect() for s in family.samples]


def counters_of(metrics: Any, model: str) -> LiveCounters:
    """Sum the serving metrics of ``model`` (all versions and routes) in this process.

    Examples
    --------
    >>> from modelloop.serving._metrics import ServingMetrics
    >>> m = ServingMetrics()
    >>> m.requests.labels(model="churn", version="1", route="v1", status="200").inc(3)
    >>> counters_of(m, "churn").requests
    3
    """
    by_status: Counter[str] = Counter()
    for s in _samples(metrics.requests):
        if s.name.endswith("_total") and s.labels.get("model") == model:
            by_status[s.labels["status"]] += int(s.value)
    error_types: Counter[str] = Counter()
    for s in _samples(metrics.errors):
        if s.name.endswith("_total") and s.labels.get("model") == model:
            error_types[s.labels["type"]] += int(s.value)
    rows = sum(
        int(s.value)
        for s in _samples(metrics.rows)
        if s.name.endswith("_total") and s.labels.get("model") == model
    )
    total = count = 0.0
    buckets: Counter[float] = Counter()
    for s in _samples(metrics.latency):
        if s.labels.get("model") != model:
            continue
        if s.name.endswith("_sum"):
            total += s.value
        elif s.name.endswith("_count"):
            count += s.value
        elif s.name.endswith("_bucket"):
            buckets[float(s.labels["le"])] += s.value
    mean = total / count * 1000.0 if count else None
    p95 = None
    if count:
        for bound in sorted(buckets):
            if buckets[bound] >= 0.95 * count:
                p95 = bound * 1000.0 if math.isfinite(bound) else None
                break
    ok = by_status.get("200", 0)
    return LiveCounters(
        requests=sum(by_status.values()),
        errors=sum(by_status.values()) - ok,
        rows=rows,
        latency_mean_ms=mean,
        latency_p95_ms=p95,
        by_status=dict(by_status),
        error_types=dict(error_types),
    )


@dataclass(frozen=True)
class Bucket:
    """Logged predictions in one time slice."""

    start: datetime
    count: int
    latency_mean_ms: float | None
    latency_p95_ms: float | None
    mean_prediction: float | None
    class_share: dict[str, float]
    labeled: int
    accuracy: float | None
    reward_rate: float | None = None  # a decision policy: mean reward of resolved decisions
    resolved: int = 0  # ... its decisions rewarded, or past their wait (the default reward)


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def timeline(
    points: Sequence[Any],
    *,
    n_buckets: int = 30,
    rewards: tuple[float, float | None] | None = None,
    now: datetime | None = None,
) -> tuple[list[Bucket], bool]:
    """Slice logged predictions (``ActivityPoint``s, oldest first) into equal time buckets.

    Returns the buckets and whether predictions are numeric (regression: the mean
    prediction per bucket) rather than classes (the share of each class per bucket).
    ``rewards`` (a decision policy's reward wait in seconds and default reward) makes the
    labels rewards: each bucket gets the mean reward of its resolved decisions (rewarded,
    or past the wait and counted with the default reward) instead of an accuracy.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> from types import SimpleNamespace as P
    >>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
    >>> pts = [P(created_at=t0 + timedelta(seconds=i), latency_ms=1.0, prediction="1",
    ...          label=None) for i in range(10)]
    >>> buckets, numeric = timeline(pts, n_buckets=2)
    >>> [b.count for b in buckets], numeric
    ([5, 5], False)
    """
    if not points:
        return [], False
    numeric = all(
        _number(p.prediction) is not None and not isinstance(p.prediction, bool) for p in points
    )
    start, end = points[0].created_at, points[-1].created_at
    span = max((end - start).total_seconds(), 1e-6)
    n = max(1, min(n_buckets, len(points)))
    width = span / n
    groups: list[list[Any]] = [[] for _ in range(n)]
    for p in points:
        i = min(n - 1, int((p.created_at - start).total_seconds() / width))
        groups[i].append(p)
    buckets = []
    for i, group in enumerate(groups):
        if not group:
            continue
        latencies = [p.latency_ms for p in group if p.latency_ms is not None]
        shares: dict[str, float] = {}
        mean_pred = None
        if numeric:
            mean_pred = sum(float(p.prediction) for p in group) / len(group)
        else:
            counts = Counter(str(p.prediction) for p in group)
            shares = {k: v / len(group) for k, v in counts.items()}
        labeled = [p for p in group if p.label is not None]
        accuracy = reward_rate = None
        resolved: list[float] = []
        if rewards is not None:
            resolved = _resolved(group, rewards, now)
            reward_rate = sum(resolved) / len(resolved) if resolved else None
        elif labeled and not numeric:
            accuracy = sum(str(p.label) == str(p.prediction) for p in labeled) / len(labeled)
        buckets.append(
            Bucket(
                start=start + timedelta(seconds=width * i),
                count=len(group),
                latency_mean_ms=sum(latencies) / len(latencies) if latencies else None,
                latency_p95_ms=_p95(latencies),
                mean_prediction=mean_pred,
                class_share=shares,
                labeled=len(labeled),
                accuracy=accuracy,
                reward_rate=reward_rate,
                resolved=len(resolved),
            )
        )
    return buckets, numeric


def _resolved(group: list[Any], rewards: tuple[float, float | None], now: Any) -> list[float]:
    """The rewards of a slice's resolved decisions (a missing one past the wait: the default)."""
    from datetime import UTC

    wait, default = rewards
    now = now or datetime.now(UTC)
    out = []
    for p in group:
        value = _number(p.label)
        if value is not None:
            out.append(value)
        elif default is not None and (now - p.created_at).total_seconds() > wait:
            out.append(float(default))
    return out
