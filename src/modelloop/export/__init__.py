"""Export: a registered model version in the formats other tools consume.

``export_model(store, "churn@production", "onnx", "out/")`` writes one of :data:`FORMATS`:

- ``onnx``: the whole model, preprocessing included, as one ONNX graph (onnxruntime);
- ``mlflow``: an MLflow pyfunc model folder (``mlflow.pyfunc.load_model``);
- ``docker``: a container build context whose entrypoint is ``modelloop serve``;
- ``kubernetes``: a Deployment, Service, HorizontalPodAutoscaler and KServe InferenceService;
- ``kfp``: the loop (ingest, train, evaluate, register, monitor, retrain) as a Kubeflow
  Pipelines v2 pipeline running modelloop's CLI in the exported image.

Each export is recorded in the store (``Store.list_exports``).

>>> from modelloop.export import FORMATS
>>> FORMATS
('onnx', 'mlflow', 'docker', 'kubernetes', 'kfp')
"""

from __future__ import annotations

from modelloop.export._export import (
    FORMATS,
    ExportContext,
    ExportResult,
    check_format,
    default_image,
    export_model,
)
from modelloop.export._onnx import (
    ONNX_MODELS,
    convert_onnx,
    onnx_convertible,
    onnx_inputs,
    unconvertible_columns,
)

__all__ = [
    "FORMATS",
    "ONNX_MODELS",
    "ExportContext",
    "ExportResult",
    "check_format",
    "convert_onnx",
    "default_image",
    "export_model",
    "onnx_convertible",
    "onnx_inputs",
    "unconvertible_columns",
]
