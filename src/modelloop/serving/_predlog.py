"""The prediction log writer: a queue and a background thread doing batched inserts.

Requests only append entries to a queue (off the hot path: an append, no lock, no thread
woken). The thread wakes every ``interval_s`` seconds, or as soon as ``batch_size``
requests are waiting, and writes what is queued to the store in batches of up to
``batch_size`` rows; :meth:`PredictionLog.close` (called on graceful shutdown) writes what
is left. A crash loses at most the entries not yet written. When the queue is full or the
store fails, entries are dropped and counted rather than slowing requests down.

Waking the writer for every request (as a ``queue.Queue`` does) would hand the GIL to it
thousands of times a second, in the middle of the event loop's work. For the same reason a
request may queue a function that makes its entries (:meth:`PredictionLog.submit_lazy`):
the entries' dictionaries are then built by the writer thread, in batches, not by the
event loop while clients wait.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["PredictionLog"]

log = logging.getLogger("modelloop.serving")


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
        self._max_queue = max_queue
        self._on_drop = on_drop
        # one item per request: its entries, or (rows, a function making them)
        self._queue: deque[Any] = deque()  # appends are thread-safe
        self._wake = threading.Event()
        self._stopping = False
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name="modelloop-predlog", daemon=True)
        self._thread.start()

    def wants(self) -> bool:
        """Whether to log the next request (sampling)."""
        return self.sample >= 1.0 or (self.sample > 0 and random.random() < self.sample)

    def submit(self, entries: Sequence[dict[str, Any]]) -> None:
        """Queue one request's entries for writing; never blocks."""
        queued = len(self._queue)
        if queued >= self._max_queue:
            self._dropped(len(entries))
            return
        self._queue.append(list(entries))
        if queued + 1 >= self._batch_size and not self._wake.is_set():
            self._wake.set()  # a full batch waits: write it now

    def submit_lazy(self, n: int, make: Callable[[], Sequence[dict[str, Any]]]) -> None:
        """Queue one request's ``n`` entries, made by ``make()`` on the writer thread.

        ``make`` must only read what does not change after the request (its rows, its
        answer). Never blocks.

        >>> written = []
        >>> plog = PredictionLog(written.extend)
        >>> plog.submit_lazy(1, lambda: [{"request_id": "r2"}])
        >>> plog.close()
        >>> written
        [{'request_id': 'r2'}]
        """
        queued = len(self._queue)
        if queued >= self._max_queue:
            self._dropped(n)
            return
        self._queue.append((n, make))
        if queued + 1 >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _dropped(self, n: int) -> None:
        if self._on_drop is not None:
            self._on_drop(n)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            stopping = self._stopping
            self._drain()
            if stopping:
                return

    def _drain(self) -> None:
        """Write everything queued now, ``batch_size`` rows at a time."""
        pending: list[dict[str, Any]] = []
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, tuple):  # (rows, make) from submit_lazy; submit queues lists
                n, make = item
                try:
                    item = make()
                except Exception:
                    log.exception("could not make %d prediction log entries", n)
                    self._dropped(n)
                    continue
            pending.extend(item)
            if len(pending) >= self._batch_size:
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
