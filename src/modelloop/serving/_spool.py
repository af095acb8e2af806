"""The prediction log of a multi-worker server: workers leave files, the supervisor writes.

With ``modelloop serve --workers N`` each worker's log thread (see ``_predlog``) does not
write to the store itself: it serialises each batch with orjson into one file of a spool
directory (written under a temporary name, then renamed, so a file is complete or absent).
The supervising process, which answers no requests, reads the files in order, writes
their rows to the store and deletes them (:class:`SpoolIngester`).

Why: an insert costs 15-30 µs a row of Python and SQLite work. In a worker that work shares
the GIL (and, on a busy machine, the core) with the event loop; measured with
``bench/serving.py`` at concurrency 64 the log cost a quarter of the throughput and most
of the p99 latency. Writing a file costs about 2 µs a row. The supervisor's ingest thread
runs at a lower CPU priority, so under full load the workers come first and the spool
absorbs the backlog, up to ``max_files`` files; beyond that batches are dropped and
counted, as the in-memory queue does.

A file is claimed by renaming it before it is read, so two ingesters never write the same
rows. A spool directory is named after its supervisor's pid: a new server writes what a
killed one left (:func:`recover_spools`), so a crash of the supervisor loses nothing that
reached the disk, and a crash of a worker at most its last batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from modelloop.data import json_value

__all__ = ["SpoolIngester", "SpoolWriter", "ingest", "recover_spools", "spool_dir", "spool_root"]

log = logging.getLogger("modelloop.serving")

_SUFFIX = ".jsonl"
_CLAIMED = ".ingesting"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
_ROWS_PER_WRITE = 2_000
_INGEST_NICE = 5  # the ingest thread yields the CPU to the workers under full load


def spool_root(home: Path | str, store_url: str) -> Path:
    """Where the spools of servers writing to ``store_url`` live under ``home``.

    One directory per store, so a spool left behind is only ever written to its own store.
    """
    digest = hashlib.sha256(store_url.encode()).hexdigest()[:12]
    return Path(home) / "spool" / "predictions" / digest


def spool_dir(home: Path | str, store_url: str, pid: int | None = None) -> Path:
    """The spool of the supervisor ``pid`` (default: this process) for ``store_url``."""
    return spool_root(home, store_url) / str(os.getpid() if pid is None else pid)


class SpoolWriter:
    """``entries -> int``: one spool file per call (a ``PredictionLog`` write function).

    Parameters
    ----------
    directory : path
        The spool directory (created if missing).
    max_files : int
        Files waiting at most; a batch beyond that is dropped and counted.
    on_drop : callable, optional
        Called with the number of entries dropped.

    Examples
    --------
    >>> import tempfile
    >>> write = SpoolWriter(tempfile.mkdtemp())
    >>> write([{"request_id": "r1", "model_name": "m", "model_version": 1, "inputs": {}}])
    1
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        max_files: int = 4_000,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_files = max_files
        self._on_drop = on_drop
        self._seq = 0
        self._pid = os.getpid()

    def __call__(self, entries: Sequence[dict[str, Any]]) -> int:
        if not entries:
            return 0
        waiting = sum(1 for e in os.scandir(self.directory) if e.name.endswith(_SUFFIX))
        if waiting >= self.max_files:
            log.warning(
                "prediction log spool %s holds %d files: dropping %d entries",
                self.directory,
                waiting,
                len(entries),
            )
            if self._on_drop is not None:
                self._on_drop(len(entries))
            return 0
        data = b"".join(orjson.dumps(e, default=json_value, option=_OPTIONS) for e in entries)
        self._seq += 1
        name = f"{time.time_ns():020d}-{self._pid}-{self._seq:08d}"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.directory / f"{name}{_SUFFIX}")
        return len(entries)


def _entry(line: bytes) -> dict[str, Any]:
    entry = orjson.loads(line)
    created = entry.get("created_at")
    if isinstance(created, str):
        entry["created_at"] = datetime.fromisoformat(created)
    return entry


class SpoolIngester:
    """Write the spool's files to the store, oldest first, from a background thread.

    Parameters
    ----------
    directory : path
        The spool directory the workers write to.
    write : callable
        ``entries -> int``, e.g. ``store.log_predictions``.
    interval_s : float
        Seconds between two looks at the directory.

    Examples
    --------
    >>> import tempfile
    >>> spool, written = tempfile.mkdtemp(), []
    >>> SpoolWriter(spool)([{"request_id": "r1", "inputs": {"x": 1.5}}])
    1
    >>> ingester = SpoolIngester(spool, written.extend)
    >>> ingester.close()
    >>> written
    [{'request_id': 'r1', 'inputs': {'x': 1.5}}]
    """

    def __init__(
        self,
        directory: Path | str,
        write: Callable[[Sequence[dict[str, Any]]], Any],
        *,
        interval_s: float = 0.5,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write = write
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name="modelloop-spool", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 60.0) -> None:
        """Write every file left (after the workers have stopped), then stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # Linux: per-thread priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _INGEST_NICE)
        while True:
            stopping = self._stop.is_set()
            try:
                self.written += ingest(self.directory, self._write)
            except Exception:  # the store is down: the files wait for the next round
                log.exception("could not write the prediction log spool %s", self.directory)
                if stopping:
                    return
            if stopping:
                return
            self._stop.wait(self._interval_s)


def ingest(directory: Path | str, write: Callable[[Sequence[dict[str, Any]]], Any]) -> int:
    """Write every complete spool file in ``directory`` with ``write``; returns the rows.

    A file is claimed (renamed) before it is read and deleted once its rows are written; if
    ``write`` fails the file goes back for a later try and the error propagates. A file that
    cannot be parsed is kept aside as ``*.bad``.
    """
    directory = Path(directory)
    total = 0
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        claimed = path.with_suffix(_CLAIMED)
        try:
            os.replace(path, claimed)
        except FileNotFoundError:  # another ingester took it
            continue
        try:
            entries = [_entry(line) for line in claimed.read_bytes().splitlines() if line]
        except (orjson.JSONDecodeError, ValueError):
            log.exception("unreadable prediction log spool file %s: kept as .bad", path.name)
            os.replace(claimed, path.with_suffix(".bad"))
            continue
        try:
            for start in range(0, len(entries), _ROWS_PER_WRITE):
                write(entries[start : start + _ROWS_PER_WRITE])
        except Exception:
            os.replace(claimed, path)
            raise
        claimed.unlink()
        total += len(entries)
    return total


def recover_spools(
    home: Path | str, store_url: str, write: Callable[[Sequence[dict[str, Any]]], Any]
) -> int:
    """Write what stopped supervisors left in their spools for ``store_url``; returns rows.

    Files a dead supervisor had claimed are taken back first. Empty directories go.
    """
    root = spool_root(home, store_url)
    if not root.is_dir():
        return 0
    total = 0
    for directory in root.iterdir():
        if not directory.is_dir() or not directory.name.isdigit():
            continue
        pid = int(directory.name)
        if pid == os.getpid() or _alive(pid):
            continue
        for claimed in directory.glob(f"*{_CLAIMED}"):
            os.replace(claimed, claimed.with_suffix(_SUFFIX))
        total += ingest(directory, write)
        with contextlib.suppress(OSError):  # not empty: .bad files stay for a look
            for tmp in directory.glob(".*.tmp"):  # half-written by a killed worker
                tmp.unlink()
            directory.rmdir()
    if total:
        log.info("wrote %d prediction log rows a stopped server had left", total)
    return total


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
