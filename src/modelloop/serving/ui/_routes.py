"""The dashboard's pages and its two actions (promote, rollback).

Read pages are plain ``def`` routes: FastAPI runs them in its thread pool, so store reads
never block the event loop of the server they share. Every list is bounded: runs come a
page at a time (keyset pages of ``Store.list_runs``), the live view reads at most the latest
5,000 logged predictions.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import math
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from modelloop.exceptions import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ModelloopError,
    ModelNotFoundError,
)
from modelloop.serving._security import check_key
from modelloop.serving.ui._drift import (
    ERROR,
    NO_REFERENCE,
    NOT_ENOUGH,
    drift_charts,
    top_features,
)
from modelloop.serving.ui._explain import explain_logged, global_importance, recent_predictions
from modelloop.serving.ui._live import counters_of, timeline
from modelloop.serving.ui._render import UIContext, render, wants_json
from modelloop.serving.ui._views import (
    compare_rows,
    headline_metrics,
    leaderboard_chart,
    leaderboard_table,
    live_charts,
    metric_sections,
    search_history_chart,
)
from modelloop.store import Store

__all__ = ["router"]

router = APIRouter()

DEFAULT_ALIAS = "production"
MAX_COMPARE = 6
_MAX_FORM_BYTES = 64 * 1024
_DRIFT_WAIT_SECONDS = 120.0


def _ui(request: Request) -> UIContext:
    return request.app.state.ui


def _store(request: Request) -> Store:
    store = _ui(request).store
    if store is None:
        raise ConfigurationError(
            "This server serves a model file without a store, so the dashboard has nothing "
            "to show. Start `modelloop serve` without --model to see registered models."
        )
    return store


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/", include_in_schema=False)
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{_base(request)}/models", status_code=307)


# -- models -----------------------------------------------------------------------------


@router.get("/models", response_class=HTMLResponse, name="models")
def models_page(request: Request) -> HTMLResponse:
    """Every registered model: latest version, versions, aliases, headline metrics."""
    store = _store(request)
    summaries = store.list_models()
    latest = store.latest_version_metrics()
    rows = [
        {
            "summary": s,
            "metrics": headline_metrics(latest.get(s.name, (0, {}))[1], s.task),
        }
        for s in summaries
    ]
    state = _ui(request).state
    problems = state.registry.problems() if state is not None else []
    return render(request, "models.html", rows=rows, problems=problems, page="models")


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(name: str, request: Request) -> HTMLResponse:
    """One model: its versions with metrics and aliases, promote and rollback."""
    store = _store(request)
    versions = list(reversed(store.list_versions(name)))
    aliases = {alias: v.version for v in versions for alias in v.aliases}
    served_version = None
    state = _ui(request).state
    if state is not None and name in state.registry.names():
        served_version = state.registry.get(name).version
    problems = (
        [p for p in state.registry.problems() if p.model == name] if state is not None else []
    )
    rows = [{"v": v, "metrics": headline_metrics(v.metrics, v.task)} for v in versions]
    return render(
        request,
        "model.html",
        name=name,
        rows=rows,
        aliases=dict(sorted(aliases.items())),
        served_version=served_version,
        problems=problems,
        message=request.query_params.get("msg"),
        page="models",
    )


@router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
def version_page(name: str, version: int, request: Request) -> HTMLResponse:
    """One model version: metrics, input schema, lineage and its report."""
    store = _store(request)
    record = store.get_model_version(name, version)
    reports = _ui(request).reports
    return render(
        request,
        "version.html",
        v=record,
        sections=metric_sections(record.metrics),
        columns=(record.schema or {}).get("columns", []),
        report=reports is not None and reports.available,
        importance=global_importance(store, record),
        page="models",
    )


@router.get("/models/{name}/versions/{version}/report", response_class=HTMLResponse)
def version_report(name: str, version: int, request: Request) -> HTMLResponse:
    """The HTML report of one model version (made on first request)."""
    store = _store(request)
    record = store.get_model_version(name, version)
    return _report(request, record.ref)


def _report(request: Request, ref: str) -> HTMLResponse:
    reports = _ui(request).reports
    if reports is None or not reports.available:
        return render(
            request,
            "report_missing.html",
            status_code=404,
            message="This installation of modelloop cannot make HTML reports yet.",
        )
    try:
        return HTMLResponse(reports.get(ref))
    except ModelloopError as exc:
        return render(request, "report_missing.html", status_code=404, message=str(exc))


# -- promote and rollback (need the API key) ----------------------------------------------


async def _payload(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise InvalidInputError(f"The form is over {_MAX_FORM_BYTES} bytes; send less.")
    if not body.strip():
        return {}
    if "application/json" in request.headers.get("content-type", ""):
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise InvalidInputError(f"The request body is not valid JSON: {exc}.") from exc
        if not isinstance(payload, dict):
            raise InvalidInputError(
                f"The request body must be a JSON object. Got {type(payload).__name__}."
            )
        return payload
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


def _require_key(request: Request, payload: dict[str, Any]) -> None:
    """The admin API key, from the ``X-API-Key`` header (or a form's ``api_key`` field)."""
    settings = _ui(request).settings
    given = payload.pop("api_key", None)
    if not given or request.headers.get("x-api-key") or request.headers.get("authorization"):
        check_key(request, settings, admin=True)
        return
    if not settings.api_key:
        check_key(request, settings, admin=True)  # refuses: no key configured
    if not hmac.compare_digest(str(given).encode(), str(settings.api_key).encode()):
        raise AuthenticationError(f"The API key sent to {request.url.path} is wrong.")


def _alias_of(payload: dict[str, Any]) -> str:
    alias = payload.get("alias") or DEFAULT_ALIAS
    if not isinstance(alias, str):
        raise InvalidInputError(f"Field 'alias' must be a string. Got {alias!r}.")
    return alias


def _version_of(payload: dict[str, Any]) -> int:
    value = payload.get("version")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidInputError(f"Field 'version' must be an integer version number. Got {value!r}.")


def _done(request: Request, name: str, body: dict[str, Any], message: str) -> Response:
    if wants_json(request):
        return JSONResponse(body)
    url = f"{_base(request)}/models/{quote(name)}?msg={quote(message)}"
    return RedirectResponse(url, status_code=303)


@router.post("/models/{name}/promote")
async def promote(name: str, request: Request) -> Response:
    """Point ``alias`` (default ``production``) at ``version``. Needs the API key."""
    payload = await _payload(request)
    _require_key(request, payload)
    alias, version = _alias_of(payload), _version_of(payload)
    store = _store(request)
    await run_in_threadpool(store.set_alias, name, alias, version)
    changes = await _refresh(request)
    message = f"{name}@{alias} now points at version {version}."
    body = {"model": name, "alias": alias, "version": version, "changes": changes}
    return _done(request, name, body, message)


@router.post("/models/{name}/rollback")
async def rollback(name: str, request: Request) -> Response:
    """Move ``alias`` (default ``production``) back to the version before. Needs the API key."""
    payload = await _payload(request)
    _require_key(request, payload)
    alias = _alias_of(payload)
    store = _store(request)
    current, target = await run_in_threadpool(_rollback_target, request, store, name, alias)
    await run_in_threadpool(store.set_alias, name, alias, target)
    state = _ui(request).state
    if state is not None and name in state.registry.names():
        state.registry.forget_last(name, alias)
    changes = await _refresh(request)
    message = f"{name}@{alias} rolled back from version {current} to version {target}."
    body = {
        "model": name,
        "alias": alias,
        "from_version": current,
        "version": target,
        "changes": changes,
    }
    return _done(request, name, body, message)


def _rollback_target(request: Request, store: Store, name: str, alias: str) -> tuple[int, int]:
    """The alias' current version and the one to go back to.

    Inside a server, the registry remembers where the alias pointed before; otherwise the
    alias goes back to the newest version older than its current one.
    """
    current = store.get_model_version(name, alias=alias).version
    state = _ui(request).state
    if state is not None and name in state.registry.names():
        state.registry.refresh()
        return current, state.registry.previous_version(name, alias)
    older = [v.version for v in store.list_versions(name) if v.version < current]
    if not older:
        raise InvalidInputError(
            f"Model '{name}@{alias}' points at version {current}, and there is no earlier "
            "version to roll back to."
        )
    return current, older[-1]


async def _refresh(request: Request) -> list[str]:
    """Let the server it is mounted in switch versions now (not at its next poll)."""
    state = _ui(request).state
    if state is None:
        return []
    changes: list[str] = await run_in_threadpool(state.registry.refresh)
    return changes


# -- runs -------------------------------------------------------------------------------


_METRIC_OPS = (">", ">=", "<", "<=", "=", "!=")


def _metric_filter(metric: str, op: str, value: str) -> tuple[str, str, float] | None:
    """The runs page's metric filter fields as ``Store.list_runs`` takes them (or none)."""
    metric, value = metric.strip(), value.strip()
    if not metric and not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not metric or op not in _METRIC_OPS or not math.isfinite(number):
        raise InvalidInputError(
            "A metric filter needs a metric name, an operator among "
            f"{' '.join(_METRIC_OPS)} and a number, as in roc_auc > 0.9. "
            f"Got {metric!r} {op!r} {value!r}."
        )
    return metric, op, number


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    name: str | None = None,
    status: str | None = None,
    metric: str = "",
    op: str = ">",
    value: str = "",
    scope: str = "cv",
    after: str | None = None,
    before: str | None = None,
    start: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Every run, newest first, a page at a time; pick several to compare them.

    Pages by keyset: "older" starts after the last run of the page (``after=``), "newer"
    reads backwards from the first (``before=``, the same index in ascending order), so
    page 2,000 costs what page 1 does. ``start`` only numbers the rows.
    """
    store = _store(request)
    store.mark_interrupted_runs()  # a run whose process was killed says so
    filters: dict[str, Any] = {
        "name": name or None,
        "status": status or None,
        "metric_filter": _metric_filter(metric, op, value),
        "metric_scope": scope,
    }
    if before:
        newer = store.list_runs(**filters, after=before, ascending=True, limit=per_page + 1)
        has_newer, has_older = len(newer) > per_page, True
        items = newer[:per_page][::-1]
        start = max(0, start)
        if not has_newer:  # reached the newest runs: show a full first page
            before, start = None, 0
    if not before:
        older = store.list_runs(**filters, after=after or None, limit=per_page + 1)
        has_newer, has_older = bool(after), len(older) > per_page
        items = older[:per_page]
        if not after:
            start = 0
    total = store.count_runs(**filters)
    keep = {
        "per_page": per_page if per_page != 50 else None,
        "name": name or None,
        "status": status or None,
        **({"metric": metric, "op": op, "value": value, "scope": scope} if metric else {}),
    }

    def link(**cursor: Any) -> str:
        query = urlencode({k: v for k, v in {**keep, **cursor}.items() if v is not None})
        return f"{_base(request)}/runs" + (f"?{query}" if query else "")

    links = {
        "first": link() if has_newer else None,
        "newer": link(before=items[0].id, start=max(0, start - per_page))
        if has_newer and items
        else None,
        "older": link(after=items[-1].id, start=start + len(items))
        if has_older and items
        else None,
    }
    return render(
        request,
        "runs.html",
        items=items,
        total=total,
        start=start,
        links=links,
        name=name or "",
        status=status or "",
        metric=metric.strip(),
        op=op,
        value=value.strip(),
        scope=scope,
        metric_ops=_METRIC_OPS,
        page="runs",
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: str, request: Request) -> HTMLResponse:
    """One run: metrics, leaderboard, search history, and its report when there is one."""
    store = _store(request)
    run = store.get_run(run_id)
    trials = store.list_trials(run.id)
    columns, rows = leaderboard_table(run.leaderboard)
    reports = _ui(request).reports
    return render(
        request,
        "run.html",
        run=run,
        versions=_versions_of_run(store, run.id),
        trials=trials,
        lb_columns=columns,
        lb_rows=rows,
        lb_chart=leaderboard_chart(run.leaderboard, run.metric),
        history_chart=search_history_chart([(run.short_id, run.metric, trials)]),
        report=reports is not None and reports.available and run.status == "finished",
        page="runs",
    )


def _versions_of_run(store: Store, run_id: str) -> list[Any]:
    """The model versions registered from run ``run_id`` (any model name), oldest first."""
    found: list[Any] = []
    for summary in store.list_models():
        try:
            versions = store.list_versions(summary.name)
        except ModelNotFoundError:  # deleted since it was listed
            continue
        found.extend(v for v in versions if v.run_id == run_id)
    return sorted(found, key=lambda v: (v.created_at, v.name, v.version))


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
def run_report(run_id: str, request: Request) -> HTMLResponse:
    """The HTML report of one run (made on first request)."""
    run = _store(request).get_run(run_id)
    return _report(request, run.id)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, ids: str = "") -> HTMLResponse:
    """Two or more runs side by side (``?ids=a,b,c``): metrics and plots."""
    wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if len(wanted) < 2 or len(wanted) > MAX_COMPARE:
        raise InvalidInputError(
            f"Compare takes 2 to {MAX_COMPARE} run ids separated by commas, as in "
            f"?ids=3f2a9c01,8be41d77. Got {len(wanted)}: {ids!r}. Pick runs on the runs page."
        )
    store = _store(request)
    runs = store.get_runs(wanted)
    trials = [store.list_trials(r.id) for r in runs]
    columns = [
        {
            "run": r,
            "lb_chart": leaderboard_chart(r.leaderboard, r.metric),
            "history_chart": search_history_chart([(r.short_id, r.metric, t)]),
        }
        for r, t in zip(runs, trials, strict=True)
    ]
    # One axis per metric: an RMSE and an AUC on one axis would read as one scale.
    by_metric: dict[str | None, list[tuple[str, str | None, Any]]] = {}
    for r, t in zip(runs, trials, strict=True):
        by_metric.setdefault(r.metric, []).append((r.short_id, r.metric, t))
    overlays = [
        {"metric": metric, "runs": [s for s, _, _ in group], "chart": search_history_chart(group)}
        for metric, group in by_metric.items()
    ]
    return render(
        request,
        "compare.html",
        runs=runs,
        columns=columns,
        rows=compare_rows(runs),
        overlays=overlays,
        page="runs",
    )


# -- live view ----------------------------------------------------------------------------


@router.get("/live", response_class=HTMLResponse)
def live_index(request: Request) -> Response:
    """The models with a live view: those this server serves, else every registered one."""
    state = _ui(request).state
    names = state.registry.names() if state is not None else []
    if not names:
        names = [m.name for m in _store(request).list_models()]
    if len(names) == 1:
        return RedirectResponse(f"{_base(request)}/live/{quote(names[0])}", status_code=307)
    return render(request, "live_index.html", names=names, page="live")


@router.get("/live/{name}", response_class=HTMLResponse)
def live_page(name: str, request: Request, fragment: bool = False) -> HTMLResponse:
    """Requests, latency, errors, predictions and drift over time of one served model."""
    ui = _ui(request)
    served, serving, versions = _served(request, name)
    counters = counters_of(ui.state.metrics, name) if served else None
    points = ui.store.prediction_activity(name, limit=5000) if ui.store is not None else []
    policy = _policy_info(request, name, serving, versions)
    rewards = None if policy is None else (policy["wait"], policy["default"])
    buckets, numeric = timeline(points, rewards=rewards)
    context: dict[str, Any] = {
        "name": name,
        "counters": counters,
        "serving": serving,
        "n_logged": len(points),
        "last_at": points[-1].created_at if points else None,
        "policy": policy,
        "charts": live_charts(buckets, numeric, policy["values"] if policy else ()),
        "recent": recent_predictions(ui.store, name) if ui.store is not None else [],
        "page": "live",
        "recent_images": _recent_images(ui.store, name, serving, versions, points),
        **_drift_context(request, name, serving, versions),
    }
    return render(request, "live_panels.html" if fragment else "live.html", **context)


def _policy_info(
    request: Request, name: str, serving: dict[str, Any] | None, versions: list[Any]
) -> dict[str, Any] | None:
    """A decision policy's reward wait, default reward, counts and each version's estimated
    value (its DR estimate at training); None for other models."""
    records = versions or _store(request).list_versions(name)
    if not records or records[-1].task != "bandit":
        return None
    record = records[-1]
    if serving is not None:
        record = next((r for r in records if r.version == serving["default_version"]), record)
    counts = _store(request).reward_counts(name)
    values = []
    for r in records[-4:]:
        value = ((r.metrics or {}).get("test") or {}).get("value_dr")
        if isinstance(value, int | float):
            values.append((f"v{r.version} estimated value (DR)", float(value)))
    info: dict[str, Any] | None = None
    state = _ui(request).state
    if serving is not None and state is not None:  # the served policy knows its own terms
        with contextlib.suppress(ModelNotFoundError):
            policy = state.registry.get(name).policy
            info = None if policy is None else policy.bandit
    if info is None:
        try:
            info = _store(request).load_model(record)[1].get("bandit") or {}
        except ModelloopError:  # a file that cannot be read: the log without the defaults
            info = {"default_reward": None}
    wait = float(info.get("reward_wait_s") or 3600.0)
    expected = ((record.metrics or {}).get("test") or {}).get("value_dr")
    return {
        "wait": wait,
        "default": info.get("default_reward", 0.0),
        "values": values,
        "expected": expected if isinstance(expected, int | float) else None,
        "version": record.version,
        **counts,
    }


_RECENT_IMAGES = 12


def _recent_images(
    store: Any, name: str, serving: dict[str, Any] | None, versions: list[Any], points: list[Any]
) -> list[dict[str, Any]]:
    """The latest logged images of a model that takes images, with what it predicted."""
    if store is None or not points:
        return []
    if serving is not None:
        images = [c["name"] for c in serving.get("inputs", []) if c.get("role") == "image"]
    elif versions:
        columns = (versions[-1].schema or {}).get("columns", [])
        images = [c["name"] for c in columns if c.get("role") == "image"]
    else:
        images = []
    if not images:
        return []
    since = points[-min(_RECENT_IMAGES, len(points))].created_at
    out = []
    for record in reversed(store.get_predictions(name, since=since)[-_RECENT_IMAGES:]):
        src = (record.inputs or {}).get(images[0])
        if not isinstance(src, str) or not src.startswith("data:image/"):
            continue
        probabilities = record.probabilities or {}
        sure = max(probabilities.values()) if probabilities else None
        out.append(
            {"src": src, "prediction": record.prediction, "confidence": sure,
             "at": record.created_at, "label": record.label}
        )  # fmt: skip
    return out


def _served(request: Request, name: str) -> tuple[bool, dict[str, Any] | None, list[Any]]:
    """Whether this server serves ``name``, what it serves, else the model's versions.

    Raises ``ModelNotFoundError`` (a 404 page) for a model neither served nor registered.
    """
    state = _ui(request).state
    if state is None or name not in state.registry.names():
        return False, None, _store(request).list_versions(name)
    try:
        return True, state.registry.describe(name), []
    except ModelNotFoundError:  # swapped out since it was listed
        return True, None, []


def _drift_ref(name: str, serving: dict[str, Any] | None, versions: list[Any]) -> str | None:
    """The version the drift panel checks: the served one, else production, else the latest."""
    if serving is not None:
        return f"{name}:{serving['default_version']}"
    if not versions:
        return None
    production = [v for v in versions if DEFAULT_ALIAS in v.aliases]
    return (production or versions)[-1].ref


def _drift_context(
    request: Request, name: str, serving: dict[str, Any] | None, versions: list[Any]
) -> dict[str, Any]:
    """The drift panel's status, top features and charts (never waits for a check)."""
    cache = _ui(request).drift
    ref = _drift_ref(name, serving, versions)
    if cache is None or ref is None:
        return {"drift": None}
    status = cache.status(ref)  # answers at once; a check may start in the background
    context: dict[str, Any] = {
        "drift": status,
        "drift_top": [],
        "drift_charts": {},
        "drift_ttl": cache.ttl,
    }
    result = status.result
    if result is not None:
        report = result.report
        perf = report.performance
        context["drift_top"] = top_features(report.features)
        context["drift_charts"] = drift_charts(
            report.windows,
            perf.metric if perf is not None else None,
            perf.training if perf is not None else None,
        )
    return context


@router.get("/live/{name}/drift", response_class=HTMLResponse)
def drift_report_page(name: str, request: Request) -> HTMLResponse:
    """The full drift report of a served model (the page ``modelloop monitor --html`` writes).

    Made from the live view's latest check (at most ``drift_ttl`` seconds old), waiting for
    one when there is none; a plain ``def`` route, so the wait is in the thread pool.
    """
    ui = _ui(request)
    _, serving, versions = _served(request, name)
    ref = _drift_ref(name, serving, versions)
    if ui.drift is None or ref is None:
        return render(
            request,
            "report_missing.html",
            status_code=404,
            message=f"model '{name}' has no store to read its prediction log from.",
        )
    status, html = ui.drift.html(ref, timeout=_DRIFT_WAIT_SECONDS)
    if html is None:
        message = status.message or "the drift check is still running; try again shortly."
        code = {NO_REFERENCE: 404, NOT_ENOUGH: 409, ERROR: 409}.get(status.state, 503)
        response = render(request, "report_missing.html", status_code=code, message=message)
        if code == 503:
            response.headers["Retry-After"] = "5"
        return response
    return HTMLResponse(html)


@router.get("/live/{name}/predictions/{request_id}", response_class=HTMLResponse)
def prediction_page(
    name: str, request_id: str, request: Request, output: str | None = None
) -> Response:
    """One logged prediction: its inputs and outputs, and a waterfall of each input column's
    contribution (``?output=log-odds`` for a binary model's log-odds)."""
    ui = _ui(request)
    store = _store(request)
    records = store.get_predictions(name, request_id=request_id, limit=1)
    if not records:
        raise ModelNotFoundError(
            f"Model '{name}' has no logged prediction with request id '{request_id}'."
        )
    record = records[0]
    if ui.explainers is None:
        raise ConfigurationError("This dashboard has no store to load models from.")
    explanation = explain_logged(ui.explainers, record, output)
    if wants_json(request):
        body = {k: v for k, v in explanation.items() if k != "chart"}
        return JSONResponse({"request_id": request_id, "model": name,
                             "version": record.model_version, **body})  # fmt: skip
    return render(request, "prediction.html", name=name, record=record, e=explanation, page="live")
