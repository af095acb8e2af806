"""Bundled datasets: offline, every task type."""

from __future__ import annotations

import pytest

from modelloop.data import bundled_dataset, bundled_datasets, load, load_bundled
from modelloop.exceptions import NotFoundError


@pytest.mark.parametrize("entry", bundled_datasets(), ids=lambda e: e.name)
def test_load_bundled_matches_catalog(entry) -> None:
    frame = load_bundled(entry.name)
    assert frame.shape == (entry.n_rows, entry.n_cols)
    assert load(frame, target=entry.target).schema.target == entry.target


def test_bundled_datasets_cover_every_task() -> None:
    assert {e.task for e in bundled_datasets()} == {"binary", "multiclass", "regression"}


def test_bundled_dataset_unknown_name_suggests() -> None:
    with pytest.raises(NotFoundError, match=r"No bundled dataset 'irs'. Did you mean 'iris'\?"):
        bundled_dataset("irs")
