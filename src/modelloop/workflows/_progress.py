"""Progress of long work, reported to whoever shows it (the command line's bar).

A workflow calls ``on_progress(message, done, total)``: ``message`` names the step,
``done`` counts finished units of it (rows, batches, windows; ``None`` for a step that is
not counted) and ``total`` is how many there are (``None`` when not known ahead).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["OnProgress", "quiet"]

OnProgress = Callable[[str, "int | None", "int | None"], None]


def quiet(message: str, done: int | None = None, total: int | None = None) -> None:
    """The default: show nothing.

    >>> quiet("Reading rows", 10, None)
    """
