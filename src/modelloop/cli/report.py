"""``modelloop report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, TrustOpt, make_settings, out


def report_command(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="RUN|MODEL",
            help="A run id (or a unique prefix), or NAME, NAME@ALIAS or NAME:VERSION of a model.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the HTML report.")
    ] = Path("report.html"),
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the test metrics' 95% intervals.")
    ] = 200,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: TrustOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write one self-contained HTML evaluation report of a run or a model version.

    The page embeds everything (it loads nothing from any host): the data profile, CV vs
    test metrics with bootstrap intervals, confusion matrix, ROC, precision-recall and
    calibration curves (classifiers) or predicted-vs-actual and residual plots
    (regression), permutation importance, the leaderboard and the search history.
    """
    from modelloop.workflows import report

    settings = make_settings(store, home, debug, trust)
    path = report(ref, output, settings=settings, n_boot=bootstrap)
    out.print(f"Report of {ref} written to {path}")
