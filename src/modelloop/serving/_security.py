"""API keys and request limits."""

from __future__ import annotations

import hmac

from fastapi import Request

from modelloop.config import Settings
from modelloop.exceptions import AuthenticationError, PayloadTooLargeError

__all__ = ["check_key", "read_body"]


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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is over ``limit`` bytes."""
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
    return b"".join(chunks)
