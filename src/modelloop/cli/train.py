"""``modelloop train``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from modelloop.cli._common import (
    DebugOpt,
    HomeOpt,
    StoreOpt,
    command_started,
    err,
    make_settings,
    out,
    print_json,
    search_display,
    table,
)
from modelloop.exceptions import ConfigurationError

if TYPE_CHECKING:
    from modelloop.workflows import TrainResult, UnsupervisedTrainResult


def parse_types(values: list[str]) -> dict[str, str]:
    """``['age=numeric', 'zip=categorical']`` -> ``{'age': 'numeric', 'zip': 'categorical'}``."""
    types: dict[str, str] = {}
    for item in values:
        column, sep, role = item.rpartition("=")
        if not sep or not column or not role:
            raise ConfigurationError(
                f"--types takes COLUMN=ROLE (e.g. zip=categorical). Got '{item}' instead."
            )
        types[column] = role
    return types


def parse_param_grid(value: str | None) -> dict[str, Any] | None:
    """``--param-grid`` JSON -> a dict (one clear error when it is not a JSON object)."""
    if value is None:
        return None
    try:
        grid = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"--param-grid must be a JSON object such as '{{\"max_depth\": [3, 5]}}'. "
            f"Got {value!r} ({exc.msg} at character {exc.pos})."
        ) from None
    if not isinstance(grid, dict):
        raise ConfigurationError(
            f"--param-grid must be a JSON object of parameter names to lists. Got {value!r}."
        )
    return grid


_UNSUPERVISED_OPTIONS = {
    "max_clusters": "clustering",
    "min_clusters": "clustering",
    "contamination": "anomaly",
    "variance": "reduce",
}


def unsupervised_options(
    task: str | None,
    max_clusters: int | None,
    contamination: float | None,
    variance: float | None,
    min_clusters: int | None = None,
) -> dict[str, Any] | None:
    """The options of ``train_unsupervised`` given on the command line (None: a supervised task).

    Each option belongs to one task: given with another, it is refused before any work.
    """
    given = {
        k: v
        for k, v in {
            "max_clusters": max_clusters,
            "min_clusters": min_clusters,
            "contamination": contamination,
            "variance": variance,
        }.items()
        if v is not None
    }
    for option, owner in _UNSUPERVISED_OPTIONS.items():
        if option in given and task != owner:
            flag = "--" + option.replace("_", "-")
            raise ConfigurationError(
                f"{flag} applies to --task {owner} only. Got --task {task or '(detected)'}; "
                f"leave {flag} out or use --task {owner}."
            )
    return given if task in _UNSUPERVISED_OPTIONS.values() else None


_BANDIT_OPTIONS = (
    "action", "reward", "propensity", "actions", "action_key", "learner", "baseline_action",
    "exploration", "epsilon", "temperature", "min_propensity", "default_reward", "reward_wait",
)  # fmt: skip


def bandit_options(task: str | None, target: str | None, **given: Any) -> dict[str, Any] | None:
    """The options of ``train_bandit`` given on the command line (None: not a bandit task).

    They belong to ``--task bandit`` only, which needs ``--action`` and ``--reward`` and no
    ``--target``; every mismatch is refused before any work.
    """
    present = {k: v for k, v in given.items() if v is not None}
    if task != "bandit":
        if present:
            flag = "--" + next(iter(present)).replace("_", "-")
            raise ConfigurationError(
                f"{flag} applies to --task bandit only. Got --task {task or '(detected)'}; "
                f"leave {flag} out or use --task bandit."
            )
        return None
    if target is not None:
        raise ConfigurationError(
            "--task bandit learns a policy from --action and --reward columns, not a --target. "
            f"Got --target {target}: name the reward with --reward {target}."
        )
    missing = [f"--{k}" for k in ("action", "reward") if k not in present]
    if missing:
        raise ConfigurationError(
            f"--task bandit needs {' and '.join(missing)}: the log's column of the action taken "
            "and of the reward that followed (e.g. --action item_id --reward click)."
        )
    text = present.pop("default_reward", None)
    if text is not None:
        if text.strip().lower() in ("none", "null", ""):
            present["default_reward"] = None
        else:
            try:
                present["default_reward"] = float(text)
            except ValueError:
                raise ConfigurationError(
                    f"--default-reward must be a number or 'none'. Got {text!r}."
                ) from None
    if "actions" in present:
        present["actions"] = str(present["actions"])
    return present


DEFAULT_TIME_BUDGET = 120.0
"""--time-budget when none is given (and no --max-trials)."""
EXIT_SECONDS = 2.0
"""What the command needs after ``train`` returns, besides the report: printing the result
and the interpreter's exit with its worker processes (measured: 1.2 s on an idle machine)."""


