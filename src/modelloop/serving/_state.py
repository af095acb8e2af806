"""What the routes share: settings, the registry, metrics, the log, the thread pool."""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import Request

from modelloop.config import Settings
from modelloop.exceptions import ConfigurationError, InvalidInputError, ModelloopError
from modelloop.serving._batching import MicroBatcher
from modelloop.serving._errors import status_of
from modelloop.serving._metrics import ServingMetrics
from modelloop.serving._predlog import PredictionLog
from modelloop.serving._registry import ModelRegistry, ServedModel
from modelloop.serving._schemas import RequestRejected
from modelloop.store import key_text

__all__ = ["Prediction", "RequestIds", "ServerState", "state_of"]


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
    request_ids: RequestIds = field(default_factory=lambda: RequestIds())

    def batcher(self, served: ServedModel) -> MicroBatcher:
        if served.batcher is None:
            labels = self.metrics.batch_size.labels(model=served.name, version=str(served.version))
            served.batcher = MicroBatcher(
                served.predict_rows,
                self.executor,
                max_rows=self.settings.serve_max_batch,
                wait_s=self.settings.serve_batch_wait_ms / 1000.0,
                on_batch=labels.observe,
                # only a compiled model is known to be fast enough to block the event loop
                inline_rows=32 if served.compiled else 0,
            )
        return served.batcher

    def decider(self, served: ServedModel) -> MicroBatcher:
        """The micro-batcher of a policy's decisions (one scoring call per batch)."""
        if served.decider is None:
            policy = served.policy
            if policy is None:  # pragma: no cover - callers check
                raise ConfigurationError(f"Model '{served.name}' is not a decision policy.")

            def decide(requests: list[Any]) -> tuple[list[Any], None]:
                return policy.decide(requests), None

            labels = self.metrics.batch_size.labels(model=served.name, version=str(served.version))
            served.decider = MicroBatcher(
                decide,
                self.executor,
                max_rows=max(1, self.settings.serve_max_batch),
                wait_s=self.settings.serve_batch_wait_ms / 1000.0,
                on_batch=labels.observe,
                inline_rows=4,
            )
        return served.decider

    async def decide(
        self, served: ServedModel, context: Any, actions: Any, route: str = "decide"
    ) -> tuple[str, Any, float]:
        """Validate, decide (micro-batched), count and log one decision: ``(event id,
        action, propensity)``. Every decision is logged (no sampling): its reward joins it."""
        start = time.perf_counter()
        version = str(served.version)
        policy = served.policy
        try:
            if policy is None:
                raise ConfigurationError(
                    f"Model '{served.name}' is a {served.task} model, not a decision policy: "
                    f"POST /v1/models/{served.name}/predict asks it for predictions."
                )
            if not isinstance(context, dict):
                raise InvalidInputError(
                    "Field 'context' must be an object of the context columns, e.g. "
                    f'{{"context": {{...}}}}. Got {type(context).__name__}.'
                )
            rows = _one_context(served, context)
            served.check_rules(rows, "context")
            candidates = policy.candidates(actions)
            [(action, propensity, dist)] = (
                await self.decider(served).submit([(rows[0], candidates)])
            )[0]
        except ModelloopError as exc:
            status, kind = status_of(exc)
            self.metrics.errors.labels(model=served.name, type=kind).inc()
            self.metrics.requests.labels(
                model=served.name, version=version, route=route, status=str(status)
            ).inc()
            raise
        elapsed = time.perf_counter() - start
        self.metrics.answered(served.name, version, route).observe(elapsed, 1)
        [event] = self.request_ids.take(1)
        if self.predlog is not None:
            self.predlog.submit(
                [
                    {
                        "request_id": event,
                        "model_name": served.name,
                        "model_version": served.version,
                        "created_at": datetime.fromtimestamp(time.time(), UTC),
                        "latency_ms": elapsed * 1000.0,
                        "inputs": _with_key(served, rows, [context])[0],
                        "prediction": action,
                        "probabilities": dist,
                    }
                ]
            )
        return event, action, propensity

    async def predict(
        self,
        served: ServedModel,
        raw_rows: list[Any],
        where: str,
        route: str,
        *,
        ignore_extra: bool = False,
    ) -> Prediction:
        """Validate, predict (micro-batched), count and log one request's rows.

        A row holding a column the model does not know is refused unless ``ignore_extra``
        (``?ignore_extra=true``), as ``modelloop predict`` refuses it without
        ``--ignore-extra``.
        """
        start = time.perf_counter()
        version = str(served.version)
        try:
            served.require_predictor()
            if not ignore_extra:
                served.parser.check_columns(raw_rows, where)
            rows = served.parser.validate(
                raw_rows, where, max_image_bytes=self.settings.serve_max_image_bytes
            )
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
        self.metrics.answered(served.name, version, route).observe(elapsed, len(rows))
        if unseen:
            for column, n in unseen.items():
                self.metrics.unseen.labels(model=served.name, version=version, column=column).inc(n)
        ids = self.request_ids.take(len(rows))
        if self.predlog is not None and self.predlog.wants():
            # the entries are built by the log's writer thread, not while clients wait
            self.predlog.submit_lazy(
                len(ids),
                partial(
                    _log_entries,
                    served,
                    time.time(),
                    elapsed * 1000.0,
                    ids,
                    rows,
                    raw_rows,
                    preds,
                    probas,
                ),
            )
        shadow = self.extras.get("shadow")  # serve --shadow: a challenger scores beside
        if shadow is not None:
            shadow(served, rows, ids)
        return Prediction(served, preds, probas, ids)


