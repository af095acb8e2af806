"""When compiling the fast path fails, the server says so (WARNING, with the traceback)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelloop.data import infer_schema
from modelloop.features import make_pipeline
from modelloop.serving import _fastpath
from modelloop.serving._registry import served_from_pipeline


def _fitted() -> tuple[object, object]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40), "c": ["a", "b"] * 20, "y": [0, 1] * 20})
    schema = infer_schema(frame, target="y")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    return pipeline.fit(frame[["x", "c"]], frame["y"]), schema


def test_a_fast_path_that_crashes_is_a_warning_and_the_pipeline_serves(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, schema = _fitted()
    assert served_from_pipeline("m", 1, pipeline, schema, "binary", [0, 1]).compiled

    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("'ColumnTransformer' object has no attribute 'transformers_'")

    monkeypatch.setattr(_fastpath, "_compile_blocks", broken)
    caplog.set_level(logging.DEBUG, logger="modelloop.serving")
    served = served_from_pipeline("m", 1, pipeline, schema, "binary", [0, 1])
    assert not served.compiled
    (record,) = [r for r in caplog.records if "fast path" in r.getMessage()]
    assert record.levelno == logging.WARNING and record.exc_info is not None
    assert "full pipeline serves it" in record.getMessage()
    preds, _ = served.predict_rows([{"x": 0.5, "c": "a"}])  # still answers, the slow way
    assert preds[0] in (0, 1)
