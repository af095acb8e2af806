"""The cloud platforms' serving contracts, as thin routers over the same prediction path.

Each is switched on the way its platform does it (``Settings.serving_contracts``): Vertex AI
by ``AIP_HTTP_PORT`` / ``AIP_PREDICT_ROUTE``, Azure ML by ``AZUREML_MODEL_DIR``, SageMaker by
``SAGEMAKER_BIND_TO_PORT`` or by the exported image itself (SageMaker runs a single
container as ``docker run IMAGE serve`` on port 8080 and sets no variable of its own). They
all predict with the server's default model (``POST /predict``'s) through
``ServerState.predict``: validated, micro-batched, logged, counted like every other route.

- SageMaker: ``GET /ping``; ``POST /invocations`` with ``text/csv`` (one row per line, values
  in the order of the model's input columns; a header line naming them is allowed) or JSON
  (``{"instances": [...]}``, a list of records or of value lists, ``dataframe_split``);
  answers JSON ``{"predictions": [...]}`` (and ``probabilities``), or CSV when ``Accept:
  text/csv``.
- Vertex AI: ``GET $AIP_HEALTH_ROUTE``; ``POST $AIP_PREDICT_ROUTE`` with
  ``{"instances": [...], "parameters": {...}}``; answers ``{"predictions": [...]}``: values
  for a regressor, ``{"label", "classes", "scores"}`` objects for a classifier.
- Azure ML: ``GET /`` (liveness), ``POST /score`` with ``{"data": [...]}``,
  ``{"input_data": {"columns", "index", "data"}}`` or ``{"instances": [...]}``; answers the
  JSON list of predictions (as Azure's MLflow deployments do).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request, Response

from modelloop.config import Settings
from modelloop.exceptions import InvalidInputError
from modelloop.serving._responses import JSONBytes
from modelloop.serving._schemas import parse_json, rows_of
from modelloop.serving._security import check_key, ignore_extra, read_body
from modelloop.serving._state import Prediction, state_of

__all__ = ["cloud_router"]

DEFAULT_VERTEX_HEALTH = "/health"
DEFAULT_VERTEX_PREDICT = "/predict"


def _default(request: Request) -> Any:
    state = state_of(request)
    return state, state.registry.get(state.registry.default_name())


async def _predict(request: Request, payload: Any, route: str) -> Prediction:
    state, served = _default(request)
    if isinstance(payload, list):
        payload = {"instances": payload}
    rows, where = rows_of(payload, served.parser, state.settings.serve_max_rows)
    return await state.predict(served, rows, where, route=route, ignore_extra=ignore_extra(request))


def _ready(request: Request) -> Response:
    ready = state_of(request).registry.ready
    return JSONBytes({"status": "ok" if ready else "loading"}, status_code=200 if ready else 503)


# -- SageMaker -----------------------------------------------------------------------------


def _csv_rows(body: bytes, features: list[str]) -> list[list[Any]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("The CSV body is not UTF-8 text.") from None
    lines = [row for row in csv.reader(io.StringIO(text)) if row]
    if lines and [c.strip() for c in lines[0]] == features:
        lines = lines[1:]  # a header naming the model's columns
    if not lines:
        raise InvalidInputError("The CSV body has no rows. Send one row per line.")
    return [[None if v.strip() == "" else v for v in row] for row in lines]


def _sagemaker(router: APIRouter) -> None:
    @router.get("/ping", tags=["cloud"], include_in_schema=False)
    async def ping(request: Request) -> Response:
        """SageMaker's health check: 200 once the model is loaded."""
        return _ready(request)

    @router.post("/invocations", tags=["cloud"])
    async def invocations(request: Request) -> Response:
        """SageMaker's inference route: CSV or JSON rows of the default model."""
        state, served = _default(request)
        check_key(request, state.settings, admin=False)
        body = await read_body(request, state.settings.serve_max_body_bytes, csv=True)
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if kind == "text/csv":
            payload: Any = {"instances": _csv_rows(body, served.features)}
        else:
            payload = parse_json(body)
        p = await _predict(request, payload, "sagemaker")
        accept = request.headers.get("accept", "")
        if "text/csv" in accept and "json" not in accept:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            for value in p.predictions:
                writer.writerow([value])
            return Response(out.getvalue(), media_type="text/csv")
        answer: dict[str, Any] = {"predictions": p.predictions}
        if p.probabilities is not None:
            answer["probabilities"] = p.probabilities
        return JSONBytes(answer)


# -- Vertex AI -----------------------------------------------------------------------------


def _vertex(router: APIRouter, settings: Settings) -> None:
    health = settings.aip_health_route or DEFAULT_VERTEX_HEALTH
    predict = settings.aip_predict_route or DEFAULT_VERTEX_PREDICT

    @router.get(health, tags=["cloud"], include_in_schema=False)
    async def vertex_health(request: Request) -> Response:
        """Vertex AI's health check (``AIP_HEALTH_ROUTE``): 200 once the model is loaded."""
        return _ready(request)

    @router.post(predict, tags=["cloud"])
    async def vertex_predict(request: Request) -> JSONBytes:
        """Vertex AI's prediction route (``AIP_PREDICT_ROUTE``)."""
        state = state_of(request)
        check_key(request, state.settings, admin=False)
        payload = parse_json(await read_body(request, state.settings.serve_max_body_bytes))
        if not isinstance(payload, dict) or "instances" not in payload:
            raise InvalidInputError(
                'Vertex AI requests are {"instances": [...], "parameters": {...}}. Got '
                + (f"keys {', '.join(map(str, payload))}." if isinstance(payload, dict)
                   else f"a JSON {type(payload).__name__}.")
            )  # fmt: skip
        p = await _predict(request, {"instances": payload["instances"]}, "vertex")
        if p.probabilities is None:
            return JSONBytes({"predictions": p.predictions})
        return JSONBytes(
            {
                "predictions": [
                    {"label": label, "classes": list(proba), "scores": list(proba.values())}
                    for label, proba in zip(p.predictions, p.probabilities, strict=True)
                ]
            }
        )


# -- Azure ML ------------------------------------------------------------------------------


def _azure(router: APIRouter) -> None:
    @router.get("/", tags=["cloud"], include_in_schema=False)
    async def liveness(request: Request) -> Response:
        """Azure ML's liveness (and readiness) route."""
        return _ready(request)

    @router.post("/score", tags=["cloud"])
    async def score(request: Request) -> JSONBytes:
        """Azure ML's scoring route: the list of predictions."""
        state = state_of(request)
        check_key(request, state.settings, admin=False)
        payload = parse_json(await read_body(request, state.settings.serve_max_body_bytes))
        if isinstance(payload, dict) and "input_data" in payload:
            data = payload["input_data"]
            payload = {"dataframe_split": data} if isinstance(data, dict) else {"instances": data}
        elif isinstance(payload, dict) and "data" in payload:
            payload = {"instances": payload["data"]}
        p = await _predict(request, payload, "azure")
        return JSONBytes(p.predictions)


def cloud_router(settings: Settings) -> APIRouter | None:
    """The routes of the contracts switched on in ``settings`` (None when none is)."""
    contracts = settings.serving_contracts()
    if not contracts:
        return None
    router = APIRouter()
    if "sagemaker" in contracts:
        _sagemaker(router)
    if "vertex" in contracts:
        _vertex(router, settings)
    if "azure" in contracts:
        _azure(router)
    return router
