"""The one place where errors become HTTP answers.

Every answer that is not a success has the body ``{"error": {"type": ..., "message": ...}}``
(plus ``details`` for validation errors). The status comes from the exception tree::

    PayloadTooLargeError      413      a body or row count over its limit
    RewardConflictError       409      a second, different reward for one decision
    EventExpiredError         410      a reward after its decision's reward wait
    UnsupportedMediaTypeError 415      a body not sent as Content-Type: application/json
    MalformedRequestError     400      a body that is not JSON, or nested too deeply
    AuthenticationError       401/403  no API key / a wrong one (or admin routes disabled)
    NotFoundError             404      no such model, version or alias
    InvalidInputError         422      bad values, missing columns, bad JSON
    ConfigurationError        400      a request asking for something the server cannot do
    ModelUnavailableError     503      the model's file could not be loaded (see /health)
    StoreError                503      the store failed (try again)
    ModelloopError            400      anything else raised on purpose
    anything else             500      a bug: logged with its traceback

Request validation errors from FastAPI (path and query parameters) answer 422 naming the field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelloop.exceptions import (
    AuthenticationError,
    ConfigurationError,
    EventExpiredError,
    InvalidInputError,
    MalformedRequestError,
    ModelloopError,
    ModelUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
    RewardConflictError,
    StoreError,
    UnsupportedMediaTypeError,
)
from modelloop.serving._responses import JSONBytes

__all__ = ["error_body", "install_error_handlers", "status_of", "validation_message"]

log = logging.getLogger("modelloop.serving")

_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (PayloadTooLargeError, 413, "payload_too_large"),
    (RewardConflictError, 409, "conflict"),
    (EventExpiredError, 410, "expired"),
    (UnsupportedMediaTypeError, 415, "unsupported_media_type"),
    (MalformedRequestError, 400, "malformed_request"),
    (NotFoundError, 404, "not_found"),
    (InvalidInputError, 422, "invalid_input"),
    (ConfigurationError, 400, "bad_request"),
    (ModelUnavailableError, 503, "model_unavailable"),
    (StoreError, 503, "store_unavailable"),
    (ModelloopError, 400, "bad_request"),
)


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and error type for an exception (500 for anything unexpected).

    Examples
    --------
    >>> from modelloop.exceptions import ModelNotFoundError
    >>> status_of(ModelNotFoundError("no model 'x'"))
    (404, 'not_found')
    """
    if isinstance(exc, AuthenticationError):
        return (401, "unauthorized") if exc.missing else (403, "forbidden")
    for cls, status, kind in _STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal_error"


def error_body(kind: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of an error answer."""
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_message(errors: Sequence[Mapping[str, Any]], prefix: Sequence[Any] = ()) -> str:
    """One line naming the first invalid field, its problem and the value received."""
    first = errors[0]
    where = _loc([*prefix, *first.get("loc", ())])
    got = first.get("input")
    shown = "" if first.get("type") == "missing" else f" Got {got!r:.80}."
    more = f" ({len(errors) - 1} more problem(s) in 'details'.)" if len(errors) > 1 else ""
    return f"Field '{where}': {first.get('msg', 'invalid')}.{shown}{more}"


def details_of(errors: Sequence[Mapping[str, Any]], prefix: Sequence[Any] = ()) -> list[dict]:
    """JSON-safe details of pydantic errors (at most 20)."""
    return [
        {
            "field": _loc([*prefix, *e.get("loc", ())]),
            "problem": e.get("msg"),
            "type": e.get("type"),
        }
        for e in list(errors)[:20]
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Map the exception tree, FastAPI's validation errors and HTTP errors to JSON bodies."""

    @app.exception_handler(ModelloopError)
    async def _modelloop_error(request: Request, exc: ModelloopError) -> JSONBytes:
        status, kind = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        details = getattr(exc, "details", None)  # per-field problems of a rejected body
        return JSONBytes(error_body(kind, str(exc), details), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONBytes:
        errors = list(exc.errors())
        return JSONBytes(
            error_body("invalid_input", validation_message(errors), details_of(errors)),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONBytes:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"No route {request.method} {request.url.path}. See GET /docs."
        # keep the exception's headers: a 405 says which methods are allowed (``Allow``)
        return JSONBytes(
            error_body(kind, message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONBytes:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONBytes(
            error_body(
                "internal_error",
                f"Internal error: {type(exc).__name__}. The server logged the traceback; "
                "please report it.",
            ),
            status_code=500,
        )
