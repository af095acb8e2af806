"""``modelloop runs list|show``."""

from __future__ import annotations

from typing import Annotated

import typer

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, make_settings, out, print_json, table

app = typer.Typer(
    help="Training runs: what was tried, on which data, with which results.", no_args_is_help=True
)


@app.command("list")
def list_command(
    name: Annotated[str | None, typer.Option(help="Only runs of this model name.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only runs with this status (running, finished, failed).")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many of the newest first.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List training runs, newest first."""
    from modelloop.store import Store

    with Store.from_settings(make_settings(store, home, debug)) as st:
        records = st.list_runs(name=name, status=status, limit=limit, offset=offset)
    if as_json:
        print_json([r.__dict__ for r in records])
        return
    if not records:
        out.print("No runs recorded yet.")
        return
    out.print(
        table(
            "Runs",
            ["run", "name", "started", "status", "task", "metric", "best model", "CV", "test"],
            [
                [
                    r.id[:12],
                    r.name,
                    f"{r.started_at:%Y-%m-%d %H:%M}",
                    r.status,
                    r.task,
                    r.metric,
                    r.best_model,
                    (r.cv_metrics or {}).get(r.metric or ""),
                    (r.test_metrics or {}).get(r.metric or ""),
                ]
                for r in records
            ],
        )
    )


@app.command("show")
def show_command(
    run_id: Annotated[
        str, typer.Argument(help="Run id or a unique prefix of it (>= 4 characters).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show one run: parameters, leaderboard, metrics, timings, library versions."""
    from modelloop.store import Store

    with Store.from_settings(make_settings(store, home, debug)) as st:
        r = st.get_run(run_id)
        trials = st.list_trials(r.id)
    if as_json:
        print_json({**r.__dict__, "trials": [t.__dict__ for t in trials]})
        return
    out.print(
        f"[bold]run {r.id}[/]  {r.name}  status: {r.status}  task: {r.task}  target: {r.target}  metric: {r.metric}"
    )
    out.print(f"dataset: {r.dataset_hash}  started: {r.started_at:%Y-%m-%d %H:%M:%S}")
    if r.error:
        out.print(f"[red]error:[/] {r.error}")
    out.print(
        table(
            "Parameters", ["parameter", "value"], [[k, str(v)] for k, v in (r.params or {}).items()]
        )
    )
    if r.leaderboard:
        cols = [c for c in r.leaderboard[0] if c != "error"]
        out.print(table("Leaderboard", cols, [[row.get(c) for c in cols] for row in r.leaderboard]))
    if r.test_metrics:
        # clustering, reduce, anomaly: no target, no test split; measured on every row
        what = "Test metrics" if r.target is not None else "Metrics on all rows"
        out.print(
            table(
                f"{what} ({r.best_model})",
                ["metric", "value"],
                [[k, v] for k, v in r.test_metrics.items()],
            )
        )
    if trials:
        out.print(
            table(
                f"Trials ({len(trials)})",
                [
                    "#",
                    "stage",
                    "model",
                    "params",
                    "fold scores",
                    "score",
                    "time s",
                    "1-row ms",
                    "status",
                ],
                [
                    [
                        t.number,
                        t.stage,
                        t.name,
                        _short(t.params),
                        " ".join(f"{s:.4g}" for s in t.fold_scores if s is not None),
                        t.score,
                        None if t.duration is None else round(t.duration, 2),
                        None if t.latency_ms is None else round(t.latency_ms, 2),
                        t.status if not t.reason else f"{t.status}: {t.reason[:60]}",
                    ]
                    for t in trials
                ],
            )
        )
    if r.timings:
        out.print("timings: " + ", ".join(f"{k} {v}s" for k, v in r.timings.items()))
    if r.library_versions:
        out.print("libraries: " + ", ".join(f"{k} {v}" for k, v in r.library_versions.items()))


def _short(params: dict) -> str:
    """Parameters on one line: floats to 4 significant digits."""
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
