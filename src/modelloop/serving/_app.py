"""``create_app(settings, store)``: the FastAPI app assembled from its parts.

Routers (v1, v2, the tutorial route), error handlers, a lifespan that loads the models,
starts the prediction log and the alias poller, and on shutdown stops the poller and flushes
the log. ``app_from_settings`` is the factory ``modelloop serve --workers N`` hands to
uvicorn (each worker process builds its own app from the environment's settings).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from modelloop import __version__
from modelloop.config import Settings
from modelloop.exceptions import StoreError
from modelloop.serving import (
    _routes_decide,
    _routes_explain,
    _routes_feedback,
    _routes_v1,
    _routes_v2,
)
from modelloop.serving._errors import install_error_handlers
from modelloop.serving._metrics import ServingMetrics
from modelloop.serving._openapi import openapi_document
from modelloop.serving._predlog import PredictionLog
from modelloop.serving._registry import ModelRegistry
from modelloop.serving._routes_cloud import cloud_router
from modelloop.serving._spool import SpoolWriter
from modelloop.serving._state import ServerState
from modelloop.store import Store

__all__ = ["app_from_settings", "check_models", "create_app", "trusted_app_from_settings"]

log = logging.getLogger("modelloop.serving")


class _ServerApp(FastAPI):
    """FastAPI, with the predict routes' fast lane (:class:`~._routes_v1.PredictLane`) in
    front of its middleware stack.

    In front, a prediction skips the error, telemetry and body-limit middleware too (the
    lane answers errors as they would). When middleware was added to the app (or in debug
    mode, for its traceback pages), the lane goes inside it instead, so that it still sees
    every request.
    """

    def build_middleware_stack(self) -> ASGIApp:
        if self.user_middleware or self.debug:
            self.user_middleware.append(Middleware(_routes_v1.PredictLane))
            return super().build_middleware_stack()
        return _routes_v1.PredictLane(super().build_middleware_stack(), catch_all=True)


def _poll(state: ServerState, stop: threading.Event) -> None:
    interval = state.settings.serve_poll_seconds
    while not stop.wait(interval):
        try:
            changes = state.registry.refresh()
        except StoreError as exc:  # the store may be briefly unavailable: try again next time
            log.warning("could not refresh models from the store: %s", exc)
            continue
        except Exception:  # a bug: keep polling, but with its traceback in the log
            log.exception("could not refresh models from the store")
            continue
        for change in changes:
            state.metrics.swaps.labels(model=change.split(":")[0]).inc()
        if changes:
            _freeze_heap()  # the new version's objects too


def _freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight.

    A full collection walks every tracked object: with pandas, scikit-learn, the model
    libraries and FastAPI loaded that is over a million of them, and the event loop stops for
    the whole walk (hundreds of milliseconds: the slowest requests under load). Modules and
    models live as long as the server; after this, collections only walk the objects of
    requests. Garbage already there is collected first, so nothing is kept alive by it.
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    *,
    registry: ModelRegistry | None = None,
) -> FastAPI:
    """The REST server for every model in ``store`` (or the model file in settings).

    Parameters
    ----------
    settings : Settings, optional
        Limits, API key, prediction log and batching knobs (``serve_*`` fields).
    store : Store, optional
        Where models come from and predictions are logged; default: the store that
        ``settings`` point at (opened, and closed on shutdown, by the app).
    registry : ModelRegistry, optional
        Serve these models instead (tests, ``--model PATH``).

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> with TestClient(create_app(settings, store)) as client:  # doctest: +SKIP
    ...     client.post("/v1/models/titanic/predict", json={"instances": [row]}).json()
    """
    settings = settings or Settings()
    owns_store = False
    if registry is None and settings.serve_model_path is not None:
        from modelloop.serving._byom import load_model_file

        fixed = load_model_file(
            settings.serve_model_path,
            trust=settings.trust,
            schema_file=settings.serve_schema_file,
        )
        registry = ModelRegistry(None, fixed=fixed, default_model=settings.serve_default_model)
    if registry is None:
        if store is None:
            store = Store.from_settings(settings)
            owns_store = True
        registry = ModelRegistry(store, default_model=settings.serve_default_model)
    store = registry.store
    metrics = ServingMetrics()
    state = ServerState(
        settings=settings,
        registry=registry,
        metrics=metrics,
        executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelloop-predict"),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = _limit_native_threads()
        registry.load_all()  # a model that cannot be loaded is logged, not fatal
        for name in registry.names():
            served = registry.get(name)
            log.info("serving %s version %d (%s)", name, served.version, served.task)
        problems = registry.problems()
        if problems:
            log.warning(
                "%d model version(s) cannot be served (see GET /health): %s",
                len(problems),
                ", ".join(f"{p.model}:{p.version}" for p in problems),
            )
        if store is not None and settings.serve_log_predictions and settings.serve_log_sample > 0:
            write = (
                store.log_predictions
                if settings.serve_log_spool is None
                else SpoolWriter(settings.serve_log_spool, on_drop=metrics.log_dropped.inc)
            )
            state.predlog = PredictionLog(
                write,
                sample=settings.serve_log_sample,
                on_drop=metrics.log_dropped.inc,
            )
        stop = threading.Event()
        poller = None
        if store is not None and settings.serve_poll_seconds > 0:
            poller = threading.Thread(
                target=_poll, args=(state, stop), name="modelloop-poll", daemon=True
            )
            poller.start()
        _freeze_heap()
        try:
            yield
        finally:
            gc.unfreeze()  # what this app held may be collected again once it is gone
            stop.set()
            if poller is not None:
                poller.join(timeout=10)
            if state.predlog is not None:
                state.predlog.close()
            state.executor.shutdown(wait=True)
            explaining = state.extras.get("explain_executor")
            if explaining is not None:
                explaining.shutdown(wait=True)
            if owns_store and store is not None:
                store.close()
            if limiter is not None:
                limiter.unregister()

    app = _ServerApp(
        title="modelloop",
        version=__version__,
        description="Predictions from every registered model. Errors answer "
        '{"error": {"type", "message"}} with a 4xx status.',
        lifespan=lifespan,
    )
    app.state.modelloop = state
    install_error_handlers(app)
    cloud = cloud_router(settings)  # first: a platform's health route may be /health
    if cloud is not None:
        app.include_router(cloud)
        log.info("cloud serving contracts: %s", ", ".join(sorted(settings.serving_contracts())))
    app.include_router(_routes_v1.router)
    app.include_router(_routes_explain.router)
    app.include_router(_routes_v2.router)
    app.include_router(_routes_feedback.router)
    app.include_router(_routes_decide.router)
    from modelloop.serving.ui import create_ui  # the dashboard (its own error pages)

    app.mount("/ui", create_ui(settings, store, state=state))
    app.openapi = lambda: openapi_document(app, state)  # type: ignore[method-assign]
    return app


def check_models(app: FastAPI) -> list[Any]:
    """Load the app's models now, before the server listens; returns what cannot be served.

    What ``modelloop serve`` runs first, so that a store that cannot be read, or one whose
    every model is broken, stops it with one line instead of a traceback from uvicorn's
    lifespan. A model that cannot be loaded while others can is reported, not fatal.
    """
    from modelloop.exceptions import ModelUnavailableError

    registry: ModelRegistry = app.state.modelloop.registry
    registry.load_all()
    problems = registry.problems()
    if problems and not registry.names():
        first = problems[0].reason
        more = f" ({len(problems) - 1} more model version(s) too)" if len(problems) > 1 else ""
        raise ModelUnavailableError(f"No model can be served. {first}{more}")
    return problems


def _limit_native_threads() -> Any:
    """Keep BLAS/OpenMP pools at one thread per worker (workers already use every core)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    return threadpool_limits(limits=1)


# Libraries that log at INFO what a server's operator has no use for (matplotlib's
# "Using categorical units to plot a list of strings..." while the dashboard draws).
_CHATTY = ("matplotlib", "PIL", "numba", "urllib3", "asyncio")


def server_logging() -> None:
    """INFO lines from modelloop and uvicorn on stderr; only warnings from chatty libraries.

    >>> server_logging(); logging.getLogger("matplotlib.category").getEffectiveLevel()
    30
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)


def app_from_settings() -> FastAPI:
    """The app for uvicorn's ``factory=True``: settings from the environment (one per worker)."""
    server_logging()
    log.info("worker %d starting", os.getpid())
    return create_app(Settings())


def trusted_app_from_settings() -> FastAPI:
    """:func:`app_from_settings` for ``modelloop serve --trust --workers N``.

    ``trust`` is never read from the environment (a stray variable must not switch the
    trust check off), so the supervisor names this factory instead of setting one.
    """
    server_logging()
    log.info("worker %d starting (--trust)", os.getpid())
    return create_app(Settings(trust=True))
