"""The dashboard app: ``create_ui`` (mounted at ``/ui`` by ``create_app``) and ``ui_app``.

Pages are rendered on the server with Jinja2 from the templates shipped in this package;
``static/`` holds the one stylesheet and the one small script. Errors become an HTML page
with the status the REST API would use (404 for a missing model or run, 401/403 for a
missing or wrong API key), or the API's JSON error body when the client asks for JSON;
never a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelloop import __version__
from modelloop.config import Settings
from modelloop.exceptions import ModelloopError
from modelloop.serving._errors import error_body, status_of, validation_message
from modelloop.serving.ui._drift import DriftCache
from modelloop.serving.ui._explain import ExplainerCache
from modelloop.serving.ui._reports import ReportCache
from modelloop.store import Store

__all__ = ["UIContext", "create_ui", "render", "ui_app", "wants_json"]

log = logging.getLogger("modelloop.serving.ui")
_HERE = Path(__file__).parent


@dataclass
class UIContext:
    """What the dashboard's routes share."""

    settings: Settings
    store: Store | None
    state: Any  # the serving ServerState when mounted in ``modelloop serve``, else None
    templates: Environment
    reports: ReportCache | None
    drift: DriftCache | None = None
    explainers: ExplainerCache | None = None


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "—"
        if abs(value) >= 10_000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v, digits) for v in value)
    return str(value)


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = (end - start).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_HERE / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    env.globals["duration"] = _duration
    env.globals["version"] = __version__
    return env


def wants_json(request: Request) -> bool:
    """Whether the client asked for JSON (the dashboard's own ``fetch`` calls do)."""
    return "application/json" in request.headers.get("accept", "")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``templates/`` with the dashboard's base path and settings at hand."""
    ui: UIContext = request.app.state.ui
    base = request.scope.get("root_path", "").rstrip("/")
    html = ui.templates.get_template(template).render(
        base=base,
        request=request,
        served=ui.state is not None,
        key_configured=bool(ui.settings.api_key),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


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
    from modelloop.serving.ui import _routes

    settings = settings or Settings()
    app = FastAPI(title="modelloop dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ui = UIContext(
        settings=settings,
        store=store,
        state=state,
        templates=_environment(),
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
