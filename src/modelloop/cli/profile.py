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
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Show each column's role, missing share, distinct values and range or top values."""
    from modelloop.data import load, profile

    make_settings(debug=debug)
    dataset = load(data, target=target, table=table_name, query=query)
    prof = profile(dataset, target=target)
    if as_json:
        print_json(prof.to_dict())
        return
    rows = prof.table.to_dict(orient="records")
    out.print(
        table(
            f"{dataset.name}: {prof.n_rows} rows × {prof.n_cols} columns (dataset {dataset.hash[:12]})",
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
    for warning in prof.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
