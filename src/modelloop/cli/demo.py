"""``modelloop demo``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    make_settings,
    out,
    search_display,
    table,
)


def demo_command(
    time_budget: Annotated[float, typer.Option(help="Seconds for the model search.")] = 60.0,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after scoring; do not start the server.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the server the demo ends with.")] = 8000,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Train on the bundled Titanic data, register it as titanic@production, score 5 rows,
    then serve it over REST (Ctrl-C stops; --no-serve skips)."""
    from modelloop.workflows import run_demo

    settings = make_settings(store, home, debug)
    out.print(
        "[bold]modelloop demo[/]: the Titanic passenger list (891 rows, missing ages, free-text names)."
    )
    with search_display(enabled=True, budget=time_budget) as on_event:
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
    if not no_serve:
        _serve_demo(settings, demo.data_path, port)


def _serve_demo(settings: Any, data_path: Any, port: int) -> None:
    """End the demo by serving titanic@production, with a curl line that works."""
    import json

    import pandas as pd
    import uvicorn

    from modelloop.serving import create_app

    row = pd.read_csv(data_path, nrows=1).drop(columns=["Survived"]).iloc[0]
    record = {
        k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()
    }
    body = json.dumps({"instances": [record]})
    url = f"http://127.0.0.1:{port}"
    out.print(
        f"\n[bold]Serving titanic@production on {url}[/] (docs: {url}/docs; Ctrl-C stops). Try:"
    )
    body = body.replace("'", "'\\''")  # safe inside single quotes in a POSIX shell
    out.print(
        f"  curl -s -X POST {url}/v1/models/titanic/predict "
        f"-H 'Content-Type: application/json' -d '{body}'",
        markup=False,
    )
    from modelloop.serving import server_logging

    server_logging()
    uvicorn.run(
        create_app(settings), host="127.0.0.1", port=port, log_level="info", access_log=False
    )
