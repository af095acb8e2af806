"""``modelloop watch [NAME...]``: retrain by itself when the policy says so."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.markup import escape

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, TrustOpt, err, make_settings, out
from modelloop.cli.retrain import (
    HoldoutOpt,
    MaxTrialsOpt,
    MinHoldoutOpt,
    MinImprovementOpt,
    RecentWeightOpt,
    TimeBudgetOpt,
    WindowOpt,
)


def watch_command(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Models to watch (default: every registered model).", show_default=False
        ),
    ] = None,
    every_labels: Annotated[
        int, typer.Option("--every-labels", help="Retrain after this many new labels.")
    ] = 100,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between policy checks.")
    ] = 60.0,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift", help="Also retrain on a drift alert (with at least one new label)."
        ),
    ] = False,
    max_checks: Annotated[
        int | None,
        typer.Option(
            "--max-checks", help="Stop after this many checks (default: never).", show_default=False
        ),
    ] = None,
    alias: Annotated[str, typer.Option("--alias", help="The champion's alias.")] = "production",
    window: WindowOpt = None,
    recent_weight: RecentWeightOpt = 1.0,
    min_improvement: MinImprovementOpt = 0.0,
    holdout: HoldoutOpt = 0.2,
    min_holdout: MinHoldoutOpt = 30,
    time_budget: TimeBudgetOpt = None,
    max_trials: MaxTrialsOpt = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Print retrains only, not every check.")
    ] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: TrustOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check the retrain policy every --interval seconds and retrain when it is due.

    A running server (modelloop serve) switches to a promoted challenger by itself.
    Stop with Ctrl-C or SIGTERM (a retrain in progress finishes first).
    """
    from modelloop.workflows import RetrainPolicy, WatchEvent, watch

    settings = make_settings(store, home, debug, trust)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)

    def on_event(event: WatchEvent) -> None:
        if quiet and event.kind == "check":
            return
        console = out if event.kind in ("check", "retrain") else err
        console.print(f"[bold]{event.kind}[/] {escape(event.model)}: {escape(event.message)}")

    where = ", ".join(names) if names else "every registered model"
    err.print(
        f"watching {where}: retrain after {every_labels} new labels, check every {interval:g} s"
    )
    try:
        watch(
            names or None,
            policy=RetrainPolicy(min_new_labels=every_labels, drift=drift),
            interval_s=interval,
            max_checks=max_checks,
            stop=stop,
            on_event=on_event,
            retrain_options={
                "alias": alias,
                "window": window,
                "recent_weight": recent_weight,
                "min_improvement": min_improvement,
                "holdout": holdout,
                "min_holdout": min_holdout,
                "time_budget": time_budget,
                "max_trials": max_trials,
            },
            settings=settings,
        )
    except KeyboardInterrupt:
        err.print("stopped.")
    finally:
        signal.signal(signal.SIGTERM, previous)
