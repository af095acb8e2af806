"""The store: datasets, runs and the model registry, over any SQLAlchemy database.

One class, :class:`Store`, with one contract whatever the backend (SQLite by default,
PostgreSQL by URL). Every read returns frozen records (:mod:`._records`), never rows or
ORM objects. Registration is all-or-nothing: the model file is written and moved into
place first, then every row is inserted in one transaction; if that transaction fails the
file is removed again. A crash between the two leaves at most an unreferenced file, which
:meth:`Store.sweep_orphan_artifacts` removes.
"""

from __future__ import annotations

import logging
import random
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from modelloop.exceptions import (
    ArtifactIntegrityError,
    InvalidInputError,
    ModelloopError,
    ModelNotFoundError,
    NotFoundError,
    RunNotFoundError,
    StoreError,
)
from modelloop.store import _db
from modelloop.store._artifacts import (
    MODEL_FORMAT_VERSION,
    load_model_bytes,
    place_file,
    read_verified,
    write_model_file,
)
from modelloop.store._orphans import interrupted_runs, orphan_files, owner_marker, owner_tag
from modelloop.store._pages import count_runs as _count_runs
from modelloop.store._pages import metric_rows as _metric_rows
from modelloop.store._pages import select_runs as _select_runs
from modelloop.store._records import DatasetRecord, ModelSummary, ModelVersionRecord, RunRecord
from modelloop.store._refs import check_alias, check_model_name, format_versions, parse_ref, suggest
from modelloop.store._tables import (
    data_snapshots,
    datasets,
    model_aliases,
    model_versions,
    registered_models,
    run_metrics,
    runs,
)

if TYPE_CHECKING:
    from modelloop.config import Settings

__all__ = ["RUN_STATUSES", "Store"]

log = logging.getLogger("modelloop.store")

RUN_STATUSES = ("running", "finished", "failed", "interrupted")
_FINAL_STATUSES = ("finished", "failed")
_MAX_COMPARED = 100
_RUN_PREFIX_MIN = 4
_HEX_RE = re.compile(r"^[0-9a-f]+$")
_WRITE_ATTEMPTS = 8
T = TypeVar("T")


