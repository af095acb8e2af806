"""Delayed labels in the store: attach by request id or key, reject bad items, read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from modelloop.exceptions import InvalidInputError
from modelloop.store import Store, key_text
from modelloop.store._feedback import check_label

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _log(store: Store, n: int, *, model: str = "churn", key: bool = False) -> None:
    store.log_predictions(
        [
            {
                "request_id": f"r{i}",
                "model_name": model,
                "model_version": 1,
                "created_at": T0 + timedelta(minutes=i),
                "inputs": {"age": float(i), **({"customer": key_text(100 + i)} if key else {})},
                "prediction": i % 2,
            }
            for i in range(n)
        ]
    )


def test_record_feedback_labels_by_request_id(store: Store) -> None:
    _log(store, 4)
    result = store.record_feedback(
        "churn",
        [{"request_id": "r1", "label": 1}, {"request_id": "r3", "label": "0"}],
        task="binary",
        classes=[0, 1],
    )
    assert (result.received, result.accepted, result.labeled) == (2, 2, 2)
    assert result.unknown == [] and result.rejected == []
    logged = {p.request_id: p for p in store.get_predictions("churn")}
    assert logged["r1"].label == 1 and logged["r1"].labeled_at is not None
    assert logged["r3"].label == 0  # '0' from a file matched class 0, stored as the class
    assert logged["r0"].label is None and logged["r0"].labeled_at is None


def test_record_feedback_reports_unknown_ids_and_keeps_the_rest(store: Store) -> None:
    _log(store, 2)
    _log(store, 2, model="other")
    result = store.record_feedback(
        "churn",
        [{"request_id": "nope", "label": 1}, {"request_id": "r0", "label": 1}],
        task="binary",
        classes=[0, 1],
    )
    assert result.unknown == ["nope"] and result.n_unknown == 1
    assert result.labeled == 1
    # another model's prediction with the same request id is not touched
    assert all(p.label is None for p in store.get_predictions("other"))


def test_record_feedback_rejects_bad_items_with_reasons(store: Store) -> None:
    _log(store, 3)
    items = [
        {"request_id": "r0", "label": 7},
        {"request_id": "r1"},
        {"label": 1},
        "r2",
        {"request_id": 5, "label": 1},
        {"request_id": "r2", "label": None},
        {"key": 101, "label": 1},
        {"request_id": "r2", "label": 1},
    ]
    result = store.record_feedback("churn", items, task="binary", classes=[0, 1])
    reasons = {r["index"]: r["reason"] for r in result.rejected}
    assert sorted(reasons) == [0, 1, 2, 3, 4, 5, 6]
    assert "not a class of the model" in reasons[0]
    assert "lacks 'label'" in reasons[1]
    assert "names no prediction" in reasons[2]
    assert "must be an object" in reasons[3]
    assert "non-empty string" in reasons[4]
    assert "missing" in reasons[5]
    assert "no key column" in reasons[6]
    assert result.labeled == 1
    assert [p.label for p in store.get_predictions("churn")] == [None, None, 1]


def test_record_feedback_by_key_column(store: Store) -> None:
    _log(store, 3, key=True)
    result = store.record_feedback(
        "churn",
        [{"key": 100, "label": 1}, {"customer": "102", "label": 0}, {"key": 999, "label": 1}],
        task="binary",
        classes=[0, 1],
        key_column="customer",
    )
    assert result.labeled == 2 and result.unknown == ["999"]
    assert [p.label for p in store.get_predictions("churn")] == [1, None, 0]


def test_record_feedback_regression_labels_must_be_numbers(store: Store) -> None:
    _log(store, 2)
    result = store.record_feedback(
        "churn",
        [{"request_id": "r0", "label": "high"}, {"request_id": "r1", "label": "2.5"}],
        task="regression",
    )
    assert "must be a number" in result.rejected[0]["reason"]
    assert store.get_predictions("churn")[1].label == 2.5


def test_record_feedback_relabel_replaces_and_counts(store: Store) -> None:
    _log(store, 3)
    store.record_feedback(
        "churn", [{"request_id": "r0", "label": 0}], task="binary", classes=[0, 1]
    )
    mark = datetime.now(UTC)
    store.record_feedback(
        "churn", [{"request_id": "r0", "label": 1}], task="binary", classes=[0, 1]
    )
    assert store.get_predictions("churn")[0].label == 1
    assert store.count_labels("churn") == 1
    assert store.count_labels("churn", since=mark) == 1
    assert store.count_labels("churn", since=datetime.now(UTC) + timedelta(hours=1)) == 0


def test_labeled_predictions_oldest_first_and_latest_n(store: Store) -> None:
    _log(store, 5)
    store.record_feedback(
        "churn",
        [{"request_id": f"r{i}", "label": i % 2} for i in (4, 0, 2)],
        task="binary",
        classes=[0, 1],
    )
    assert [p.request_id for p in store.labeled_predictions("churn")] == ["r0", "r2", "r4"]
    assert [p.request_id for p in store.labeled_predictions("churn", limit=2)] == ["r2", "r4"]
    since = T0 + timedelta(minutes=1)
    assert [p.request_id for p in store.labeled_predictions("churn", since=since)] == ["r2", "r4"]
    with pytest.raises(InvalidInputError, match="limit must be an integer"):
        store.labeled_predictions("churn", limit=0)


def test_record_feedback_many_ids_in_chunks(store: Store) -> None:
    n = 1200  # more than one IN (...) chunk
    store.log_predictions(
        [
            {"request_id": f"r{i}", "model_name": "big", "model_version": 1, "inputs": {"x": i}}
            for i in range(n)
        ]
    )
    items = [{"request_id": f"r{i}", "label": float(i)} for i in range(n)]
    result = store.record_feedback("big", items, task="regression")
    assert result.labeled == n and store.count_labels("big") == n


def test_record_feedback_not_a_list_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="must be a list"):
        store.record_feedback("churn", "r1", task="binary", classes=[0, 1])


def test_check_label_matches_classes_by_type_then_text() -> None:
    assert check_label(np.int64(1), "binary", [0, 1]) == (1, "")
    assert check_label("yes", "binary", ["no", "yes"]) == ("yes", "")
    assert check_label(True, "binary", [0, 1])[0] is None  # a boolean is not class 1
    assert check_label(1.0, "multiclass", [1, 2, 3]) == (1, "")
    assert check_label([1], "binary", [0, 1])[1].startswith("label must be a single value")
    assert check_label(float("inf"), "regression", None)[1].startswith("label must be a finite")
