"""``train --exportable onnx``: the search takes only models that convert."""

from __future__ import annotations

import pytest

from modelloop.exceptions import ConfigurationError
from modelloop.export import onnx_convertible
from modelloop.models import portfolio
from modelloop.workflows._train import _exportable_candidates


def _schema(frame, target):
    from modelloop.data import infer_schema

    return infer_schema(frame, target=target)


def test_exportable_keeps_the_portfolio_models_that_convert(titanic) -> None:
    schema = _schema(titanic, "Survived")
    kept = _exportable_candidates("onnx", None, schema, "binary", 120.0)
    everything = [m for m, _ in portfolio("binary", time_budget=120.0)]
    assert kept and all(onnx_convertible(m) for m in kept)
    assert kept == list(dict.fromkeys(m for m in everything if onnx_convertible(m)))
    assert "catboost" in everything and "catboost" not in kept


def test_exportable_refuses_models_and_columns_that_do_not_convert(titanic) -> None:
    from modelloop.workflows import demo_data_path, train

    schema = _schema(titanic, "Survived")
    with pytest.raises(ConfigurationError, match="catboost do not convert to ONNX"):
        _exportable_candidates("onnx", ["lightgbm", "catboost"], schema, "binary", 60.0)
    with pytest.raises(ConfigurationError, match="exportable must be one of onnx"):
        _exportable_candidates("pmml", None, schema, "binary", 60.0)
    with pytest.raises(
        ConfigurationError, match=r"Column\(s\) 'Name' are text or dates.*--drop Name"
    ):
        train(demo_data_path(), target="Survived", exportable="onnx", register=False,
              drop=["PassengerId"])  # fmt: skip
