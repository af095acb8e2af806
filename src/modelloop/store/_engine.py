"""The one database engine every part of the store shares: read and write transactions.

:class:`StoreEngine` wraps a SQLAlchemy engine (and its twin whose transactions take
SQLite's write lock up front) and turns database errors into one-line ``StoreError``\\ s.
The parts of the store (:mod:`._runs`, :mod:`._registry`, :mod:`._snapshots`, ...) take a
connection from it, or the engine itself when they decide their own transactions; none of
them knows the :class:`~modelloop.store.Store` facade.

Examples
--------
>>> import sqlalchemy as sa
>>> db = StoreEngine("sqlite://")
>>> with db.read() as conn:
...     conn.execute(sa.text("SELECT 1")).scalar()
1
>>> db.retry("add one", lambda conn: conn.execute(sa.text("SELECT 1 + 1")).scalar())
2
>>> db.dispose()
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa

from modelloop.exceptions import StoreError
from modelloop.store import _db

__all__ = ["WRITE_ATTEMPTS", "StoreEngine"]

WRITE_ATTEMPTS = 8
T = TypeVar("T")


class StoreEngine:
    """Transactions on the store's database, whatever the backend.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of the database. Creating the engine does not connect; opening the
        schema is the caller's business (:func:`._db.open_schema`).
    """

    def __init__(self, url: str) -> None:
        self.engine = _db.create_engine(url)
        self.write_engine = _db.write_engine(self.engine)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages."""
        return _db.safe_url(self.engine.url)

    def dispose(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def _error(self, exc: sa.exc.SQLAlchemyError, verb: str) -> StoreError:
        if self.engine.url.get_backend_name() == "sqlite" and _db.is_corrupt(exc):
            return _db.open_error(self.engine, exc)
        return StoreError(f"The store at {self.safe_url} failed to {verb}: {_db.reason(exc)}")

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection for reads (no write lock taken on SQLite)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "read") from exc

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A connection in a write transaction, committed when the block ends.

        ``IntegrityError`` passes through untouched: :meth:`retry` retries on it.
        """
        try:
            with self.write_engine.begin() as conn:
                yield conn
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "write") from exc

    def retry(self, what: str, body: Callable[[sa.Connection], T]) -> T:
        """Run ``body`` in a write transaction, again on a conflict with a concurrent writer.

        Unique keys (a model's next version number, an alias) are how concurrent writers
        find out about each other on backends without SQLite's write lock. ``what`` names
        the write in the error raised after :data:`WRITE_ATTEMPTS` conflicts.
        """
        error: sa.exc.IntegrityError | None = None
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.write() as conn:
                    return body(conn)
            except sa.exc.IntegrityError as exc:
                error = exc
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        raise StoreError(
            f"Could not {what}: it conflicted with concurrent writes {WRITE_ATTEMPTS} times "
            f"in a row ({error.orig if error is not None else ''}). Try again."
        ) from error
