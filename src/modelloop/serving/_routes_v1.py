"""The v1 API: predict by name / version / alias, model listing, health, metrics, admin.

Bodies of the predict routes are read and validated by hand (size cap, orjson, each
version's own row type) rather than by FastAPI, so that one route serves every model and
version; the OpenAPI document still shows each model's row schema (see ``_openapi``).

:class:`PredictLane` (installed by ``create_app``) sends ``POST /predict`` and
``POST /v1/models/{name}/predict`` straight to their endpoint functions, past the
framework's routing, dependency and exception layers, which cost more than a compiled
model's prediction; errors still become the answers the app's exception handlers give.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelloop.exceptions import InvalidInputError
from modelloop.serving._metrics import CONTENT_TYPE_LATEST
from modelloop.serving._registry import DEFAULT_ALIAS, ServedModel
from modelloop.serving._responses import JSONBytes
from modelloop.serving._schemas import parse_json, rows_of
from modelloop.serving._security import check_key, ignore_extra, read_body
from modelloop.serving._state import Prediction, ServerState, state_of

__all__ = ["PREDICT_BODY", "PredictLane", "router"]

router = APIRouter()

# The generic request body, shown in the docs of the generic routes (per-model bodies are
# added to the OpenAPI document by _openapi).
PREDICT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "instances": {
                            "type": "array",
                            "items": {"type": "object"},
                            "description": "Rows as records {column: value}.",
                        },
                        "dataframe_split": {
                            "type": "object",
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": {"type": "array", "items": {"type": "array"}},
                            },
                        },
                    },
                },
                "example": {"instances": [{"column": "value"}]},
            }
        },
    }
}


def _split_ref(name: str) -> tuple[str, str | None]:
    if "@" in name:
        base, alias = name.split("@", 1)
        return base, alias
    return name, None


def _answer(p: Prediction) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": p.model.name,
        "version": p.model.version,
        "predictions": p.predictions,
    }
    if p.probabilities is not None:
        body["probabilities"] = p.probabilities
    body["request_ids"] = p.request_ids
    return body


async def _serve(request: Request, served_of: Any) -> JSONBytes:
    state = state_of(request)
    check_key(request, state.settings, admin=False)
    body = await read_body(request, state.settings.serve_max_body_bytes)
    served: ServedModel = served_of()
    payload = parse_json(body)
    rows, where = rows_of(payload, served.parser, state.settings.serve_max_rows)
    p = await state.predict(served, rows, where, route="v1", ignore_extra=ignore_extra(request))
    return JSONBytes(_answer(p))


@router.post("/v1/models/{name}/predict", tags=["predict"], openapi_extra=PREDICT_BODY)
async def predict_model(name: str, request: Request) -> JSONBytes:
    """Predict with a model's default version (its 'production' alias, else the latest).
    ``NAME@ALIAS`` picks an alias."""
    base, alias = _split_ref(name)
    state = state_of(request)
    return await _serve(request, lambda: state.registry.get(base, alias=alias))


@router.post(
    "/v1/models/{name}/versions/{version}/predict", tags=["predict"], openapi_extra=PREDICT_BODY
)
async def predict_version(name: str, version: int, request: Request) -> JSONBytes:
    """Predict with one version of a model."""
    state = state_of(request)
    served = await asyncio.get_running_loop().run_in_executor(
        None, lambda: state.registry.get(name, version=version)
    )
    return await _serve(request, lambda: served)


@router.post(
    "/v1/models/{name}/aliases/{alias}/predict", tags=["predict"], openapi_extra=PREDICT_BODY
)
async def predict_alias(name: str, alias: str, request: Request) -> JSONBytes:
    """Predict with the version an alias points at."""
    state = state_of(request)
    return await _serve(request, lambda: state.registry.get(name, alias=alias))


@router.post(
    "/predict",
    tags=["predict"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "features": {
                                "type": ["array", "object"],
                                "description": "Values in the order of the model's input "
                                "columns (GET /v1/models), or one record; or send one record "
                                "instead.",
                            }
                        },
                    },
                    "example": {"features": [3, "male", 22.0]},
                }
            },
        }
    },
)
async def predict_tutorial(request: Request) -> JSONBytes:
    """The tutorial's route: ``{"features": [v1, v2, ...]}`` or one record, default model."""
    state = state_of(request)
    check_key(request, state.settings, admin=False)
    body = await read_body(request, state.settings.serve_max_body_bytes)
    served = state.registry.get(state.registry.default_name())
    payload = parse_json(body)
    if (
        isinstance(payload, dict)
        and set(payload) == {"features"}
        and isinstance(payload["features"], dict)
    ):  # {"features": {"Pclass": 3, ...}}: one record
        many, rows, where = False, [payload["features"]], "features"
    elif isinstance(payload, dict) and "features" in payload:
        features = payload["features"]
        if not isinstance(features, list) or not features:
            raise InvalidInputError(
                f"'features' must be a non-empty list of values in the order {served.features}, "
                "or one record (an object of column: value)."
            )
        many = all(isinstance(f, list) for f in features)
        rows, where = rows_of(
            {"instances": features if many else [features]},
            served.parser,
            state.settings.serve_max_rows,
        )
        where = "features"
    elif isinstance(payload, dict):
        many, rows, where = False, [payload], "body"
    else:
        raise InvalidInputError(
            'POST /predict takes {"features": [v1, v2, ...]} (values in the order '
            f"{served.features}) or one record. Got a JSON {type(payload).__name__}."
        )
    p = await state.predict(
        served, rows, where, route="tutorial", ignore_extra=ignore_extra(request)
    )
    if many:
        out: dict[str, Any] = {"prediction": p.predictions}
        if p.probabilities is not None:
            out["probabilities"] = p.probabilities
    else:
        out = {"prediction": p.predictions[0]}
        if p.probabilities is not None:
            out["probabilities"] = p.probabilities[0]
    out.update(model=served.name, version=served.version, request_ids=p.request_ids)
    return JSONBytes(out)


