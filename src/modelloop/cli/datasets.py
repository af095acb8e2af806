"""``modelloop datasets list|get``: datasets bundled with modelloop or scikit-learn (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from modelloop.cli._common import DebugOpt, make_settings, out, print_json, table
from modelloop.exceptions import ConfigurationError

app = typer.Typer(
    help="Small public datasets that ship with the package: try every task offline.",
    no_args_is_help=True,
)


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    debug: DebugOpt = False,
) -> None:
    """List the bundled datasets with their task and target."""
    from modelloop.data import bundled_datasets

    make_settings(debug=debug)
    entries = bundled_datasets()
    if as_json:
        print_json([e.__dict__ for e in entries])
        return
    out.print(
        table(
            "Bundled datasets (no download needed)",
            ["name", "task", "target", "rows", "columns", "from", "description"],
            [
                [e.name, e.task, e.target, e.n_rows, e.n_cols, e.origin, e.description]
                for e in entries
            ],
        )
    )
    out.print("Write one to a file with: modelloop datasets get NAME -o NAME.csv")


@app.command("get")
def get_command(
    name: Annotated[str, typer.Argument(help="A name from 'modelloop datasets list'.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this .csv or .parquet file (default: NAME.csv)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Write a bundled dataset to a CSV or Parquet file, ready for 'modelloop train'."""
    from modelloop.data import bundled_dataset, load_bundled

    make_settings(debug=debug)
    entry = bundled_dataset(name)
    path = output or Path(f"{entry.name}.csv")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigurationError(
            f"--output must end in .csv or .parquet. Got {path.name!r}; try {entry.name}.csv."
        )
    if path.exists() and not force:
        raise ConfigurationError(f"{path} exists already. Pass --force to overwrite it.")
    frame = load_bundled(entry.name)
    tmp = path.with_name(f".{path.name}.partial")
    if suffix == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    out.print(
        f"Wrote {escape(str(path))}: {len(frame)} rows × {frame.shape[1]} columns. Train with:\n"
        f"  modelloop train {escape(str(path))} --target {escape(entry.target)}"
    )
