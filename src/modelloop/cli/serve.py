"""``modelloop serve``: the REST server for every registered model (or one model file)."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, err, make_settings

# Each worker process predicts with one thread; the model libraries' own pools must not
# start one thread per core in every worker (2 workers x 2 cores x OpenMP = oversubscribed).
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve_command(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on (default: 127.0.0.1, or MODELLOOP_SERVE_HOST; "
            "0.0.0.0 when a cloud platform's variables are set).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on (default: AIP_HTTP_PORT or SAGEMAKER_BIND_TO_PORT when "
            "set, else MODELLOOP_SERVE_PORT, else 8000).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes; 0: one per core (default: MODELLOOP_SERVE_WORKERS, else one "
            "per core; 1 with --shadow).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Serve this model file (.skops, .onnx, .joblib/.pkl) alone."),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Load model files that hold code or types outside modelloop's allow list "
            "(a pickle/joblib --model file, custom classes): only files you made yourself.",
        ),
    ] = False,
    schema: Annotated[
        Path | None, typer.Option("--schema", help="JSON input schema for the --model file.")
    ] = None,
    default_model: Annotated[
        str | None, typer.Option("--default-model", help="The model POST /predict serves.")
    ] = None,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not write predictions to the store's log.")
    ] = False,
    auto_retrain: Annotated[
        bool,
        typer.Option(
            "--auto-retrain",
            help="Run the retrain watcher (modelloop watch) in a low-priority child process; "
            "the server switches to a promoted challenger by itself.",
        ),
    ] = False,
    retrain_every_labels: Annotated[
        int, typer.Option(help="With --auto-retrain: retrain after this many new labels.")
    ] = 100,
    retrain_interval: Annotated[
        float, typer.Option(help="With --auto-retrain: seconds between policy checks.")
    ] = 60.0,
    shadow: Annotated[
        list[str] | None,
        typer.Option(
            "--shadow",
            help="NAME@ALIAS (e.g. churn@challenger): that version also scores live traffic, "
            "logged as 'NAME@ALIAS', never returned (repeatable; one worker only).",
        ),
    ] = None,
    store: StoreOpt = None,
    home: HomeOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Serve every registered model over REST (FastAPI + uvicorn). Docs at /docs."""

    import uvicorn

    from modelloop.cli._autoretrain import start_watcher
    from modelloop.serving import (
        check_models,
        check_port_free,
        create_app,
        reuse_port_supported,
        run_workers,
    )

    if workers is not None and workers < 0:
        raise typer.BadParameter(f"--workers must be >= 0 (0: one per core). Got {workers}.")
    settings = make_settings(store, home, debug).with_overrides(
        serve_host=host,
        serve_port=port,
        serve_workers=workers,
        serve_model_path=model,
        trust=trust or None,
        serve_schema_file=schema,
        serve_default_model=default_model,
        serve_log_predictions=False if no_log else None,
    )
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")
    from modelloop.serving import server_logging

    server_logging()
    host = host or settings.resolved_host()
    port = port or settings.resolved_port()
    if shadow and workers is None and settings.serve_workers == 0:
        settings = settings.with_overrides(serve_workers=1)  # a shadow needs one process
    workers = settings.resolved_workers()
    where = f"http://{host}:{port}"
    if shadow and workers != 1:
        raise typer.BadParameter(f"--shadow needs --workers 1. Got --workers {workers}.")
    if (auto_retrain or shadow) and model is not None:
        raise typer.BadParameter(
            "--auto-retrain and --shadow need models from a store, not --model."
        )
    check_port_free(host, port)  # one line now, not an Errno 98 after "serving on"
    if workers == 1:
        app = create_app(settings)  # fails here, before listening, on a bad --model/--store
        _report(check_models(app))  # a store no model of which loads: one line, exit 2
        if shadow:
            from modelloop.serving import install_shadow

            install_shadow(app, shadow)
        if auto_retrain:
            start_watcher(settings, every_labels=retrain_every_labels, interval=retrain_interval)
        err.print(f"modelloop serving on {where} (docs: {where}/docs)")
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
        return
    # Several processes: each worker builds its app from the environment's settings.
    env = {
        "MODELLOOP_HOME": str(settings.home),
        "MODELLOOP_STORE_URL": settings.store_url,
        "MODELLOOP_SERVE_MODEL_PATH": str(model) if model else None,
        "MODELLOOP_SERVE_SCHEMA_FILE": str(schema) if schema else None,
        "MODELLOOP_SERVE_DEFAULT_MODEL": default_model,
        "MODELLOOP_SERVE_LOG_PREDICTIONS": "0" if no_log else None,
    }
    for key, value in env.items():
        if value is not None:
            os.environ[key] = value
    checked = create_app(settings)  # check store and models once, in the parent
    try:
        _report(check_models(checked))
    finally:
        opened = checked.state.modelloop.registry.store
        if opened is not None:
            opened.close()
        del checked
        gc.collect()  # the models the check loaded; each worker loads its own
    ingester = _start_spool(settings)
    if auto_retrain:
        start_watcher(settings, every_labels=retrain_every_labels, interval=retrain_interval)
    # Metrics of all workers, summed by whichever worker answers GET /metrics: the workers
    # (started after this) keep their values in files in one fresh directory.
    metrics_dir = tempfile.mkdtemp(prefix="modelloop-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    factory = "modelloop.serving:" + (
        "trusted_app_from_settings" if settings.trust else "app_from_settings"
    )
    status = 0
    try:
        if reuse_port_supported():  # one socket per worker: the kernel balances connections
            status = run_workers(
                host,
                port,
                workers,
                app=factory,
                on_started=lambda: err.print(
                    f"modelloop serving on {where} with {workers} workers (docs: {where}/docs)"
                ),
            )
        else:  # the workers share uvicorn's one socket
            err.print(f"modelloop serving on {where} with {workers} workers (docs: {where}/docs)")
            uvicorn.run(
                factory,
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="info",
                access_log=False,
            )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        if ingester is not None:  # the workers have stopped and flushed: write the rest
            ingester.close()
            with contextlib.suppress(OSError):
                ingester.directory.rmdir()
    if status:
        raise typer.Exit(status)


def _report(problems: list[Any]) -> None:
    for p in problems:
        serving = f" (serving version {p.serving} meanwhile)" if p.serving else ""
        err.print(f"[yellow]warning:[/] {escape(p.reason)}{serving}")


def _start_spool(settings: Any) -> Any:
    """The workers' prediction log goes through a spool this process writes to the store.

    Writes what a server that was killed left in its spool first. None when the log is off
    or no store is used (``--model``).
    """
    from modelloop.serving._spool import SpoolIngester, recover_spools, spool_dir
    from modelloop.store import Store

    if (
        settings.serve_model_path is not None
        or not settings.serve_log_predictions
        or settings.serve_log_sample <= 0
    ):
        return None
    store = Store.from_settings(settings)
    recover_spools(settings.home, str(store.url), store.log_predictions)
    directory = spool_dir(settings.home, str(store.url))
    os.environ["MODELLOOP_SERVE_LOG_SPOOL"] = str(directory)
    return SpoolIngester(directory, store.log_predictions)
