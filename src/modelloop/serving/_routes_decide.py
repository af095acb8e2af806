"""Decisions and their rewards: ``POST /v1/models/{name}/decide`` and ``.../reward``.

``decide`` takes ``{"context": {...}, "actions": [...]}`` (the candidate actions are
optional: default every action the policy knows), draws an action with the policy's
exploration, logs the decision (its probability of every candidate, the taken one's is the
propensity) and answers ``{"event_id", "action", "propensity", "model", "model_version"}``.

``reward`` takes ``{"event_id": "...", "reward": 1}`` and stores the reward beside the
logged decision, once (see ``store._rewards``): an unknown event is 404, one past its
reward wait 410, a second different reward 409 (the first stands), a repeat of the same
reward 200 with ``"status": "duplicate"``, a reward that is not a number 422. A decision
still queued for the log (it is written within a second or two) is looked up again before
it is called unknown. Every outcome is counted in ``modelloop_rewards_total``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from modelloop.exceptions import (
    ConfigurationError,
    EventExpiredError,
    EventNotFoundError,
    InvalidInputError,
    RewardConflictError,
)
from modelloop.serving._registry import ServedModel
from modelloop.serving._responses import JSONBytes
from modelloop.serving._schemas import parse_json
from modelloop.serving._security import check_key, read_body
from modelloop.serving._state import ServerState, state_of
from modelloop.store import RewardResult

__all__ = ["router"]

router = APIRouter()

# The log writes every 0.5 s; with --workers the supervisor then ingests the spool every
# 0.5 s. Look again for this long, in steps, before calling an event unknown.
_LOG_WAIT_S = (0.6, 0.9, 1.5)

DECIDE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["context"],
                    "properties": {
                        "context": {"type": "object", "description": "The context columns."},
                        "actions": {
                            "type": "array",
                            "description": "Candidate actions (default: every action).",
                        },
                    },
                },
                "example": {"context": {"column": "value"}, "actions": [3, 17, 21]},
            }
        },
    }
}

REWARD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["event_id", "reward"],
                    "properties": {
                        "event_id": {"type": "string"},
                        "reward": {"type": "number"},
                    },
                },
                "example": {"event_id": "3f2a9c...", "reward": 1},
            }
        },
    }
}


def _policy_model(state: ServerState, name: str) -> ServedModel:
    base, _, alias = name.partition("@")
    return state.registry.get(base, alias=alias or None)


async def _object(request: Request, state: ServerState, shape: str) -> dict[str, Any]:
    body = await read_body(request, state.settings.serve_max_body_bytes)
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InvalidInputError(
            f"The request body must be a JSON object such as {shape}. Got a JSON "
            f"{type(payload).__name__}."
        )
    return payload


@router.post("/v1/models/{name}/decide", tags=["decide"], openapi_extra=DECIDE_BODY)
async def decide(name: str, request: Request) -> JSONBytes:
    """Choose an action for a context with a decision policy (``NAME@ALIAS`` picks an alias);
    the decision is logged for its reward."""
    state = state_of(request)
    check_key(request, state.settings, admin=False)
    payload = await _object(request, state, '{"context": {...}}')
    unknown = sorted(set(payload) - {"context", "actions"})
    if unknown:
        raise InvalidInputError(
            f"Unknown field(s) {', '.join(map(repr, unknown))}: a decision takes 'context' and "
            "optionally 'actions'."
        )
    if "context" not in payload:
        raise InvalidInputError(
            "Field 'context' is missing: send {\"context\": {column: value, ...}}."
        )
    served = _policy_model(state, name)
    event, action, propensity = await state.decide(
        served, payload["context"], payload.get("actions")
    )
    return JSONBytes(
        {
            "event_id": event,
            "action": action,
            "propensity": propensity,
            "model": served.name,
            "model_version": served.version,
        }
    )


def _raise_for(result: RewardResult, event: str, name: str, reward: Any) -> None:
    detail = result.details.get(event, {})
    if result.rejected:
        raise InvalidInputError(f"Field 'reward': {result.rejected[0]['reason']}.")
    if result.n_unknown:
        raise EventNotFoundError(
            f"No decision of model '{name}' has event_id '{event}': send the event_id that "
            f"POST /v1/models/{name}/decide answered (a reward is only taken for a logged "
            "decision)."
        )
    if result.n_expired:
        raise EventExpiredError(
            f"The reward for event '{event}' came too late: the decision was made at "
            f"{detail.get('decided_at')} and its reward had to arrive within the policy's "
            f"reward wait ({detail.get('wait_s', 0):g} s); it was not recorded, and the "
            "decision counts with the policy's default reward."
        )
    if result.n_conflicts:
        raise RewardConflictError(
            f"Event '{event}' already has reward {detail.get('reward')!r} (recorded at "
            f"{detail.get('rewarded_at')}); the first reward stands. Got {reward!r}."
        )


@router.post("/v1/models/{name}/reward", tags=["decide"], openapi_extra=REWARD_BODY)
async def reward(name: str, request: Request) -> JSONBytes:
    """Record the reward that followed a decision (once; late, unknown and repeated rewards
    are refused with a reason)."""
    state = state_of(request)
    check_key(request, state.settings, admin=False)
    payload = await _object(request, state, '{"event_id": "...", "reward": 1}')
    served = _policy_model(state, name)
    if served.policy is None:
        raise ConfigurationError(
            f"Model '{served.name}' is a {served.task} model, not a decision policy: send its "
            f"labels to POST /v1/models/{served.name}/feedback."
        )
    store = state.registry.store
    if store is None:
        raise ConfigurationError(
            "This server serves a model file without a store; it keeps no decision log to "
            "attach rewards to."
        )
    event = payload.get("event_id")
    if not isinstance(event, str) or not event.strip():
        raise InvalidInputError(f"Field 'event_id' must be a non-empty string. Got {event!r:.60}.")
    if "reward" not in payload:
        raise InvalidInputError('Field \'reward\' is missing: send {"event_id": ..., "reward": 1}.')
    event = event.strip()
    wait = served.policy.reward_wait_s
    items = [{"event_id": event, "reward": payload["reward"]}]
    loop = asyncio.get_running_loop()

    def record() -> RewardResult:
        return store.record_rewards(served.name, items, wait_seconds=wait)

    result = await loop.run_in_executor(None, record)
    if result.n_unknown and state.predlog is not None:  # maybe still queued for the log
        for pause in _LOG_WAIT_S:
            await asyncio.sleep(pause)
            result = await loop.run_in_executor(None, record)
            if not result.n_unknown:
                break
    status = _status(result)
    state.metrics.rewards.labels(model=served.name, status=status).inc()
    if result.details.get(event) is not None:
        result.details[event]["wait_s"] = wait
    _raise_for(result, event, served.name, payload["reward"])
    answer: dict[str, Any] = {"event_id": event, "model": served.name, "status": status}
    value = result.details.get(event, {}).get("reward", payload["reward"])
    # the reward as stored (a number), whether just recorded or recorded before
    number = isinstance(value, int | float) and not isinstance(value, bool)
    answer["reward"] = float(value) if number else value
    return JSONBytes(answer)


def _status(result: RewardResult) -> str:
    if result.recorded:
        return "recorded"
    for status, n in (
        ("duplicate", result.n_duplicates),
        ("conflict", result.n_conflicts),
        ("expired", result.n_expired),
        ("unknown", result.n_unknown),
    ):
        if n:
            return status
    return "rejected"
