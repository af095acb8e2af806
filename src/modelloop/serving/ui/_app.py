"""The dashboard app: ``create_ui`` (mounted at ``/ui`` by ``create_app``) and ``ui_app``.

Pages are rendered on the server with Jinja2 from the templates shipped in this package;
``static/`` holds the one stylesheet and the one small script. Errors become an HTML page
with the status the REST API would use (404 for a missing model or run, 401/403 for a
missing or wrong API key), or the API's JSON error body when the client asks for JSON;
never a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelloop import __version__
from modelloop.config import Settings
from modelloop.exceptions import ModelloopError
from modelloop.serving._errors import error_body, status_of, validation_message
from modelloop.serving.ui import _routes
from modelloop.serving.ui._drift import DriftCache
from modelloop.serving.ui._explain import ExplainerCache
from modelloop.serving.ui._render import UIContext, render, template_environment, wants_json
from modelloop.serving.ui._reports import ReportCache
from modelloop.store import Store

__all__ = ["create_ui", "ui_app"]

log = logging.getLogger("modelloop.serving.ui")
_HERE = Path(__file__).parent


def _error_page(
    request: Request, status: int, kind: str, message: str, headers: dict | None = None
) -> Response:
    if wants_json(request):
        return JSONResponse(error_body(kind, message), status_code=status, headers=headers)
    titles = {
        401: "API key needed",
        403: "Refused",
        404: "Not found",
        422: "Invalid request",
        503: "Store unavailable",
    }
    response = render(
        request,
        "error.html",
        status_code=status,
        status=status,
        title=titles.get(status, "Error"),
        message=message,
    )
    if headers:
        response.headers.update(headers)
    return response


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(ModelloopError)
    async def _modelloop_error(request: Request, exc: ModelloopError) -> Response:
        status, kind = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _error_page(request, status, kind, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error_page(request, 422, "invalid_input", validation_message(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"There is no page at {request.url.path}."
            return _error_page(request, 404, "not_found", message)
        kind = {405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error_page(request, exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        message = (
            f"Internal error: {type(exc).__name__}. The server logged the traceback; "
            "please report it."
        )
        return _error_page(request, 500, "internal_error", message)


def create_ui(
    settings: Settings | None = None,
    store: Store | None = None,
    *,
    state: Any = None,
    drift_ttl: float = 60.0,
) -> FastAPI:
    """The dashboard as an app to mount (``create_app`` mounts it at ``/ui``).

    Parameters
    ----------
    settings : Settings, optional
        The API key that promote and rollback need (``api_key``).
    store : Store, optional
        Where models, runs and the prediction log are read; without one (a server of a
        single model file) the pages say so.
    state : ServerState, optional
        The serving state of the server it is mounted in: live counters, and hot swaps
        right after a promote or rollback.
    drift_ttl : float
        Seconds a live page's drift check is reused before a new one runs (in a
        background thread; see ``DriftCache``).

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_ui(settings, store))  # doctest: +SKIP
    >>> client.get("/models").status_code  # doctest: +SKIP
    200
    """
    settings = settings or Settings()
    app = FastAPI(title="modelloop dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ui = UIContext(
        settings=settings,
        store=store,
        state=state,
        templates=template_environment(),
        reports=ReportCache(store) if store is not None else None,
        drift=DriftCache(store, settings, ttl=drift_ttl) if store is not None else None,
        explainers=ExplainerCache(store, state) if store is not None else None,
    )
    _install_error_pages(app)
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    app.include_router(_routes.router)
    return app


def ui_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The dashboard alone (``modelloop ui``): ``/ui`` pages, ``/`` redirects there.

    The store is opened from ``settings`` when not given, and closed on shutdown.

    Examples
    --------
    >>> app = ui_app(settings)  # doctest: +SKIP
    """
    from contextlib import asynccontextmanager

    settings = settings or Settings()
    owns = store is None
    store = store if store is not None else Store.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        try:
            yield
        finally:
            if owns:
                store.close()

    app = FastAPI(
        title="modelloop dashboard",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    app.mount("/ui", create_ui(settings, store))
    return app
