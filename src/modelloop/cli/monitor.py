"""``modelloop monitor``: drift and performance of a served model; exit 1 on an alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    TrustOpt,
    err,
    fmt,
    make_settings,
    out,
    table,
    work_progress,
)
from modelloop.exceptions import InvalidInputError


def _check_output(path: Path | None, what: str, suffixes: tuple[str, ...]) -> None:
    if path is None:
        return
    if path.suffix.lower() not in suffixes:
        raise InvalidInputError(f"{what} must end in {' or '.join(suffixes)}. Got '{path.name}'.")
    if not path.parent.exists():
        raise InvalidInputError(f"Folder '{path.parent}' for {what} does not exist.")


def _verdict(drifted: bool | None, verdict: str) -> str:
    if drifted is None:
        return f"[yellow]{verdict}[/]"
    return "[bold red]yes[/]" if drifted else "no"


def _feature_rows(report: Any) -> list[list[Any]]:
    rows = []
    for f in report.features:
        threshold = f"p<{f.threshold:g}" if f.test in ("ks", "chi2") else f">={f.threshold:g}"
        stat = fmt(f.statistic)
        if f.test in ("ks", "chi2") or f.p_adjusted is not None:
            stat = f"{stat} (p={fmt(f.p_adjusted, 3)})"
        rows.append(
            [
                escape(f.name),
                f.test,
                stat,
                threshold,
                fmt(f.psi, 3),
                f"{f.missing_reference:.1%}→{f.missing_current:.1%}",
                _verdict(f.drifted, f.verdict),
                ", ".join(f.reasons),
            ]
        )
    return rows


def _summary(result: Any) -> None:
    report = result.report
    out.print(
        f"Model {result.model}: {report.n_current} current rows ({result.window}) vs "
        f"{report.n_reference} reference rows, in {report.seconds:.1f} s."
    )
    out.print(
        f"Drifted features: {len(report.drifted_features)} of {len(report.features)} "
        f"({report.drift_share:.0%})"
    )
    if report.domain is not None:
        d = report.domain
        top = ", ".join(escape(n) for n, _ in d.top_features[:3])
        out.print(
            f"Domain classifier ROC AUC: {fmt(d.auc, 3)} (threshold {d.threshold:.3f}): "
            f"{d.verdict}{f'; relies most on {top}' if d.drifted and top else ''}"
        )
    if report.prediction is not None:
        p = report.prediction
        out.print(f"Prediction drift: {p.test} {fmt(p.statistic, 3)}: {p.verdict}")
    perf = report.performance
    if perf is not None:
        est = perf.current.expected.get(perf.metric)
        real = perf.current.actual.get(perf.metric)
        out.print(
            f"{perf.metric}: training {fmt(perf.training)}, estimated now {fmt(est)}, "
            f"measured now {fmt(real)} ({perf.current.n_labeled} labeled rows)"
        )


def _decisions(d: Any) -> None:
    """A decision policy's decisions, rewards, reward rate over time and value estimates."""
    c = d.counts
    out.print(
        f"Decisions: {d.decisions} ({c['rewarded']} rewarded, {c['defaulted']} counted with the "
        f"default reward, {c['pending']} waiting for their reward, {c['dropped']} without)."
    )
    out.print(
        f"Reward rate: {fmt(d.reward_rate)}; expected at training (DR estimate): "
        f"{fmt(d.expected_value)}."
    )
    if d.windows:
        rows = [
            [f"{w.start:%m-%d %H:%M:%S}", f"{w.end:%m-%d %H:%M:%S}", w.decisions, w.rewarded,
             w.pending, w.reward_rate]
            for w in d.windows
        ]  # fmt: skip
        columns = ["from (UTC)", "to", "decisions", "rewarded", "pending", "reward rate"]
        out.print(table("Reward rate over time", columns, rows))
    if d.estimates is not None:
        from modelloop.cli._bandit import print_off_policy

        print_off_policy(
            d.estimates,
            "Value of the served version on these decisions",
            logged="the decisions' mean reward",
        )


def monitor_command(
    model: Annotated[
        str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION of a registered model.")
    ],
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="Current window: the last N logged rows (5000) or a time span (30m, 12h, 7d, 2w). "
            "(default: monitor_window in the config, 10000)",
            show_default=False,
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON here.")
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")
    ] = None,
    no_notify: Annotated[
        bool, typer.Option("--no-notify", help="Do not call the webhook even if an alert fires.")
    ] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: TrustOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare a model's logged production inputs with its training rows.

    Prints one line per feature (test, statistic, threshold, drifted?) and a summary:
    domain-classifier AUC, prediction drift, estimated and measured performance. Exits 1
    when an alert rule fires (see docs/monitoring.md), 2 on bad input, 0 otherwise.
    """
    from modelloop.monitoring import drift_html
    from modelloop.workflows import monitor

    settings = make_settings(store, home, debug, trust)
    _check_output(json_path, "--json", (".json",))
    _check_output(html_path, "--html", (".html", ".htm"))
    with work_progress() as on_progress:
        result = monitor(
            model, settings=settings, window=window, notify=not no_notify, on_progress=on_progress
        )
    report = result.report
    out.print(
        table(
            f"Drift of {result.model}",
            ["feature", "test", "statistic", "threshold", "PSI", "missing", "drifted?", "why"],
            _feature_rows(report),
        )
    )
    _summary(result)
    if result.decisions is not None:
        _decisions(result.decisions)
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
        out.print(f"JSON report: {json_path}")
    if html_path is not None:
        page = drift_html(
            report,
            title=f"Drift report: {result.model}",
            subtitle=f"{report.n_current} current rows ({result.window})",
            alerts=result.alerts,
        )
        html_path.write_text(page, encoding="utf-8")
        out.print(f"HTML report: {html_path}")
    if result.webhook is not None and not result.webhook.ok:
        err.print(f"[yellow]warning:[/] webhook failed: {escape(result.webhook.error or '')}")
    if result.alerts:
        for a in result.alerts:
            err.print(f"[bold red]ALERT[/] {a.rule}: {escape(a.message)}")
        raise typer.Exit(1)
    out.print("No alert.")
