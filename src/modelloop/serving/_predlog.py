"""The prediction log writer: a queue and a background thread doing batched inserts.

Requests only put entries on a queue (off the hot path). The thread writes them to the
store in batches of up to ``batch_size`` rows, or every ``interval_s`` seconds, whichever
comes first; :meth:`PredictionLog.close` (called on graceful shutdown) writes what is left.
A crash loses at most the entries not yet written. When the queue is full or the store
fails, entries are dropped and counted rather than slowing requests down.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["PredictionLog"]

log = logging.getLogger("modelloop.serving")
_STOP = object()


class PredictionLog:
    """Batched, asynchronous writes of prediction log entries.

    Parameters
    ----------
    write : callable
        ``entries -> int``, e.g. ``store.log_predictions``.
    sample : float
        Share of requests logged (1.0: all; 0.0: none).
    batch_size, interval_s, max_queue : int, float, int
        Batching and back-pressure knobs.
    on_drop : callable, optional
        Called with the number of entries dropped.

    Examples
    --------
    >>> written = []
    >>> plog = PredictionLog(written.extend, sample=1.0)
    >>> plog.submit([{"request_id": "r1"}])
    >>> plog.close()
    >>> written
    [{'request_id': 'r1'}]
    """

    def __init__(
        self,
        write: Callable[[Sequence[dict[str, Any]]], Any],
        *,
        sample: float = 1.0,
        batch_size: int = 500,
        interval_s: float = 0.5,
        max_queue: int = 100_000,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self._write = write
        self.sample = sample
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._on_drop = on_drop
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name="modelloop-predlog", daemon=True)
        self._thread.start()

    def wants(self) -> bool:
        """Whether to log the next request (sampling)."""
        return self.sample >= 1.0 or (self.sample > 0 and random.random() < self.sample)

    def submit(self, entries: Sequence[dict[str, Any]]) -> None:
        """Queue entries for writing; never blocks."""
        try:
            self._queue.put_nowait(list(entries))
        except queue.Full:
            self._dropped(len(entries))

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _dropped(self, n: int) -> None:
        if self._on_drop is not None:
            self._on_drop(n)

    def _loop(self) -> None:
        pending: list[dict[str, Any]] = []
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=self._interval_s)
            except queue.Empty:
                item = None
            if item is _STOP:
                stop = True
            elif item is not None:
                pending.extend(item)
                # take whatever else is already queued, up to a batch
                while len(pending) < self._batch_size:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stop = True
                        break
                    pending.extend(more)
            if pending and (stop or item is None or len(pending) >= self._batch_size):
                self._flush(pending)
                pending = []
        if pending:
            self._flush(pending)

    def _flush(self, entries: list[dict[str, Any]]) -> None:
        try:
            self._write(entries)
            self.written += len(entries)
        except Exception:
            log.exception("could not write %d prediction log entries", len(entries))
            self._dropped(len(entries))
