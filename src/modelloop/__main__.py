"""``python -m modelloop`` runs the CLI."""

from modelloop.cli import run

run()
