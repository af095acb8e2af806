"""``modelloop demo``."""

from __future__ import annotations

from typing import Annotated

import typer

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    make_settings,
    out,
    search_progress,
    table,
)


def demo_command(
    time_budget: Annotated[float, typer.Option(help="Seconds for the model search.")] = 60.0,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Train on the bundled Titanic data, register it as titanic@production, score 5 rows."""
    from modelloop.workflows import run_demo

    settings = make_settings(store, home, debug)
    out.print(
        "[bold]modelloop demo[/]: the Titanic passenger list (891 rows, missing ages, free-text names)."
    )
    with search_progress() as on_event:
        demo = run_demo(time_budget=time_budget, settings=settings, on_event=on_event)
    result = demo.train
    board = result.leaderboard
    out.print(
        table(
            f"Leaderboard (CV {result.metric})",
            ["model", f"CV {result.metric}", "± std", "fit time (s/fold)", "status"],
            [
                [r["model"], r[f"cv_{result.metric}"], r["cv_std"], r["fit_time_s"], r["status"]]
                for r in board.to_dict(orient="records")
            ],
        )
    )
    out.print(
        table(
            f"Test split metrics of {result.best_model}",
            ["metric", "value"],
            [[k, v] for k, v in result.metrics.items()],
        )
    )
    preds = demo.predictions
    out.print(
        table(
            "Five passengers scored by titanic@production",
            list(map(str, preds.columns)),
            preds.values.tolist(),
        )
    )
    out.print(
        f"Registered [bold]{result.name}[/] version {result.version} as 'production' in {demo.store_url}.\n"
        "Next:\n"
        f"  modelloop models list\n"
        f"  modelloop models show titanic@production\n"
        f"  modelloop predict titanic@production {demo.data_path} -o scored.csv --keep PassengerId\n"
        f"  modelloop profile {demo.data_path} --target Survived\n"
        "  modelloop train YOUR_DATA.csv --target YOUR_COLUMN"
    )
