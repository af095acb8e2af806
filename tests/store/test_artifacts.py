"""Model files: round trips, integrity checks, trusted types, format versions."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
import skops.io as sio
import sqlalchemy as sa

from modelloop.exceptions import ArtifactIntegrityError, StoreError, UntrustedModelError
from modelloop.store import MODEL_FORMAT_VERSION, ModelVersionRecord, Store
from modelloop.store._tables import model_versions


@pytest.fixture(scope="module")
def lgbm(xy):
    import lightgbm as lgb

    X, y = xy
    return lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(X, y)


def _replace_artifact(store: Store, record: ModelVersionRecord, obj: object) -> None:
    """Write a hand-made skops file in place of an artifact, with a matching sha256."""
    path = store.artifacts_dir / record.artifact_path
    sio.dump(obj, path)
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with store._engine.begin() as conn:
        conn.execute(
            model_versions.update()
            .where(model_versions.c.name == record.name)
            .where(model_versions.c.version == record.version)
            .values(sha256=digest)
        )


@pytest.mark.parametrize("which", ["pipeline", "lgbm"])
def test_load_model_round_trip_same_predictions(store: Store, register, xy, request, which):
    model = request.getfixturevalue(which)
    X, _ = xy
    registered = register("m", model)
    record, loaded = store.load_model("m")
    assert record == registered
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # Through a record as well as a reference.
    _, again = store.load_model(record)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


_LOADER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from modelloop.store import Store

    with Store(sys.argv[1], sys.argv[2]) as store:
        X = np.array(json.loads(sys.argv[4]))
        out = {}
        for ref in sys.argv[3].split(","):
            record, model = store.load_model(ref)
            out[ref] = model.predict_proba(X).tolist()
    print(json.dumps(out))
    """
)


def test_load_model_in_new_process_same_predictions(store: Store, register, xy, pipeline, lgbm):
    X, _ = xy
    register("pipe", pipeline, aliases=["production"])
    register("boost", lgbm)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOADER,
            store.url,
            str(store.artifacts_dir),
            "pipe@production,boost:1",
            json.dumps(X[:20].tolist()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    np.testing.assert_array_equal(out["pipe@production"], pipeline.predict_proba(X[:20]))
    np.testing.assert_array_equal(out["boost:1"], lgbm.predict_proba(X[:20]))


def test_load_model_tampered_file_is_refused(store: Store, register, pipeline) -> None:
    record = register("churn", pipeline)
    path = store.artifacts_dir / record.artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        ArtifactIntegrityError,
        match=r"Artifact of model 'churn' version 1 at .* does not match its recorded sha256 "
        r"\(file changed or corrupted\); refusing to load it\.",
    ):
        store.load_model("churn")


def test_load_model_tampered_file_is_not_deserialized(
    store: Store, register, pipeline, monkeypatch
) -> None:
    record = register("churn", pipeline)
    (store.artifacts_dir / record.artifact_path).write_bytes(sio.dumps({"x": 1}))
    calls: list[object] = []
    monkeypatch.setattr(sio, "loads", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(sio, "get_untrusted_types", lambda *a, **k: calls.append(k) or [])
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded sha256"):
        store.load_model("churn")
    assert calls == []


def test_load_model_missing_file(store: Store, register, pipeline) -> None:
    record = register("churn", pipeline)
    (store.artifacts_dir / record.artifact_path).unlink()
    with pytest.raises(
        ArtifactIntegrityError, match="Artifact of model 'churn' version 1 is missing"
    ):
        store.load_model("churn:1")


def test_load_model_refuses_untrusted_function(store: Store, register, pipeline) -> None:
    from sklearn.preprocessing import FunctionTransformer

    record = register("churn", pipeline)
    evil = {
        "format": "modelloop-model",
        "format_version": 1,
        "model": FunctionTransformer(func=eval),
    }
    _replace_artifact(store, record, evil)
    with pytest.raises(UntrustedModelError, match=r"does not trust: builtins\.eval"):
        store.load_model("churn")


def test_load_model_refuses_untrusted_module(store: Store, register, pipeline) -> None:
    record = register("churn", pipeline)
    _replace_artifact(
        store, record, {"format": "modelloop-model", "format_version": 1, "model": Fraction(1, 3)}
    )
    with pytest.raises(UntrustedModelError, match=r"does not trust: fractions\.Fraction"):
        store.load_model("churn")


def test_load_model_refuses_newer_format(store: Store, register, pipeline) -> None:
    record = register("churn", pipeline)
    newer = MODEL_FORMAT_VERSION + 1
    _replace_artifact(
        store, record, {"format": "modelloop-model", "format_version": newer, "model": pipeline}
    )
    with pytest.raises(
        StoreError,
        match=rf"model file format version {newer} is newer than this modelloop supports "
        r"\(1\); upgrade modelloop",
    ):
        store.load_model("churn")


def test_load_model_refuses_foreign_skops_file(store: Store, register, pipeline) -> None:
    record = register("churn", pipeline)
    _replace_artifact(store, record, pipeline)
    with pytest.raises(StoreError, match="not a modelloop model file"):
        store.load_model("churn")


def test_load_model_refuses_path_outside_artifacts(store: Store, register, pipeline) -> None:
    record = register("churn", pipeline)
    with store._engine.begin() as conn:
        conn.execute(sa.update(model_versions).values(artifact_path="../../etc/passwd"))
    with pytest.raises(ArtifactIntegrityError, match="points outside the artifact folder"):
        store.load_model(record)


def test_model_files_are_deflated_and_sized_as_the_search_estimates(tmp_path):
    # skops describes every object in JSON (tens of kB per tree of a forest): the model
    # file is deflated, and the search's size estimate (a quickly compressed pickle) is
    # what the limit --max-model-mb is checked against, so it must match the file.
    import zipfile

    from sklearn.ensemble import RandomForestClassifier

    from modelloop.store._artifacts import write_model_file
    from modelloop.store._trust import load_skops
    from modelloop.tuning._worker import model_size_mb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 8))
    y = (X[:, 0] + rng.normal(size=600) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)
    path, _, size = write_model_file(model, tmp_path, what="a forest")
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
        stored = sum(i.file_size for i in zf.infolist())
    assert size < stored / 2  # the JSON and the tree arrays compress well
    assert 0.7 < model_size_mb(model) * 1e6 / size < 1.4
    loaded = load_skops(path.read_bytes(), what="a forest")["model"]
    assert (loaded.predict_proba(X) == model.predict_proba(X)).all()