def _one_context(served: ServedModel, context: dict[str, Any]) -> list[dict[str, Any]]:
    """The typed context, its problems named ``context.COLUMN`` (a decision has one row)."""
    try:
        return served.parser.validate([context], "context")
    except RequestRejected as exc:
        details = [
            {**d, "field": str(d.get("field", "")).replace("context[0]", "context", 1)}
            for d in (exc.details or [])
        ]
        raise RequestRejected(str(exc).replace("context[0]", "context", 1), details) from None


def _log_entries(
    served: ServedModel,
    created: float,
    latency_ms: float,
    ids: list[str],
    rows: list[Any],
    raw_rows: list[Any],
    preds: list[Any],
    probas: list[Any] | None,
) -> list[dict[str, Any]]:
    """One request's prediction log entries (made on the log's writer thread)."""
    name, version = served.name, served.version
    now = datetime.fromtimestamp(created, UTC)
    logged = _with_key(served, rows, raw_rows)
    if probas is None:
        probas = [None] * len(ids)
    return [
        {
            "request_id": rid,
            "model_name": name,
            "model_version": version,
            "created_at": now,
            "latency_ms": latency_ms,
            "inputs": row,
            "prediction": pred,
            "probabilities": proba,
        }
        for rid, row, pred, proba in zip(ids, logged, preds, probas, strict=True)
    ]


def _with_key(served: ServedModel, rows: list[Any], raw_rows: list[Any]) -> list[Any]:
    """Rows to log, with the model's key column (``train --id-column``) as text and its
    sample-weight column (``train --weight``, for weighted monitoring) as a number, if any."""
    lineage = served.record.lineage if served.record is not None else {}
    key, weight = lineage.get("id_column"), lineage.get("weight")
    if key is None and weight is None:
        return rows
    logged = []
    for row, raw in zip(rows, raw_rows, strict=True):
        extra: dict[str, Any] = {}
        if key is not None:
            extra[key] = key_text(raw.get(key)) if isinstance(raw, dict) else None
        if weight is not None:
            value = raw.get(weight) if isinstance(raw, dict) else None
            extra[weight] = _weight_value(value)
        logged.append({**row, **extra})
    return logged


def _weight_value(value: Any) -> float | None:
    """A request's sample weight as a number (``None`` when absent or not a number >= 0)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


class RequestIds:
    """Request ids in ``uuid.uuid4().hex`` format, many from one ``os.urandom`` call.

    ``uuid4()`` reads 16 random bytes from the kernel and builds a UUID object for each id.
    Here one read gives ``block`` ids: the version and variant bits are set on the whole
    block, which is formatted as hex once; each id is then a slice of that text. The ids
    are as random (122 bits) and as unique as ``uuid4``'s. A forked process starts a
    fresh block (it must not hand out its parent's ids).

    Examples
    --------
    >>> import uuid
    >>> ids = RequestIds(block=4).take(6)
    >>> len(set(ids)), all(uuid.UUID(hex=i).version == 4 for i in ids)
    (6, True)
    >>> uuid.UUID(hex=ids[0]).hex == ids[0]
    True
    """

    def __init__(self, block: int = 256) -> None:
        self._block = block
        self._hex = ""
        self._next = 0  # offset of the next id in _hex
        self._pid = -1

    def _refill(self) -> None:
        raw = bytearray(os.urandom(16 * self._block))
        raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # version 4
        raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # RFC 4122 variant
        self._hex = raw.hex()
        self._next = 0
        self._pid = os.getpid()

    def take(self, n: int) -> list[str]:
        """``n`` new ids."""
        if self._pid != os.getpid():
            self._refill()
        out: list[str] = []
        while len(out) < n:
            if self._next >= len(self._hex):
                self._refill()
            h, i = self._hex, self._next
            end = min(len(h), i + 32 * (n - len(out)))
            out.extend([h[j : j + 32] for j in range(i, end, 32)])
            self._next = end
        return out


def state_of(request: Request) -> ServerState:
    return request.app.state.modelloop
