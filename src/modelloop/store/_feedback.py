"""Delayed labels: attach the truth to logged predictions, and read labeled rows back.

A label names the prediction it belongs to by the ``request_id`` the server answered with,
or by the value of the model's *key column* (``train --id-column COL``), which the server
logs beside the inputs as text (see :func:`key_text`). Every item is judged on its own: a
label of the wrong type or an unseen class is rejected with a reason, an id with no logged
prediction is reported as unknown, and the accepted labels are written in one transaction.
Functions here take a connection, so the :class:`~modelloop.store.Store` methods that call
them decide the transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from modelloop.exceptions import InvalidInputError
from modelloop.store._db import now
from modelloop.store._predictions import PredictionRecord, _record
from modelloop.store._tables import predictions

__all__ = [
    "FeedbackResult",
    "attach_labels",
    "check_label",
    "count_labels",
    "key_text",
    "select_labeled",
]

_CHUNK = 500  # ids per IN (...) list: well under every backend's bound-parameter limit
_MAX_SHOWN = 100  # unknown ids echoed back in full; the count is always exact


@dataclass(frozen=True)
class FeedbackResult:
    """What became of a batch of labels.

    ``accepted`` items were valid and matched at least one logged prediction; ``labeled``
    counts the prediction rows that got a label (a key may match several rows);
    ``unknown`` lists request ids / keys with no logged prediction of the model (nothing was
    written for them); ``rejected`` holds ``{"index", "request_id" or "key", "reason"}``
    for items that were not valid.
    """

    model_name: str
    received: int
    accepted: int
    labeled: int
    unknown: list[Any] = field(default_factory=list)
    n_unknown: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the server's answer, ``modelloop feedback --json``)."""
        return {
            "model": self.model_name,
            "received": self.received,
            "accepted": self.accepted,
            "labeled": self.labeled,
            "unknown": list(self.unknown),
            "n_unknown": self.n_unknown,
            "rejected": list(self.rejected),
        }


def key_text(value: Any) -> str | None:
    """A key value as the text it is logged and matched by (``42``, ``42.0`` -> ``'42'``).

    Examples
    --------
    >>> key_text(42), key_text(42.0), key_text("C-17"), key_text(None)
    ('42', '42', 'C-17', None)
    """
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value).strip() or None


def check_label(label: Any, task: str | None, classes: Sequence[Any] | None) -> tuple[Any, str]:
    """``(value to store, '')`` for a valid label, ``(None, reason)`` otherwise.

    Regression labels must be finite numbers. Class labels must be one of ``classes``;
    ``'1'`` matches class ``1`` (files and JSON often carry classes as text), and the
    class's own value is stored.

    Examples
    --------
    >>> check_label("1", "binary", [0, 1])
    (1, '')
    >>> check_label(2, "binary", [0, 1])[1]
    'label 2 is not a class of the model (classes: 0, 1)'
    """
    if hasattr(label, "item") and not isinstance(label, str):
        label = label.item()
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return None, "label is missing"
    if isinstance(label, dict | list | tuple):
        return None, f"label must be a single value. Got a {type(label).__name__}"
    if task == "regression":
        if isinstance(label, bool):
            return None, f"label must be a number for a regression model. Got {label!r}"
        value = label
        if isinstance(label, str):
            try:
                value = float(label)
            except ValueError:
                return None, f"label must be a number for a regression model. Got {label!r}"
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None, f"label must be a finite number. Got {label!r}"
        return value, ""
    if classes is None:  # nothing to check against (a model file without classes)
        return label, ""
    for cls in classes:
        if type(cls) is type(label) and cls == label:
            return cls, ""
    if not isinstance(label, bool):
        text = key_text(label)
        for cls in classes:
            if not isinstance(cls, bool) and key_text(cls) == text:
                return cls, ""
    shown = ", ".join(map(str, list(classes)[:20]))
    return None, f"label {label!r} is not a class of the model (classes: {shown})"


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def attach_labels(
    conn: sa.Connection,
    model_name: str,
    items: Sequence[Any],
    *,
    task: str | None,
    classes: Sequence[Any] | None,
    key_column: str | None = None,
    labeled_at: datetime | None = None,
) -> FeedbackResult:
    """Check every item, then set ``label`` / ``labeled_at`` on the predictions they name.

    ``items`` are mappings with ``label`` and ``request_id``, or ``key`` (or the key
    column's own name) when the model has a ``key_column``. A later label for the same
    prediction replaces the earlier one. Returns a :class:`FeedbackResult`.
    """
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise InvalidInputError(
            f"Feedback must be a list of {{'request_id', 'label'}} items. Got "
            f"{type(items).__name__}."
        )
    stamp = labeled_at or now()
    rejected: list[dict[str, Any]] = []
    by_request: dict[str, Any] = {}
    by_key: dict[str, Any] = {}
    for index, item in enumerate(items):
        where, ident, reason = _identify(item, key_column)
        if reason:
            rejected.append({"index": index, **({where: ident} if where else {}), "reason": reason})
            continue
        value, reason = check_label(item["label"], task, classes)
        if reason:
            rejected.append({"index": index, where: ident, "reason": reason})
            continue
        (by_request if where == "request_id" else by_key)[ident] = value

    accepted = labeled = 0
    unknown: list[Any] = []
    if by_request:
        known: set[str] = set()
        for chunk in _chunks(list(by_request)):
            known.update(
                conn.execute(
                    sa.select(predictions.c.request_id).where(
                        predictions.c.model_name == model_name,
                        predictions.c.request_id.in_(chunk),
                    )
                ).scalars()
            )
        unknown.extend(r for r in by_request if r not in known)
        params = [
            {"b_rid": rid, "b_label": by_request[rid], "b_at": stamp}
            for rid in by_request
            if rid in known
        ]
        if params:
            conn.execute(
                predictions.update()
                .where(
                    predictions.c.model_name == model_name,
                    predictions.c.request_id == sa.bindparam("b_rid"),
                )
                .values(label=sa.bindparam("b_label"), labeled_at=sa.bindparam("b_at")),
                params,
            )
        accepted += len(params)
        if params:  # a request id names one row; count matches exactly all the same
            for chunk in _chunks([p["b_rid"] for p in params]):
                labeled += int(
                    conn.execute(
                        sa.select(sa.func.count()).where(
                            predictions.c.model_name == model_name,
                            predictions.c.request_id.in_(chunk),
                        )
                    ).scalar_one()
                )
    if by_key and key_column is not None:
        logged = predictions.c.inputs[key_column].as_string()
        rows: list[tuple[int, str]] = []
        for chunk in _chunks(list(by_key)):
            rows.extend(
                (int(r.id), str(r.k))
                for r in conn.execute(
                    sa.select(predictions.c.id, logged.label("k")).where(
                        predictions.c.model_name == model_name, logged.in_(chunk)
                    )
                )
            )
        matched = {k for _, k in rows}
        unknown.extend(k for k in by_key if k not in matched)
        params = [{"b_id": i, "b_label": by_key[k], "b_at": stamp} for i, k in rows]
        if params:
            conn.execute(
                predictions.update()
                .where(predictions.c.id == sa.bindparam("b_id"))
                .values(label=sa.bindparam("b_label"), labeled_at=sa.bindparam("b_at")),
                params,
            )
        accepted += len(matched)
        labeled += len(params)
    return FeedbackResult(
        model_name=model_name,
        received=len(items),
        accepted=accepted,
        labeled=labeled,
        unknown=unknown[:_MAX_SHOWN],
        n_unknown=len(unknown),
        rejected=rejected,
    )


