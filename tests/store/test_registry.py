"""The model registry: versions, aliases, references, atomicity and concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from modelloop.exceptions import (
    InvalidInputError,
    ModelNotFoundError,
    RunNotFoundError,
    StoreError,
)
from modelloop.store import Store, _registry
from modelloop.store._tables import model_versions, registered_models


def _model_files(store: Store) -> list[Path]:
    return sorted((store.artifacts_dir / "models").rglob("*.skops"))


def _tmp_files(store: Store) -> list[Path]:
    return sorted((store.artifacts_dir / "tmp").iterdir())


def _count(store: Store, table: sa.Table) -> int:
    with store._engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_register_model_numbers_versions(store: Store, register, pipeline) -> None:
    run = store.create_run(
        name="r", dataset_hash=None, target="y", task="binary", metric="roc_auc", params={}
    )
    v1 = register(
        "churn",
        pipeline,
        run_id=run.id,
        metrics={"roc_auc": 0.9},
        description="first",
        tags={"team": "a"},
    )
    v2 = register("churn", pipeline)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run.id
    assert v1.metrics == {"roc_auc": 0.9}
    assert v1.tags == {"team": "a"}
    assert v1.format_version == 1
    assert (store.artifacts_dir / v1.artifact_path).is_file()
    assert v1.artifact_path.startswith("models/churn/" + v1.sha256[:16])
    assert v1.size_bytes == (store.artifacts_dir / v1.artifact_path).stat().st_size
    assert [v.version for v in store.list_versions("churn")] == [1, 2]
    assert store.get_model_version("churn") == v2


def test_register_model_with_unknown_run_leaves_nothing(store: Store, register, pipeline):
    with pytest.raises(RunNotFoundError, match="no run with that id"):
        register("churn", pipeline, run_id="f" * 32)
    assert _model_files(store) == []
    assert store.list_models() == []


def test_register_model_rejects_bad_name(store: Store, register, pipeline) -> None:
    with pytest.raises(InvalidInputError, match="A model name must start with"):
        register("../evil", pipeline)
    assert _model_files(store) == []


def test_aliases_set_move_delete_resolve(store: Store, register, pipeline) -> None:
    register("churn", pipeline, aliases=["production"])
    register("churn", pipeline)
    register("churn", pipeline, aliases="staging")
    assert store.resolve("churn@production").version == 1
    assert store.resolve("churn@staging").version == 3
    assert store.resolve("churn:2").version == 2
    assert store.resolve("churn/2").version == 2
    assert store.resolve("churn").version == 3

    store.set_alias("churn", "production", 2)
    assert store.resolve("churn@production").version == 2
    assert store.get_model_version("churn", 2).aliases == ("production",)
    assert store.get_model_version("churn", 1).aliases == ()
    [summary] = store.list_models()
    assert summary.aliases == {"production": 2, "staging": 3}
    assert (summary.latest_version, summary.n_versions, summary.task) == (3, 3, "binary")

    store.delete_alias("churn", "production")
    with pytest.raises(ModelNotFoundError, match=r"no alias 'production'.*staging -> 3"):
        store.resolve("churn@production")
    assert store.get_model_version("churn", 2).version == 2  # the version stays


def test_register_moves_alias_to_new_version(store: Store, register, pipeline) -> None:
    register("churn", pipeline, aliases=["production"])
    v2 = register("churn", pipeline, aliases=["production", "production"])
    assert v2.aliases == ("production",)
    assert store.resolve("churn@production").version == 2


def test_set_alias_errors(store: Store, register, pipeline) -> None:
    register("churn", pipeline)
    with pytest.raises(ModelNotFoundError, match=r"Model 'churn' has no version 7; versions: 1\."):
        store.set_alias("churn", "production", 7)
    with pytest.raises(InvalidInputError, match=r"An alias must start with a letter.*Got '3'"):
        store.set_alias("churn", "3", 1)
    with pytest.raises(ModelNotFoundError, match="no aliases yet"):
        store.delete_alias("churn", "production")


def test_unknown_model_suggests_close_name(store: Store, register, pipeline) -> None:
    with pytest.raises(ModelNotFoundError, match="no models are registered yet"):
        store.resolve("churn")
    register("churn", pipeline)
    register("iris", pipeline)
    with pytest.raises(
        ModelNotFoundError,
        match=r"No model named 'chrun'. Did you mean 'churn'\? Registered: churn, iris",
    ):
        store.resolve("chrun")
    with pytest.raises(ModelNotFoundError, match=r"Model 'churn' has no version 7; versions: 1\."):
        store.resolve("churn:7")
    with pytest.raises(ModelNotFoundError, match=r"no alias 'prodution'"):
        store.get_model_version("churn", alias="prodution")
    with pytest.raises(InvalidInputError, match="not both"):
        store.get_model_version("churn", version=1, alias="x")
    with pytest.raises(InvalidInputError, match="malformed"):
        store.resolve("churn@@x")
    with pytest.raises(ModelNotFoundError, match="No model named 'nope'"):
        store.list_versions("nope")


def test_failure_inside_transaction_leaves_no_row_and_no_file(
    store: Store, register, pipeline, monkeypatch
) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # _write_aliases runs after the model and version rows are inserted.
    monkeypatch.setattr(_registry, "_write_aliases", boom)
    with pytest.raises(StoreError, match=r"failed and nothing was registered.*disk on fire"):
        register("churn", pipeline, aliases=["production"])
    assert _count(store, registered_models) == 0
    assert _count(store, model_versions) == 0
    assert _model_files(store) == []
    assert _tmp_files(store) == []


def test_interrupt_inside_transaction_leaves_no_file(
    store: Store, register, pipeline, monkeypatch
) -> None:
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    register("churn", pipeline)
    monkeypatch.setattr(_registry, "_write_aliases", interrupt)
    with pytest.raises(KeyboardInterrupt):
        register("churn", pipeline)
    assert _count(store, model_versions) == 1
    assert len(_model_files(store)) == 1


def test_unsaveable_model_is_refused_up_front(store: Store, register) -> None:
    from sklearn.preprocessing import FunctionTransformer

    with pytest.raises(
        InvalidInputError, match=r"types modelloop would refuse to load: builtins\.eval"
    ):
        register("evil", FunctionTransformer(func=eval))
    assert _model_files(store) == []
    assert _tmp_files(store) == []
    assert store.list_models() == []


def test_sweep_orphan_artifacts(store: Store, register, pipeline) -> None:
    kept = register("churn", pipeline)
    orphan = store.artifacts_dir / "models" / "churn" / "0123456789abcdef-deadbeef.skops"
    orphan.write_bytes(b"left by a crash between rename and commit")
    partial = store.artifacts_dir / "tmp" / "abc.skops.partial"
    partial.write_bytes(b"left by a crash while writing")
    young = store.artifacts_dir / "models" / "churn" / "fedcba9876543210-cafebabe.skops"
    young.write_bytes(b"a registration in flight")
    old = time.time() - 7200
    for path in (orphan, partial, store.artifacts_dir / kept.artifact_path):
        os.utime(path, (old, old))

    removed = store.sweep_orphan_artifacts()
    assert removed == sorted([orphan, partial])
    assert not orphan.exists() and not partial.exists()
    assert young.exists()
    assert (store.artifacts_dir / kept.artifact_path).exists()
    store.load_model("churn:1")
    assert store.sweep_orphan_artifacts(min_age_seconds=0) == [young]


def test_concurrent_registrations_from_threads_get_distinct_versions(
    store: Store, register
) -> None:
    model = LogisticRegression().fit([[0], [1]], [0, 1])
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                register("shared", model)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = [v.version for v in store.list_versions("shared")]
    assert versions == list(range(1, 25))
    assert len({v.artifact_path for v in store.list_versions("shared")}) == 24
    assert len(_model_files(store)) == 24


_WORKER = textwrap.dedent(
    """
    import sys
    from sklearn.linear_model import LogisticRegression
    from modelloop.store import Store

    model = LogisticRegression().fit([[0], [1]], [0, 1])
    with Store(sys.argv[1], sys.argv[2]) as store:
        for _ in range(int(sys.argv[3])):
            store.register_model("shared", model, run_id=None, schema={}, task=None,
                                 metrics={})
    """
)


def test_concurrent_registrations_from_processes_get_distinct_versions(store: Store) -> None:
    args = [sys.executable, "-c", _WORKER, store.url, str(store.artifacts_dir), "4"]
    procs = [subprocess.Popen(args, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert [v.version for v in store.list_versions("shared")] == list(range(1, 9))
