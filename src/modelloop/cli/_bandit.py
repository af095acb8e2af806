"""``modelloop train --task bandit`` and ``modelloop evaluate-policy``: policies and their value."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    err,
    fmt,
    make_settings,
    out,
    print_json,
    table,
)

_NAMES = {
    "ips": "IPS",
    "snips": "SNIPS (self-normalised)",
    "dr": "doubly robust",
    "dm": "direct method (reward model)",
}


def print_off_policy(
    report: Any, title: str, *, logged: str = "the logging policy's value, the log's mean reward"
) -> None:
    """The estimates with their intervals, the effective sample size and the warnings."""
    level = f"{report.confidence:.0%}"
    rows = [
        [
            _NAMES.get(k, k),
            fmt(e.value, 5),
            f"[{fmt(e.low, 5)}, {fmt(e.high, 5)}]",
            fmt(e.std_error, 5),
        ]
        for k, e in report.estimates.items()
    ]
    out.print(table(title, ["estimator", "value", f"{level} interval", "std. error"], rows))
    out.print(
        f"Mean reward logged ({logged}): {fmt(report.logging_value, 5)}; "
        f"effective sample size {report.ess:,.1f} of {report.n:,} rows; largest weight "
        f"{report.max_weight:,.1f}."
    )


def train_bandit_command(
    data: str,
    bandit: dict[str, Any],
    *,
    settings: Any,
    name: str | None,
    models: list[str] | None,
    cv: int,
    test_size: float,
    time_budget: float,
    max_trials: int | None,
    seed: int | None,
    alias: list[str],
    drop: list[str],
    types: dict[str, str],
    register: bool,
    as_json: bool,
) -> None:
    """Learn a policy from the log DATA, print its off-policy estimates, register it."""
    from modelloop.cli._common import search_display
    from modelloop.workflows import load_source, train_bandit

    source = load_source(data, settings=settings, drop=drop, types=types)
    with search_display(enabled=not as_json, budget=time_budget) as on_event:
        result = train_bandit(
            source,
            name=name or source.name,
            register=register,
            aliases=alias,
            models=models,
            cv=cv,
            test_size=test_size,
            time_budget=time_budget,
            max_trials=max_trials,
            seed=seed,
            drop=drop,
            types=types,
            settings=settings,
            on_event=on_event,
            **bandit,
        )
    if as_json:
        print_json(result.to_dict())
        return
    info = result.bandit
    if not result.leaderboard.empty:
        metric = f"cv_{next(iter(result.cv_metrics))}"
        board = result.leaderboard.head(10).to_dict(orient="records")
        out.print(
            table(
                f"Reward model search (selected by CV {metric[3:]})",
                ["model", metric[3:], "± std", "status"],
                [[r["model"], r.get(metric), r["cv_std"], r["status"]] for r in board],
            )
        )
    explore = (
        f"epsilon-greedy, epsilon {info['epsilon']:g}"
        if info["exploration"] == "epsilon_greedy"
        else f"softmax, temperature {info['temperature']:g}"
    )
    if info["min_propensity"]:
        explore += f", every action at least {info['min_propensity']:g}"
    out.print(
        f"Policy: learner '{info['learner']}' ({result.best_model}), {len(info['actions'])} "
        f"actions, {explore}."
    )
    if result.evaluation is not None:
        print_off_policy(
            result.evaluation,
            f"Off-policy value on the {result.evaluation.n:,} held-out rows",
        )
    for note in result.notes:
        err.print(f"note: {escape(note)}")
    if result.version is not None:
        aliases = f" (aliases: {', '.join(alias)})" if alias else ""
        out.print(
            f"Registered [bold]{result.name}[/] version {result.version}{aliases}; run "
            f"{result.run_id[:12]}."
        )
        out.print(
            f"Next: modelloop evaluate-policy {result.name}:{result.version} LOG.csv, or "
            f"modelloop serve and POST /v1/models/{result.name}/decide"
        )
    else:
        out.print(f"Run {result.run_id[:12]} recorded; policy not registered (--no-register).")


def evaluate_policy_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION of a policy.")],
    log: Annotated[
        str,
        typer.Argument(
            help="A log of decisions it did not make: contexts, action, reward, propensity."
        ),
    ],
    action: Annotated[
        str | None, typer.Option(help="The log's action column (default: the policy's).")
    ] = None,
    reward: Annotated[
        str | None, typer.Option(help="The log's reward column (default: the policy's).")
    ] = None,
    propensity: Annotated[
        str | None,
        typer.Option(help="The log's propensity column (default: the policy's)."),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="Column to leave out (repeatable).")
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    seed: Annotated[int | None, typer.Option(help="Seed of the bootstrap and the folds.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimates as JSON.")] = False,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Estimate the value MODEL (a decision policy) would have had on LOG, off-policy.

    IPS, self-normalised IPS, doubly robust and the direct method, each with a bootstrap
    interval, the effective sample size, and warnings when propensities are near zero or
    the policy takes actions the log never tried. LOG needs the logging policy's
    propensities; a reward model for DR is cross-fitted on LOG itself.
    """
    from modelloop.workflows import evaluate_policy

    result = evaluate_policy(
        model,
        log,
        action=action,
        reward=reward,
        propensity=propensity,
        drop=drop or (),
        n_bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        settings=make_settings(store, home, debug),
    )
    if as_json:
        print_json(result.to_dict())
        return
    print_off_policy(result.report, f"Value of policy {result.model} on {result.log}")
    for note in result.notes:
        err.print(f"note: {escape(note)}")
