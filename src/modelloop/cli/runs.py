"""``modelloop runs list|show|compare``."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import typer
from rich.markup import escape

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    fmt,
    make_settings,
    out,
    print_json,
    table,
)
from modelloop.exceptions import ConfigurationError, InvalidInputError

app = typer.Typer(
    help="Training runs: what was tried, on which data, with which results.", no_args_is_help=True
)


_WHERE_RE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(>=|<=|==|!=|>|<|=)\s*(\S+)\s*$")
_WHERE_FORM = "NAME OP VALUE with OP one of > >= < <= = !=, e.g. 'roc_auc>0.9'"
MAX_COMPARE = 6


def parse_where(text: str) -> tuple[str, str, float]:
    """``'roc_auc>=0.9'`` -> ``('roc_auc', '>=', 0.9)``: a metric filter of ``Store.list_runs``.

    Examples
    --------
    >>> parse_where("roc_auc > 0.9")
    ('roc_auc', '>', 0.9)
    >>> parse_where("rmse<=12")
    ('rmse', '<=', 12.0)
    """
    match = _WHERE_RE.match(text)
    value = None
    if match:
        try:
            value = float(match.group(3))
        except ValueError:
            value = None
    if match is None or value is None or not math.isfinite(value):
        raise InvalidInputError(f"--where must be {_WHERE_FORM}. Got {text!r}.")
    op = "=" if match.group(2) == "==" else match.group(2)
    return match.group(1), op, value


@app.command("list")
def list_command(
    name: Annotated[str | None, typer.Option(help="Only runs of this model name.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only runs with this status (running, finished, failed, interrupted)."),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            help="Only runs whose metric passes: NAME OP VALUE, OP one of > >= < <= = != "
            "(e.g. 'roc_auc>0.9'). Reads the --scope metrics.",
            show_default=False,
        ),
    ] = None,
    sort_metric: Annotated[
        str | None,
        typer.Option(
            "--sort-metric",
            help="Order by this metric (of --scope), highest first; runs without it are left out.",
            show_default=False,
        ),
    ] = None,
    ascending: Annotated[
        bool, typer.Option("--ascending", help="Lowest metric (or oldest run) first.")
    ] = False,
    scope: Annotated[
        str, typer.Option("--scope", help="Metrics --where and --sort-metric read: cv or test.")
    ] = "cv",
    after: Annotated[
        str | None,
        typer.Option(
            "--after",
            help="Start after this run id (keyset paging): pass the id the previous page "
            "printed as 'next page'.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many runs on a page.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many first (prefer --after).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the page as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List training runs, newest first (or by a metric), a page at a time."""
    from modelloop.store import Store

    metric_filter = None if where is None else parse_where(where)
    if isinstance(limit, bool) or limit < 1:
        raise InvalidInputError(f"--limit must be an integer >= 1. Got {limit}.")
    filters: dict[str, Any] = {"name": name, "status": status, "metric_filter": metric_filter}
    with Store.from_settings(make_settings(store, home, debug)) as st:
        st.mark_interrupted_runs()  # a run whose process was killed says so
        # one run more than the page: whether a next page exists, without a second query
        records = st.list_runs(
            **filters,
            sort_metric=sort_metric,
            metric_scope=scope,
            ascending=ascending,
            after=after,
            limit=limit + 1,
            offset=offset,
        )
        total = st.count_runs(**filters, metric_scope=scope)
    more = len(records) > limit
    records = records[:limit]
    if as_json:
        print_json([r.__dict__ for r in records])
        return
    filtered = name is not None or status is not None or where is not None
    if not records:
        if after is not None:
            out.print(f"No more runs after {after}.")
        elif filtered:
            out.print(f"No runs match ({total} runs with these filters).")
        else:
            out.print("No runs recorded yet.")
        return
    extra = [m for m in dict.fromkeys([sort_metric, metric_filter and metric_filter[0]]) if m]
    out.print(
        table(
            "Runs",
            ["run", "name", "started", "status", "task", "metric", "best model", "CV", "test"]
            + [f"{scope} {m}" for m in extra],
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
                + [
                    ((r.cv_metrics if scope == "cv" else r.test_metrics) or {}).get(m)
                    for m in extra
                ]
                for r in records
            ],
        )
    )
    line = f"{len(records)} of {total:,} run{'' if total == 1 else 's'}"
    line += " that match the filters" if filtered else ""
    if sort_metric is not None and (metric_filter is None or metric_filter[0] != sort_metric):
        line += f" (runs without {scope} {sort_metric} are left out)"
    out.print(line + ".")
    if more:
        out.print(f"next page: --after {records[-1].id}")


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
        st.mark_interrupted_runs()
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
        out.print(
            "timings: "
            + ", ".join(
                f"{k} {v}s" if k.endswith("_s") else f"{k} {v}" for k, v in r.timings.items()
            )
        )
    if r.library_versions:
        out.print("libraries: " + ", ".join(f"{k} {v}" for k, v in r.library_versions.items()))


