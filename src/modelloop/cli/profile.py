"""``modelloop profile``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from modelloop.cli._common import DebugOpt, err, make_settings, out, print_json, table


def profile_command(
    data: Annotated[
        str, typer.Argument(help="The file (or SQLAlchemy URL with --table/--query) to profile.")
    ],
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Target column: adds target checks and leakage warnings."
        ),
    ] = None,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Table to read when DATA is a database URL.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="SQL query to run when DATA is a database URL.")
    ] = None,
    sample_rows: Annotated[
        int | None,
        typer.Option(
            "--sample-rows",
            min=1,
            help="Profile a seeded uniform sample of at most N rows (a bigger CSV/Parquet file "
            "is streamed; default: load_sample_rows in the config, else what fits in a "
            "quarter of free memory).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Show each column's role, missing share, distinct values and range or top values.

    A file too big for memory is streamed: the table is over a seeded uniform sample (the
    title and a warning say how big), and the row count, missing shares and numeric
    min / max / mean are exact over the whole file.
    """
    from modelloop.data import load, profile

    settings = make_settings(debug=debug)
    dataset = load(
        data,
        target=target,
        table=table_name,
        query=query,
        sample_rows=sample_rows if sample_rows is not None else settings.load_sample_rows,
        seed=settings.seed,
    )
    prof = profile(dataset, target=target)
    if as_json:
        print_json(prof.to_dict())
        return
    rows = prof.table.to_dict(orient="records")
    shape = f"{prof.n_rows} rows × {prof.n_cols} columns"
    if dataset.sample is not None:
        shape = (
            f"sample of {dataset.sample.rows_kept:,} of {dataset.sample.rows_total:,} rows × "
            f"{prof.n_cols} columns"
        )
    out.print(
        table(
            f"{dataset.name}: {shape} (dataset {dataset.hash[:12]})",
            ["column", "role", "missing %", "distinct", "summary", "note"],
            [
                [
                    r["column"],
                    r["role"],
                    f"{r['missing_pct']:.1f}",
                    r["distinct"],
                    r["summary"],
                    r["note"],
                ]
                for r in rows
            ],
        )
    )
    if prof.target:
        details = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in prof.target.items()
            if k != "name"
        )
        out.print(f"Target '{escape(str(prof.target.get('name')))}': {escape(details)}")
    out.file.flush()  # the table ends its line before the warnings (stderr) start theirs
    for warning in prof.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
