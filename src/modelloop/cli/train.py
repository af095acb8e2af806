"""``modelloop train``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    err,
    make_settings,
    out,
    print_json,
    search_progress,
    table,
)
from modelloop.exceptions import ConfigurationError


def parse_types(values: list[str]) -> dict[str, str]:
    """``['age=numeric', 'zip=categorical']`` -> ``{'age': 'numeric', 'zip': 'categorical'}``."""
    types: dict[str, str] = {}
    for item in values:
        column, sep, role = item.rpartition("=")
        if not sep or not column or not role:
            raise ConfigurationError(
                f"--types takes COLUMN=ROLE (e.g. zip=categorical). Got '{item}' instead."
            )
        types[column] = role
    return types


def split_names(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def train_command(
    data: Annotated[
        str,
        typer.Argument(
            help="A CSV/TSV/Parquet/JSON/Excel file, or a SQLAlchemy URL with --table/--query."
        ),
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="Column to predict.")],
    name: Annotated[
        str | None,
        typer.Option(help="Register the model under this name [default: the file's stem]."),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="binary, multiclass or regression [default: detected from the target]."),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="Metric selection optimises [default: roc_auc, log_loss or rmse by task]."
        ),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated candidate models, e.g. lightgbm,random_forest."),
    ] = None,
    cv: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    test_size: Annotated[
        float, typer.Option(help="Share of rows held out as the test split.")
    ] = 0.2,
    time_budget: Annotated[
        float, typer.Option(help="Seconds after which no new candidate is started.")
    ] = 120.0,
    seed: Annotated[int | None, typer.Option(help="Random seed for splits and models.")] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(
            "--alias", help="Alias to point at the new version (repeatable), e.g. production."
        ),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="Column to leave out (repeatable).")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--types", help="Override a column's role: COLUMN=ROLE (repeatable)."),
    ] = None,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Table to read when DATA is a database URL.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="SQL query to run when DATA is a database URL.")
    ] = None,
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Register the trained model.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run's results as JSON.")
    ] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Train models on DATA to predict --target, evaluate honestly and register the best.

    A test split is held out; candidates are cross-validated on the rest; the best is
    refitted on all training rows, scored on the test split and registered.
    """
    from modelloop.data import load
    from modelloop.workflows import train

    settings = make_settings(store, home, debug)
    source = load(
        data,
        target=target,
        drop=drop or (),
        types=parse_types(types or []),
        table=table_name,
        query=query,
    )
    with search_progress(enabled=not as_json) as on_event:
        result = train(
            source,
            target=target,
            task=task,  # type: ignore[arg-type]
            metric=metric,
            name=name or source.name,
            register=register,
            aliases=alias or (),
            models=split_names(models),
            cv=cv,
            test_size=test_size,
            time_budget=time_budget,
            seed=seed,
            settings=settings,
            on_event=on_event,
        )
    if as_json:
        print_json(result.to_dict())
        return
    board = result.leaderboard
    score_col = f"cv_{result.metric}"
    out.print(
        table(
            f"Leaderboard ({result.task}, selected by CV {result.metric}, {result.dataset.n_rows} rows)",
            ["model", f"CV {result.metric}", "± std", "fit time (s/fold)", "status"],
            [
                [
                    r["model"],
                    r[score_col],
                    r["cv_std"],
                    r["fit_time_s"],
                    r["status"] if not r["error"] else f"{r['status']}: {r['error'][:60]}",
                ]
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
    for note in result.notes:
        err.print(f"note: {escape(note)}")
    if result.version is not None:
        aliases = f" (aliases: {', '.join(alias)})" if alias else ""
        out.print(
            f"Registered [bold]{result.name}[/] version {result.version}{aliases}; run {result.run_id[:12]}."
        )
        out.print(
            f"Next: modelloop predict {result.name}:{result.version} NEW_DATA.csv -o scored.csv"
        )
    else:
        out.print(f"Run {result.run_id[:12]} recorded; model not registered (--no-register).")
