"""Column-name helpers for error messages: closest-name suggestions and short column lists."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from modelloop.exceptions import ColumnNotFoundError

__all__ = ["column_not_found", "short_list"]


def short_list(names: Sequence[str], limit: int = 20) -> str:
    """'a', 'b', ... and 61 more -- a column list that fits on one line."""
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def column_not_found(name: str, columns: Sequence[str], source: str) -> ColumnNotFoundError:
    """The error for a column the user named that ``source`` does not have."""
    columns = [str(c) for c in columns]
    by_lower = {c.lower(): c for c in columns}
    guess = by_lower.get(str(name).lower())
    if guess is None:
        close = difflib.get_close_matches(str(name), columns, n=1, cutoff=0.6)
        guess = close[0] if close else None
    hint = f" Did you mean '{guess}'?" if guess else ""
    return ColumnNotFoundError(
        f"Column '{name}' is not in {source}.{hint} Columns: {short_list(columns)}."
    )
