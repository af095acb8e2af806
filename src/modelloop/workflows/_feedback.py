"""``feedback``: delayed labels from a file (or a DataFrame) for a model's logged predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from modelloop.config import Settings
from modelloop.exceptions import ColumnNotFoundError, EmptyDataError, UnsupportedSourceError
from modelloop.store import FeedbackResult, RewardResult, Store
from modelloop.workflows._predict import load_model
from modelloop.workflows._progress import OnProgress, quiet

__all__ = ["feedback", "read_feedback"]

_BATCH = 5000  # items per transaction
_READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def read_feedback(path: str | Path) -> pd.DataFrame:
    """A feedback file as a DataFrame; ids and keys are read as text, never as numbers.

    Examples
    --------
    >>> read_feedback("labels.csv").columns.tolist()  # doctest: +SKIP
    ['request_id', 'label']
    """
    path = Path(path)
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedSourceError(
            f"Feedback file {path} has extension '{path.suffix}'; use CSV, TSV, Parquet or "
            "JSON Lines with columns request_id,label."
        )
    if not path.is_file():
        raise EmptyDataError(f"Feedback file {path} does not exist.")
    text_ids = {"request_id": str, "key": str, "event_id": str}
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=text_ids)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", dtype=text_ids)
    except (ValueError, OSError) as exc:
        raise EmptyDataError(f"Cannot read feedback file {path}: {exc}") from None
    if frame.empty:
        raise EmptyDataError(f"Feedback file {path} has no rows.")
    return frame


def _items(frame: pd.DataFrame, key_column: str | None, source: str) -> list[dict[str, Any]]:
    if "label" not in frame.columns:
        raise ColumnNotFoundError(
            f"{source} has no 'label' column. Columns: {', '.join(map(str, frame.columns))}."
        )
    ids = [c for c in ("request_id", "key", key_column) if c and c in frame.columns]
    if not ids:
        also = f", 'key' or '{key_column}'" if key_column else ""
        raise ColumnNotFoundError(
            f"{source} needs a 'request_id'{also} column naming the predictions to label. "
            f"Columns: {', '.join(map(str, frame.columns))}."
        )
    records = frame[[*ids, "label"]].astype(object).where(frame[[*ids, "label"]].notna(), None)
    out = []
    for row in records.to_dict(orient="records"):
        out.append({k: v for k, v in row.items() if v is not None or k == "label"})
    return out


def _reward_items(frame: pd.DataFrame, source: str) -> list[dict[str, Any]]:
    ident = next((c for c in ("event_id", "request_id") if c in frame.columns), None)
    value = next((c for c in ("reward", "label") if c in frame.columns), None)
    if ident is None or value is None:
        raise ColumnNotFoundError(
            f"{source} needs columns event_id and reward (the event id each decision was "
            f"answered with, and its reward). Columns: {', '.join(map(str, frame.columns))}."
        )
    records = frame[[ident, value]].astype(object).where(frame[[ident, value]].notna(), None)
    return [
        {"event_id": None if r[ident] is None else str(r[ident]), "reward": r[value]}
        for r in records.to_dict(orient="records")
    ]


def feedback(
    name: str,
    source: str | Path | pd.DataFrame,
    *,
    settings: Settings | None = None,
    store: Store | None = None,
    on_progress: OnProgress = quiet,
) -> FeedbackResult | RewardResult:
    """Attach the labels in ``source`` (columns ``request_id,label``) to ``name``'s predictions.

    A model trained with ``id_column`` also takes a ``key`` (or that column's) column instead
    of ``request_id``. Labels are checked against the model's task and classes; invalid
    rows and unknown ids are reported in the result, not raised. ``on_progress`` hears
    of the rows attached so far (see :mod:`._progress`).

    Examples
    --------
    >>> from modelloop.workflows import feedback
    >>> feedback("churn", "labels.csv").labeled  # doctest: +SKIP
    1200
    """
    settings = settings or Settings()
    frame = source if isinstance(source, pd.DataFrame) else read_feedback(source)
    label = "the feedback frame" if isinstance(source, pd.DataFrame) else str(source)
    owns_store = store is None
    store = store or Store.from_settings(settings)
    try:
        on_progress(f"Loading {name}", None, None)
        model = load_model(name, store=store)  # the latest version: its task and classes
        if model.task == "bandit":  # a decision policy: rewards for its logged decisions
            return _rewards(store, name, model, frame, label)
        key_column = model.record.lineage.get("id_column")
        items = _items(frame, key_column, label)
        total = FeedbackResult(model_name=name, received=0, accepted=0, labeled=0)
        for start in range(0, len(items), _BATCH):
            on_progress(f"Attaching labels to {name}'s predictions", start, len(items))
            part = store.record_feedback(
                name,
                items[start : start + _BATCH],
                task=model.task,
                classes=model.classes,
                key_column=key_column,
            )
            total = _add(total, part, start)
        on_progress(f"Attaching labels to {name}'s predictions", len(items), len(items))
        return total
    finally:
        if owns_store:
            store.close()


def _rewards(store: Store, name: str, model: Any, frame: pd.DataFrame, label: str) -> RewardResult:
    """Rewards (columns event_id, reward) for the logged decisions of policy ``name``."""
    items = _reward_items(frame, label)
    wait = float((model.bandit or {}).get("reward_wait_s") or 3600.0)
    parts = [
        store.record_rewards(name, items[start : start + _BATCH], wait_seconds=wait)
        for start in range(0, len(items), _BATCH)
    ]
    first = parts[0]
    return RewardResult(
        model_name=name,
        received=sum(p.received for p in parts),
        recorded=sum(p.recorded for p in parts),
        duplicates=[e for p in parts for e in p.duplicates][:100],
        conflicts=[e for p in parts for e in p.conflicts][:100],
        expired=[e for p in parts for e in p.expired][:100],
        unknown=[e for p in parts for e in p.unknown][:100],
        rejected=[
            {**r, "index": r["index"] + i * _BATCH} for i, p in enumerate(parts) for r in p.rejected
        ],
        details=first.details,
        n_duplicates=sum(p.n_duplicates for p in parts),
        n_conflicts=sum(p.n_conflicts for p in parts),
        n_expired=sum(p.n_expired for p in parts),
        n_unknown=sum(p.n_unknown for p in parts),
    )


def _add(a: FeedbackResult, b: FeedbackResult, offset: int) -> FeedbackResult:
    return FeedbackResult(
        model_name=a.model_name,
        received=a.received + b.received,
        accepted=a.accepted + b.accepted,
        labeled=a.labeled + b.labeled,
        unknown=(a.unknown + b.unknown)[:100],
        n_unknown=a.n_unknown + b.n_unknown,
        rejected=a.rejected + [{**r, "index": r["index"] + offset} for r in b.rejected],
    )
