"""What the routes share: settings, the registry, metrics, the log, the thread pool."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from modelloop.config import Settings
from modelloop.exceptions import ModelloopError
from modelloop.serving._batching import MicroBatcher
from modelloop.serving._errors import status_of
from modelloop.serving._metrics import ServingMetrics
from modelloop.serving._predlog import PredictionLog
from modelloop.serving._registry import ModelRegistry, ServedModel
from modelloop.store import key_text

__all__ = ["Prediction", "ServerState", "state_of"]


@dataclass(frozen=True)
class Prediction:
    """The answer for one request: per-row predictions, probabilities and request ids."""

    model: ServedModel
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None
    request_ids: list[str]


@dataclass
class ServerState:
    settings: Settings
    registry: ModelRegistry
    metrics: ServingMetrics
    executor: ThreadPoolExecutor
    predlog: PredictionLog | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def batcher(self, served: ServedModel) -> MicroBatcher:
        if served.batcher is None:
            labels = self.metrics.batch_size.labels(model=served.name, version=str(served.version))
            served.batcher = MicroBatcher(
                served.predict_rows,
                self.executor,
                max_rows=self.settings.serve_max_batch,
                wait_s=self.settings.serve_batch_wait_ms / 1000.0,
                on_batch=labels.observe,
            )
        return served.batcher

    async def predict(
        self, served: ServedModel, raw_rows: list[Any], where: str, route: str
    ) -> Prediction:
        """Validate, predict (micro-batched), count and log one request's rows."""
        start = time.perf_counter()
        version = str(served.version)
        try:
            rows = served.parser.validate(raw_rows, where)
            served.check_rules(rows, where)
            unseen = served.parser.unseen(rows)
            preds, probas = await self.batcher(served).submit(rows)
        except ModelloopError as exc:
            status, kind = status_of(exc)
            self.metrics.errors.labels(model=served.name, type=kind).inc()
            self.metrics.requests.labels(
                model=served.name, version=version, route=route, status=str(status)
            ).inc()
            raise
        elapsed = time.perf_counter() - start
        m = self.metrics
        m.latency.labels(model=served.name, version=version).observe(elapsed)
        m.requests.labels(model=served.name, version=version, route=route, status="200").inc()
        m.rows.labels(model=served.name, version=version).inc(len(rows))
        for column, n in unseen.items():
            m.unseen.labels(model=served.name, version=version, column=column).inc(n)
        ids = [uuid.uuid4().hex for _ in rows]
        if self.predlog is not None and self.predlog.wants():
            now = datetime.now(UTC)
            latency_ms = elapsed * 1000.0
            logged = _with_key(served, rows, raw_rows)
            self.predlog.submit(
                [
                    {
                        "request_id": rid,
                        "model_name": served.name,
                        "model_version": served.version,
                        "created_at": now,
                        "latency_ms": latency_ms,
                        "inputs": row,
                        "prediction": pred,
                        "probabilities": None if probas is None else probas[i],
                    }
                    for i, (rid, row, pred) in enumerate(zip(ids, logged, preds, strict=True))
                ]
            )
        shadow = self.extras.get("shadow")  # serve --shadow: a challenger scores beside
        if shadow is not None:
            shadow(served, rows, ids)
        return Prediction(served, preds, probas, ids)


def _with_key(served: ServedModel, rows: list[Any], raw_rows: list[Any]) -> list[Any]:
    """Rows to log, with the model's key column (``train --id-column``) as text, if any."""
    key = served.record.lineage.get("id_column") if served.record is not None else None
    if key is None:
        return rows
    return [
        {**row, key: key_text(raw.get(key)) if isinstance(raw, dict) else None}
        for row, raw in zip(rows, raw_rows, strict=True)
    ]


def state_of(request: Request) -> ServerState:
    return request.app.state.modelloop
