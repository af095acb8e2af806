"""Files kept beside a run: written once and whole, checked against their sha256 on read."""

from __future__ import annotations

import pytest

from modelloop.exceptions import (
    ArtifactIntegrityError,
    InvalidInputError,
    RunNotFoundError,
    StoreError,
)


@pytest.fixture
def run(store):
    return store.create_run(
        name="r", dataset_hash=None, target="y", task="binary", metric="roc_auc", params={}
    )


def test_run_files_round_trip_by_id_prefix(store, run):
    path = store.write_run_files(run.id, {"a.json": b"{}", "b.parquet": b"\x00\x01"})
    assert path == store.artifacts_dir / "runs" / run.id
    assert set(store.run_files(run.id[:6])) == {"a.json", "b.parquet"}
    assert store.read_run_file(run.id[:6], "b.parquet") == b"\x00\x01"
    left = [p for p in (store.artifacts_dir / "tmp").iterdir() if p.suffix != ".owner"]
    assert not left  # nothing half-written (a running run's owner marker is not)


def test_run_files_of_a_run_without_files_are_empty(store, run):
    assert store.run_files(run.id) == {}
    with pytest.raises(StoreError, match=r"has no file 'a\.json'; its files: none"):
        store.read_run_file(run.id, "a.json")


def test_run_files_unknown_run_is_refused(store):
    with pytest.raises(RunNotFoundError, match="No run with id"):
        store.write_run_files("abcdef12", {"a.json": b"{}"})


def test_run_files_are_written_once(store, run):
    store.write_run_files(run.id, {"a.json": b"1"})
    with pytest.raises(StoreError, match="written once"):
        store.write_run_files(run.id, {"a.json": b"2"})
    assert store.read_run_file(run.id, "a.json") == b"1"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "at least one file"),
        ({"../x": b""}, "run file name"),
        ({"manifest.json": b""}, "run file name"),
        ({"a.json": "text"}, "must be bytes"),
    ],
)
def test_run_files_bad_input_is_refused(store, run, files, message):
    with pytest.raises(InvalidInputError, match=message):
        store.write_run_files(run.id, files)
    assert not (store.artifacts_dir / "runs" / run.id).exists()


def test_run_files_changed_file_is_refused(store, run):
    path = store.write_run_files(run.id, {"a.json": b"{}"})
    (path / "a.json").write_bytes(b"{ }")
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded sha256"):
        store.read_run_file(run.id, "a.json")
    (path / "manifest.json").write_text("not json")
    with pytest.raises(ArtifactIntegrityError, match=r"manifest .* damaged"):
        store.run_files(run.id)
