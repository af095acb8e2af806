"""``modelloop catalog``: every model modelloop can train, its tasks, and whether it is installed."""

from __future__ import annotations

from typing import Annotated

import typer

from modelloop.cli._common import DebugOpt, make_settings, out, print_json, table


def catalog_command(
    task: Annotated[
        str | None,
        typer.Option(
            help="Only the models for this task: binary, multiclass, regression, clustering, "
            "reduce or anomaly.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    debug: DebugOpt = False,
) -> None:
    """List every model with the tasks it handles and whether what it needs is installed.

    Use the names with `modelloop train --models NAME,NAME`.
    """
    from modelloop.exceptions import ConfigurationError
    from modelloop.models import catalog_entries

    make_settings(debug=debug)
    entries = catalog_entries()
    if task is not None:
        known = sorted({t for e in entries for t in e.tasks})
        if task not in known:
            raise ConfigurationError(f"--task must be one of {', '.join(known)}. Got {task!r}.")
        entries = [e for e in entries if task in e.tasks]
    if as_json:
        print_json([e.__dict__ for e in entries])
        return
    out.print(
        table(
            "Models" + (f" for {task}" if task else ""),
            ["model", "tasks", "installed", "description"],
            [
                [
                    e.name,
                    ", ".join(e.tasks),
                    "yes" if e.installed else f"no: {e.install}",
                    e.description,
                ]
                for e in entries
            ],
        )
    )
