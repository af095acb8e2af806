"""``modelloop predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    TrustOpt,
    make_settings,
    out,
    work_progress,
)


def predict_command(
    model: Annotated[
        str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION of a registered model.")
    ],
    data: Annotated[
        Path,
        typer.Argument(
            help="CSV/TSV/Parquet/JSON Lines file to score, or a quoted glob of CSV/Parquet "
            "files ('in/*.parquet')."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write predictions: a .csv/.parquet file, or a folder of Parquet "
            "parts for a glob or --cluster.",
        ),
    ],
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="Input column to copy to the output, e.g. an id (repeatable)."),
    ] = None,
    ignore_extra: Annotated[
        bool, typer.Option("--ignore-extra", help="Ignore columns the model does not know.")
    ] = False,
    batch_rows: Annotated[int, typer.Option(help="Rows read and scored at a time.")] = 100_000,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also explain each row: contrib_<column> columns (each input column's "
            "contribution) and base_value, adding up to output_value.",
        ),
    ] = False,
    explain_output: Annotated[
        str | None,
        typer.Option(
            help="What --explain explains: 'probability' (classifiers' default), 'log-odds' "
            "(binary models) or 'value' (regression).",
            show_default=False,
        ),
    ] = None,
    explain_class: Annotated[
        str | None,
        typer.Option(
            help="The class whose output --explain explains (default: the second class of a "
            "binary model, each row's predicted class of a multiclass model).",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Score partitions on Dask: 'local', 'local:N' or 'tcp://host:8786' "
            "(writes a folder of Parquet parts).",
            show_default=False,
        ),
    ] = None,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: TrustOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Score DATA with a registered model and write a prediction per row.

    The output has the --keep columns, a `prediction` column and, for classifiers, one
    `proba_<class>` column per class. Files are read and written in chunks. With --explain
    it also has `explained_class` (classifiers), `output_value`, `base_value` and one
    `contrib_<column>` per input column, with base_value + sum(contrib_*) = output_value.
    """
    from modelloop.exceptions import ConfigurationError
    from modelloop.workflows import ExplainOptions, predict_file, predict_files

    if not explain and (explain_output is not None or explain_class is not None):
        raise ConfigurationError("--explain-output and --explain-class need --explain.")
    options = ExplainOptions(explain_output, explain_class) if explain else None
    settings = make_settings(store, home, debug, trust)
    if cluster or any(ch in str(data) for ch in "*?[") or not output.suffix:
        many = predict_files(
            model,
            str(data),
            output,
            keep=keep or (),
            ignore_extra=ignore_extra,
            cluster=cluster,
            batch_rows=batch_rows,
            explain=options,
            settings=settings,
        )
        where = f" on {many.cluster}" if many.cluster else ""
        out.print(
            f"Scored {many.n_rows} rows of {many.n_files} file(s) with {many.model}{where} "
            f"-> {many.output}/ ({many.n_parts} Parquet parts)"
        )
        return
    with work_progress() as on_progress:
        summary = predict_file(
            model,
            data,
            output,
            keep=keep or (),
            ignore_extra=ignore_extra,
            batch_rows=batch_rows,
            explain=options,
            settings=settings,
            on_progress=on_progress,
        )
    for note in summary.notes:
        out.print(f"note: {note}")
    out.print(f"Scored {summary.n_rows} rows with {summary.model} -> {summary.output}")
    if summary.explained:
        out.print(f"Explained: {summary.explained}")
