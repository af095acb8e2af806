"""``modelloop retrain NAME``: a challenger on fresh labeled data, promoted only if better."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    TrustOpt,
    err,
    make_settings,
    out,
    print_json,
    search_display,
    table,
)

WindowOpt = Annotated[
    str | None,
    typer.Option(
        "--window",
        help="Train on only the most recent labeled rows: a count (5000) or a duration "
        "(30m, 12h, 7d; default: all).",
        show_default=False,
    ),
]
RecentWeightOpt = Annotated[
    float,
    typer.Option(
        "--recent-weight",
        help="How many times each production row counts (by duplication; 1 = like a "
        "reference row).",
    ),
]
MinImprovementOpt = Annotated[
    float,
    typer.Option(
        "--min-improvement",
        help="Promote only when the challenger beats the champion by this much (metric units).",
    ),
]
HoldoutOpt = Annotated[
    float, typer.Option("--holdout", help="Share of the most recent labeled rows held out.")
]
MinHoldoutOpt = Annotated[
    int, typer.Option("--min-holdout", help="Held-out rows, at least (champion vs challenger).")
]
TimeBudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--time-budget",
        help="Seconds for training the challenger (default: the champion's).",
        show_default=False,
    ),
]
MaxTrialsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-trials", help="Search trials, at most (default: the champion's).", show_default=False
    ),
]


def retrain_command(
    name: Annotated[str, typer.Argument(help="The registered model to retrain.")],
    alias: Annotated[
        str, typer.Option("--alias", help="The champion's alias; it moves on promotion.")
    ] = "production",
    window: WindowOpt = None,
    recent_weight: RecentWeightOpt = 1.0,
    min_improvement: MinImprovementOpt = 0.0,
    holdout: HoldoutOpt = 0.2,
    min_holdout: MinHoldoutOpt = 30,
    time_budget: TimeBudgetOpt = None,
    max_trials: MaxTrialsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: TrustOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train a challenger on reference + labeled production rows; promote it only if better.

    Champion and challenger are scored on the same held-out most recent labeled rows. The
    challenger is registered either way (alias 'challenger'); the champion's alias moves to
    it only when it wins by --min-improvement.
    """
    from modelloop.workflows import retrain

    settings = make_settings(store, home, debug, trust)
    with search_display(enabled=not as_json, budget=time_budget) as on_event:
        result = retrain(
            name,
            alias=alias,
            window=window,
            recent_weight=recent_weight,
            holdout=holdout,
            min_holdout=min_holdout,
            min_improvement=min_improvement,
            time_budget=time_budget,
            max_trials=max_trials,
            settings=settings,
            on_event=on_event,
        )
    if as_json:
        print_json(result.to_dict())
        return
    out.print(
        table(
            f"Champion vs challenger on the {result.n_holdout} most recent labeled rows",
            [
                "metric",
                f"champion (v{result.champion_version})",
                f"challenger (v{result.challenger_version})",
            ],
            [[k, v, result.challenger_metrics.get(k)] for k, v in result.champion_metrics.items()],
        )
    )
    if result.metric == "value_dr":  # a decision policy: values estimated off-policy
        out.print(
            f"Learned from {result.n_reference} rows of the training log + "
            f"{result.n_production} logged decisions; both policies estimated (doubly robust) on "
            f"the {result.n_holdout} most recent decisions."
        )
    else:
        out.print(
            f"Trained on {result.n_reference} reference + {result.n_production} production rows "
            f"(window: {result.window or 'all'}, recent weight: {result.recent_weight:g})."
        )
    for note in result.notes:
        err.print(f"note: {escape(note)}")
    if result.promoted:
        out.print(
            f"[bold green]Promoted[/] version {result.challenger_version} to "
            f"{escape(name)}@{escape(alias)}: {escape(result.reason)}."
        )
    else:
        out.print(
            f"[bold]Kept[/] version {result.champion_version} at {escape(name)}@{escape(alias)}; "
            f"version {result.challenger_version} is registered as the challenger: "
            f"{escape(result.reason)}."
        )
