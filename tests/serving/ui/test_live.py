"""The live view's numbers: serving counters and the prediction timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from modelloop.serving._metrics import ServingMetrics
from modelloop.serving.ui._live import counters_of, timeline


def test_counters_sum_requests_errors_and_latency_of_one_model() -> None:
    m = ServingMetrics()
    m.requests.labels(model="a", version="1", route="v1", status="200").inc(8)
    m.requests.labels(model="a", version="2", route="v2", status="200").inc(1)
    m.requests.labels(model="a", version="2", route="v1", status="422").inc(1)
    m.requests.labels(model="b", version="1", route="v1", status="200").inc(50)
    m.errors.labels(model="a", type="invalid_input").inc()
    m.rows.labels(model="a", version="1").inc(30)
    for seconds in [0.001] * 9 + [0.2]:
        m.latency.labels(model="a", version="1").observe(seconds)
    c = counters_of(m, "a")
    assert (c.requests, c.errors, c.rows) == (10, 1, 30)
    assert c.error_types == {"invalid_input": 1}
    assert c.latency_mean_ms == pytest.approx((9 * 1 + 200) / 10)
    assert c.latency_p95_ms == pytest.approx(250.0)  # the histogram bucket holding p95


def test_counters_of_an_unseen_model_are_zero() -> None:
    c = counters_of(ServingMetrics(), "nobody")
    assert (c.requests, c.errors, c.latency_mean_ms) == (0, 0, None)


def _points(n: int, prediction: object = "1", label: object = None) -> list[SimpleNamespace]:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        SimpleNamespace(
            created_at=t0 + timedelta(seconds=i),
            latency_ms=float(i),
            prediction=prediction if not callable(prediction) else prediction(i),
            label=label if not callable(label) else label(i),
        )
        for i in range(n)
    ]


def test_timeline_shares_classes_and_scores_labelled_rows() -> None:
    pts = _points(100, prediction=lambda i: str(i % 4 == 0), label=lambda i: "True")
    buckets, numeric = timeline(pts, n_buckets=4)
    assert not numeric
    assert sum(b.count for b in buckets) == 100
    assert buckets[0].class_share["True"] == pytest.approx(0.28, abs=0.05)
    assert buckets[0].accuracy == pytest.approx(buckets[0].class_share["True"])
    assert buckets[-1].latency_p95_ms >= buckets[-1].latency_mean_ms


def test_timeline_of_numeric_predictions_gives_the_mean() -> None:
    buckets, numeric = timeline(_points(10, prediction=lambda i: float(i)), n_buckets=2)
    assert numeric
    assert [b.mean_prediction for b in buckets] == [2.0, 7.0]
    assert all(b.accuracy is None for b in buckets)


def test_timeline_of_nothing_is_empty() -> None:
    assert timeline([]) == ([], False)
