"""Reference data and lineage kept with a model version."""

from __future__ import annotations

import pandas as pd
import pytest

from modelloop.exceptions import NotFoundError


def _frame(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame({"x": [float(i) for i in range(n)], "y": [i % 2 for i in range(n)]})


def test_register_model_reference_data_round_trips(store, register, pipeline):
    frame = _frame()
    v = register("churn", pipeline, reference=frame, lineage={"trigger": "train"})
    assert v.reference_snapshot == "churn.reference@1"
    assert v.lineage == {"trigger": "train"}
    pd.testing.assert_frame_equal(store.reference_data("churn"), frame)
    pd.testing.assert_frame_equal(store.reference_data(v), frame)


def test_register_model_reuses_reference_with_same_hash(store, register, pipeline):
    register("churn", pipeline, reference=_frame(), reference_hash="h1")
    v2 = register("churn", pipeline, reference=_frame(), reference_hash="h1")
    v3 = register("churn", pipeline, reference=_frame(40), reference_hash="h2")
    assert v2.reference_snapshot == "churn.reference@1"
    assert v3.reference_snapshot == "churn.reference@2"
    assert len(store.reference_data("churn:3")) == 40


def test_reference_data_missing_is_a_clear_error(store, register, pipeline):
    register("churn", pipeline)
    assert store.resolve("churn").lineage == {}
    with pytest.raises(NotFoundError, match=r"churn:1 has no reference data"):
        store.reference_data("churn")


def test_a_failed_registration_leaves_no_reference_snapshot(
    store, register, pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference snapshot and the version are one transaction: all or nothing."""
    from modelloop.exceptions import StoreError
    from modelloop.store import _registry

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(_registry, "_insert_version", fail)
    with pytest.raises(StoreError, match="nothing was registered"):
        register("churn", pipeline, reference=_frame())
    assert store.list_snapshots() == []
    left = [p for p in store.artifacts_dir.rglob("*") if p.is_file()]
    assert left == []
    monkeypatch.undo()
    v = register("churn", pipeline, reference=_frame())
    assert v.version == 1 and v.reference_snapshot == "churn.reference@1"
