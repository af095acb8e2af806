"""``POST /v1/models/{name}/feedback``: delayed labels for predictions the server made.

The body is ``{"feedback": [{"request_id": "...", "label": ...}, ...]}``; a model trained
with ``--id-column COL`` also takes ``{"key": value, "label": ...}`` (or ``{COL: value}``).
Each item is judged on its own (see ``Store.record_feedback``): the answer says how many
predictions got a label, which ids are unknown, and why any item was rejected. A request id
the prediction log has not written yet (it writes in the background, within a second) is
looked up once more after a short wait before it is reported unknown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from modelloop.exceptions import ConfigurationError, InvalidInputError, PayloadTooLargeError
from modelloop.serving._responses import JSONBytes
from modelloop.serving._schemas import parse_json
from modelloop.serving._security import check_key, read_body
from modelloop.serving._state import ServerState, state_of
from modelloop.store import FeedbackResult, key_text

__all__ = ["router"]

router = APIRouter()

_LOG_WAIT_S = 1.2  # a little over the prediction log's write interval

FEEDBACK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["feedback"],
                    "properties": {
                        "feedback": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "request_id": {"type": "string"},
                                    "key": {"description": "value of the model's key column"},
                                    "label": {"description": "the true class or value"},
                                },
                                "required": ["label"],
                            },
                        }
                    },
                },
                "example": {"feedback": [{"request_id": "3f2a9c...", "label": 1}]},
            }
        },
    }
}


def _items(payload: Any, max_rows: int) -> list[Any]:
    items = payload.get("feedback") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        got = (
            f"keys: {', '.join(map(str, payload)) or 'none'}"
            if isinstance(payload, dict)
            else f"a JSON {type(payload).__name__}"
        )
        raise InvalidInputError(
            'The body must be {"feedback": [{"request_id": "...", "label": ...}, ...]}. '
            f"Got {got}."
        )
    if not items:
        raise InvalidInputError("'feedback' is empty. Send at least one item.")
    if len(items) > max_rows:
        raise PayloadTooLargeError(
            f"'feedback' has {len(items)} items; this server takes at most {max_rows} per "
            "request. Split the request."
        )
    return items


def _ident(item: Any, key_column: str | None) -> str | None:
    if not isinstance(item, dict):
        return None
    rid = item.get("request_id")
    if isinstance(rid, str):
        return rid.strip()
    return key_text(item.get("key", item.get(key_column) if key_column else None))


def _merge(first: FeedbackResult, retry: FeedbackResult) -> FeedbackResult:
    return FeedbackResult(
        model_name=first.model_name,
        received=first.received,
        accepted=first.accepted + retry.accepted,
        labeled=first.labeled + retry.labeled,
        unknown=retry.unknown,
        n_unknown=retry.n_unknown,
        rejected=first.rejected,
    )


def _label_shadow(
    store: Any, log_name: str, items: list[Any], served: Any, key_column: str | None
) -> None:
    store.record_feedback(
        log_name, items, task=served.task, classes=served.classes, key_column=key_column
    )


@router.post("/v1/models/{name}/feedback", tags=["feedback"], openapi_extra=FEEDBACK_BODY)
async def feedback(name: str, request: Request) -> JSONBytes:
    """Attach true labels to earlier predictions of ``name`` (by request id or key)."""
    state: ServerState = state_of(request)
    check_key(request, state.settings, admin=False)
    body = await read_body(request, state.settings.serve_max_body_bytes)
    items = _items(parse_json(body), state.settings.serve_max_rows)
    store = state.registry.store
    if store is None:
        raise ConfigurationError(
            "This server serves a model file without a store; it keeps no prediction log to "
            "attach labels to. Serve models from a store to collect feedback."
        )
    served = state.registry.get(name)
    key_column = served.record.lineage.get("id_column") if served.record is not None else None
    loop = asyncio.get_running_loop()

    def record(batch: list[Any]) -> FeedbackResult:
        return store.record_feedback(
            name, batch, task=served.task, classes=served.classes, key_column=key_column
        )

    result = await loop.run_in_executor(None, record, items)
    if result.n_unknown and state.predlog is not None:
        # The ids may be of predictions still queued for the log: look once more.
        missing = {str(u) for u in result.unknown}
        retry = [i for i in items if _ident(i, key_column) in missing]
        if retry and len(missing) == result.n_unknown:
            await asyncio.sleep(_LOG_WAIT_S)
            result = _merge(result, await loop.run_in_executor(None, record, retry))
    shadow = state.extras.get("shadow")
    if shadow is not None and result.accepted:
        for log_name in shadow.log_names(name):  # label the challenger's shadow rows too
            await loop.run_in_executor(
                None, _label_shadow, store, log_name, items, served, key_column
            )
    answer = result.to_dict()
    if result.rejected and not result.accepted:
        first = result.rejected[0]
        return JSONBytes(
            {
                "error": {
                    "type": "invalid_input",
                    "message": f"No label was accepted: {len(result.rejected)} item(s) "
                    f"rejected, e.g. feedback[{first['index']}]: {first['reason']}.",
                    "details": answer,
                }
            },
            status_code=422,
        )
    return JSONBytes(answer)
