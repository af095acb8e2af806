"""Prometheus metrics of one server process: requests, errors, latency, batch sizes, unseen values.

Each app gets its own :class:`prometheus_client.CollectorRegistry`, so several apps (tests)
never share counters. With several worker processes (``modelloop serve --workers N``), the
command gives them a shared ``PROMETHEUS_MULTIPROC_DIR``: prometheus-client then keeps every
worker's values in files there, and ``GET /metrics``, whichever worker answers, reports the
sum over all workers.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import values as _values
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "AnsweredCounters", "ServingMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The counters and histograms ``GET /metrics`` exposes.

    Examples
    --------
    >>> m = ServingMetrics()
    >>> m.requests.labels(model="churn", version="2", route="v1", status="200").inc()
    >>> b"modelloop_requests_total" in m.render()
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "modelloop_requests",
            "Prediction requests, by model, version, route and status.",
            ["model", "version", "route", "status"],
            registry=r,
        )
        self.errors = Counter(
            "modelloop_request_errors",
            "Refused or failed prediction requests, by model and error type.",
            ["model", "type"],
            registry=r,
        )
        self.rows = Counter(
            "modelloop_predicted_rows",
            "Rows predicted, by model and version.",
            ["model", "version"],
            registry=r,
        )
        self.latency = Histogram(
            "modelloop_request_latency_seconds",
            "Time from a request's arrival to its answer, by model and version.",
            ["model", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "modelloop_batch_rows",
            "Rows per micro-batch handed to one predict call.",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.unseen = Counter(
            "modelloop_unseen_categories",
            "Values of categorical columns not seen in training (served anyway).",
            ["model", "version", "column"],
            registry=r,
        )
        self.log_dropped = Counter(
            "modelloop_prediction_log_dropped",
            "Prediction log entries dropped (queue or spool full, or store failure).",
            registry=r,
        )
        self.rewards = Counter(
            "modelloop_rewards",
            "Rewards for logged decisions, by model and outcome (recorded, duplicate, "
            "conflict, expired, unknown, rejected).",
            ["model", "status"],
            registry=r,
        )
        self._answered: dict[tuple[str, str, str], AnsweredCounters] = {}
        self.swaps = Counter(
            "modelloop_model_swaps",
            "Hot swaps: an alias moved and the server switched versions.",
            ["model"],
            registry=r,
        )

    def answered(self, model: str, version: str, route: str) -> AnsweredCounters:
        """The counters of requests answered 200 by ``model``/``version`` on ``route``.

        Looking up labelled children (``.labels(...)``) costs more than updating them, so
        they are looked up once per model, version and route, and kept.

        >>> m = ServingMetrics()
        >>> m.answered("churn", "2", "v1").observe(0.004, rows=3)
        >>> b'modelloop_predicted_rows_total{model="churn",version="2"} 3.0' in m.render()
        True
        """
        key = (model, version, route)
        counters = self._answered.get(key)
        if counters is None:
            counters = AnsweredCounters(
                self.latency.labels(model=model, version=version),
                self.requests.labels(model=model, version=version, route=route, status="200"),
                self.rows.labels(model=model, version=version),
            )
            self._answered[key] = counters
        return counters

    def render(self) -> bytes:
        """The metrics in Prometheus' text format (summed over worker processes)."""
        if multiprocess_mode():
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # reads the directory the command set up
            return generate_latest(registry)
        return generate_latest(self.registry)


class AnsweredCounters:
    """Latency, request and row counters of one model version and route, looked up once."""

    __slots__ = ("_latency", "_requests", "_rows")

    def __init__(self, latency: Any, requests: Any, rows: Any) -> None:
        self._latency = latency
        self._requests = requests
        self._rows = rows

    def observe(self, seconds: float, rows: int) -> None:
        """Count one request answered in ``seconds`` with ``rows`` rows."""
        self._latency.observe(seconds)
        self._requests.inc()
        self._rows.inc(rows)


def multiprocess_mode() -> bool:
    """Whether prometheus-client keeps values in a directory shared by worker processes."""
    return _values.ValueClass is not _values.MutexValue