class Store:
    """Datasets, runs and registered models, in a database plus a folder of model files.

    Opening a store creates its folders, and the schema of a new database (Alembic
    ``upgrade head``); a store whose schema is older than the code is refused with a
    message to run ``modelloop store upgrade`` (:meth:`Store.upgrade_schema`). It is safe to share one ``Store`` between threads, and to open the
    same store from several processes.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``'sqlite:///.modelloop/modelloop.db'``.
    artifacts_dir : str or Path
        Folder for model files (``models/<name>/...skops``).
    prediction_retention_days : float, optional
        Logged predictions older than this are pruned as new ones are logged (at most
        once a minute); ``None`` keeps them all.
    trust : bool
        Register and load model files that hold classes or functions outside modelloop's
        allow list (see :mod:`modelloop.store._trust`). Only for models you made yourself:
        loading such a file can run code. ``--trust`` on the command line.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.linear_model import Ridge
    >>> home = Path(tempfile.mkdtemp())
    >>> with Store(f"sqlite:///{home}/m.db", home / "artifacts") as store:
    ...     model = Ridge(alpha=0.0).fit([[0], [1]], [0, 1])
    ...     v = store.register_model("demo", model, run_id=None, schema={}, task="regression",
    ...                              metrics={}, aliases=["production"])
    ...     record, loaded = store.load_model("demo@production")
    >>> (record.version, round(float(loaded.predict([[2]])[0]), 6))
    (1, 2.0)
    """

    def __init__(
        self,
        url: str,
        artifacts_dir: str | Path,
        *,
        prediction_retention_days: float | None = None,
        trust: bool = False,
    ) -> None:
        self.url = str(url)
        self.trust = bool(trust)
        self.prediction_retention_days = prediction_retention_days
        self._last_prune = 0.0
        self.artifacts_dir = Path(artifacts_dir).expanduser().absolute()
        try:
            (self.artifacts_dir / "models").mkdir(parents=True, exist_ok=True)
            (self.artifacts_dir / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the artifact folder {self.artifacts_dir}: {exc}."
            ) from exc
        self._engine = _db.create_engine(self.url)
        self._write_engine = _db.write_engine(self._engine)
        try:
            _db.open_schema(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store that ``settings`` point at (``store_url`` / ``home``).

        Examples
        --------
        >>> import tempfile
        >>> from modelloop.config import Settings
        >>> store = Store.from_settings(Settings(home=tempfile.mkdtemp()))
        >>> store.list_models()
        []
        >>> store.close()
        """
        return cls(
            settings.resolved_store_url(),
            settings.resolved_artifacts_dir(),
            prediction_retention_days=settings.predictions_retention_days,
            trust=settings.trust,
        )

    @staticmethod
    def upgrade_schema(url: str) -> tuple[str | None, str]:
        """Migrate the database at ``url`` to this modelloop's schema; ``(before, after)``.

        What ``modelloop store upgrade`` runs. Migrations run in one transaction where the
        backend allows it (PostgreSQL, SQLite), so a failure leaves the old schema intact.

        Examples
        --------
        >>> import tempfile
        >>> Store.upgrade_schema(f"sqlite:///{tempfile.mkdtemp()}/m.db")
        (None, '0008')
        """
        engine = _db.create_engine(url)
        try:
            before, _head, _empty = _db.schema_revision(engine)
            _db.upgrade(engine)
            after, _head, _empty = _db.schema_revision(engine)
        finally:
            engine.dispose()
        return before, str(after)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({_db.safe_url(self._engine.url)!r}, {str(self.artifacts_dir)!r})"

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            if self._engine.url.get_backend_name() == "sqlite" and _db.is_corrupt(exc):
                raise _db.open_error(self._engine, exc) from exc
            raise StoreError(
                f"The store at {self._safe_url} failed to read: {_db.reason(exc)}"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        # IntegrityError passes through untouched: callers retry on it (see _retry).
        try:
            with self._write_engine.begin() as conn:
                yield conn
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            if self._engine.url.get_backend_name() == "sqlite" and _db.is_corrupt(exc):
                raise _db.open_error(self._engine, exc) from exc
            raise StoreError(
                f"The store at {self._safe_url} failed to write: {_db.reason(exc)}"
            ) from exc

    def _retry(self, what: str, body: Callable[[sa.Connection], T]) -> T:
        """Run ``body`` in a write transaction, again on a conflict with a concurrent writer.

        Unique keys (a model's next version number, an alias) are how concurrent writers
        find out about each other on backends without SQLite's write lock.
        """
        error: sa.exc.IntegrityError | None = None
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._write() as conn:
                    return body(conn)
            except sa.exc.IntegrityError as exc:
                error = exc
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        raise StoreError(
            f"Could not {what}: it conflicted with concurrent writes {_WRITE_ATTEMPTS} times "
            f"in a row ({error.orig if error is not None else ''}). Try again."
        ) from error

    @property
    def _safe_url(self) -> str:
        return _db.safe_url(self._engine.url)

    # -- datasets -----------------------------------------------------------------------

    def record_dataset(
        self, *, hash: str, name: str, source: str, n_rows: int, n_cols: int, schema: dict
    ) -> DatasetRecord:
        """Record a dataset by content hash; return the existing record if already there.

        Examples
        --------
        >>> rec = store.record_dataset(hash="ab12", name="iris", source="iris.csv",
        ...                            n_rows=150, n_cols=5, schema={})  # doctest: +SKIP
        """
        if not isinstance(hash, str) or not hash or len(hash) > 64:
            raise InvalidInputError(
                f"A dataset hash must be a non-empty string of at most 64 characters. Got {hash!r}."
            )
        values = {
            "hash": hash,
            "name": str(name),
            "source": str(source),
            "n_rows": int(n_rows),
            "n_cols": int(n_cols),
            "schema": _db.json_dict(schema, "schema"),
        }

        def body(conn: sa.Connection) -> DatasetRecord:
            row = conn.execute(sa.select(datasets).where(datasets.c.hash == hash)).first()
            if row is None:
                conn.execute(datasets.insert().values(**values, created_at=_db.now()))
                row = conn.execute(sa.select(datasets).where(datasets.c.hash == hash)).one()
            return _dataset_record(row)

        return self._retry(f"record dataset {hash!r}", body)

    def get_dataset(self, hash: str) -> DatasetRecord:
        """The dataset recorded under ``hash``; ``NotFoundError`` if there is none."""
        with self._read() as conn:
            row = conn.execute(sa.select(datasets).where(datasets.c.hash == hash)).first()
        if row is None:
            raise NotFoundError(f"No dataset with hash {hash!r} is recorded in the store.")
        return _dataset_record(row)

    # -- runs ---------------------------------------------------------------------------

    def create_run(
        self,
        *,
        name: str,
        dataset_hash: str | None,
        target: str | None,
        task: str | None,
        metric: str | None,
        params: dict,
    ) -> RunRecord:
        """Start a run: status ``'running'``, a fresh id (uuid4 hex), ``started_at`` now."""
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise InvalidInputError(
                f"A run name must be a non-empty string of at most 256 characters. Got {name!r}."
            )
        values = {
            "id": uuid.uuid4().hex,
            "name": name,
            "dataset_hash": dataset_hash,
            "target": target,
            "task": task,
            "metric": metric,
            "params": _db.json_dict(params, "params"),
            "status": "running",
            "started_at": _db.now(),
        }
        marker = owner_marker(self.artifacts_dir / "tmp", values["id"])
        try:  # says which process runs it, so that a run whose process died can be told
            marker.touch()
        except OSError as exc:
            raise StoreError(
                f"Cannot write in the artifact folder {marker.parent}: {exc}."
            ) from exc
        try:
            with self._write() as conn:
                conn.execute(runs.insert().values(**values))
                row = conn.execute(sa.select(runs).where(runs.c.id == values["id"])).one()
        except BaseException:
            marker.unlink(missing_ok=True)
            raise
        return _run_record(row)

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        cv_metrics: dict | None = None,
        test_metrics: dict | None = None,
        leaderboard: list[dict] | None = None,
        best_model: str | None = None,
        timings: dict | None = None,
        library_versions: dict | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """Close a running run as ``'finished'`` or ``'failed'`` with its results."""
        if status not in _FINAL_STATUSES:
            raise InvalidInputError(
                f"A run finishes with status 'finished' or 'failed'. Got {status!r}."
            )
        if leaderboard is not None and not isinstance(leaderboard, list | tuple):
            raise InvalidInputError(
                f"'leaderboard' must be a list of dicts. Got {type(leaderboard).__name__}."
            )
        values = {
            "status": status,
            "cv_metrics": _db.json_dict(cv_metrics, "cv_metrics", allow_none=True),
            "test_metrics": _db.json_dict(test_metrics, "test_metrics", allow_none=True),
            "leaderboard": _db.jsonable(leaderboard, "leaderboard"),
            "best_model": best_model,
            "timings": _db.json_dict(timings, "timings", allow_none=True),
            "library_versions": _db.json_dict(
                library_versions, "library_versions", allow_none=True
            ),
            "error": error,
            "finished_at": _db.now(),
        }
        with self._write() as conn:
            full_id = self._resolve_run_id(conn, run_id)
            row = conn.execute(sa.select(runs.c.status).where(runs.c.id == full_id)).one()
            if row.status != "running":
                raise StoreError(
                    f"Run {full_id[:8]} is already '{row.status}'; a run is finished only once."
                )
            conn.execute(runs.update().where(runs.c.id == full_id).values(**values))
            for marker in (self.artifacts_dir / "tmp").glob(f"*-run-{full_id}.owner"):
                marker.unlink(missing_ok=True)
            metric_rows = _metric_rows(full_id, "cv", values["cv_metrics"])
            metric_rows += _metric_rows(full_id, "test", values["test_metrics"])
            if metric_rows:  # indexed copies: list_runs filters and sorts by metric on them
                conn.execute(run_metrics.insert(), metric_rows)
            row = conn.execute(sa.select(runs).where(runs.c.id == full_id)).one()
        return _run_record(row)

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id, or with this unique id prefix (4 characters or more).

        Examples
        --------
        >>> store.get_run("3f2a")  # doctest: +SKIP
        RunRecord(id='3f2a9c...', ...)
        """
        with self._read() as conn:
            full_id = self._resolve_run_id(conn, run_id)
            row = conn.execute(sa.select(runs).where(runs.c.id == full_id)).one()
        return _run_record(row)

    def list_runs(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        after: str | None = None,
        metric_filter: tuple[str, str, float] | None = None,
        sort_metric: str | None = None,
        metric_scope: str = "cv",
        ascending: bool = False,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally only those with a given name, status or metric.

        Every filter and order reads an index, so a page costs milliseconds with 100,000
        runs.

        Parameters
        ----------
        name, status : str, optional
            Only runs of this name / in this status.
        limit, offset : int
            At most ``limit`` runs, after skipping ``offset``.
        after : str, optional
            A run id (or unique prefix): the page starts after that run in this order.
            Passing the last id of a page gives the next one (keyset pagination: deep
            pages cost what the first does, unlike a large ``offset``).
        metric_filter : tuple, optional
            ``(metric, operator, number)`` with operator one of ``> >= < <= = !=``, e.g.
            ``('roc_auc', '>', 0.9)``: only runs whose metric passes.
        sort_metric : str, optional
            Order by this metric instead of by time, highest first; runs without it are
            left out.
        metric_scope : {'cv', 'test'}
            Whose metrics ``metric_filter`` and ``sort_metric`` read: the cross-validated
            ``cv_metrics`` or the held-out ``test_metrics``.
        ascending : bool
            Oldest (or lowest metric) first.

        Examples
        --------
        >>> best = store.list_runs(metric_filter=("roc_auc", ">", 0.9),
        ...                        sort_metric="roc_auc", limit=10)  # doctest: +SKIP
        >>> more = store.list_runs(after=best[-1].id, sort_metric="roc_auc")  # doctest: +SKIP
        """
        self._check_run_filters(status)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"'limit' must be an integer >= 1. Got {limit!r}.")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInputError(f"'offset' must be an integer >= 0. Got {offset!r}.")
        with self._read() as conn:
            rows = _select_runs(
                conn,
                [runs],
                name=name,
                status=status,
                metric_filter=metric_filter,
                sort_metric=sort_metric,
                metric_scope=metric_scope,
                ascending=bool(ascending),
                after=None if after is None else self._resolve_run_id(conn, after),
                limit=limit,
                offset=offset,
            )
        return [_run_record(row) for row in rows]

    def count_runs(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        metric_filter: tuple[str, str, float] | None = None,
        metric_scope: str = "cv",
    ) -> int:
        """How many runs match the filters of :meth:`list_runs` (counted by the database).

        Examples
        --------
        >>> store.count_runs(status="failed")  # doctest: +SKIP
        3
        """
        self._check_run_filters(status)
        with self._read() as conn:
            return _count_runs(
                conn,
                name=name,
                status=status,
                metric_filter=metric_filter,
                metric_scope=metric_scope,
            )

    def get_runs(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """Several runs by id (or unique prefix), in the order asked: to compare them.

        One query for full ids; ``RunNotFoundError`` names the first id that matches no run.

        Examples
        --------
        >>> a, b = store.get_runs(["3f2a", "9c01"])  # doctest: +SKIP
        """
        if isinstance(run_ids, str) or not isinstance(run_ids, Sequence) or not run_ids:
            raise InvalidInputError(
                f"'run_ids' must be a non-empty list of run ids. Got {run_ids!r}."
            )
        if len(run_ids) > _MAX_COMPARED:
            raise InvalidInputError(
                f"At most {_MAX_COMPARED} runs are read at once. Got {len(run_ids)} ids."
            )
        wanted = [str(i).strip().lower() for i in run_ids]
        with self._read() as conn:
            found = {
                row.id: row for row in conn.execute(sa.select(runs).where(runs.c.id.in_(wanted)))
            }
            for short in [i for i in wanted if i not in found]:  # prefixes, or unknown ids
                full = self._resolve_run_id(conn, short)
                found[short] = conn.execute(sa.select(runs).where(runs.c.id == full)).one()
        return [_run_record(found[i]) for i in wanted]

    @staticmethod
    def _check_run_filters(status: str | None) -> None:
        if status is not None and status not in RUN_STATUSES:
            raise InvalidInputError(
                f"Run status must be one of {', '.join(RUN_STATUSES)}. Got {status!r}."
            )

    def _resolve_run_id(self, conn: sa.Connection, run_id: str) -> str:
        if not isinstance(run_id, str) or not run_id.strip():
            raise InvalidInputError(f"A run id must be a non-empty string. Got {run_id!r}.")
        wanted = run_id.strip().lower()
        if conn.execute(sa.select(runs.c.id).where(runs.c.id == wanted)).first() is not None:
            return wanted
        if len(wanted) < _RUN_PREFIX_MIN:
            raise InvalidInputError(
                f"A run id prefix needs at least {_RUN_PREFIX_MIN} characters. Got {run_id!r}."
            )
        matches: Sequence[Any] = []
        if _HEX_RE.match(wanted):  # ids are hex: no LIKE wildcards can sneak in
            matches = conn.execute(
                sa.select(runs.c.id, runs.c.name, runs.c.started_at)
                .where(runs.c.id.like(f"{wanted}%"))
                .order_by(runs.c.started_at.desc())
                .limit(11)
            ).all()
        if len(matches) == 1:
            return str(matches[0].id)
        if matches:
            shown = ", ".join(
                f"{m.id[: len(wanted) + 4]} ({m.name}, {m.started_at:%Y-%m-%d %H:%M})"
                for m in matches[:10]
            )
            more = " and more" if len(matches) > 10 else ""
            raise InvalidInputError(
                f"Run id prefix {run_id!r} is ambiguous: it matches {shown}{more}. "
                "Give more characters."
            )
        recent = conn.execute(
            sa.select(runs.c.id, runs.c.name).order_by(runs.c.started_at.desc()).limit(3)
        ).all()
        hint = (
            " Most recent runs: " + ", ".join(f"{r.id[:8]} ({r.name})" for r in recent) + "."
            if recent
            else " The store has no runs yet."
        )
        raise RunNotFoundError(f"No run with id or id prefix {run_id!r}.{hint}")

    # -- registry: writes ---------------------------------------------------------------

    def register(
        self,
        result: Any,
        *,
        name: str,
        alias: str | None = None,
        aliases: Sequence[str] = (),
    ) -> ModelVersionRecord:
        """Register a training result (what ``modelloop.train`` returns) as a new version.

        ``result`` only has to provide ``registration()``, a dict of the keyword arguments
        of :meth:`register_model` other than ``name`` and ``aliases`` (``model``,
        ``run_id``, ``schema``, ``task``, ``metrics``, ``description``).

        Examples
        --------
        >>> import modelloop as ml
        >>> result = ml.train("churn.csv", target="churn")  # doctest: +SKIP
        >>> with ml.registry() as reg:  # doctest: +SKIP
        ...     reg.register(result, name="churn", alias="production").version
        1
        """
        info = dict(result.registration())
        model = info.pop("model")
        every = [*([alias] if alias else []), *aliases]
        return self.register_model(name, model, aliases=every, **info)

    def register_model(
        self,
        name: str,
        model: object,
        *,
        run_id: str | None,
        schema: dict,
        task: str | None,
        metrics: dict,
        description: str = "",
        aliases: Sequence[str] = (),
        tags: dict | None = None,
        reference: Any = None,
        reference_hash: str | None = None,
        lineage: dict | None = None,
        version: int | None = None,
    ) -> ModelVersionRecord:
        """Save ``model`` as the next version of ``name``; all-or-nothing.

        ``reference``, a DataFrame of the training rows, is kept as the data snapshot
        ``'<name>.reference'`` (reused when a version of it has the same content hash
        ``reference_hash``) and named in the version's ``reference_snapshot``: monitoring
        compares production inputs with it and retraining starts from it. ``lineage``
        (parent version, trigger, data used) is stored as given. ``version`` keeps a version
        number given elsewhere (an exported model's own store carries the number it had);
        it must be above every version of ``name`` here.

        The model is written as a skops file, moved into ``artifacts_dir/models/<name>/``,
        then the registered model, the version row and its aliases are inserted in one
        transaction. If that fails the file is deleted, so no row ever lacks its file.
        Aliases given here move to the new version.

        Examples
        --------
        >>> v = store.register_model("churn", pipeline, run_id=run.id, schema=schema,
        ...                          task="binary", metrics={"roc_auc": 0.91},
        ...                          aliases=["production"])  # doctest: +SKIP
        >>> v.version  # doctest: +SKIP
        1
        """
        check_model_name(name)
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            raise InvalidInputError(f"A model version is an integer >= 1. Got {version!r}.")
        if isinstance(aliases, str):
            aliases = (aliases,)
        alias_list = list(dict.fromkeys(check_alias(a) for a in aliases))
        values: dict[str, Any] = {
            "run_id": run_id,
            "schema": _db.json_dict(schema, "schema"),
            "task": task,
            "metrics": _db.json_dict(metrics, "metrics"),
            "description": str(description or ""),
            "tags": _db.json_dict(tags or {}, "tags"),
            "lineage": _db.json_dict(lineage or {}, "lineage"),
            "reference_snapshot": None,
        }
        if run_id is not None:
            with self._read() as conn:
                found = conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first()
            if found is None:
                raise RunNotFoundError(
                    f"Cannot register model '{name}' for run {run_id!r}: no run with that "
                    "id exists in this store. Pass the id of a run created in this store, "
                    "or run_id=None."
                )

        # The reference snapshot (unless one with the same rows exists) is inserted in the
        # version's own transaction: a failed registration leaves no '<name>.reference@N'.
        pending = None
        if reference is not None:
            pending, existing = self._reference_snapshot(name, reference, reference_hash, schema)
            values["reference_snapshot"] = existing
        what = f"model '{name}'"
        try:
            tmp_path, sha256, size = write_model_file(
                model, self.artifacts_dir / "tmp", what=what, trust=self.trust
            )
        except BaseException:
            if pending is not None:
                pending.discard()
            raise
        relative = f"models/{name}/{sha256[:16]}-{owner_tag()}-{uuid.uuid4().hex[:8]}.skops"
        final_path = self.artifacts_dir / relative
        try:
            place_file(tmp_path, final_path)
        except BaseException as exc:
            tmp_path.unlink(missing_ok=True)
            if pending is not None:
                pending.discard()
            if isinstance(exc, OSError):
                raise StoreError(
                    f"Cannot move the model file of {what} to {final_path}: {exc}."
                ) from exc
            raise
        values.update(artifact_path=relative, sha256=sha256, size_bytes=size)

        def body(conn: sa.Connection) -> ModelVersionRecord:
            if pending is not None:
                from modelloop.store._snapshots import insert_snapshot

                values["reference_snapshot"] = insert_snapshot(conn, self, pending).ref
            return self._insert_version(conn, name, values, alias_list, version)

        try:
            return self._retry(f"register model '{name}'", body)
        except BaseException as exc:
            final_path.unlink(missing_ok=True)
            if pending is not None:
                pending.discard()
            if isinstance(exc, ModelloopError) or not isinstance(exc, Exception):
                raise
            raise StoreError(
                f"Registering model '{name}' failed and nothing was registered: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _reference_snapshot(
        self, name: str, frame: Any, content_hash: str | None, schema: dict
    ) -> tuple[Any, str | None]:
        """The ``'<name>.reference'`` snapshot of ``frame``: ``(None, ref)`` when a version
        with its content hash exists, else ``(pending, None)``, written to a temporary file
        for the registration's transaction to insert."""
        from modelloop.data import content_hash as hash_of
        from modelloop.store._snapshots import prepare_snapshot

        snapshot = f"{name}.reference"
        content_hash = content_hash or hash_of(frame)
        with self._read() as conn:
            row = conn.execute(
                sa.select(data_snapshots.c.version)
                .where(data_snapshots.c.name == snapshot, data_snapshots.c.hash == content_hash)
                .order_by(data_snapshots.c.version.desc())
            ).first()
        if row is not None:
            return None, self.get_snapshot(snapshot, int(row.version)).ref
        pending = prepare_snapshot(
            self,
            snapshot,
            frame,
            hash=content_hash,
            columns=list(schema.get("columns", [])),
            source=f"training rows of model '{name}'",
            meta={"model": name},
        )
        return pending, None

    def reference_data(self, ref: str | ModelVersionRecord) -> Any:
        """The training rows a model version was registered with, as a DataFrame.

        ``ref`` is a model reference (``'churn'``, ``'churn@production'``, ``'churn:3'``)
        or a version record. Raises ``NotFoundError`` when the version was registered
        without its data (for example by ``register_model`` without ``reference``).

        Examples
        --------
        >>> store.reference_data("churn@production").shape  # doctest: +SKIP
        (7043, 21)
        """
        from modelloop.store._snapshots import parse_snapshot_ref

        record = ref if isinstance(ref, ModelVersionRecord) else self.resolve(ref)
        if not record.reference_snapshot:
            raise NotFoundError(
                f"Model version {record.ref} has no reference data: it was registered "
                "without its training rows. Retrain and register it with modelloop "
                "(train --register) to keep them."
            )
        snapshot, version = parse_snapshot_ref(record.reference_snapshot)
        return self.read_snapshot(self.get_snapshot(snapshot, version))

    def _insert_version(
        self,
        conn: sa.Connection,
        name: str,
        values: dict[str, Any],
        alias_list: list[str],
        wanted: int | None = None,
    ) -> ModelVersionRecord:
        stamp = _db.now()
        exists = conn.execute(
            sa.select(registered_models.c.name).where(registered_models.c.name == name)
        ).first()
        if exists is None:
            conn.execute(
                registered_models.insert().values(name=name, created_at=stamp, updated_at=stamp)
            )
        else:
            conn.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(updated_at=stamp)
            )
        latest = conn.execute(
            sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == name)
        ).scalar()
        version = (latest or 0) + 1
        if wanted is not None:
            if wanted < version:
                raise InvalidInputError(
                    f"Cannot register model '{name}' as version {wanted}: version "
                    f"{latest} exists. Give a version above {latest}, or none."
                )
            version = wanted
        conn.execute(
            model_versions.insert().values(
                name=name,
                version=version,
                format_version=MODEL_FORMAT_VERSION,
                created_at=stamp,
                **values,
            )
        )
        self._write_aliases(conn, name, alias_list, version)
        return self._version_record(conn, name, version)

    def _write_aliases(
        self, conn: sa.Connection, name: str, alias_list: Sequence[str], version: int
    ) -> None:
        stamp = _db.now()
        for alias in alias_list:
            # Delete + insert: a portable upsert inside the caller's transaction.
            conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            )
            conn.execute(
                model_aliases.insert().values(
                    name=name, alias=alias, version=version, updated_at=stamp
                )
            )
        if alias_list:
            conn.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(updated_at=stamp)
            )

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``name@alias`` at ``version``, moving the alias if it exists.

        Examples
        --------
        >>> store.set_alias("churn", "production", 2)  # doctest: +SKIP
        """
        check_alias(alias)
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInputError(f"A model version is an integer. Got {version!r}.")

        def body(conn: sa.Connection) -> None:
            self._require_model(conn, name)
            self._require_version(conn, name, version)
            self._write_aliases(conn, name, [alias], version)

        self._retry(f"set alias '{alias}' of model '{name}'", body)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias``; the version it pointed at stays."""
        with self._write() as conn:
            self._require_model(conn, name)
            deleted = conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).rowcount
            if not deleted:
                raise ModelNotFoundError(self._no_alias_message(conn, name, alias))
            conn.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(updated_at=_db.now())
            )

    # -- registry: reads ----------------------------------------------------------------

    def get_model_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersionRecord:
        """One version of a model: by number, by alias, or the latest when neither is given.

        Examples
        --------
        >>> store.get_model_version("churn", alias="production").version  # doctest: +SKIP
        2
        """
        if version is not None and alias is not None:
            raise InvalidInputError(
                f"Give a version or an alias of model '{name}', not both. "
                f"Got version={version!r} and alias={alias!r}."
            )
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise InvalidInputError(f"A model version is an integer. Got {version!r}.")
        with self._read() as conn:
            self._require_model(conn, name)
            if alias is not None:
                version = conn.execute(
                    sa.select(model_aliases.c.version).where(
                        model_aliases.c.name == name, model_aliases.c.alias == alias
                    )
                ).scalar()
                if version is None:
                    raise ModelNotFoundError(self._no_alias_message(conn, name, alias))
            elif version is None:
                version = conn.execute(
                    sa.select(sa.func.max(model_versions.c.version)).where(
                        model_versions.c.name == name
                    )
                ).scalar()
                if version is None:  # a registered model always has a version
                    raise ModelNotFoundError(f"Model '{name}' has no versions.")
            else:
                self._require_version(conn, name, version)
            return self._version_record(conn, name, version)

    def resolve(self, ref: str) -> ModelVersionRecord:
        """The version a reference names: ``'name'`` (latest), ``'name@alias'``,
        ``'name:3'`` or ``'name/3'``.

        Examples
        --------
        >>> store.resolve("churn@production")  # doctest: +SKIP
        ModelVersionRecord(name='churn', version=2, ...)
        """
        parsed = parse_ref(ref)
        return self.get_model_version(parsed.name, parsed.version, parsed.alias)

    def load_model(
        self, ref_or_record: str | ModelVersionRecord
    ) -> tuple[ModelVersionRecord, object]:
        """The record and the deserialized model of a version.

        The file's sha256 is checked against the store before anything is parsed, and it
        goes through the one trust check (:mod:`._trust`) unless the store was opened with
        ``trust``.

        Examples
        --------
        >>> record, pipeline = store.load_model("churn@production")  # doctest: +SKIP
        """
        if isinstance(ref_or_record, ModelVersionRecord):
            # Re-read: the store, not the caller's copy, says which file and hash are right.
            record = self.get_model_version(ref_or_record.name, ref_or_record.version)
        elif isinstance(ref_or_record, str):
            record = self.resolve(ref_or_record)
        else:
            raise InvalidInputError(
                "load_model takes a reference such as 'churn@production' or a "
                f"ModelVersionRecord. Got {type(ref_or_record).__name__}."
            )
        what = f"model '{record.name}' version {record.version}"
        path = self._artifact_path(record)
        data = read_verified(path, record.sha256, what=what)
        return record, load_model_bytes(data, what=what, path=path, trust=self.trust)

    def model_file(self, ref_or_record: str | ModelVersionRecord) -> Path:
        """The path of a version's model file, after checking it against its sha256.

        Examples
        --------
        >>> store.model_file("churn:2").suffix  # doctest: +SKIP
        '.skops'
        """
        record = (
            self.get_model_version(ref_or_record.name, ref_or_record.version)
            if isinstance(ref_or_record, ModelVersionRecord)
            else self.resolve(ref_or_record)
        )
        path = self._artifact_path(record)
        read_verified(path, record.sha256, what=f"model '{record.name}' version {record.version}")
        return path

    def list_models(self) -> list[ModelSummary]:
        """Every registered model with its latest version and aliases, by name."""
        with self._read() as conn:
            models = conn.execute(
                sa.select(registered_models).order_by(registered_models.c.name)
            ).all()
            stats = {
                row.name: row
                for row in conn.execute(
                    sa.select(
                        model_versions.c.name,
                        sa.func.max(model_versions.c.version).label("latest"),
                        sa.func.count().label("n"),
                    ).group_by(model_versions.c.name)
                )
            }
            latest = (
                sa.select(
                    model_versions.c.name,
                    sa.func.max(model_versions.c.version).label("latest"),
                )
                .group_by(model_versions.c.name)
                .subquery()
            )
            tasks = {
                row.name: row.task
                for row in conn.execute(
                    sa.select(model_versions.c.name, model_versions.c.task).join(
                        latest,
                        sa.and_(
                            latest.c.name == model_versions.c.name,
                            latest.c.latest == model_versions.c.version,
                        ),
                    )
                )
            }
            aliases: dict[str, dict[str, int]] = {}
            for row in conn.execute(
                sa.select(model_aliases).order_by(model_aliases.c.name, model_aliases.c.alias)
            ):
                aliases.setdefault(row.name, {})[row.alias] = row.version
        return [
            ModelSummary(
                name=m.name,
                latest_version=int(stats[m.name].latest) if m.name in stats else 0,
                n_versions=int(stats[m.name].n) if m.name in stats else 0,
                aliases=aliases.get(m.name, {}),
                task=tasks.get(m.name),
                created_at=m.created_at,
                updated_at=m.updated_at,
            )
            for m in models
        ]

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of ``name``, oldest first."""
        with self._read() as conn:
            self._require_model(conn, name)
            rows = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version)
            ).all()
            by_version = self._aliases_by_version(conn, name)
        return [_version_record(row, by_version.get(row.version, ())) for row in rows]

    # -- artifacts ----------------------------------------------------------------------

    def mark_interrupted_runs(self) -> list[str]:
        """Mark ``interrupted`` every running run whose process is gone; returns their ids.

        A run is ``running`` while its process works; a process killed outright (``kill
        -9``, out of memory, power loss) cannot finish it. ``create_run`` leaves a marker
        naming the process (:mod:`._orphans`); a run whose process no longer exists on this
        host is closed here, with the reason as its error. ``runs list``, ``runs show``, the
        dashboard and ``train`` call this.

        Examples
        --------
        >>> store.mark_interrupted_runs()  # doctest: +SKIP
        ['3f2a9c01...']
        """
        marked = []
        for run_id, marker in interrupted_runs(self.artifacts_dir / "tmp"):
            with self._write() as conn:
                done = conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id, runs.c.status == "running")
                    .values(
                        status="interrupted",
                        finished_at=_db.now(),
                        error="The process that ran it stopped without finishing it (killed, "
                        "or out of memory); its files were swept.",
                    )
                ).rowcount
            marker.unlink(missing_ok=True)
            if done:
                marked.append(run_id)
        return marked

    def sweep_orphan_artifacts(self, *, min_age_seconds: float = 3600) -> list[Path]:
        """Delete files no row references and no live process is writing; returns them.

        Such files are what a process killed while it wrote leaves behind: temporary files
        and folders, a model file moved into place before its row was committed, a
        snapshot file. A file whose writer (named in its owner tag) is gone goes at once; a
        file without a tag of this host only when older than ``min_age_seconds``, which
        spares writes still in flight elsewhere.

        Examples
        --------
        >>> store.sweep_orphan_artifacts(min_age_seconds=0)  # doctest: +SKIP
        []
        """
        with self._read() as conn:
            referenced = set(conn.execute(sa.select(model_versions.c.artifact_path)).scalars())
            referenced |= set(conn.execute(sa.select(data_snapshots.c.artifact_path)).scalars())
        removed = []
        for path in orphan_files(self.artifacts_dir, referenced, min_age_seconds=min_age_seconds):
            try:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:  # a file that cannot be removed now is tried next time
                log.warning("could not remove the orphan file %s: %s", path, exc)
                continue
            removed.append(path)
        return removed

    def recover(self) -> tuple[list[str], list[Path]]:
        """:meth:`mark_interrupted_runs`, then :meth:`sweep_orphan_artifacts`: what a
        process killed outright left behind, closed and removed (``train`` runs it first)."""
        return self.mark_interrupted_runs(), self.sweep_orphan_artifacts()

    def artifact_path(self, record: ModelVersionRecord) -> Path:
        """Where the model file of a version lives (checked to be inside the artifact folder)."""
        return self._artifact_path(record)

    def _artifact_path(self, record: ModelVersionRecord) -> Path:
        base = self.artifacts_dir.resolve()
        path = (base / record.artifact_path).resolve()
        if not path.is_relative_to(base):
            raise ArtifactIntegrityError(
                f"Artifact of model '{record.name}' version {record.version} points outside "
                f"the artifact folder ({record.artifact_path!r}); refusing to load it."
            )
        return path

    # -- helpers ------------------------------------------------------------------------

    def _require_model(self, conn: sa.Connection, name: str) -> None:
        found = conn.execute(
            sa.select(registered_models.c.name).where(registered_models.c.name == name)
        ).first()
        if found is not None:
            return
        names = list(
            conn.execute(
                sa.select(registered_models.c.name).order_by(registered_models.c.name)
            ).scalars()
        )
        if not names:
            raise ModelNotFoundError(
                f"No model named {name!r}: no models are registered yet. Train and register "
                "one first."
            )
        close = suggest(str(name), names)
        hint = f" Did you mean '{close}'?" if close else ""
        shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
        raise ModelNotFoundError(f"No model named {name!r}.{hint} Registered: {shown}.")

    def _require_version(self, conn: sa.Connection, name: str, version: int) -> None:
        versions = list(
            conn.execute(
                sa.select(model_versions.c.version)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version)
            ).scalars()
        )
        if version not in versions:
            raise ModelNotFoundError(
                f"Model '{name}' has no version {version}; versions: {format_versions(versions)}."
            )

    def _no_alias_message(self, conn: sa.Connection, name: str, alias: str) -> str:
        existing = self._aliases(conn, name)
        if not existing:
            return (
                f"Model '{name}' has no alias '{alias}'; it has no aliases yet. Set one with "
                f"set_alias('{name}', '{alias}', <version>)."
            )
        close = suggest(alias, existing)
        hint = f" Did you mean '{close}'?" if close else ""
        shown = ", ".join(f"{a} -> {v}" for a, v in existing.items())
        return f"Model '{name}' has no alias '{alias}'.{hint} Aliases: {shown}."

    def _aliases(self, conn: sa.Connection, name: str) -> dict[str, int]:
        rows = conn.execute(
            sa.select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.name == name)
            .order_by(model_aliases.c.alias)
        )
        return {row.alias: row.version for row in rows}

    def _aliases_by_version(self, conn: sa.Connection, name: str) -> dict[int, tuple[str, ...]]:
        by_version: dict[int, tuple[str, ...]] = {}
        for alias, version in self._aliases(conn, name).items():
            by_version[version] = (*by_version.get(version, ()), alias)
        return by_version

    def _version_record(self, conn: sa.Connection, name: str, version: int) -> ModelVersionRecord:
        row = conn.execute(
            sa.select(model_versions).where(
                model_versions.c.name == name, model_versions.c.version == version
            )
        ).one()
        return _version_record(row, self._aliases_by_version(conn, name).get(version, ()))

    # -- prediction log (written by the server, read by monitoring) ----------------------

    def log_predictions(self, entries: Sequence[dict[str, Any]]) -> int:
        """Append prediction log entries in one transaction; returns how many.

        Each entry has ``request_id``, ``model_name``, ``model_version``, ``inputs`` (a
        record) and optionally ``prediction``, ``probabilities``, ``latency_ms`` and
        ``created_at`` (default: now).

        Examples
        --------
        >>> store.log_predictions([{"request_id": "r1", "model_name": "churn",
        ...     "model_version": 2, "inputs": {"age": 41}, "prediction": 1}])  # doctest: +SKIP
        1
        """
        from modelloop.store._predictions import insert_predictions

        with self._write() as conn:
            n = insert_predictions(conn, entries)
        if self.prediction_retention_days is not None and time.monotonic() - self._last_prune > 60:
            self._last_prune = time.monotonic()
            self.apply_retention()
        return n

    def apply_retention(self, days: float | None = None) -> int:
        """Delete logged predictions older than ``days`` (default: the store's retention).

        Returns how many rows went; 0 when no retention is set.

        Examples
        --------
        >>> store.apply_retention(30)  # doctest: +SKIP
        1250
        """
        from datetime import timedelta

        days = self.prediction_retention_days if days is None else days
        if days is None:
            return 0
        if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
            raise InvalidInputError(f"Retention must be a number of days > 0. Got {days!r}.")
        return self.prune_predictions(_db.now() - timedelta(days=float(days)))

    def get_predictions(
        self,
        model_name: str | None = None,
        model_version: int | None = None,
        *,
        since: Any = None,
        until: Any = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Logged predictions (``PredictionRecord``), oldest first, in ``[since, until)``."""
        from modelloop.store._predictions import select_predictions

        with self._read() as conn:
            return select_predictions(
                conn,
                model_name=model_name,
                model_version=model_version,
                since=since,
                until=until,
                request_id=request_id,
                limit=limit,
            )

    def prune_predictions(self, before: Any) -> int:
        """Delete logged predictions older than ``before`` (a UTC datetime); returns how many.

        10,000 rows per transaction, so concurrent writers never wait long.
        """
        from modelloop.store._predictions import prune_in_batches

        return prune_in_batches(self._write, before=before)

    # -- delayed labels (feedback; see ._feedback) ----------------------------------------

    def record_feedback(
        self,
        model_name: str,
        items: Sequence[Any],
        *,
        task: str | None,
        classes: Sequence[Any] | None = None,
        key_column: str | None = None,
    ) -> Any:
        """Attach labels to logged predictions of ``model_name``, in one transaction.

        ``items``: ``{"request_id": ..., "label": ...}`` (or ``"key"`` with a key column).
        Invalid items are rejected with a reason and unknown ids reported, never raised:
        returns a ``FeedbackResult``.

        Examples
        --------
        >>> store.record_feedback("churn", [{"request_id": "9f..", "label": 1}],
        ...                       task="binary", classes=[0, 1]).labeled  # doctest: +SKIP
        1
        """
        from modelloop.store._feedback import attach_labels

        def body(conn: sa.Connection) -> Any:
            return attach_labels(
                conn, model_name, items, task=task, classes=classes, key_column=key_column
            )

        return self._retry(f"record feedback for model '{model_name}'", body)

    def count_labels(self, model_name: str, *, since: Any = None) -> int:
        """How many predictions of ``model_name`` carry a label (labeled after ``since``)."""
        from modelloop.store._feedback import count_labels

        with self._read() as conn:
            return count_labels(conn, model_name, since=since)

    def labeled_predictions(
        self, model_name: str, *, since: Any = None, limit: int | None = None
    ) -> list[Any]:
        """Labeled predictions (``PredictionRecord``), oldest first; ``limit``: the latest N."""
        from modelloop.store._feedback import select_labeled

        with self._read() as conn:
            return select_labeled(conn, model_name, since=since, limit=limit)

    # -- rewards of logged decisions (decision policies; see ._rewards) ------------------

    def record_rewards(self, model_name: str, items: Sequence[Any], *, wait_seconds: float) -> Any:
        """Store rewards for logged decisions of ``model_name``, in one transaction.

        ``items``: ``{"event_id": ..., "reward": ...}``. A reward comes once, within
        ``wait_seconds`` of its decision; unknown, expired, duplicate, conflicting and
        invalid items are reported, never raised: returns a ``RewardResult``.

        Examples
        --------
        >>> store.record_rewards("offers", [{"event_id": "9f..", "reward": 1}],
        ...                      wait_seconds=3600).recorded  # doctest: +SKIP
        1
        """
        from datetime import timedelta

        from modelloop.store._rewards import attach_rewards

        def body(conn: sa.Connection) -> Any:
            return attach_rewards(conn, model_name, items, wait=timedelta(seconds=wait_seconds))

        return self._retry(f"record rewards for model '{model_name}'", body)

    def reward_counts(self, model_name: str, *, since: Any = None) -> dict[str, int]:
        """Logged decisions of ``model_name`` and how many have a reward."""
        from modelloop.store._rewards import reward_counts

        with self._read() as conn:
            return reward_counts(conn, model_name, since=since)

    # -- data snapshots (written by ``modelloop ingest``; see ._snapshots) ---------------

    def write_snapshot(self, name: str, frame: Any, **info: Any) -> Any:
        """Store ``frame`` as the next version of snapshot ``name`` (a ``SnapshotRecord``).

        ``info``: ``hash``, ``columns``, ``source`` and optionally ``meta``. All-or-nothing.

        Examples
        --------
        >>> store.write_snapshot("customers", frame, hash=h, columns=[], source="api")  # doctest: +SKIP
        """
        from modelloop.store._snapshots import write_snapshot

        return write_snapshot(self, name, frame, **info)

    def get_snapshot(self, name: str, version: int | None = None) -> Any:
        """One version of a snapshot, the latest by default; ``SnapshotNotFoundError`` if none."""
        from modelloop.store._snapshots import get_snapshot

        return get_snapshot(self, name, version)

    def list_snapshots(self, name: str | None = None) -> list[Any]:
        """Every snapshot (of ``name``), by name then version."""
        from modelloop.store._snapshots import list_snapshots

        return list_snapshots(self, name)

    def read_snapshot(self, record: Any) -> Any:
        """The DataFrame of a snapshot record, its file checked against the recorded sha256."""
        from modelloop.store._snapshots import read_snapshot

        return read_snapshot(self, record)

    # -- exports (written by ``modelloop export``; see ._exports) ------------------------

    def record_export(
        self,
        ref: str | ModelVersionRecord,
        *,
        format: str,
        sha256: str,
        path: str,
        modelloop_version: str,
        details: dict[str, Any] | None = None,
    ) -> Any:
        """Record that a model version was exported; returns the ``ExportRecord``.

        Examples
        --------
        >>> store.record_export("churn:3", format="onnx", sha256="ab" * 32,
        ...                     path="/tmp/churn.onnx", modelloop_version="0.1.0")  # doctest: +SKIP
        """
        from modelloop.store._exports import insert_export

        record = ref if isinstance(ref, ModelVersionRecord) else self.resolve(ref)

        def body(conn: sa.Connection) -> Any:
            self._require_version(conn, record.name, record.version)
            return insert_export(
                conn,
                name=record.name,
                version=record.version,
                format=format,
                sha256=sha256,
                path=path,
                modelloop_version=modelloop_version,
                details=details or {},
            )

        return self._retry(f"record an export of {record.ref}", body)

    def list_exports(self, name: str, version: int | None = None) -> list[Any]:
        """The exports of a model (of one version), oldest first (``ExportRecord``)."""
        from modelloop.store._exports import select_exports

        with self._read() as conn:
            self._require_model(conn, name)
            return select_exports(conn, name, version)

    # -- search trials (written by ``train``; see ._trials) ------------------------------

    def record_trials(self, run_id: str, entries: Sequence[dict[str, Any]]) -> int:
        """Keep the search trials of a run (dicts as ``SearchResult.trials`` gives them)."""
        from modelloop.store._trials import insert_trials

        with self._write() as conn:
            return insert_trials(conn, self._resolve_run_id(conn, run_id), entries)

    def list_trials(self, run_id: str) -> list[Any]:
        """The trials of a run (id or unique prefix), in the order they ran (``TrialRecord``)."""
        from modelloop.store._trials import select_trials

        with self._read() as conn:
            return select_trials(conn, self._resolve_run_id(conn, run_id))

    # -- pages for screens (the dashboard; see ._pages) ----------------------------------

    def page_runs(
        self,
        *,
        page: int = 1,
        per_page: int = 50,
        name: str | None = None,
        status: str | None = None,
    ) -> Any:
        """One page of runs, newest first, light columns only (a ``RunPage``)."""
        from modelloop.store._pages import page_runs

        with self._read() as conn:
            return page_runs(conn, page=page, per_page=per_page, name=name, status=status)

    def latest_version_metrics(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """``{model: (latest version, its metrics)}`` for every registered model."""
        from modelloop.store._pages import latest_version_metrics

        with self._read() as conn:
            return latest_version_metrics(conn)

    def prediction_activity(
        self, model_name: str, *, since: Any = None, limit: int = 5000
    ) -> list[Any]:
        """The latest logged predictions of a model, oldest first (``ActivityPoint``s)."""
        from modelloop.store._pages import prediction_activity

        with self._read() as conn:
            return prediction_activity(conn, model_name, since=since, limit=limit)

    # -- files of a run (evaluation data for reports; see ._run_artifacts) ---------------

    def write_run_files(self, run_id: str, files: dict[str, bytes]) -> Path:
        """Keep ``files`` (name -> bytes) beside run ``run_id``, once, all-or-nothing."""
        from modelloop.store._run_artifacts import write_run_files

        return write_run_files(self, self.get_run(run_id).id, files)

    def run_files(self, run_id: str) -> dict[str, str]:
        """The files kept beside a run, name -> sha256 (empty when it has none)."""
        from modelloop.store._run_artifacts import run_files

        return run_files(self, self.get_run(run_id).id)

    def read_run_file(self, run_id: str, name: str) -> bytes:
        """One file of a run, its sha256 checked; ``ArtifactIntegrityError`` if changed."""
        from modelloop.store._run_artifacts import read_run_file

        return read_run_file(self, self.get_run(run_id).id, name)


def _dataset_record(row: sa.Row[Any]) -> DatasetRecord:
    return DatasetRecord(
        hash=row.hash,
        name=row.name,
        source=row.source,
        n_rows=int(row.n_rows),
        n_cols=int(row.n_cols),
        schema=row.schema,
        created_at=row.created_at,
    )


def _run_record(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        name=row.name,
        dataset_hash=row.dataset_hash,
        target=row.target,
        task=row.task,
        metric=row.metric,
        params=row.params,
        status=row.status,
        cv_metrics=row.cv_metrics,
        test_metrics=row.test_metrics,
        leaderboard=row.leaderboard,
        best_model=row.best_model,
        timings=row.timings,
        library_versions=row.library_versions,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _version_record(row: sa.Row[Any], aliases: tuple[str, ...]) -> ModelVersionRecord:
    return ModelVersionRecord(
        name=row.name,
        version=int(row.version),
        run_id=row.run_id,
        artifact_path=row.artifact_path,
        sha256=row.sha256,
        size_bytes=int(row.size_bytes),
        schema=row.schema,
        task=row.task,
        metrics=row.metrics,
        description=row.description,
        tags=row.tags,
        aliases=tuple(sorted(aliases)),
        created_at=row.created_at,
        format_version=int(row.format_version),
        reference_snapshot=row.reference_snapshot,
        lineage=dict(row.lineage or {}),
    )
