"""API keys and request limits."""

from __future__ import annotations

import hmac

from fastapi import Request

from modelloop.config import Settings
from modelloop.exceptions import (
    AuthenticationError,
    InvalidInputError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

__all__ = ["check_key", "ignore_extra", "is_json_media_type", "read_body"]


def _given_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def check_key(request: Request, settings: Settings, *, admin: bool) -> None:
    """Refuse the request unless it carries the API key the route needs.

    Admin routes always need one, and are disabled when no key is configured; prediction
    routes need one when ``settings.serve_require_key`` is set.
    """
    if not admin and not settings.serve_require_key:
        return
    expected = settings.api_key
    if not expected:
        raise AuthenticationError(
            f"{request.url.path} needs an API key, and this server has none configured. "
            "Start it with MODELLOOP_API_KEY set to enable admin routes."
        )
    given = _given_key(request)
    if given is None:
        raise AuthenticationError(
            f"{request.url.path} needs an API key. Send it in the 'X-API-Key' header "
            "(or 'Authorization: Bearer KEY').",
            missing=True,
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise AuthenticationError(f"The API key sent to {request.url.path} is wrong.")


_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no", "")


def ignore_extra(request: Request) -> bool:
    """The ``?ignore_extra=true`` query parameter of the predict routes (default false)."""
    value = request.query_params.get("ignore_extra")
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidInputError(f"Query parameter 'ignore_extra' must be true or false. Got {value!r}.")


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type header declares JSON (``application/json``, ``...+json``).

    Examples
    --------
    >>> [is_json_media_type(t) for t in ("application/json; charset=utf-8", "text/plain", None)]
    [True, False, False]
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_body(request: Request, limit: int, *, csv: bool = False) -> bytes:
    """The request body, refused with 413 as soon as it is over ``limit`` bytes, and with 415
    when it is not empty and not declared as JSON.

    Only a JSON body is read (and ``text/csv`` with ``csv``, SageMaker's format): a browser
    page may send ``text/plain`` (or a form) to any host without asking first, so accepting
    those would let any web page a user opens post predictions, labels or admin requests to
    a server on their machine or network.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"The request body is {int(declared)} bytes; this server takes at most {limit}. "
            "Send fewer rows per request."
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                f"The request body is over {limit} bytes, the most this server takes. "
                "Send fewer rows per request."
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    content_type = request.headers.get("content-type")
    csv_ok = csv and (content_type or "").split(";", 1)[0].strip().lower() == "text/csv"
    if body.strip() and not is_json_media_type(content_type) and not csv_ok:
        wanted = "'Content-Type: application/json'" + (" or 'text/csv'" if csv else "")
        raise UnsupportedMediaTypeError(
            f"The request body must be sent with {wanted}. Got {content_type!r}."
            if content_type
            else f"The request body must be sent with {wanted}; the request has no Content-Type."
        )
    return body
