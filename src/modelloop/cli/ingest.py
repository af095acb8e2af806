"""``modelloop ingest``: read a source and keep it as a versioned snapshot."""

from __future__ import annotations

from pathlib import Path
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
    work_progress,
)
from modelloop.exceptions import ConfigurationError


def parse_headers(values: list[str]) -> dict[str, str]:
    """``['Authorization: Bearer ${TOKEN}']`` -> ``{'Authorization': 'Bearer ${TOKEN}'}``."""
    headers = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep:
            name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(
                f"--header takes 'Name: value' (e.g. 'Authorization: Bearer ${{API_TOKEN}}'). "
                f"Got {value.split(':')[0][:40]!r}..."
            )
        headers[name.strip()] = rest.strip()
    return headers


def ingest_command(
    source: Annotated[
        str,
        typer.Argument(
            help="A file, a SQLAlchemy URL (with --table/--query), an http(s) URL of a JSON "
            "API or of a web page (with --html-table/--selector)."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Snapshot name (default: the source's stem)."),
    ] = None,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Table to read when SOURCE is a database URL.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="SQL query to run when SOURCE is a database URL.")
    ] = None,
    since_column: Annotated[
        str | None,
        typer.Option(
            "--since-column",
            help="Database sources: read only rows whose value here is newer than the last "
            "snapshot's, and append them.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="With --since-column: row id; newer rows replace older ones."),
    ] = None,
    records: Annotated[
        str | None,
        typer.Option("--records", help="JSON APIs: dotted path of the records ('data.items')."),
    ] = None,
    page_param: Annotated[
        str | None, typer.Option("--page-param", help="Query parameter of the page number.")
    ] = None,
    offset_param: Annotated[
        str | None, typer.Option("--offset-param", help="Query parameter of the row offset.")
    ] = None,
    limit_param: Annotated[
        str | None,
        typer.Option("--limit-param", help="Query parameter of the page size ('limit')."),
    ] = None,
    page_size: Annotated[
        int | None, typer.Option("--page-size", help="Records per page (sent with --limit-param).")
    ] = None,
    next_field: Annotated[
        str | None,
        typer.Option(
            "--next-field",
            help="Dotted path of the next page's URL in each response ('links.next'). A "
            "Link: rel=next header is followed anyway.",
        ),
    ] = None,
    max_pages: Annotated[
        int, typer.Option("--max-pages", help="Stop after this many pages.")
    ] = 1000,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            help="Request header 'Name: value'; ${VAR} is taken from the environment when "
            "sending and never stored.",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request.")] = 30.0,
    retries: Annotated[
        int, typer.Option("--retries", help="Retries on 429, 5xx, timeouts and connection errors.")
    ] = 3,
    rate_limit: Annotated[
        float | None, typer.Option("--rate-limit", help="At most this many requests per second.")
    ] = None,
    html_table: Annotated[
        int | None, typer.Option("--html-table", help="Web pages: index of the table (0 = first).")
    ] = None,
    selector: Annotated[
        str | None, typer.Option("--selector", help="Web pages: CSS selector of the table.")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="Validation rules (YAML); nothing is stored if they fail."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Read SOURCE, check --rules, and store it as the next version of snapshot --name."""
    from modelloop.data import HttpOptions
    from modelloop.workflows import ingest

    settings = make_settings(store, home, debug)
    if header and not source.lower().startswith(("http://", "https://")):
        raise ConfigurationError(f"--header applies to http(s) sources only. Got {source}.")
    http = HttpOptions(
        page_param=page_param,
        offset_param=offset_param,
        limit_param=limit_param,
        page_size=page_size,
        next_field=next_field,
        max_pages=max_pages,
        headers=parse_headers(header or []),
        timeout=timeout,
        retries=retries,
        rate_limit=rate_limit,
    )
    if table_name is not None and html_table is not None:
        raise ConfigurationError("Give --table (databases) or --html-table (web pages), not both.")
    with work_progress() as on_progress:
        result = ingest(
            source,
            name=name,
            table=table_name if table_name is not None else html_table,
            query=query,
            records=records,
            selector=selector,
            http=http,
            since_column=since_column,
            key=key,
            rules=rules,
            settings=settings,
            on_progress=on_progress,
        )
    if as_json:
        print_json(result.to_dict())
        return
    snap = result.snapshot
    if result.created:
        out.print(
            f"Stored snapshot [bold]{escape(snap.ref)}[/]: {snap.n_rows} rows × {snap.n_cols} "
            f"columns (content {snap.hash[:12]}, {result.n_read} rows read)."
        )
    else:
        out.print(
            f"No change: snapshot [bold]{escape(snap.ref)}[/] already holds this data "
            f"({snap.n_rows} rows, {result.n_read} rows read); no new version."
        )
    if result.report is not None:
        err.print(f"Rules: passed ({result.report.n_rows} rows checked).")
    out.print(f"Train on it with: modelloop train data:{escape(snap.ref)} --target COLUMN")
