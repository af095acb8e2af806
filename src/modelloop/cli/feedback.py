"""``modelloop feedback NAME FILE``: delayed labels for a model's logged predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, err, make_settings, out, print_json
from modelloop.exceptions import InvalidInputError


def feedback_command(
    name: Annotated[str, typer.Argument(help="The registered model whose predictions to label.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV/TSV/Parquet/JSON Lines with columns request_id,label (or key,label for "
            "a model trained with --id-column)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Attach true labels to earlier predictions of NAME (by request id or key).

    Unknown ids are reported; labels of the wrong type or unseen classes are rejected with
    a reason. Exit status 2 when no label at all could be attached.
    """
    from modelloop.workflows import feedback

    result = feedback(name, file, settings=make_settings(store, home, debug))
    if as_json:
        print_json(result.to_dict())
    else:
        out.print(
            f"Labeled {result.labeled} prediction(s) of model '{escape(name)}' "
            f"({result.accepted} of {result.received} item(s) accepted)."
        )
        if result.n_unknown:
            shown = ", ".join(map(str, result.unknown[:5]))
            more = f" and {result.n_unknown - 5} more" if result.n_unknown > 5 else ""
            err.print(f"note: {result.n_unknown} unknown id(s): {escape(shown)}{more}.")
        for r in result.rejected[:10]:
            err.print(f"rejected row {r['index']}: {escape(r['reason'])}")
        if len(result.rejected) > 10:
            err.print(f"... and {len(result.rejected) - 10} more rejected rows (see --json).")
    if not result.accepted and result.rejected:
        first = result.rejected[0]
        raise InvalidInputError(
            f"No label from {file} was accepted: {len(result.rejected)} row(s) rejected, e.g. "
            f"row {first['index']}: {first['reason']}."
        )
