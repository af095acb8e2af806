"""Workflows: the verbs users call — train, predict, demo — composed from the packages below.

>>> import modelloop as ml
>>> result = ml.train("titanic.csv", target="Survived")  # doctest: +SKIP
"""

from modelloop.workflows._demo import DEMO_MODEL, DemoResult, demo_data_path, run_demo
from modelloop.workflows._ingest import (
    IngestResult,
    ingest,
    is_data_ref,
    load_source,
    read_data_ref,
)
from modelloop.workflows._predict import (
    LoadedModel,
    PredictSummary,
    load_model,
    predict,
    predict_file,
)
from modelloop.workflows._train import TrainResult, train
from modelloop.workflows._versions import library_versions

__all__ = [
    "DEMO_MODEL",
    "DemoResult",
    "IngestResult",
    "LoadedModel",
    "PredictSummary",
    "TrainResult",
    "demo_data_path",
    "ingest",
    "is_data_ref",
    "library_versions",
    "load_model",
    "load_source",
    "predict",
    "predict_file",
    "read_data_ref",
    "run_demo",
    "train",
]
