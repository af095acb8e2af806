"""What every dashboard page needs: the context the routes share, the templates, rendering.

Both the app (``_app.create_ui``) and the pages (``_routes``) import it; it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from modelloop import __version__
from modelloop.config import Settings
from modelloop.serving.ui._drift import DriftCache
from modelloop.serving.ui._explain import ExplainerCache
from modelloop.serving.ui._reports import ReportCache
from modelloop.store import Store

__all__ = ["UIContext", "render", "template_environment", "wants_json"]

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


def template_environment() -> Environment:
    """The Jinja2 environment of ``templates/``, with the dashboard's filters and globals."""
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
