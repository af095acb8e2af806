"""The ``modelloop`` command: the Typer app and the one place errors become exit codes.

Every ``ModelloopError`` becomes one line on stderr and exit status 2; anything else is an
internal error (exit 1). Tracebacks are shown only with ``--debug`` (or MODELLOOP_DEBUG=1).
"""

from __future__ import annotations

import sys
import time
import traceback

import click
import typer
from rich.markup import escape
from typer.exceptions import TyperException

from modelloop.cli import (
    catalog,
    data,
    datasets,
    demo,
    export,
    ingest,
    models,
    predict,
    profile,
    report,
    runs,
    serve,
    train,
    ui,
)
from modelloop.cli import store as store_cli
from modelloop.cli._bandit import evaluate_policy_command
from modelloop.cli._common import STATE, DebugOpt, err, process_started
from modelloop.cli._help import tidy
from modelloop.cli.feedback import feedback_command
from modelloop.cli.monitor import monitor_command
from modelloop.cli.retrain import retrain_command
from modelloop.cli.watch import watch_command
from modelloop.exceptions import ModelloopError

app = typer.Typer(
    name="modelloop",
    help="Machine learning for tabular data: profile, train, register, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from modelloop import __version__

        typer.echo(f"modelloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: DebugOpt = False,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Machine learning for tabular data: profile, train, register, predict."""
    STATE["debug"] = STATE["debug"] or debug


app.command("train")(train.train_command)
app.command("predict")(predict.predict_command)
app.command("profile")(profile.profile_command)
app.command("catalog")(catalog.catalog_command)
app.command("demo")(demo.demo_command)
app.command("serve")(serve.serve_command)
app.add_typer(models.app, name="models")
app.add_typer(runs.app, name="runs")
app.command("ingest")(ingest.ingest_command)
app.add_typer(data.app, name="data")
app.add_typer(datasets.app, name="datasets")
app.add_typer(store_cli.app, name="store")
app.command("ui")(ui.ui_command)
app.command("report")(report.report_command)
app.command("export")(export.export_command)
app.command("monitor")(monitor_command)
app.command("feedback")(feedback_command)
app.command("retrain")(retrain_command)
app.command("watch")(watch_command)
app.command("evaluate-policy")(evaluate_policy_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and, as a console script, exits with) the status."""
    command = tidy(typer.main.get_command(app))
    args = sys.argv[1:] if argv is None else argv
    STATE["debug"] = "--debug" in args
    # The console script's commands count their time from the process's start; run
    # in-process (argv given), from this call.
    STATE["started"] = process_started() if argv is None else time.monotonic()
    try:
        status = command.main(args=args, prog_name="modelloop", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.ClickException, TyperException) as exc:
        # Typer >= 0.23 raises usage errors from its own copy of click: TyperException.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    except click.exceptions.Abort:
        err.print("Aborted.")
        return 130
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    except ModelloopError as exc:
        if STATE["debug"]:
            traceback.print_exc()
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    except Exception as exc:
        if STATE["debug"]:
            traceback.print_exc()
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}. "
            "Run again with --debug for the traceback, and please report it."
        )
        return 1
    # a command's ``typer.Exit(code)`` comes back as its return value (monitor: 1 on alert)
    return status if type(status) is int else 0
