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
        help="Folder of the embedded store (default: ./.modelloop or $MODELLOOP_HOME).",
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
def work_progress(enabled: bool = True) -> Iterator[Any]:
    """A transient bar on stderr for a workflow's ``on_progress(message, done, total)``.

    A step without counts shows a spinner and the time spent; a counted step also shows a
    bar (when its total is known) and the units done. Nothing is left on the screen after,
    and nothing is drawn when stderr is not a terminal (a pipe, a log file).
    """
    from modelloop.workflows._progress import quiet

    if not enabled or not err.is_terminal:
        yield quiet
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    state: dict[str, Any] = {"task": None}

    def on_progress(message: str, done: int | None = None, total: int | None = None) -> None:
        if state["task"] is None:
            progress.start()
            state["task"] = progress.add_task(message, total=None, count="")
        count = "" if done is None else f"{done:,}" + ("" if total is None else f"/{total:,}")
        progress.update(
            state["task"],
            description=escape(message),
            completed=done or 0,
            total=total,
            count=count,
        )

    try:
        yield on_progress
    finally:
        progress.stop()


@contextmanager
def search_display(enabled: bool, budget: float | None) -> Iterator[Any]:
    """A live line on stderr: stage, trials done, best CV score, time used / left."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), console=err)
    state: dict[str, Any] = {"task": None, "t0": time.monotonic(), "current": ""}

    def on_event(event: Any) -> None:
        if event.kind == "progress":  # work before the search (embedding images)
            if state.get("work") is None:
                progress.start()
                state["work"] = progress.add_task(event.message, total=event.total)
            progress.update(state["work"], completed=event.fold, total=event.total)
            return
        if event.kind == "start":
            progress.start()
            state["task"] = progress.add_task("Searching", total=budget or None)
        task_id = state["task"]
        if task_id is None:  # still checking the input: nothing to show yet
            return
        if event.kind == "candidate":
            state["current"] = event.candidate
        elif event.kind in ("failed", "pruned") and event.message:
            progress.console.print(
                f"[yellow]{escape(event.candidate)} {event.kind}:[/] {escape(event.message)}"
            )
        used = time.monotonic() - state["t0"]
        if event.stage:
            state["last"] = (event.stage, event.trials, event.best)
        stage, trials, best_score = state.get("last", ("search", 0, None))
        best = "-" if best_score is None else f"{best_score:.4f}"
        left = "" if event.left is None else f", {event.left:.0f}s left"
        current = f" {state['current']}" if state["current"] else ""
        if event.kind == "stage" and event.message and not event.message.startswith("Stage"):
            current = f" {event.message}"
        progress.update(
            task_id,
            completed=min(used, budget) if budget else None,
            description=(
                f"[bold]{stage}[/]{escape(current)} | trials {trials}"
                f" | best {best} | {used:.0f}s used{left}"
            ),
        )

    try:
        yield on_event
    finally:
        progress.stop()
