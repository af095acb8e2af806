"""The public surface of modelloop.store."""

from __future__ import annotations

import dataclasses

import pytest

import modelloop.store as store_pkg
from modelloop.store import DatasetRecord, ModelSummary, ModelVersionRecord, RunRecord


def test_store_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(store_pkg) if not n.startswith("_") and n != "annotations"}
    assert set(store_pkg.__all__) == public
    for name in store_pkg.__all__:
        assert getattr(store_pkg, name) is not None


@pytest.mark.parametrize("cls", [DatasetRecord, RunRecord, ModelVersionRecord, ModelSummary])
def test_records_are_frozen_dataclasses(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
