"""``ingest``: read a source, check its rules, keep it as a versioned snapshot; ``data:`` sources.

A snapshot is an immutable Parquet copy of what a source gave at one moment, with its
content hash, row count, column types, source and time. Training from ``data:NAME@VERSION``
(or ``data:NAME`` for the latest) reads exactly that copy, so a model's lineage names the
data it saw; the rules stored with the snapshot are checked again at that point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from modelloop.config import Settings
from modelloop.data import (
    Dataset,
    HttpOptions,
    RuleReport,
    Rules,
    column_types,
    content_hash,
    decode_watermark,
    encode_watermark,
    enforce_rules,
    is_http_url,
    is_url,
    load,
    load_rules,
    read_sql_since,
    read_table,
    storable_frame,
    watermark_of,
)
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.store import SnapshotRecord, Store, parse_snapshot_ref
from modelloop.workflows._progress import OnProgress, quiet

__all__ = [
    "DATA_PREFIX",
    "IngestResult",
    "ingest",
    "is_data_ref",
    "load_source",
    "read_data_ref",
]

DATA_PREFIX = "data:"


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` did.

    ``snapshot`` is the version now current (a new one when ``created``; the unchanged
    latest otherwise); ``n_read`` the rows read from the source (only the new ones for an
    incremental read); ``report`` the rule report when rules were given.
    """

    snapshot: SnapshotRecord
    created: bool
    n_read: int
    previous: SnapshotRecord | None = None
    report: RuleReport | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "n_read": self.n_read,
            "previous_version": self.previous.version if self.previous else None,
            "snapshot": self.snapshot.to_dict(),
            "rules": self.report.to_dict() if self.report else None,
        }


def is_data_ref(source: object) -> bool:
    """Whether ``source`` names a snapshot (``'data:customers@3'``)."""
    return isinstance(source, str) and source.startswith(DATA_PREFIX)


def _latest(store: Store, name: str) -> SnapshotRecord | None:
    from modelloop.exceptions import SnapshotNotFoundError

    try:
        return store.get_snapshot(name)
    except SnapshotNotFoundError:
        return None


def _read_incremental(
    source: str,
    *,
    table: str | None,
    query: str | None,
    since_column: str,
    key: str | None,
    previous: SnapshotRecord | None,
    store: Store,
) -> tuple[pd.DataFrame, str, str, int, Any]:
    """(full frame, description, name, rows read, new watermark) of an incremental SQL read."""
    if not isinstance(source, str) or not is_url(source) or is_http_url(source):
        raise ConfigurationError(
            "since_column (--since-column) works with database sources only (a SQLAlchemy "
            f"URL with --table or --query). Got {source!s}."
        )
    after = None
    if previous is not None:
        if previous.meta.get("since_column") not in (None, since_column):
            raise ConfigurationError(
                f"Snapshot '{previous.name}' is kept incrementally on "
                f"'{previous.meta['since_column']}', not '{since_column}'. Use the same "
                "--since-column, or a new --name."
            )
        after = decode_watermark(previous.meta.get("watermark"))
    delta, desc, name = read_sql_since(
        source, table=table, query=query, since_column=since_column, after=after
    )
    mark = watermark_of(delta, since_column) if len(delta) else after
    if previous is None or previous.meta.get("since_column") is None:
        frame = delta
    elif delta.empty:
        frame = store.read_snapshot(previous)
    else:
        old = store.read_snapshot(previous)
        frame = pd.concat([old, storable_frame(delta)], ignore_index=True)
        if key is not None:
            if key not in frame.columns:
                raise InvalidInputError(
                    f"key {key!r} is not a column of {desc}. Columns: "
                    f"{', '.join(map(repr, frame.columns))}."
                )
            frame = frame.drop_duplicates(subset=[key], keep="last")
            frame = frame.reset_index(drop=True)
    return frame, desc, name, len(delta), mark


