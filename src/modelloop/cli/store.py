"""``modelloop store upgrade|prune|sweep``: look after the store's database and files."""

from __future__ import annotations

from typing import Annotated

import typer

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, make_settings, out

app = typer.Typer(help="The store's database: schema migrations, retention.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(store: StoreOpt = None, home: HomeOpt = None, debug: DebugOpt = False) -> None:
    """Migrate the store's schema to this modelloop's version (back up the database first).

    Needed when modelloop refuses to open a store whose schema is older than the code.
    Safe to run again: a store already up to date is left as it is.
    """
    from modelloop.store import Store

    settings = make_settings(store, home, debug)
    settings.home.mkdir(parents=True, exist_ok=True)
    before, after = Store.upgrade_schema(settings.resolved_store_url())
    if before == after:
        out.print(f"The store is up to date (schema revision {after}).")
    elif before is None:
        out.print(f"Created the store's schema (revision {after}).")
    else:
        out.print(f"Upgraded the store's schema from revision {before} to {after}.")


@app.command("prune")
def prune_command(
    older_than_days: Annotated[
        float | None,
        typer.Option(
            help="Delete logged predictions older than this many days "
            "(default: the predictions_retention_days setting).",
            show_default=False,
        ),
    ] = None,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Delete old rows of the prediction log (the server also does it as it logs)."""
    from modelloop.exceptions import ConfigurationError
    from modelloop.store import Store

    settings = make_settings(store, home, debug)
    days = older_than_days or settings.predictions_retention_days
    if days is None:
        raise ConfigurationError(
            "No retention to apply: pass --older-than-days N, or set "
            "MODELLOOP_PREDICTIONS_RETENTION_DAYS (predictions_retention_days in modelloop.toml)."
        )
    with Store.from_settings(settings) as st:
        n = st.apply_retention(days)
    out.print(f"Deleted {n} logged predictions older than {days:g} days.")


@app.command("sweep")
def sweep_command(store: StoreOpt = None, home: HomeOpt = None, debug: DebugOpt = False) -> None:
    """Close the runs of processes that were killed (status 'interrupted') and delete the
    files they left: temporary files, and model or snapshot files no version references.

    Files a running process is writing are never touched (``train`` does this first too).
    """
    from modelloop.store import Store

    with Store.from_settings(make_settings(store, home, debug)) as st:
        interrupted, removed = st.recover()
    out.print(
        f"Marked {len(interrupted)} run(s) interrupted; removed {len(removed)} orphan "
        "file(s) or folder(s)."
    )
    for path in removed:
        out.print(f"  {path}")