@app.command("compare")
def compare_command(
    run_ids: Annotated[
        list[str],
        typer.Argument(help=f"2 to {MAX_COMPARE} run ids or unique prefixes (>= 4 characters)."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compare runs side by side: parameters, CV and test metrics (best value in bold)."""
    from modelloop.store import Store

    wanted = list(dict.fromkeys(run_ids))
    if not 2 <= len(wanted) <= MAX_COMPARE:
        raise InvalidInputError(
            f"runs compare takes 2 to {MAX_COMPARE} distinct run ids. Got {len(wanted)}: "
            f"{' '.join(run_ids)}. List run ids with `modelloop runs list`."
        )
    with Store.from_settings(make_settings(store, home, debug)) as st:
        records = st.get_runs(wanted)
    if as_json:
        print_json([r.__dict__ for r in records])
        return
    out.print(table("Runs compared", ["", *(r.id[:12] for r in records)], compare_rows(records)))


def compare_rows(records: list[Any]) -> list[list[Any]]:
    """Rows of ``runs compare``: facts, parameters, then CV and test metrics (best in bold)."""
    rows: list[list[Any]] = [
        ["name", *(escape(r.name) for r in records)],
        ["status", *(r.status for r in records)],
        ["started", *(f"{r.started_at:%Y-%m-%d %H:%M}" for r in records)],
        ["task", *(r.task for r in records)],
        ["target", *(r.target for r in records)],
        ["metric", *(r.metric for r in records)],
        ["best model", *(r.best_model for r in records)],
        ["dataset", *(None if r.dataset_hash is None else r.dataset_hash[:12] for r in records)],
    ]
    for key in dict.fromkeys(k for r in records for k in (r.params or {})):
        values = [(r.params or {}).get(key) for r in records]
        rows.append([f"param {key}", *(None if v is None else _cell(v) for v in values)])
    for scope, attr in (("cv", "cv_metrics"), ("test", "test_metrics")):
        for key in dict.fromkeys(k for r in records for k in (getattr(r, attr) or {})):
            if key.endswith("_std"):
                continue
            values = [(getattr(r, attr) or {}).get(key) for r in records]
            best = _best(key, values)
            rows.append(
                [
                    f"{scope} {key}",
                    *(f"[bold]{fmt(v)}[/]" if i == best else v for i, v in enumerate(values)),
                ]
            )
    return rows


def _cell(value: Any) -> str:
    """A parameter for a table cell: short, and never read as rich markup."""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return escape(text if len(text) <= 40 else text[:39] + "…")


def _best(metric: str, values: list[Any]) -> int | None:
    """Index of the best of ``values`` for ``metric``; ``None`` for an unknown direction."""
    from modelloop.evaluation import get_metric

    try:
        higher = get_metric(metric).greater_is_better
    except ConfigurationError:  # a name the metric registry does not know: no direction
        return None
    numbers = [
        (i, float(v))
        for i, v in enumerate(values)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
    ]
    if len(numbers) < 2:
        return None
    return (max if higher else min)(numbers, key=lambda item: item[1])[0]


def _short(params: dict) -> str:
    """Parameters on one line: floats to 4 significant digits."""
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