def _identify(item: Any, key_column: str | None) -> tuple[str, Any, str]:
    """``(field, id, '')`` naming the prediction(s) an item labels, or a reason it cannot."""
    if not isinstance(item, Mapping):
        return "", None, f"an item must be an object with request_id and label. Got {item!r:.60}"
    rid = item.get("request_id")
    key = item.get("key", item.get(key_column) if key_column else None)
    if "label" not in item:
        where, ident = ("request_id", rid) if rid is not None else ("key", key_text(key))
        return (where if ident is not None else ""), ident, "the item lacks 'label'"
    if rid is not None:
        if not isinstance(rid, str) or not rid.strip():
            return "request_id", rid, f"request_id must be a non-empty string. Got {rid!r}"
        return "request_id", rid.strip(), ""
    if key is not None:
        text = key_text(key)
        if key_column is None:
            return (
                "key",
                text,
                "this model has no key column: give request_id, or train it with "
                "--id-column COL to label by key",
            )
        if text is None:
            return "key", key, f"key must be a value of column '{key_column}'. Got {key!r}"
        return "key", text, ""
    hint = f", or key (the value of '{key_column}')" if key_column else ""
    return "", None, f"the item names no prediction: give request_id{hint}"


def count_labels(conn: sa.Connection, model_name: str, *, since: datetime | None = None) -> int:
    """How many logged predictions of ``model_name`` have a label (labeled after ``since``)."""
    query = sa.select(sa.func.count()).where(
        predictions.c.model_name == model_name, predictions.c.labeled_at.is_not(None)
    )
    if since is not None:
        query = query.where(predictions.c.labeled_at > since)
    return int(conn.execute(query).scalar_one())


def select_labeled(
    conn: sa.Connection,
    model_name: str,
    *,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[PredictionRecord]:
    """Labeled predictions of ``model_name``, oldest first by prediction time.

    ``since`` keeps predictions made at or after it; ``limit`` keeps the most recent ones.
    """
    query = sa.select(predictions).where(
        predictions.c.model_name == model_name, predictions.c.labeled_at.is_not(None)
    )
    if since is not None:
        query = query.where(predictions.c.created_at >= since)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit must be an integer >= 1. Got {limit!r}.")
        query = query.order_by(predictions.c.created_at.desc(), predictions.c.id.desc()).limit(
            limit
        )
        return [_record(row) for row in reversed(conn.execute(query).all())]
    query = query.order_by(predictions.c.created_at, predictions.c.id)
    return [_record(row) for row in conn.execute(query)]
