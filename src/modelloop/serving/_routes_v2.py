"""The Open Inference Protocol (KServe V2) routes.

``POST /v2/models/{name}/infer`` takes either one input per feature column
(``{"name": "age", "shape": [n], "datatype": "FP64", "data": [...]}``) or one 2-D input of
shape ``[n, n_features]`` in the order of the model's columns, and answers a ``predict``
output (and ``predict_proba`` of shape ``[n, n_classes]`` for classifiers). Models without
a target answer ``cluster`` (INT64, -1 for noise), ``components`` (FP64 ``[n, k]``, with
the column names ``pc1``..``pcK`` in its parameters) or ``anomaly_score`` (FP64) and
``is_anomaly`` (BOOL).

With the request parameter ``"explain": true`` (and optionally ``"explain_output"``:
``probability``, ``log-odds`` or ``value``, and ``"explain_class"``) the answer also has
``base_value`` (FP64 ``[n]``), ``output_value`` (FP64 ``[n]``, base plus contributions),
``contributions`` (FP64 ``[n, n_features]``, the input columns in its parameters' ``columns``,
with the ``output`` explained and the ``method``) and, for classifiers, ``explained_class``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request

from modelloop.data import Role
from modelloop.exceptions import InvalidInputError, PayloadTooLargeError
from modelloop.serving._registry import ServedModel
from modelloop.serving._responses import JSONBytes
from modelloop.serving._schemas import parse_json
from modelloop.serving._security import check_key, ignore_extra, read_body
from modelloop.serving._state import state_of

__all__ = ["router"]

router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"])


def _datatype(role: Role) -> str:
    return "FP64" if role in (Role.NUMERIC, Role.BOOLEAN) else "BYTES"


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list) and data and all(isinstance(d, list) for d in data):
        return [x for row in data for x in row]
    if not isinstance(data, list):
        raise InvalidInputError("Each input's 'data' must be a list.")
    return data


# the tensor data types of the Open Inference Protocol
DATATYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BYTES")  # fmt: skip


def _check_tensor(t: Any, i: int) -> None:
    """An input tensor as the protocol defines it: name, shape, datatype and data."""
    if not isinstance(t, dict):
        raise InvalidInputError(
            f"inputs[{i}] must be an object with 'name', 'shape', 'datatype' and 'data'."
        )
    lacking = [k for k in ("name", "shape", "datatype", "data") if k not in t]
    if lacking:
        raise InvalidInputError(
            f"inputs[{i}] lacks {', '.join(repr(k) for k in lacking)}: an input tensor has "
            "'name', 'shape', 'datatype' and 'data'."
        )
    if not isinstance(t["name"], str):
        raise InvalidInputError(f"inputs[{i}].name must be a string. Got {t['name']!r:.40}.")
    if t["datatype"] not in DATATYPES:
        raise InvalidInputError(
            f"inputs[{i}].datatype must be one of {', '.join(DATATYPES)}. "
            f"Got {t['datatype']!r:.40}."
        )
    shape = t["shape"]
    if not (
        isinstance(shape, list)
        and shape
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InvalidInputError(
            f"inputs[{i}].shape must be a list of sizes (whole numbers >= 0). Got {shape!r:.40}."
        )


def _rows(
    payload: Any, served: ServedModel, max_rows: int, ignore: bool = False
) -> list[dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InvalidInputError(
            'A V2 inference request is {"inputs": [{"name", "shape", "datatype", "data"}, ...]}.'
        )
    inputs = payload["inputs"]
    if not inputs:
        raise InvalidInputError("'inputs' is empty. Send at least one input tensor.")
    for i, t in enumerate(inputs):
        _check_tensor(t, i)
    features = served.features
    if (
        len(inputs) == 1
        and isinstance(inputs[0].get("shape"), list)
        and len(inputs[0]["shape"]) == 2
    ):
        t = inputs[0]
        n, k = t["shape"]
        if k != len(features):
            raise InvalidInputError(
                f"inputs[0] has shape {t['shape']}; model '{served.name}' takes "
                f"[n, {len(features)}] with columns in the order {features}."
            )
        flat = _flatten(t["data"])
        if not isinstance(n, int) or len(flat) != n * k:
            raise InvalidInputError(
                f"inputs[0] declares shape {t['shape']} but holds {len(flat)} values."
            )
        rows = [dict(zip(features, flat[r * k : (r + 1) * k], strict=True)) for r in range(n)]
    else:
        columns = {t["name"]: _flatten(t["data"]) for t in inputs}
        unknown = [name for name in columns if name not in served.parser.known]
        if unknown and not ignore:
            raise InvalidInputError(
                f"The request has input(s) {', '.join(repr(x) for x in unknown[:10])} that "
                f"model '{served.name}' does not know. Drop them, or add ?ignore_extra=true "
                "to the URL to ignore them."
            )
        lacking = [f for f in features if f not in columns]
        if lacking:
            raise InvalidInputError(
                f"The request lacks input(s) {', '.join(repr(x) for x in lacking[:10])} that "
                f"model '{served.name}' needs (one input per column: {features})."
            )
        lengths = {len(columns[f]) for f in features}
        if len(lengths) != 1:
            raise InvalidInputError("All inputs must hold the same number of values (rows).")
        n = lengths.pop()
        rows = [{f: columns[f][r] for f in features} for r in range(n)]
    if not rows:
        raise InvalidInputError("The inputs hold no rows.")
    if len(rows) > max_rows:
        raise PayloadTooLargeError(
            f"The request has {len(rows)} rows; this server takes at most {max_rows}."
        )
    return rows


def _explain_options(payload: dict[str, Any]) -> tuple[bool, str | None, Any]:
    params = payload.get("parameters")
    if params is None:
        return False, None, None
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object.")
    explain = params.get("explain", False)
    if not isinstance(explain, bool):
        raise InvalidInputError(f"Parameter 'explain' must be true or false. Got {explain!r}.")
    output = params.get("explain_output")
    if output is not None and not isinstance(output, str):
        raise InvalidInputError(f"Parameter 'explain_output' must be a string. Got {output!r}.")
    if not explain and (output is not None or params.get("explain_class") is not None):
        raise InvalidInputError("'explain_output' and 'explain_class' need \"explain\": true.")
    return explain, output, params.get("explain_class")


def _explanation_outputs(e: Any, n: int) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    if e.explained_class is not None:
        classes = [c.item() if hasattr(c, "item") else c for c in e.explained_class.tolist()]
        is_number = all(isinstance(c, int | float) for c in classes)
        outputs.append(
            {
                "name": "explained_class",
                "shape": [n],
                "datatype": "FP64" if is_number else "BYTES",
                "data": classes,
            }
        )
    outputs += [
        {
            "name": "output_value",
            "shape": [n],
            "datatype": "FP64",
            "data": e.output_values.tolist(),
        },
        {"name": "base_value", "shape": [n], "datatype": "FP64", "data": e.base.tolist()},
        {
            "name": "contributions",
            "shape": [n, len(e.columns)],
            "datatype": "FP64",
            "data": e.values.ravel().tolist(),
            "parameters": {
                "columns": list(e.columns),
                "output": e.output,
                "method": e.method,
                "detail": e.detail,
                "exact": e.exact,
            },
        },
    ]
    return outputs


_INFER_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "data"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "shape": {"type": "array", "items": {"type": "integer"}},
                                    "datatype": {"type": "string"},
                                    "data": {"type": "array"},
                                },
                            },
                        },
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "explain": {
                                    "type": "boolean",
                                    "description": "Also answer each input column's "
                                    "contribution per row (outputs base_value, output_value, "
                                    "contributions, explained_class).",
                                },
                                "explain_output": {
                                    "type": "string",
                                    "enum": ["probability", "log-odds", "value"],
                                },
                                "explain_class": {"description": "The class explained."},
                            },
                        },
                    },
                },
            }
        },
    },
    "responses": {
        "200": {
            "description": "Outputs: predict (and predict_proba); with explain, also "
            "base_value [n], output_value [n], contributions [n, n_features] (parameters: "
            "columns, output, method, detail, exact) and explained_class [n] for classifiers.",
        }
    },
}


@router.post("/models/{name}/infer", openapi_extra=_INFER_DOC)
async def infer(name: str, request: Request) -> JSONBytes:
    """Predict (Open Inference Protocol); with the parameter ``explain``, also explain."""
    state = state_of(request)
    check_key(request, state.settings, admin=False)
    body = await read_body(request, state.settings.serve_max_body_bytes)
    served = state.registry.get(name)
    payload = parse_json(body)
    ignore = ignore_extra(request)
    rows = _rows(payload, served, state.settings.serve_max_rows, ignore)
    if served.policy is not None:  # a decision policy: one logged decision per row
        return await _decide(state, served, payload, rows)
    explain, explain_output, explain_class = _explain_options(payload)
    explanation = None
    if explain:
        from modelloop.serving._routes_explain import explain_rows

        p, explanation = await explain_rows(  # unknown inputs were checked by _rows
            state, served, rows, "inputs", "v2", explain_output, explain_class, ignore_extra=True
        )
    else:
        p = await state.predict(served, rows, "inputs", route="v2", ignore_extra=True)
    n = len(rows)
    is_number = all(isinstance(v, int | float) for v in p.predictions)
    outputs: list[dict[str, Any]] = _unsupervised_outputs(served.task, p.predictions, n) or [
        {
            "name": "predict",
            "shape": [n],
            "datatype": "FP64" if is_number else "BYTES",
            "data": p.predictions,
        }
    ]
    if p.probabilities is not None:
        classes = list(p.probabilities[0])
        outputs.append(
            {
                "name": "predict_proba",
                "shape": [n, len(classes)],
                "datatype": "FP64",
                "data": [row[c] for row in p.probabilities for c in classes],
                "parameters": {"classes": classes},
            }
        )
    if explanation is not None:
        outputs += _explanation_outputs(explanation, n)
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else uuid.uuid4().hex
    return JSONBytes(
        {
            "model_name": served.name,
            "model_version": str(served.version),
            "id": request_id,
            "outputs": outputs,
            "parameters": {"request_ids": p.request_ids},
        }
    )


async def _decide(state: Any, served: Any, payload: dict[str, Any], rows: list[Any]) -> JSONBytes:
    """Decisions for the rows of an inference request: outputs ``action``, ``propensity`` and
    ``event_id`` (send rewards to ``POST /v1/models/NAME/reward``); ``parameters.actions``
    names the candidates of every row."""
    given = payload.get("parameters")
    params = given if isinstance(given, dict) else {}
    actions = params.get("actions")
    answers = await asyncio.gather(
        *(state.decide(served, row, actions, route="v2") for row in rows)
    )
    chosen = [a for _, a, _ in answers]
    numeric = all(isinstance(a, int) and not isinstance(a, bool) for a in chosen)
    n = len(rows)
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else uuid.uuid4().hex
    return JSONBytes(
        {
            "model_name": served.name,
            "model_version": str(served.version),
            "id": request_id,
            "outputs": [
                {
                    "name": "action",
                    "shape": [n],
                    "datatype": "INT64" if numeric else "BYTES",
                    "data": chosen,
                },
                {
                    "name": "propensity",
                    "shape": [n],
                    "datatype": "FP64",
                    "data": [p for _, _, p in answers],
                },
                {
                    "name": "event_id",
                    "shape": [n],
                    "datatype": "BYTES",
                    "data": [e for e, _, _ in answers],
                },
            ],
        }
    )


def _unsupervised_outputs(task: str, predictions: list[Any], n: int) -> list[dict[str, Any]]:
    """The V2 outputs of a clustering, reduce or anomaly model ([] for the others)."""
    if task == "clustering":
        return [{"name": "cluster", "shape": [n], "datatype": "INT64", "data": predictions}]
    if task == "reduce":
        k = len(predictions[0]) if predictions else 0
        return [
            {
                "name": "components",
                "shape": [n, k],
                "datatype": "FP64",
                "data": [v for row in predictions for v in row],
                "parameters": {"columns": [f"pc{i + 1}" for i in range(k)]},
            }
        ]
    if task == "anomaly":
        return [
            {
                "name": "anomaly_score",
                "shape": [n],
                "datatype": "FP64",
                "data": [row["anomaly_score"] for row in predictions],
            },
            {
                "name": "is_anomaly",
                "shape": [n],
                "datatype": "BOOL",
                "data": [row["is_anomaly"] for row in predictions],
            },
        ]
    return []


_METADATA_OUTPUTS = {
    "clustering": [{"name": "cluster", "datatype": "INT64", "shape": [-1]}],
    "reduce": [{"name": "components", "datatype": "FP64", "shape": [-1, -1]}],
    "anomaly": [
        {"name": "anomaly_score", "datatype": "FP64", "shape": [-1]},
        {"name": "is_anomaly", "datatype": "BOOL", "shape": [-1]},
    ],
}


@router.get("/health/live")
async def live() -> dict[str, bool]:
    """The process is up."""
    return {"live": True}


@router.get("/health/ready")
async def ready(request: Request) -> JSONBytes:
    """Every model is loaded: 200 ``{"ready": true}``; else 503 ``{"ready": false}`` with the
    models that cannot be loaded (the others are served meanwhile)."""
    registry = state_of(request).registry
    problems = [p.to_dict() for p in registry.problems()]
    ready = registry.ready and not problems
    body: dict[str, Any] = {"ready": ready}
    if problems:
        body["problems"] = problems
    return JSONBytes(body, status_code=200 if ready else 503)


@router.get("/models/{name}")
async def metadata(name: str, request: Request) -> dict[str, Any]:
    """Model metadata: versions, platform, inputs and outputs."""
    registry = state_of(request).registry
    served = registry.get(name)
    outputs = [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
    if served.policy is not None:
        outputs = [
            {"name": "action", "datatype": "BYTES", "shape": [-1]},
            {"name": "propensity", "datatype": "FP64", "shape": [-1]},
            {"name": "event_id", "datatype": "BYTES", "shape": [-1]},
        ]
    elif served.task in _METADATA_OUTPUTS:
        outputs = list(_METADATA_OUTPUTS[served.task])
    elif served.task != "regression":
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, -1]})
    return {
        "name": served.name,
        "versions": [str(served.version)],
        "platform": "modelloop-sklearn",
        "inputs": [
            {"name": c.name, "datatype": _datatype(c.role), "shape": [-1]}
            for c in served.schema.columns
        ],
        "outputs": outputs,
    }


@router.get("/models/{name}/ready")
async def model_ready(name: str, request: Request) -> dict[str, Any]:
    """Whether a model is loaded and ready."""
    served = state_of(request).registry.get(name)
    return {"name": served.name, "ready": True}