def ingest(
    source: str | Path | pd.DataFrame,
    *,
    name: str | None = None,
    table: str | int | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    records: str | None = None,
    selector: str | None = None,
    http: HttpOptions | None = None,
    since_column: str | None = None,
    key: str | None = None,
    rules: Rules | Mapping[str, Any] | str | Path | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    on_progress: OnProgress = quiet,
) -> IngestResult:
    """Read ``source`` and store it as the next version of snapshot ``name``.

    The rules (if any) are checked before anything is written: data that breaks them
    raises :class:`~modelloop.exceptions.RuleViolationError` and leaves the store as it
    was. Content equal to the latest version creates no new version. With
    ``since_column`` (database sources), only rows whose value in that column is past the
    previous snapshot's high-water mark are read and appended to it (rows with the same
    ``key`` are replaced by their newer copy).

    Parameters
    ----------
    source : a file, a SQLAlchemy URL, an http(s) URL (JSON API or page) or a DataFrame.
    name : the snapshot's name; default the source's stem, table or last URL segment.
    table, query, sheet, delimiter, encoding, records, selector, http : as for ``load``.
    since_column : column of a SQL source that grows with new and updated rows.
    key : with ``since_column``: a row identifier; newer rows replace older ones.
    rules : validation rules (a file path, mapping or ``Rules``), kept with the snapshot.
    on_progress : hears of each step (see :mod:`._progress`).

    Examples
    --------
    >>> from modelloop.workflows import ingest
    >>> result = ingest("sqlite:///shop.db", table="customers", name="customers",
    ...                 since_column="updated_at", key="id")  # doctest: +SKIP
    >>> result.snapshot.ref  # doctest: +SKIP
    'customers@1'
    """
    parsed_rules = load_rules(rules) if rules is not None else None
    if key is not None and since_column is None:
        raise ConfigurationError("key (--key) is used with since_column (--since-column) only.")
    settings = settings or Settings()
    owns_store = store is None
    store = store or Store.from_settings(settings)
    try:
        previous = None
        if since_column is not None:
            if name is None:
                raise ConfigurationError(
                    "An incremental ingest (--since-column) needs a snapshot name (--name)."
                )
            previous = _latest(store, name)
            frame, desc, default_name, n_read, mark = _read_incremental(
                str(source),
                table=None if table is None else str(table),
                query=query,
                since_column=since_column,
                key=key,
                previous=previous,
                store=store,
            )
        else:
            on_progress(f"Reading {_shown(source)}", None, None)
            frame, desc, default_name = read_table(
                source,
                sheet=sheet,
                table=table,
                query=query,
                delimiter=delimiter,
                encoding=encoding,
                records=records,
                selector=selector,
                http=http,
            )
            n_read, mark = len(frame), None
        name = name or _snapshot_name(default_name)
        if previous is None:
            previous = _latest(store, name)
        frame = storable_frame(frame)
        report = None
        if parsed_rules is not None:
            on_progress(f"Checking {len(frame):,} rows against the rules", None, None)
            report = enforce_rules(frame, parsed_rules, label=f"{desc} (snapshot '{name}')")
        on_progress(f"Hashing {len(frame):,} rows", None, None)
        digest = content_hash(frame)
        if previous is not None and previous.hash == digest:
            return IngestResult(previous, False, n_read, previous, report)
        meta: dict[str, Any] = {"n_read": n_read}
        if since_column is not None:
            meta.update(since_column=since_column, watermark=encode_watermark(mark), key=key)
        if parsed_rules is not None:
            meta["rules"] = parsed_rules.to_dict()
        on_progress(f"Writing snapshot {name} ({len(frame):,} rows)", None, None)
        record = store.write_snapshot(
            name, frame, hash=digest, columns=column_types(frame), source=desc, meta=meta
        )
        return IngestResult(record, True, n_read, previous, report)
    finally:
        if owns_store:
            store.close()


def _shown(source: Any) -> str:
    if isinstance(source, pd.DataFrame):
        return "the frame"
    text = str(source)
    if "://" in text:  # a URL may carry a password: scheme and host only
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        return f"{parts.scheme}://{parts.hostname or ''}"
    return Path(text).name


def _snapshot_name(default: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", default).strip("-._") or "data"
    return cleaned[:128]


def read_data_ref(
    source: str, *, settings: Settings | None = None, store: Store | None = None
) -> tuple[pd.DataFrame, SnapshotRecord]:
    """The frame and record of ``'data:NAME@VERSION'`` (or ``'data:NAME'``: the latest).

    Examples
    --------
    >>> frame, record = read_data_ref("data:customers@3")  # doctest: +SKIP
    """
    if not is_data_ref(source):
        raise InvalidInputError(f"A data source looks like 'data:customers@3'. Got {source!r}.")
    name, version = parse_snapshot_ref(source[len(DATA_PREFIX) :])
    owns_store = store is None
    store = store or Store.from_settings(settings or Settings())
    try:
        record = store.get_snapshot(name, version)
        return store.read_snapshot(record), record
    finally:
        if owns_store:
            store.close()


def load_source(
    source: str | Path | pd.DataFrame,
    *,
    target: str | None = None,
    drop: Sequence[str] = (),
    types: Mapping[str, str] | None = None,
    rules: Rules | Mapping[str, Any] | str | Path | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    **options: Any,
) -> Dataset:
    """``load`` that also takes ``data:NAME@VERSION`` and checks rules on the raw rows.

    ``options`` (``table``, ``query``, ``records``, ``http``, ...) go to ``load`` for
    sources other than snapshots.

    A snapshot's own rules (given at ingest) are checked as well as ``rules``. The
    dataset's ``source`` names the exact snapshot and its content hash (the lineage).

    Examples
    --------
    >>> ds = load_source("data:customers@3", target="churn")  # doctest: +SKIP
    >>> ds.source  # doctest: +SKIP
    'data:customers@3 (content 3f2a9c0d1e2b4a5c)'
    """
    parsed = load_rules(rules) if rules is not None else None
    if is_data_ref(source):
        frame, record = read_data_ref(str(source), settings=settings, store=store)
        label = f"snapshot {record.ref}"
        stored = record.meta.get("rules")
        if stored:
            enforce_rules(frame, stored, label=label)
        if parsed is not None:
            enforce_rules(frame, parsed, label=label)
        dataset = load(frame, target=target, drop=drop, types=types, name=record.name)
        return replace(dataset, source=f"data:{record.ref} (content {record.hash[:16]})")
    if parsed is None:
        if settings is not None:  # a file too big for memory: a seeded sample (see load)
            options = {"sample_rows": settings.load_sample_rows, "seed": settings.seed, **options}
        return load(source, target=target, drop=drop, types=types, **options)
    frame, desc, name = read_table(source, **options)
    enforce_rules(frame, parsed, label=desc)
    dataset = load(frame, target=target, drop=drop, types=types, name=name)
    return replace(dataset, source=desc)
