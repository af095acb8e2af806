"""The OpenAPI document: what every route takes and every status it can answer.

FastAPI documents a route's success and its own validation error. This module adds what the
server really answers: each error status a route can give (with the one error body of
:mod:`._errors`), the model paths with their columns (:func:`._schemas.add_model_paths`),
and the Prometheus text of ``/metrics``. ``tests/serving/test_openapi.py`` runs schemathesis
against ``modelloop serve`` to hold the document to the server's behaviour.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from modelloop.serving._schemas import add_model_paths

__all__ = ["ERROR_SCHEMA", "openapi_document"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "description": "e.g. invalid_input, not_found"},
                "message": {"type": "string", "description": "one line: what and how to fix"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}

_WHY = {
    400: "The body is not JSON or is nested too deeply; or the request asks for something "
    "this server cannot do (e.g. POST /predict with several models and no default).",
    401: "An API key is needed (admin routes; every route with serve_require_key).",
    403: "The API key is wrong, or admin routes are off (no key configured).",
    404: "No such model, version or alias.",
    413: "The body, or its number of rows, is over the server's limit.",
    415: "The body was not sent with Content-Type: application/json.",
    422: "A value, a column or the shape of the body is not what the model takes.",
    503: "The model's file cannot be loaded (see GET /health), or the store is unavailable.",
}


def _statuses(path: str, method: str) -> set[int]:
    """The error statuses a route can answer."""
    if method == "get":
        if path in ("/health", "/v2/health/live", "/metrics", "/v1/models"):
            return set()
        if path == "/v2/health/ready":
            return {503}
        return {404, 422, 503}  # a model by name (or a version: a number)
    statuses = {400, 401, 403, 413, 415, 422, 503}
    if path != "/v1/admin/reload":
        statuses.add(404)
    return statuses


def _document_responses(doc: dict[str, Any]) -> None:
    doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for status in _statuses(path, method):
                responses[str(status)] = {"description": _WHY[status], "content": error}
            if path == "/v2/health/ready":
                responses["503"]["content"] = {"application/json": {"schema": {"type": "object"}}}
            if path == "/metrics":
                responses["200"] = {
                    "description": "Prometheus metrics of this worker process.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }


def openapi_document(app: FastAPI, state: Any) -> dict[str, Any]:
    """The OpenAPI document of a server: its routes, one path per served model and alias
    (with the model's columns), and every error status each route can answer."""
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    add_model_paths(doc, state.registry, state.settings.serve_max_rows)
    _document_responses(doc)
    return doc
