"""The prediction log tables: batched insert, reads by model and window, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelloop.exceptions import InvalidInputError
from modelloop.store import Store


def _entry(i: int, when: datetime, version: int = 1) -> dict:
    return {
        "request_id": f"r{i}",
        "model_name": "churn",
        "model_version": version,
        "created_at": when,
        "latency_ms": 1.5,
        "inputs": {"age": i},
        "prediction": i % 2,
        "probabilities": {"0": 0.4, "1": 0.6},
    }


def test_log_and_read_predictions_by_model_and_window(store: Store) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    n = store.log_predictions([_entry(i, t0 + timedelta(hours=i), 1 + i % 2) for i in range(6)])
    assert n == 6
    assert [p.request_id for p in store.get_predictions("churn")] == [f"r{i}" for i in range(6)]
    v2 = store.get_predictions("churn", 2)
    assert [p.request_id for p in v2] == ["r1", "r3", "r5"]
    window = store.get_predictions(
        "churn", since=t0 + timedelta(hours=2), until=t0 + timedelta(hours=4)
    )
    assert [p.request_id for p in window] == ["r2", "r3"]
    first = store.get_predictions(request_id="r0")[0]
    assert first.inputs == {"age": 0} and first.probabilities == {"0": 0.4, "1": 0.6}
    assert first.created_at == t0 and first.label is None
    assert store.get_predictions("other") == []
    assert len(store.get_predictions("churn", limit=2)) == 2


def test_log_predictions_stores_numpy_nan_and_tuples_as_plain_json(store: Store) -> None:
    import numpy as np
    import pandas as pd

    store.log_predictions(
        [
            {
                "request_id": "odd",
                "model_name": "m",
                "model_version": 1,
                "inputs": {
                    "nan": float("nan"),
                    "np_nan": np.float64("nan"),
                    "count": np.int64(3),
                    "vector": np.array([1.5, np.inf]),
                    "pair": (1, "a"),
                    "when": pd.Timestamp("2025-01-02"),
                    "missing": None,
                },
                "prediction": np.str_("yes"),
                "probabilities": {"yes": np.float32(0.25), "no": 0.75},
            }
        ]
    )
    got = store.get_predictions(request_id="odd")[0]
    assert got.inputs == {
        "nan": None,
        "np_nan": None,
        "count": 3,
        "vector": [1.5, None],
        "pair": [1, "a"],
        "when": "2025-01-02T00:00:00",
        "missing": None,
    }
    assert got.prediction == "yes" and got.probabilities == {"yes": 0.25, "no": 0.75}


def test_log_entry_that_is_not_json_is_refused(store: Store) -> None:
    entry = {"request_id": "r", "model_name": "m", "model_version": 1, "inputs": {(1, 2): 3}}
    with pytest.raises(InvalidInputError, match="Keys of 'inputs' must be strings"):
        store.log_predictions([entry])
    with pytest.raises(InvalidInputError, match="'prediction' must hold JSON data"):
        store.log_predictions([{**entry, "inputs": {}, "prediction": object()}])
    assert store.get_predictions() == []


def test_prune_predictions(store: Store) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    store.log_predictions([_entry(i, t0 + timedelta(days=i)) for i in range(4)])
    assert store.prune_predictions(t0 + timedelta(days=2)) == 2
    assert [p.request_id for p in store.get_predictions("churn")] == ["r2", "r3"]


def test_log_entry_without_required_field_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="lacks request_id"):
        store.log_predictions([{"model_name": "m", "model_version": 1, "inputs": {}}])
    assert store.get_predictions() == []


def test_prune_predictions_deletes_in_short_transactions(store: Store) -> None:
    from contextlib import contextmanager

    from modelloop.store._predictions import prune_in_batches

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    store.log_predictions([_entry(i, t0 + timedelta(days=i)) for i in range(10)])
    batches: list[int] = []

    @contextmanager
    def counted_write():
        with store._db.write() as conn:
            yield conn
        batches.append(1)  # committed

    deleted = prune_in_batches(counted_write, before=t0 + timedelta(days=7), batch_size=3)
    assert deleted == 7
    assert len(batches) == 3  # 3 + 3 + 1 rows, each batch committed on its own
    assert [p.request_id for p in store.get_predictions("churn")] == ["r7", "r8", "r9"]
    assert prune_in_batches(counted_write, before=t0 + timedelta(days=7), batch_size=3) == 0


def test_prune_predictions_exact_multiple_of_the_batch_size(store: Store) -> None:
    from modelloop.store._predictions import prune_in_batches

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    store.log_predictions([_entry(i, t0 + timedelta(days=i)) for i in range(6)])
    assert prune_in_batches(store._db.write, before=t0 + timedelta(days=4), batch_size=2) == 4
    assert [p.request_id for p in store.get_predictions("churn")] == ["r4", "r5"]
    with pytest.raises(InvalidInputError, match=r"'batch_size' must be an integer >= 1\. Got 0"):
        prune_in_batches(store._db.write, before=t0, batch_size=0)
