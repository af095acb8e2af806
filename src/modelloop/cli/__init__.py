"""The command line: Typer commands that call workflows and print; no logic of their own."""

from __future__ import annotations

import sys

__all__ = ["main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``modelloop`` console script."""
    from modelloop.cli._app import main as _main

    return _main(argv)


def run() -> None:  # pragma: no cover - thin wrapper used by the console script
    sys.exit(main())