@router.get("/health", tags=["health"])
async def health(request: Request) -> dict[str, Any]:
    """Liveness and readiness in one: ``status`` is 'ok' once models are loaded, 'degraded'
    when a model (or an aliased version) cannot be loaded: ``problems`` says which and why,
    and the other models are served."""
    state = state_of(request)
    registry = state.registry
    problems = [p.to_dict() for p in registry.problems()]
    status = "loading" if not registry.ready else ("degraded" if problems else "ok")
    return {"status": status, "models": registry.names(), "problems": problems}


@router.get("/v1/models", tags=["models"])
async def list_models(request: Request) -> dict[str, Any]:
    """Every served model: versions, aliases, default version, input schema, metrics."""
    registry = state_of(request).registry
    loop = asyncio.get_running_loop()
    models = await loop.run_in_executor(
        None, lambda: [registry.describe(n) for n in registry.names()]
    )
    return {"models": models}


@router.get("/v1/models/{name}", tags=["models"])
async def show_model(name: str, request: Request) -> dict[str, Any]:
    """One served model: versions, aliases, default version, input schema, metrics."""
    registry = state_of(request).registry
    return await asyncio.get_running_loop().run_in_executor(None, registry.describe, name)


@router.get("/metrics", tags=["health"])
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this worker process."""
    return Response(state_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


# -- admin ----------------------------------------------------------------------------


async def _json_object(request: Request, state: ServerState) -> dict[str, Any]:
    body = await read_body(request, state.settings.serve_max_body_bytes)
    if not body.strip():
        return {}
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InvalidInputError(
            f"The request body must be a JSON object. Got {type(payload).__name__}."
        )
    return payload


def _version_field(payload: dict[str, Any]) -> int:
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInputError(
            f"Field 'version' must be an integer version number. Got {version!r}."
        )
    return version


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


@router.post("/v1/models/{name}/aliases/{alias}", tags=["admin"])
async def set_alias(name: str, alias: str, request: Request) -> dict[str, Any]:
    """Point ``name@alias`` at ``{"version": N}`` (promote); servers switch without dropping
    requests. Needs the API key."""
    state = state_of(request)
    check_key(request, state.settings, admin=True)
    version = _version_field(await _json_object(request, state))
    store = _store_of(state)
    await _in_thread(store.set_alias, name, alias, version)
    changes = await _in_thread(state.registry.refresh)
    return {"model": name, "alias": alias, "version": version, "changes": changes}


@router.post("/v1/models/{name}/rollback", tags=["admin"])
async def rollback(name: str, request: Request) -> dict[str, Any]:
    """Move ``{"alias": "production"}`` (the default) back to the version it pointed at
    before. Needs the API key."""
    state = state_of(request)
    check_key(request, state.settings, admin=True)
    payload = await _json_object(request, state)
    alias = payload.get("alias", DEFAULT_ALIAS)
    if not isinstance(alias, str):
        raise InvalidInputError(f"Field 'alias' must be a string. Got {alias!r}.")
    store = _store_of(state)
    registry = state.registry
    await _in_thread(registry.refresh)
    current = registry.alias_version(name, alias)  # may be a version that cannot be loaded
    target = registry.previous_version(name, alias)
    await _in_thread(store.set_alias, name, alias, target)
    registry.forget_last(name, alias)
    changes = await _in_thread(registry.refresh)
    return {
        "model": name,
        "alias": alias,
        "from_version": current,
        "version": target,
        "changes": changes,
    }


@router.post("/v1/admin/reload", tags=["admin"])
async def reload(request: Request) -> dict[str, Any]:
    """Re-read models and aliases from the store now, trying versions that could not be
    loaded again. Needs the API key."""
    state = state_of(request)
    check_key(request, state.settings, admin=True)
    registry = state.registry
    changes = await _in_thread(lambda: registry.refresh(force=True))
    problems = [p.to_dict() for p in registry.problems()]
    return {"models": registry.names(), "changes": changes, "problems": problems}


def _store_of(state: ServerState) -> Any:
    store = state.registry.store
    if store is None:
        from modelloop.exceptions import ConfigurationError

        raise ConfigurationError(
            "This server serves a model file without a store; aliases cannot be changed."
        )
    return store


# -- the fast lane ----------------------------------------------------------------------

_V1_PREFIX, _V1_SUFFIX, _DECIDE_SUFFIX = "/v1/models/", "/predict", "/decide"


class PredictLane:
    """ASGI middleware: the busiest predict routes, without the layers in between.

    ``POST /predict``, ``POST /v1/models/{name}/predict`` and ``POST
    /v1/models/{name}/decide`` go straight to :func:`predict_tutorial` /
    :func:`predict_model` / ``_routes_decide.decide``; everything else goes on to ``app``.
    An exception becomes the answer of the handler the app registered for its class, as
    FastAPI's exception middleware would give it. With ``catch_all`` (the lane stands in
    front of the server-error middleware) any other exception gets the app's 500 answer and
    is raised again for the server to log, as that middleware does; without it, it
    propagates to that middleware.

    Examples
    --------
    >>> app.add_middleware(PredictLane)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, *, catch_all: bool = False) -> None:
        self.app = app
        self.catch_all = catch_all

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        name = None
        decide = path.startswith(_V1_PREFIX) and path.endswith(_DECIDE_SUFFIX)
        if path != "/predict":
            suffix = _DECIDE_SUFFIX if decide else _V1_SUFFIX
            if not (path.startswith(_V1_PREFIX) and path.endswith(suffix)):
                await self.app(scope, receive, send)
                return
            name = path[len(_V1_PREFIX) : -len(suffix)]
            if not name or "/" in name:
                await self.app(scope, receive, send)
                return
        request = Request(scope, receive)
        try:
            if name is None:
                response: Response = await predict_tutorial(request)
            elif decide:
                from modelloop.serving._routes_decide import decide as decide_route

                response = await decide_route(name, request)
            else:
                response = await predict_model(name, request)
        except Exception as exc:
            handlers = scope["app"].exception_handlers
            handler = _handler_for(handlers, exc)
            unexpected = handler is None
            if unexpected and self.catch_all:
                handler = handlers.get(500) or handlers.get(Exception)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
            if unexpected:
                await response(scope, receive, send)
                raise
            exc.__traceback__ = None  # the same error instance may be raised again
        await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for ``exc`` (not the catch-all one, which answers 500s)."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    return None
