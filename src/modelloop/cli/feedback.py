"""``modelloop feedback NAME FILE``: delayed labels for a model's logged predictions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    TrustOpt,
    err,
    make_settings,
    out,
    print_json,
    work_progress,
)
from modelloop.exceptions import InvalidInputError

if TYPE_CHECKING:
    from modelloop.store import RewardResult


def feedback_command(
    name: Annotated[str, typer.Argument(help="The registered model whose predictions to label.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV/TSV/Parquet/JSON Lines with columns request_id,label (or key,label for "
            "a model trained with --id-column; event_id,reward for a decision policy)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: TrustOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Attach true labels to earlier predictions of NAME (by request id or key).

    Unknown ids are reported; labels of the wrong type or unseen classes are rejected with
    a reason. Exit status 2 when no label at all could be attached.
    """
    from modelloop.store import RewardResult
    from modelloop.workflows import feedback

    settings = make_settings(store, home, debug, trust)
    with work_progress() as on_progress:
        result = feedback(name, file, settings=settings, on_progress=on_progress)
    if isinstance(result, RewardResult):  # a decision policy: rewards for its decisions
        _print_rewards(result, name, file, as_json)
        return
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


def _print_rewards(result: RewardResult, name: str, file: Path, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
    else:
        out.print(
            f"Recorded {result.recorded} reward(s) of {result.received} for decisions of "
            f"policy '{escape(name)}'."
        )
        for what, ids, n in (
            ("duplicate (the same reward again, ignored)", result.duplicates, result.n_duplicates),
            ("conflicting (a reward was already recorded; the first stands)", result.conflicts,
             result.n_conflicts),
            ("expired (past the reward wait)", result.expired, result.n_expired),
            ("unknown event id(s)", result.unknown, result.n_unknown),
        ):  # fmt: skip
            if n:
                shown = ", ".join(map(str, ids[:5])) + (f" and {n - 5} more" if n > 5 else "")
                err.print(f"note: {n} {what}: {escape(shown)}.")
        for r in result.rejected[:10]:
            err.print(f"rejected row {r['index']}: {escape(r['reason'])}")
    refused = result.n_unknown + result.n_expired + result.n_conflicts + len(result.rejected)
    if not result.recorded and refused:
        reason = (
            f"{result.n_unknown} unknown event id(s), e.g. {result.unknown[0]}"
            if result.n_unknown
            else f"{result.n_expired} past the reward wait, e.g. {result.expired[0]}"
            if result.n_expired
            else f"{result.n_conflicts} already rewarded differently, e.g. {result.conflicts[0]}"
            if result.n_conflicts
            else f"row {result.rejected[0]['index']}: {result.rejected[0]['reason']}"
        )
        raise InvalidInputError(f"No reward from {file} was recorded: {reason}.")
