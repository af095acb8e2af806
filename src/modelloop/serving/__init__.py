"""Serving: the REST server for every registered model (``modelloop serve``).

``create_app(settings, store)`` builds a FastAPI app with v1 routes
(``POST /v1/models/{name}/predict``, versions, aliases, admin), the tutorial route
``POST /predict``, the Open Inference Protocol (``/v2``), ``/health`` and ``/metrics``.
Requests are validated against each model's input schema, micro-batched, answered
individually and written to the store's prediction log off the hot path.

>>> from modelloop.serving import create_app
>>> app = create_app(settings, store)  # doctest: +SKIP
"""

from modelloop.serving._app import (
    app_from_settings,
    check_models,
    create_app,
    server_logging,
    trusted_app_from_settings,
)
from modelloop.serving._byom import load_model_file
from modelloop.serving._registry import ModelRegistry, ServedModel
from modelloop.serving._shadow import ShadowScorer, install_shadow
from modelloop.serving._workers import check_port_free, reuse_port_supported, run_workers

__all__ = [
    "ModelRegistry",
    "ServedModel",
    "ShadowScorer",
    "app_from_settings",
    "check_models",
    "check_port_free",
    "create_app",
    "install_shadow",
    "load_model_file",
    "reuse_port_supported",
    "run_workers",
    "server_logging",
    "trusted_app_from_settings",
]
