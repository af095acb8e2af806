"""Explanations over HTTP: ``POST /v1/models/{name}/explain`` and the v2 ``explain`` parameter.

The explain routes take the predict routes' body; the rows are validated, predicted and
logged exactly as a prediction, then explained (see :mod:`modelloop.explain`) on a thread
of their own, so that a slow explanation never holds up the predict routes' thread. What
is explained is chosen with the query parameters ``output`` (``probability``, ``log-odds``
or ``value``) and ``class``; ``top`` keeps the largest contributions of each row.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request

from modelloop.serving._registry import ServedModel
from modelloop.serving._responses import JSONBytes
from modelloop.serving._schemas import parse_json, rows_of
from modelloop.serving._security import check_key, ignore_extra, read_body
from modelloop.serving._state import Prediction, ServerState, state_of

__all__ = ["EXPLAIN_RESPONSES", "explain_rows", "explanation_executor", "router"]

router = APIRouter()

_EXPLANATION = {
    "type": "object",
    "properties": {
        "explained_class": {"description": "The class whose output is explained (classifiers)."},
        "output_value": {
            "type": "number",
            "description": "The explained output: base_value + the sum of contributions.",
        },
        "base_value": {
            "type": "number",
            "description": "The output the contributions start from (the model's average).",
        },
        "contributions": {
            "type": "object",
            "additionalProperties": {"type": "number"},
            "description": "Each input column's contribution, largest magnitude first.",
        },
    },
}
EXPLAIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Predictions and, per row, each input column's contribution.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "model": {"type": "string"},
                        "version": {"type": "integer"},
                        "predictions": {"type": "array", "items": {}},
                        "probabilities": {
                            "type": "array",
                            "items": {"type": "object"},
                            "description": "Classifiers: {class: probability} per row.",
                        },
                        "output": {
                            "type": "string",
                            "enum": ["probability", "log-odds", "value"],
                            "description": "What the contributions explain.",
                        },
                        "method": {
                            "type": "string",
                            "enum": ["tree_shap", "linear", "permutation", "mixed"],
                        },
                        "detail": {
                            "type": "string",
                            "description": "How each model (each member of a blend) was explained.",
                        },
                        "exact": {
                            "type": "boolean",
                            "description": "Exact Shapley values of the output (nothing "
                            "sampled, no link carried by the rescale rule).",
                        },
                        "explanations": {"type": "array", "items": _EXPLANATION},
                        "request_ids": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "example": {
                    "model": "titanic",
                    "version": 3,
                    "predictions": [0],
                    "probabilities": [{"0": 0.87, "1": 0.13}],
                    "output": "probability",
                    "method": "tree_shap",
                    "detail": "LGBMClassifier: TreeSHAP (LightGBM pred_contrib), log-odds to "
                    "probability by the rescale rule",
                    "exact": False,
                    "explanations": [
                        {
                            "explained_class": 1,
                            "output_value": 0.13,
                            "base_value": 0.38,
                            "contributions": {"Sex": -0.19, "Pclass": -0.07, "Age": 0.01},
                        }
                    ],
                    "request_ids": ["5f0c..."],
                },
            }
        },
    },
    400: {"description": "The model cannot be explained as asked (the message says what can)."},
}

Output = Annotated[
    str | None,
    Query(description="What to explain: 'probability' (classifiers' default), 'log-odds' "
          "(binary) or 'value' (regression)."),
]  # fmt: skip
TargetClass = Annotated[
    str | None,
    Query(alias="class", description="The class explained (default: the second class of a "
          "binary model, each row's predicted class of a multiclass one)."),
]  # fmt: skip
Top = Annotated[
    int | None, Query(ge=1, description="Keep this many largest contributions per row.")
]


def explanation_executor(state: ServerState) -> ThreadPoolExecutor:
    """The thread explanations run on (one per server process, apart from predictions)."""
    executor = state.extras.get("explain_executor")
    if executor is None:
        executor = state.extras.setdefault(
            "explain_executor",
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelloop-explain"),
        )
    return executor


async def explain_rows(
    state: ServerState,
    served: ServedModel,
    rows: list[Any],
    where: str,
    route: str,
    output: str | None,
    target_class: Any,
    *,
    ignore_extra: bool = False,
) -> tuple[Prediction, Any]:
    """Check that ``served`` can be explained as asked, predict (and log) the rows as a
    prediction would, then explain them: ``(prediction, explanation)``. A column the model
    does not know is refused unless ``ignore_extra``, as on the predict routes."""
    loop = asyncio.get_running_loop()
    executor = explanation_executor(state)
    explainer = served.explainer()
    explainer.check(output, target_class)
    await loop.run_in_executor(executor, explainer.prepare)  # fails before anything is logged
    prediction = await state.predict(served, rows, where, route=route, ignore_extra=ignore_extra)
    valid = served.parser.validate(rows, where)
    frame = pd.DataFrame.from_records(valid, columns=served.features)
    explain = partial(
        explainer.explain, frame, output=output, target_class=target_class,
        encoded=_encoded(served, valid),
    )  # fmt: skip
    explanation = await loop.run_in_executor(executor, explain)
    return prediction, explanation


def _encoded(served: ServedModel, rows: list[dict[str, Any]]) -> Any:
    """The fast path's encoded matrix of each member pipeline for ``rows`` (the numbers the
    pipeline's own preprocessing would give, without pandas), or ``None``."""
    from modelloop.serving._fastpath import CompiledModel

    compiled = served.estimator
    if not isinstance(compiled, CompiledModel):
        return None
    index = {id(p): i for i, p in enumerate(_members(served.pipeline))}
    cache: dict[int, Any] = {}

    def encoded(pipeline: Any) -> Any:
        i = index.get(id(pipeline))
        if i is None:
            return None
        if i not in cache:
            cache[i] = compiled.matrix(rows, i)
        return cache[i]

    return encoded