def split_names(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def train_command(
    data: Annotated[
        str,
        typer.Argument(
            help="A CSV/TSV/Parquet/JSON/Excel file, or a SQLAlchemy URL with --table/--query."
        ),
    ],
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Column to predict (none with --task clustering/reduce/anomaly)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Register the model under this name (default: the file's stem)."),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="binary, multiclass or regression (default: detected from the target); "
            "clustering, reduce or anomaly (no target); bandit (a decision policy from a "
            "log: --action, --reward)."
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="Metric selection optimises (default: roc_auc, log_loss or rmse by task). "
            "Or your own function as module:function, from the working folder (needs "
            "--trust: importing it runs its code)."
        ),
    ] = None,
    greater_is_better: Annotated[
        bool | None,
        typer.Option(
            "--greater-is-better/--lower-is-better",
            help="With --metric module:function: whether larger values are better "
            "(default: the function's greater_is_better attribute).",
            show_default=False,
        ),
    ] = None,
    needs_proba: Annotated[
        bool,
        typer.Option(
            "--needs-proba",
            help="With --metric module:function: call it with predicted probabilities "
            "(binary: of the positive class) instead of labels.",
        ),
    ] = False,
    weight: Annotated[
        str | None,
        typer.Option(
            "--weight",
            help="A column of sample weights (numbers >= 0): never a feature; models are "
            "fitted with it and CV, ensemble and test metrics weighted by it.",
            show_default=False,
        ),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated candidate models, e.g. lightgbm,random_forest."),
    ] = None,
    cv: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    test_size: Annotated[
        float, typer.Option(help="Share of rows held out as the test split.")
    ] = 0.2,
    time_budget: Annotated[
        float | None,
        typer.Option(
            help="Seconds for the whole command (search, final fit, scoring, saving, "
            "--report): it ends within the budget + 10 % (+ 3 s under 30 s); a slow fit "
            "is stopped. Default 120, or no limit with --max-trials (N trials, none stopped "
            "by a clock: reproducible with --seed on any machine)."
        ),
    ] = None,
    max_trials: Annotated[
        int | None,
        typer.Option(help="Stop the search after N trials (reproducible with --seed)."),
    ] = None,
    search: Annotated[
        str,
        typer.Option("--search", help="auto (portfolio, Optuna, ensemble), grid or random."),
    ] = "auto",
    param_grid: Annotated[
        str | None,
        typer.Option(
            help="JSON grid for --search grid/random, e.g. '{\"max_depth\": [3, 5, 10]}'."
        ),
    ] = None,
    max_latency_ms: Annotated[
        float | None,
        typer.Option(help="Exclude models slower than this to predict one row."),
    ] = None,
    min_rows_per_second: Annotated[
        float | None,
        typer.Option(
            help="An ensemble takes members only while it predicts a batch at this many "
            "rows per second or more (0: no floor).",
            show_default="10000; no floor with --max-trials",
        ),
    ] = None,
    max_model_mb: Annotated[
        float | None,
        typer.Option(
            help="Leave out models whose saved file would take more megabytes than this "
            "(0: no limit).",
            show_default="20",
        ),
    ] = None,
    final_fit: Annotated[
        str,
        typer.Option(
            help="auto, refit or bag: refit the winner on all training rows, or keep its "
            "cross-validation fold models (auto: bag where that scores better on "
            "held-out folds)."
        ),
    ] = "auto",
    exportable: Annotated[
        str | None,
        typer.Option(
            "--exportable",
            help="onnx: search only models that convert to ONNX (and refuse text and date "
            "columns up front), so that `modelloop export --format onnx` succeeds.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for splits and models.")] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(
            "--alias", help="Alias to point at the new version (repeatable), e.g. production."
        ),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="Column to leave out (repeatable).")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--types", help="Override a column's role: COLUMN=ROLE (repeatable)."),
    ] = None,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Table to read when DATA is a database URL.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="SQL query to run when DATA is a database URL.")
    ] = None,
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Register the trained model.")
    ] = True,
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id-column",
            help="A column naming each row (e.g. customer_id): not a feature; the server logs "
            "it so delayed labels (modelloop feedback) can name rows by it.",
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group",
            help="A column whose rows belong together (a patient, a customer): one group's "
            "rows are never split across CV folds nor between training and test rows. Not a "
            "feature. Not with --time.",
        ),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="A column of dates or numbers ordering the rows in time: train on the past, "
            "validate on the future (the test split is the latest rows, the CV folds chain "
            "forward). It stays a feature (--types COL=identifier keeps it out).",
        ),
    ] = None,
    gap: Annotated[
        str | None,
        typer.Option(
            "--gap",
            help="With --time: rows left out between training and validation rows, a number "
            "of rows (10) or, for a date column, a duration (7D, 12h, 30min).",
            show_default=False,
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            help="Validation rules (YAML) the training rows must pass; the server checks each "
            "request row against them too.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run's results as JSON.")
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run the search's trials on Dask: 'local', 'local:N' (N worker processes) "
            "or a scheduler address 'tcp://host:8786'.",
            show_default=False,
        ),
    ] = None,
    report_path: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the run's HTML report to this file."),
    ] = None,
    max_clusters: Annotated[
        int | None,
        typer.Option(
            help="--task clustering: the largest number of clusters tried.",
            show_default="10",
        ),
    ] = None,
    min_clusters: Annotated[
        int | None,
        typer.Option(
            help="--task clustering: the smallest number of clusters tried (equal to "
            "--max-clusters: exactly that many).",
            show_default="2",
        ),
    ] = None,
    contamination: Annotated[
        float | None,
        typer.Option(
            help="--task anomaly: the share of training rows the threshold flags.",
            show_default="0.05",
        ),
    ] = None,
    variance: Annotated[
        float | None,
        typer.Option(
            help="--task reduce: keep the fewest components explaining this share of the variance.",
            show_default="0.95",
        ),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="--task bandit: the log's column of the action taken."),
    ] = None,
    reward: Annotated[
        str | None,
        typer.Option(help="--task bandit: the column of the reward that followed (numbers)."),
    ] = None,
    propensity: Annotated[
        str | None,
        typer.Option(
            help="--task bandit: the logging policy's probability of each logged action "
            "(needed for off-policy estimates)."
        ),
    ] = None,
    actions_table: Annotated[
        Path | None,
        typer.Option("--actions", help="--task bandit: a table of action features."),
    ] = None,
    action_key: Annotated[
        str | None,
        typer.Option(
            help="--task bandit: the column of --actions naming the action (default: --action)."
        ),
    ] = None,
    learner: Annotated[
        str | None,
        typer.Option(
            help="--task bandit: reward (a reward model from the search), dr or ips "
            "(counterfactual), rule (the existing rule of --baseline-action).",
            show_default="reward",
        ),
    ] = None,
    baseline_action: Annotated[
        str | None,
        typer.Option(
            help="--task bandit: a context column naming the existing rule's action: serve "
            "that rule (with exploration) while logging decisions."
        ),
    ] = None,
    exploration: Annotated[
        str | None,
        typer.Option(
            help="--task bandit: epsilon_greedy or softmax.", show_default="epsilon_greedy"
        ),
    ] = None,
    epsilon: Annotated[
        float | None,
        typer.Option(
            help="--task bandit: epsilon-greedy's share of exploration.", show_default="0.05"
        ),
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option(
            help="--task bandit: softmax temperature (in reward units).", show_default="0.1"
        ),
    ] = None,
    min_propensity: Annotated[
        float | None,
        typer.Option(
            help="--task bandit: every candidate action's probability is at least this.",
            show_default="0",
        ),
    ] = None,
    default_reward: Annotated[
        str | None,
        typer.Option(
            help="--task bandit: the reward of a served decision whose reward never came "
            "('none': leave it out).",
            show_default="0",
        ),
    ] = None,
    reward_wait: Annotated[
        str | None,
        typer.Option(
            help="--task bandit: how long a served decision waits for its reward (90s, 30m, 1h).",
            show_default="1h",
        ),
    ] = None,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Allow --metric module:function: importing your module runs its code.",
        ),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Train models on DATA to predict --target, evaluate honestly and register the best.

    A test split is held out; candidates are cross-validated on the rest; the best is
    refitted on all training rows, scored on the test split and registered. With
    --task bandit, DATA is a log of decisions (--action, --reward, --propensity) and the
    result is a decision policy, evaluated off-policy on the held-out rows.
    """
    started = command_started()  # the budget covers the whole command
    settings = make_settings(store, home, debug, trust).with_overrides(cluster=cluster)
    from modelloop.data import TASKS  # here: the data package imports pandas

    if settings.cluster is None and task in (None, *TASKS):
        # the search's worker processes import the model libraries while this one imports
        # the rest of modelloop, reads the data and profiles it
        from modelloop._spare import ensure_spares, libraries

        ensure_spares(settings.effective_n_jobs(), libraries(split_names(models) or None))
    from modelloop.workflows import REPORT_SECONDS, check_report_path, load_source, train

    bandit = bandit_options(
        task, target, action=action, reward=reward, propensity=propensity,
        actions=actions_table, action_key=action_key, learner=learner,
        baseline_action=baseline_action, exploration=exploration, epsilon=epsilon,
        temperature=temperature, min_propensity=min_propensity,
        default_reward=default_reward, reward_wait=reward_wait,
    )  # fmt: skip
    # --max-trials alone bounds a supervised search by count; policies and unsupervised
    # models always get a time budget
    from modelloop.data import UNSUPERVISED_TASKS

    if weight is not None and (bandit is not None or task in UNSUPERVISED_TASKS):
        raise ConfigurationError(
            f"--weight is for binary, multiclass and regression models. Got --task {task}."
        )
    by_count = max_trials is not None and bandit is None and task not in UNSUPERVISED_TASKS
    if time_budget is None and not by_count:
        time_budget = DEFAULT_TIME_BUDGET
    if (bandit is not None or task in UNSUPERVISED_TASKS) and (group or time_column or gap):
        raise ConfigurationError(
            "--group, --time and --gap apply to binary, multiclass and regression tasks. "
            f"Got them with --task {task}."
        )
    if bandit is not None:
        from modelloop.cli._bandit import train_bandit_command

        assert time_budget is not None  # set above: a policy always has a time budget
        train_bandit_command(
            data, bandit, settings=settings, name=name, models=split_names(models), cv=cv,
            test_size=test_size, time_budget=time_budget, max_trials=max_trials, seed=seed,
            alias=alias or [], drop=drop or [], types=parse_types(types or []),
            register=register, as_json=as_json,
        )  # fmt: skip
        return
    unsupervised = unsupervised_options(task, max_clusters, contamination, variance, min_clusters)
    if report_path is not None:  # an unwritable path fails before any training
        check_report_path(report_path)
    grid = parse_param_grid(param_grid)
    from modelloop.workflows import split_folder

    # photos/{train,val}/<class>/*.jpg: train on one folder, score the test metrics on the other
    splits = split_folder(data) if table_name is None and query is None else None
    source = load_source(  # also data:NAME@VERSION snapshots (modelloop ingest)
        splits[0] if splits else data,
        settings=settings,
        target=target,
        drop=drop or (),
        types=parse_types(types or []),
        table=table_name,
        query=query,
        rules=rules,
    )
    hints: list[str] = []
    if unsupervised is None and group is None and time_column is None and not as_json:
        from modelloop.data import validation_hints

        hints = validation_hints(source.frame, source.schema, target)
        for hint in hints:  # before the search starts: Ctrl-C and rerun with the option
            err.print(f"[yellow]warning:[/] {escape(hint)}")
    result: TrainResult | UnsupervisedTrainResult
    with search_display(enabled=not as_json, budget=time_budget) as on_event:
        if unsupervised is not None:  # clustering, reduce, anomaly: their own options
            from modelloop.workflows import train_unsupervised

            assert task is not None  # options of an unsupervised task were given
            result = train_unsupervised(
                source, task=task, target=target, metric=metric, name=name or source.name,
                register=register, aliases=alias or (), models=split_names(models),
                time_budget=time_budget, seed=seed, rules=rules, settings=settings,
                on_event=on_event, **unsupervised,
            )  # fmt: skip
        else:
            result = train(
                source,
                target=target,
                task=task,
                metric=metric,
                name=name or source.name,
                register=register,
                aliases=alias or (),
                models=split_names(models),
                cv=cv,
                test_size=test_size,
                time_budget=time_budget,
                max_trials=max_trials,
                search_strategy=search,
                param_grid=grid,
                max_latency_ms=max_latency_ms,
                min_rows_per_second=min_rows_per_second,
                max_model_mb=max_model_mb,
                final_fit=final_fit,
                seed=seed,
                id_column=id_column,
                group=group,
                time=time_column,
                gap=gap,
                rules=rules,
                test=splits[1] if splits else None,
                settings=settings,
                on_event=on_event,
                started=started,
                time_after=(REPORT_SECONDS if report_path is not None else 0.0) + EXIT_SECONDS,
                exportable=exportable,
                weight=weight,
                greater_is_better=greater_is_better,
                needs_proba=needs_proba or None,
            )
    from modelloop.workflows import UnsupervisedTrainResult

    if report_path is not None and not isinstance(result, UnsupervisedTrainResult):
        from modelloop.workflows import report

        err.print(f"Report written to {report(result.run_id, report_path, settings=settings)}")
    if as_json:
        print_json(result.to_dict())
        return
    if isinstance(result, UnsupervisedTrainResult):  # clustering, reduce, anomaly
        from modelloop.cli._unsupervised import print_unsupervised

        print_unsupervised(result, alias or [])
        return
    board = result.leaderboard
    score_col = f"cv_{result.metric}"
    out.print(
        table(
            f"Leaderboard ({result.task}, selected by CV {result.metric}, {result.dataset.n_rows} rows)",
            ["model", f"CV {result.metric}", "± std", "1-row ms", "status"],
            [
                [
                    r["model"],
                    r[score_col],
                    r["cv_std"],
                    r.get("latency_ms"),
                    r["status"] if not r["error"] else f"{r['status']}: {r['error'][:60]}",
                ]
                for r in board.head(15).to_dict(orient="records")
            ],
        )
    )
    fit = {"bagged": ", bagged fold models", "refit": ", refitted on all training rows"}
    out.print(
        table(
            f"Test split metrics of {result.best_model}{fit.get(result.final_fit, '')}",
            ["metric", "value"],
            [[k, v] for k, v in result.metrics.items()],
        )
    )
    if "predict_rows_per_second" in result.timings:
        size = result.timings.get("model_mb")
        out.print(
            f"Final model speed: {result.timings['predict_rows_per_second']:,} rows/s on a "
            f"10,000-row batch, {result.timings['predict_row_ms']} ms for one row"
            + ("." if size is None else f"; size {size:.1f} MB.")
        )
    for r in board.to_dict(orient="records"):
        if r.get("members"):
            out.print(f"ensemble: {escape(r['members'])}")
    if len(board) > 15:
        out.print(f"({len(board) - 15} more trials: modelloop runs show {result.run_id[:12]})")
    if result.best_params:
        out.print(f"best_params: {escape(json.dumps(result.best_params, default=str))}")
    for note in result.notes:
        if note not in hints:  # printed as a warning before training
            err.print(f"note: {escape(note)}")
    if result.version is not None:
        aliases = f" (aliases: {', '.join(alias)})" if alias else ""
        out.print(
            f"Registered [bold]{result.name}[/] version {result.version}{aliases}; run {result.run_id[:12]}."
        )
        out.print(
            f"Next: modelloop predict {result.name}:{result.version} NEW_DATA.csv -o scored.csv"
        )
    else:
        out.print(f"Run {result.run_id[:12]} recorded; model not registered (--no-register).")
