"""Engine creation, SQLite connection setup, migrations and JSON coercion for the store."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from modelloop._json import json_value
from modelloop.exceptions import ConfigurationError, InvalidInputError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "create_engine",
    "json_dict",
    "jsonable",
    "now",
    "open_schema",
    "safe_url",
    "schema_revision",
    "upgrade",
    "write_engine",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option read by the SQLite "begin" hook: "IMMEDIATE" for write transactions.
SQLITE_BEGIN_OPTION = "modelloop_sqlite_begin"


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def safe_url(url: sa.URL) -> str:
    """The URL with any password masked, for messages."""
    return url.render_as_string(hide_password=True)


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and real BEGINs.

    SQLite's Python driver does not BEGIN before SELECT or DDL (its "legacy transaction
    control"); the store takes over and emits ``BEGIN`` itself, ``BEGIN IMMEDIATE`` for
    write transactions so that concurrent writers queue on the busy timeout instead of
    failing when a read lock cannot be upgraded.
    """
    try:
        sa_url = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(
            f"The store URL {url!r} is not a SQLAlchemy URL ({exc}). Use for example "
            "'sqlite:///path/to/modelloop.db' or 'postgresql+psycopg://user@host/db'."
        ) from exc
    if sa_url.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(sa_url, pool_pre_ping=True)
        except (ImportError, sa.exc.SQLAlchemyError) as exc:
            raise ConfigurationError(
                f"Cannot use the store URL {safe_url(sa_url)}: {exc}. Install the database "
                "driver it names, or fix the URL."
            ) from exc

    database = sa_url.database
    in_memory = not database or database == ":memory:" or sa_url.query.get("mode") == "memory"
    kwargs: dict[str, Any] = {}
    if in_memory:
        # One shared connection, or every thread would see its own empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        Path(str(database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(sa_url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def write_engine(engine: sa.Engine) -> sa.Engine:
    """The same engine, whose transactions take SQLite's write lock up front."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def reason(exc: BaseException) -> str:
    r"""The database's own one-line reason for an error, without SQLAlchemy's statement
    echo and "Background on this error" link.

    Examples
    --------
    >>> reason(ValueError("file is not a database\n(Background on this error at: ...)"))
    'file is not a database'
    """
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def is_corrupt(exc: BaseException) -> bool:
    """Whether a SQLite error says the database file itself is damaged (not locked, not
    missing): "file is not a database", "database disk image is malformed"."""
    orig = getattr(exc, "orig", None)
    text = str(orig or exc)
    return type(orig) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text


def open_error(engine: sa.Engine, exc: BaseException) -> StoreError:
    """A one-line error for a store that cannot be read: for a SQLite file that is corrupt
    or truncated, which file and what to do."""
    url = safe_url(engine.url)
    why = reason(exc)
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and is_corrupt(exc):
        where = Path(database).resolve() if database else url
        return StoreError(
            f"The store's database file {where} cannot be read ({why}): it is corrupt or "
            "truncated. Restore it from a backup, or move it away to start a new, empty store."
        )
    return StoreError(f"Cannot open the store at {url}: {why}.")


def _connect_error(engine: sa.Engine, exc: sa.exc.SQLAlchemyError) -> StoreError:
    """A one-line error for a database that refuses the connection or the login."""
    url = safe_url(engine.url)
    first = reason(exc)
    return StoreError(
        f"Cannot connect to the store database at {url}: {first}. Check the host, port, "
        "database name, user and password in --store (or MODELLOOP_STORE_URL), and that "
        "the server is running."
    )


def schema_revision(engine: sa.Engine) -> tuple[str | None, str, bool]:
    """``(current, head, empty)``: the store's Alembic revision, the code's, and whether
    the database holds no modelloop table yet."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            tables = set(sa.inspect(conn).get_table_names())
    except sa.exc.OperationalError as exc:
        if engine.url.get_backend_name() == "sqlite" and is_corrupt(exc):
            raise open_error(engine, exc) from exc
        raise _connect_error(engine, exc) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise open_error(engine, exc) from exc
    return current, str(head), current is None and not (tables & {"runs", "model_versions"})


_REVISION_LINE = re.compile(
    r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:None|["']([^"'\n]+)["'])\s*$""", re.M
)


def head_from_files() -> str | None:
    """The newest migration's revision, read from the migration files as text, or ``None``
    when they do not show one plain chain (then Alembic's own reading decides).

    Opening a store checks its revision against this; importing Alembic to ask it costs a
    read-only command about a third of a second.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {m.group(1): m.group(2) for m in _REVISION_LINE.finditer(path.read_text())}
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _current_revision_quick(engine: sa.Engine) -> str | None:
    """The store's revision read straight from ``alembic_version`` (``None``: not there)."""
    try:
        conn = engine.connect()
    except sa.exc.OperationalError as exc:
        raise _connect_error(engine, exc) from exc
    except sa.exc.SQLAlchemyError:
        return None
    with conn:
        try:
            rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        except sa.exc.SQLAlchemyError:
            return None
    return str(rows[0][0]) if len(rows) == 1 else None


def open_schema(engine: sa.Engine) -> None:
    """Create the schema of a new store; refuse one whose schema is older or newer.

    An existing store is never migrated behind the user's back: migrations may take a
    while on a big database and should follow a backup, so an older schema raises a
    ``StoreError`` that says to run ``modelloop store upgrade``.
    """
    head = head_from_files()
    if head is not None and _current_revision_quick(engine) == head:
        return  # the common case, answered without importing Alembic
    current, head, empty = schema_revision(engine)
    if current == head:
        return
    if empty:
        try:
            upgrade(engine)
        except StoreError:
            # Another process may have created the same new store at the same moment.
            if schema_revision(engine)[0] != head:
                raise
        return
    from alembic.script import ScriptDirectory

    known = {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    url = safe_url(engine.url)
    if current not in known:
        raise StoreError(
            f"The store at {url} has schema revision {current!r}, which this modelloop does "
            f"not know (its newest is {head!r}): it was written by a newer modelloop. "
            "Upgrade modelloop."
        )
    raise StoreError(
        f"The store at {url} has schema revision {current!r}; this modelloop needs "
        f"{head!r}. Run `modelloop store upgrade` (with the same --store/--home) to migrate "
        "it; back up the database first."
    )


def upgrade(engine: sa.Engine) -> None:
    """Bring the store's schema to the newest revision (``alembic upgrade head``)."""
    from alembic import command
    from alembic.util.exc import CommandError

    config = alembic_config()
    url = safe_url(engine.url)
    try:
        with write_engine(engine).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as exc:
        raise StoreError(
            f"Cannot migrate the store at {url}: {reason(exc)}. If it was created by a newer "
            "modelloop, upgrade modelloop."
        ) from exc
    except sa.exc.OperationalError as exc:
        raise _connect_error(engine, exc) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise open_error(engine, exc) from exc


def jsonable(value: Any, field: str) -> Any:
    """``value`` as plain JSON data, portable to every backend (``data.json_value``).

    >>> jsonable({"auc": float("nan"), "folds": (1, 2)}, "metrics")
    {'auc': None, 'folds': [1, 2]}
    """
    return json_value(value, field)


def json_dict(value: Any, field: str, *, allow_none: bool = False) -> dict[str, Any] | None:
    """``jsonable`` for a field that must be a dict (or ``None`` when allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"'{field}' must be a dict. Got {type(value).__name__}: {value!r:.80}."
        )
    return jsonable(value, field)