def _members(model: Any) -> list[Any]:
    """The pipelines of a model in the order the fast path compiles them."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import FoldBag, thresholded

    if isinstance(model, FixedThresholdClassifier):
        model = thresholded(model)
    if isinstance(model, FoldBag):
        return list(model.estimators_)
    if isinstance(model, VotingClassifier | VotingRegressor):
        return list(model.estimators_)
    return [model]


def answer(p: Prediction, explanation: Any, top: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": p.model.name,
        "version": p.model.version,
        "predictions": p.predictions,
    }
    if p.probabilities is not None:
        body["probabilities"] = p.probabilities
    body.update(
        output=explanation.output,
        method=explanation.method,
        detail=explanation.detail,
        exact=explanation.exact,
        explanations=explanation.records(top),
        request_ids=p.request_ids,
    )
    return body


async def _explain(
    request: Request, served_of: Any, output: str | None, target_class: Any, top: int | None
) -> JSONBytes:
    state = state_of(request)
    check_key(request, state.settings, admin=False)
    body = await read_body(request, state.settings.serve_max_body_bytes)
    served: ServedModel = served_of()
    rows, where = rows_of(parse_json(body), served.parser, state.settings.serve_max_rows)
    p, explanation = await explain_rows(
        state, served, rows, where, "explain", output, target_class,
        ignore_extra=ignore_extra(request),
    )  # fmt: skip
    return JSONBytes(answer(p, explanation, top))


def _body() -> dict[str, Any]:
    from modelloop.serving._routes_v1 import PREDICT_BODY

    return PREDICT_BODY


@router.post(
    "/v1/models/{name}/explain",
    tags=["explain"],
    openapi_extra=_body(),
    responses=EXPLAIN_RESPONSES,
)
async def explain_model(
    name: str,
    request: Request,
    output: Output = None,
    target_class: TargetClass = None,
    top: Top = None,
) -> JSONBytes:
    """Predict with a model's default version and explain each row: a base value and each
    input column's contribution, adding up to the explained output. ``NAME@ALIAS`` picks an
    alias. The body is the predict route's."""
    base, alias = name.split("@", 1) if "@" in name else (name, None)
    state = state_of(request)
    return await _explain(
        request, lambda: state.registry.get(base, alias=alias), output, target_class, top
    )


@router.post(
    "/v1/models/{name}/versions/{version}/explain",
    tags=["explain"],
    openapi_extra=_body(),
    responses=EXPLAIN_RESPONSES,
)
async def explain_version(
    name: str,
    version: int,
    request: Request,
    output: Output = None,
    target_class: TargetClass = None,
    top: Top = None,
) -> JSONBytes:
    """Predict with one version of a model and explain each row."""
    state = state_of(request)
    served = await asyncio.get_running_loop().run_in_executor(
        None, lambda: state.registry.get(name, version=version)
    )
    return await _explain(request, lambda: served, output, target_class, top)
