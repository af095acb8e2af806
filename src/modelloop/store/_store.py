"""The store's contract: :class:`Store`, one facade over parts split by concern.

This module is longer than the others on purpose: it is the public API's documentation
(every method's docstring and example), and each method only opens a transaction and hands
it to the part that does the work. No query and no file handling lives here.

The promises every backend keeps are listed in the ``Store`` docstring. The parts, each over the one :class:`~._engine.StoreEngine` (they take a connection or the
engine, never the ``Store``):

==========================  ===========================================================
:mod:`._datasets`           datasets by content hash
:mod:`._runs`               training runs: start, finish, find by id prefix, list, count
:mod:`._registry`           registered models, versions, aliases, model files
:mod:`._predictions`        the prediction log and its retention
:mod:`._feedback`           delayed labels of logged predictions
:mod:`._rewards`            rewards of logged decisions
:mod:`._snapshots`          versioned data snapshots (Parquet files)
:mod:`._trials`             the search trials of a run
:mod:`._exports`            exports of model versions
:mod:`._run_artifacts`      files kept beside a run (no rows)
:mod:`._pages`              paged and summarised reads for the dashboard
:mod:`._orphans`            runs and files a killed process left behind
==========================  ===========================================================
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError, StoreError
from modelloop.store import _datasets, _db, _registry, _runs
from modelloop.store._engine import StoreEngine
from modelloop.store._exports import ExportRecord, insert_export, select_exports
from modelloop.store._feedback import FeedbackResult, attach_labels, count_labels, select_labeled
from modelloop.store._orphans import remove_orphans
from modelloop.store._pages import (
    ActivityPoint,
    RunPage,
    latest_version_metrics,
    page_runs,
    prediction_activity,
)
from modelloop.store._predictions import (
    PredictionRecord,
    insert_predictions,
    prune_in_batches,
    select_predictions,
)
from modelloop.store._records import (
    RUN_STATUSES,
    DatasetRecord,
    ModelSummary,
    ModelVersionRecord,
    RunRecord,
)
from modelloop.store._refs import parse_ref
from modelloop.store._rewards import RewardResult, attach_rewards, reward_counts
from modelloop.store._run_artifacts import read_run_file, run_files, write_run_files
from modelloop.store._snapshots import (
    SnapshotRecord,
    get_snapshot,
    list_snapshots,
    read_snapshot,
    write_snapshot,
)
from modelloop.store._tables import data_snapshots, model_versions
from modelloop.store._trials import TrialRecord, insert_trials, select_trials

if TYPE_CHECKING:
    import pandas as pd

    from modelloop.config import Settings

__all__ = ["RUN_STATUSES", "Store"]


class Store:
    """Datasets, runs and registered models, in a database plus a folder of model files.

    Opening a store creates its folders, and the schema of a new database (Alembic
    ``upgrade head``); a store whose schema is older than the code is refused with a
    message to run ``modelloop store upgrade`` (:meth:`Store.upgrade_schema`).

    What every backend (SQLite by default, PostgreSQL by URL) promises:

    - **Frozen records.** Every read returns immutable dataclasses (``RunRecord``,
      ``ModelVersionRecord``, ``SnapshotRecord``, ...), never rows or ORM objects; their
      dict fields are fresh copies, so changing them never changes the store.
    - **All-or-nothing writes.** A model file or snapshot is written and moved into place
      first, then its rows are inserted in one transaction; if that fails the files go
      again. A crash between the two leaves at most an unreferenced file, which
      :meth:`sweep_orphan_artifacts` removes.
    - **Concurrent use.** One ``Store`` may be shared between threads, and the same store
      opened by several processes; a write that conflicts with another is retried.
    - **One-line errors.** Bad input raises ``InvalidInputError``; a missing run, model,
      alias or snapshot the matching ``NotFoundError``, naming the closest match; a
      database failure ``StoreError``.

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
        self._db = StoreEngine(self.url)
        try:
            _db.open_schema(self._db.engine)
        except BaseException:
            self._db.dispose()
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
        self._db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._db.safe_url!r}, {str(self.artifacts_dir)!r})"

    @property
    def _engine(self) -> sa.Engine:
        # The SQLAlchemy engine, for tests and benchmarks that seed rows directly.
        return self._db.engine

    @property
    def _write_engine(self) -> sa.Engine:
        return self._db.write_engine

    @property
    def _tmp(self) -> Path:
        return self.artifacts_dir / "tmp"

    # -- datasets (see ._datasets) -------------------------------------------------------

    def record_dataset(
        self, *, hash: str, name: str, source: str, n_rows: int, n_cols: int, schema: dict
    ) -> DatasetRecord:
        """Record a dataset by content hash; return the existing record if already there.

        Examples
        --------
        >>> rec = store.record_dataset(hash="ab12", name="iris", source="iris.csv",
        ...                            n_rows=150, n_cols=5, schema={})  # doctest: +SKIP
        """
        return _datasets.record_dataset(
            self._db, hash=hash, name=name, source=source, n_rows=n_rows, n_cols=n_cols,
            schema=schema,
        )  # fmt: skip

    def get_dataset(self, hash: str) -> DatasetRecord:
        """The dataset recorded under ``hash``; ``NotFoundError`` if there is none."""
        with self._db.read() as conn:
            return _datasets.get_dataset(conn, hash)

    # -- runs (see ._runs) ---------------------------------------------------------------

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
        return _runs.create_run(
            self._db, self._tmp, name=name, dataset_hash=dataset_hash, target=target,
            task=task, metric=metric, params=params,
        )  # fmt: skip

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
        return _runs.finish_run(
            self._db, self._tmp, run_id, status=status, cv_metrics=cv_metrics,
            test_metrics=test_metrics, leaderboard=leaderboard, best_model=best_model,
            timings=timings, library_versions=library_versions, error=error,
        )  # fmt: skip

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id, or with this unique id prefix (4 characters or more).

        Examples
        --------
        >>> store.get_run("3f2a")  # doctest: +SKIP
        RunRecord(id='3f2a9c...', ...)
        """
        with self._db.read() as conn:
            return _runs.get_run(conn, run_id)

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
        _runs.check_list_args(status, limit, offset)
        with self._db.read() as conn:
            return _runs.list_runs(
                conn, name=name, status=status, limit=limit, offset=offset, after=after,
                metric_filter=metric_filter, sort_metric=sort_metric,
                metric_scope=metric_scope, ascending=ascending,
            )  # fmt: skip

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
        _runs.check_run_filters(status)
        with self._db.read() as conn:
            return _runs.count_runs(
                conn, name=name, status=status, metric_filter=metric_filter,
                metric_scope=metric_scope,
            )  # fmt: skip

    def get_runs(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """Several runs by id (or unique prefix), in the order asked: to compare them.

        One query for full ids; ``RunNotFoundError`` names the first id that matches no run.

        Examples
        --------
        >>> a, b = store.get_runs(["3f2a", "9c01"])  # doctest: +SKIP
        """
        wanted = _runs.check_run_ids(run_ids)
        with self._db.read() as conn:
            return _runs.get_runs(conn, wanted)

    # -- registry (see ._registry) -------------------------------------------------------

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
        reference: pd.DataFrame | None = None,
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
        return _registry.register_model(
            self._db, self.artifacts_dir, name, model, trust=self.trust, run_id=run_id,
            schema=schema, task=task, metrics=metrics, description=description,
            aliases=aliases, tags=tags, reference=reference, reference_hash=reference_hash,
            lineage=lineage, version=version,
        )  # fmt: skip

    def reference_data(self, ref: str | ModelVersionRecord) -> pd.DataFrame:
        """The training rows a model version was registered with, as a DataFrame.

        ``ref`` is a model reference (``'churn'``, ``'churn@production'``, ``'churn:3'``)
        or a version record. Raises ``NotFoundError`` when the version was registered
        without its data (for example by ``register_model`` without ``reference``).

        Examples
        --------
        >>> store.reference_data("churn@production").shape  # doctest: +SKIP
        (7043, 21)
        """
        record = ref if isinstance(ref, ModelVersionRecord) else self.resolve(ref)
        snapshot, version = _registry.reference_snapshot(record)
        return self.read_snapshot(self.get_snapshot(snapshot, version))

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``name@alias`` at ``version``, moving the alias if it exists.

        Examples
        --------
        >>> store.set_alias("churn", "production", 2)  # doctest: +SKIP
        """
        _registry.set_alias(self._db, name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias``; the version it pointed at stays."""
        _registry.delete_alias(self._db, name, alias)

    def get_model_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersionRecord:
        """One version of a model: by number, by alias, or the latest when neither is given.

        Examples
        --------
        >>> store.get_model_version("churn", alias="production").version  # doctest: +SKIP
        2
        """
        _registry.check_version_args(name, version, alias)
        with self._db.read() as conn:
            return _registry.get_model_version(conn, name, version, alias)

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

    def load_model(self, ref_or_record: str | ModelVersionRecord) -> tuple[ModelVersionRecord, Any]:
        """The record and the deserialized model of a version.

        The file's sha256 is checked against the store before anything is parsed, and it
        goes through the one trust check (:mod:`._trust`) unless the store was opened with
        ``trust``.

        Examples
        --------
        >>> record, pipeline = store.load_model("churn@production")  # doctest: +SKIP
        """
        if not isinstance(ref_or_record, str | ModelVersionRecord):
            raise InvalidInputError(
                "load_model takes a reference such as 'churn@production' or a "
                f"ModelVersionRecord. Got {type(ref_or_record).__name__}."
            )
        record = self._current(ref_or_record)
        return record, _registry.load_model(self.artifacts_dir, record, trust=self.trust)

    def model_file(self, ref_or_record: str | ModelVersionRecord) -> Path:
        """The path of a version's model file, after checking it against its sha256.

        Examples
        --------
        >>> store.model_file("churn:2").suffix  # doctest: +SKIP
        '.skops'
        """
        return _registry.verified_file(self.artifacts_dir, self._current(ref_or_record))[0]

    def _current(self, ref_or_record: str | ModelVersionRecord) -> ModelVersionRecord:
        if isinstance(ref_or_record, ModelVersionRecord):
            # Re-read: the store, not the caller's copy, says which file and hash are right.
            return self.get_model_version(ref_or_record.name, ref_or_record.version)
        return self.resolve(ref_or_record)

    def list_models(self) -> list[ModelSummary]:
        """Every registered model with its latest version and aliases, by name."""
        with self._db.read() as conn:
            return _registry.list_models(conn)

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of ``name``, oldest first."""
        with self._db.read() as conn:
            return _registry.list_versions(conn, name)

    def artifact_path(self, record: ModelVersionRecord) -> Path:
        """Where the model file of a version lives (checked to be inside the artifact folder)."""
        return _registry.artifact_path(self.artifacts_dir, record)

    # -- what a killed process left behind (see ._orphans) -------------------------------

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
        return _runs.mark_interrupted_runs(self._db, self._tmp)

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
        with self._db.read() as conn:
            referenced = set(conn.execute(sa.select(model_versions.c.artifact_path)).scalars())
            referenced |= set(conn.execute(sa.select(data_snapshots.c.artifact_path)).scalars())
        return remove_orphans(self.artifacts_dir, referenced, min_age_seconds=min_age_seconds)

    def recover(self) -> tuple[list[str], list[Path]]:
        """:meth:`mark_interrupted_runs`, then :meth:`sweep_orphan_artifacts`: what a
        process killed outright left behind, closed and removed (``train`` runs it first)."""
        return self.mark_interrupted_runs(), self.sweep_orphan_artifacts()

    # -- prediction log (written by the server, read by monitoring; see ._predictions) ---

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
        with self._db.write() as conn:
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
        since: datetime | None = None,
        until: datetime | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> list[PredictionRecord]:
        """Logged predictions, oldest first, in ``[since, until)``."""
        with self._db.read() as conn:
            return select_predictions(
                conn, model_name=model_name, model_version=model_version, since=since,
                until=until, request_id=request_id, limit=limit,
            )  # fmt: skip

    def prune_predictions(self, before: datetime) -> int:
        """Delete logged predictions older than ``before`` (a UTC datetime); returns how many.

        10,000 rows per transaction, so concurrent writers never wait long.
        """
        return prune_in_batches(self._db.write, before=before)

    # -- delayed labels (see ._feedback) and rewards of decisions (see ._rewards) --------

    def record_feedback(
        self,
        model_name: str,
        items: Sequence[Any],
        *,
        task: str | None,
        classes: Sequence[Any] | None = None,
        key_column: str | None = None,
    ) -> FeedbackResult:
        """Attach labels to logged predictions of ``model_name``, in one transaction.

        ``items``: ``{"request_id": ..., "label": ...}`` (or ``"key"`` with a key column).
        Invalid items are rejected with a reason and unknown ids reported, never raised.

        Examples
        --------
        >>> store.record_feedback("churn", [{"request_id": "9f..", "label": 1}],
        ...                       task="binary", classes=[0, 1]).labeled  # doctest: +SKIP
        1
        """

        def body(conn: sa.Connection) -> FeedbackResult:
            return attach_labels(
                conn, model_name, items, task=task, classes=classes, key_column=key_column
            )

        return self._db.retry(f"record feedback for model '{model_name}'", body)

    def count_labels(self, model_name: str, *, since: datetime | None = None) -> int:
        """How many predictions of ``model_name`` carry a label (labeled after ``since``)."""
        with self._db.read() as conn:
            return count_labels(conn, model_name, since=since)

    def labeled_predictions(
        self, model_name: str, *, since: datetime | None = None, limit: int | None = None
    ) -> list[PredictionRecord]:
        """Labeled predictions, oldest first; ``limit``: the latest N."""
        with self._db.read() as conn:
            return select_labeled(conn, model_name, since=since, limit=limit)

    def record_rewards(
        self, model_name: str, items: Sequence[Any], *, wait_seconds: float
    ) -> RewardResult:
        """Store rewards for logged decisions of ``model_name``, in one transaction.

        ``items``: ``{"event_id": ..., "reward": ...}``. A reward comes once, within
        ``wait_seconds`` of its decision; unknown, expired, duplicate, conflicting and
        invalid items are reported, never raised.

        Examples
        --------
        >>> store.record_rewards("offers", [{"event_id": "9f..", "reward": 1}],
        ...                      wait_seconds=3600).recorded  # doctest: +SKIP
        1
        """

        def body(conn: sa.Connection) -> RewardResult:
            return attach_rewards(conn, model_name, items, wait=timedelta(seconds=wait_seconds))

        return self._db.retry(f"record rewards for model '{model_name}'", body)

    def reward_counts(self, model_name: str, *, since: datetime | None = None) -> dict[str, int]:
        """Logged decisions of ``model_name`` and how many have a reward."""
        with self._db.read() as conn:
            return reward_counts(conn, model_name, since=since)

    # -- data snapshots (written by ``modelloop ingest``; see ._snapshots) ---------------

    def write_snapshot(self, name: str, frame: pd.DataFrame, **info: Any) -> SnapshotRecord:
        """Store ``frame`` as the next version of snapshot ``name``; all-or-nothing.

        ``info``: ``hash``, ``columns``, ``source`` and optionally ``meta``.

        Examples
        --------
        >>> store.write_snapshot("customers", frame, hash=h, columns=[], source="api")  # doctest: +SKIP
        """
        return write_snapshot(self._db, self.artifacts_dir, name, frame, **info)

    def get_snapshot(self, name: str, version: int | None = None) -> SnapshotRecord:
        """One version of a snapshot, the latest by default; ``SnapshotNotFoundError`` if none."""
        with self._db.read() as conn:
            return get_snapshot(conn, name, version)

    def list_snapshots(self, name: str | None = None) -> list[SnapshotRecord]:
        """Every snapshot (of ``name``), by name then version."""
        with self._db.read() as conn:
            return list_snapshots(conn, name)

    def read_snapshot(self, record: SnapshotRecord) -> pd.DataFrame:
        """The DataFrame of a snapshot record, its file checked against the recorded sha256."""
        return read_snapshot(self.artifacts_dir, record)

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
    ) -> ExportRecord:
        """Record that a model version was exported.

        Examples
        --------
        >>> store.record_export("churn:3", format="onnx", sha256="ab" * 32,
        ...                     path="/tmp/churn.onnx", modelloop_version="0.1.0")  # doctest: +SKIP
        """
        record = ref if isinstance(ref, ModelVersionRecord) else self.resolve(ref)

        def body(conn: sa.Connection) -> ExportRecord:
            _registry.require_version(conn, record.name, record.version)
            return insert_export(
                conn, name=record.name, version=record.version, format=format,
                sha256=sha256, path=path, modelloop_version=modelloop_version,
                details=details or {},
            )  # fmt: skip

        return self._db.retry(f"record an export of {record.ref}", body)

    def list_exports(self, name: str, version: int | None = None) -> list[ExportRecord]:
        """The exports of a model (of one version), oldest first."""
        with self._db.read() as conn:
            _registry.require_model(conn, name)
            return select_exports(conn, name, version)

    # -- search trials (written by ``train``; see ._trials) ------------------------------

    def record_trials(self, run_id: str, entries: Sequence[dict[str, Any]]) -> int:
        """Keep the search trials of a run (dicts as ``SearchResult.trials`` gives them)."""
        with self._db.write() as conn:
            return insert_trials(conn, _runs.resolve_run_id(conn, run_id), entries)

    def list_trials(self, run_id: str) -> list[TrialRecord]:
        """The trials of a run (id or unique prefix), in the order they ran."""
        with self._db.read() as conn:
            return select_trials(conn, _runs.resolve_run_id(conn, run_id))

    # -- pages for screens (the dashboard; see ._pages) ----------------------------------

    def page_runs(
        self,
        *,
        page: int = 1,
        per_page: int = 50,
        name: str | None = None,
        status: str | None = None,
    ) -> RunPage:
        """One page of runs, newest first, light columns only."""
        with self._db.read() as conn:
            return page_runs(conn, page=page, per_page=per_page, name=name, status=status)

    def latest_version_metrics(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """``{model: (latest version, its metrics)}`` for every registered model."""
        with self._db.read() as conn:
            return latest_version_metrics(conn)

    def prediction_activity(
        self, model_name: str, *, since: datetime | None = None, limit: int = 5000
    ) -> list[ActivityPoint]:
        """The latest logged predictions of a model, oldest first."""
        with self._db.read() as conn:
            return prediction_activity(conn, model_name, since=since, limit=limit)

    # -- files of a run (evaluation data for reports; see ._run_artifacts) ---------------

    def write_run_files(self, run_id: str, files: dict[str, bytes]) -> Path:
        """Keep ``files`` (name -> bytes) beside run ``run_id``, once, all-or-nothing."""
        return write_run_files(self.artifacts_dir, self.get_run(run_id).id, files)

    def run_files(self, run_id: str) -> dict[str, str]:
        """The files kept beside a run, name -> sha256 (empty when it has none)."""
        return run_files(self.artifacts_dir, self.get_run(run_id).id)

    def read_run_file(self, run_id: str, name: str) -> bytes:
        """One file of a run, its sha256 checked; ``ArtifactIntegrityError`` if changed."""
        return read_run_file(self.artifacts_dir, self.get_run(run_id).id, name)
