"""Adaptive micro-batching: concurrent requests for one model, one predict call.

A request's rows join a queue; one drain task per model takes everything queued (up to
``max_rows``) and runs a single predict call in the thread pool, then answers each request
with its own slice. A lone request goes at once (no added latency); when the previous batch
held several requests, the drain waits up to ``wait_s`` for more to fill the next one. A
failing batch is retried request by request, so one bad request fails alone.

Small batches (at most ``inline_rows`` rows) of a model known to be fast (compiled by the
fast path: it predicts them in well under a millisecond) run on the event loop itself: a hop
to a thread and back costs more than the prediction. Requests arriving meanwhile wait in the
socket buffers and form the next batch. Larger batches, and every batch of a model that is
not compiled (text, k-NN, SVM, torch, unsupervised models, a model file served with
``--model``), run in the executor, so the loop keeps answering health checks and other
models while one is slow.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

__all__ = ["MicroBatcher"]

Predict = Callable[[list[Any]], tuple[list[Any], list[Any] | None]]


class MicroBatcher:
    """Groups concurrent ``submit`` calls into batched ``predict`` calls.

    Parameters
    ----------
    predict : callable
        ``rows -> (predictions, probabilities or None)``, one entry per row.
    executor : Executor
        Where ``predict`` runs (it blocks).
    max_rows : int
        Most rows in one predict call (a single larger request still goes whole).
    wait_s : float
        Longest wait for more requests when under load.
    on_batch : callable, optional
        Called with the number of rows of each batch (metrics).
    inline_rows : int
        Batches of at most this many rows run on the event loop, larger ones in
        ``executor``; 0 sends every batch to the executor.
    """

    def __init__(
        self,
        predict: Predict,
        executor: Executor,
        *,
        max_rows: int = 256,
        wait_s: float = 0.002,
        on_batch: Callable[[int], None] | None = None,
        inline_rows: int = 32,
    ) -> None:
        self._predict = predict
        self._executor = executor
        self._max_rows = max_rows
        self._wait_s = wait_s
        self._on_batch = on_batch
        self._inline_rows = inline_rows
        self._pending: deque[tuple[Sequence[Any], asyncio.Future[Any]]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._last_requests = 0

    async def submit(self, rows: Sequence[Any]) -> tuple[list[Any], list[Any] | None]:
        """Predictions (and probabilities) for ``rows``, computed in some batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((rows, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            if self._last_requests > 1 and self._wait_s > 0:
                await asyncio.sleep(self._wait_s)  # under load: let the batch fill
            batch: list[tuple[Sequence[Any], asyncio.Future[Any]]] = []
            n_rows = 0
            while self._pending and (
                not batch or n_rows + len(self._pending[0][0]) <= self._max_rows
            ):
                item = self._pending.popleft()
                batch.append(item)
                n_rows += len(item[0])
            self._last_requests = len(batch)
            try:
                if n_rows <= self._inline_rows:
                    results = self._run(batch)
                else:
                    results = await loop.run_in_executor(self._executor, self._run, batch)
            except BaseException as exc:  # the executor itself failed: fail this batch
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the client went away
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _run(self, batch: list[tuple[Sequence[Any], asyncio.Future[Any]]]) -> list[Any]:
        rows: list[Any] = []
        for r, _ in batch:
            rows.extend(r)
        if self._on_batch is not None:
            self._on_batch(len(rows))
        try:
            preds, probas = self._predict(rows)
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            return [self._one(r) for r, _ in batch]  # isolate the bad request
        out: list[Any] = []
        start = 0
        for r, _ in batch:
            end = start + len(r)
            out.append((preds[start:end], None if probas is None else probas[start:end]))
            start = end
        return out

    def _one(self, rows: Sequence[Any]) -> Any:
        try:
            return self._predict(list(rows))
        except Exception as exc:
            return exc
