"""What every command shares: options for the store, settings, consoles, progress, tables."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from modelloop.config import Settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# Set by the options below; read by the error handler in _app.main.
STATE: dict[str, Any] = {"debug": False, "started": None}

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="SQLAlchemy URL of the store (default: SQLite under --home).",
        show_default=False,
    ),
]
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Folder of the embedded store [default: ./.modelloop or $MODELLOOP_HOME].",
        show_default=False,
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Load model files that hold code or types outside modelloop's allow list "
        "(loading them can run code): only for models you made yourself.",
    ),
]


def command_started() -> float:
    """The ``time.monotonic()`` instant the running command started: the process's start
    when the console script runs it (see ``process_started``), else when ``main`` was
    called (the CLI run in-process, as the tests do)."""
    started = STATE.get("started")
    return time.monotonic() if started is None else float(started)


def process_started() -> float:
    """The ``time.monotonic()`` instant this process started (a command's time budget counts
    from there: interpreter start-up and imports are part of what the user waits for).

    Read from ``/proc`` where there is one; elsewhere, now.

    >>> process_started() <= time.monotonic()
    True
    """
    try:
        with open("/proc/self/stat", "rb") as f:
            # the process start, in clock ticks after boot, is the 22nd field (after the
            # parenthesised command name, which may hold spaces)
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic()
    return time.monotonic() - max(0.0, age)


def make_settings(
    store: str | None = None, home: Path | None = None, debug: bool = False, trust: bool = False
) -> Settings:
    """Settings with CLI flags on top of environment, config file and defaults.

    ``trust`` comes from ``--trust`` only (see ``Settings.trust``).
    """
    from modelloop.config import Settings

    settings = Settings().with_overrides(store_url=store, home=home, trust=trust or None)
    STATE["debug"] = STATE["debug"] or debug or settings.debug
    return settings


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table cell: fixed digits, '—' for missing."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.{digits}f}"
    return str(value)


def print_json(payload: Any) -> None:
    """JSON on stdout, nothing else (for --json)."""
    out.print_json(json.dumps(payload, default=str))


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[fmt(v) for v in r])
    return t


@contextmanager
def search_progress(enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar fed by ``tuning.SearchEvent``s; yields the callback.

    The bar appears only when the search starts, after every check on the input has passed,
    so an error about the input is the only thing the user sees.
    """
    if not enabled:
        yield None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    state: dict[str, Any] = {"task": None}
    remaining: dict[str, int] = {}

    def on_event(event: Any) -> None:
        if event.kind == "start":
            progress.start()
            state["task"] = progress.add_task("Cross-validating", total=event.total)
            return
        task_id = state["task"]
        if task_id is None:  # still checking the input: nothing to show yet
            return
        if event.kind == "candidate":
            remaining[event.candidate] = event.total
            progress.update(task_id, description=f"Cross-validating {event.candidate}")
        elif event.kind == "fold":
            remaining[event.candidate] = remaining.get(event.candidate, 1) - 1
            progress.update(
                task_id,
                advance=1,
                description=f"Cross-validating {event.candidate} (fold {event.fold}/{event.total}: {event.score:.4f})",
            )
        elif event.kind in ("skipped", "failed"):
            left = remaining.pop(event.candidate, event.total)
            progress.update(task_id, advance=left)
            progress.console.print(
                f"[yellow]{event.candidate} {event.kind}:[/] {escape(event.message)}"
            )
        elif event.kind == "done":
            progress.console.print(f"  {event.candidate}: CV {event.score:.4f}")
        elif event.kind == "stage":
            progress.update(task_id, description=event.message)

    try:
        yield on_event
        if state["task"] is not None:
            progress.update(state["task"], description="Done")
    finally:
        progress.stop()
