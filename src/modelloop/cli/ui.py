"""``modelloop ui``: the web dashboard alone (``modelloop serve`` also has it, at /ui)."""

from __future__ import annotations

from typing import Annotated

import typer

from modelloop.cli._common import DebugOpt, HomeOpt, StoreOpt, TrustOpt, err, make_settings


def ui_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    store: StoreOpt = None,
    home: HomeOpt = None,
    trust: TrustOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run the web dashboard (models, runs, comparisons, live view) without serving models.

    Promote and rollback need the API key (MODELLOOP_API_KEY).
    """

    import uvicorn

    from modelloop.serving.ui import ui_app

    settings = make_settings(store, home, debug, trust)
    app = ui_app(settings)  # fails here, before listening, on a bad --store
    from modelloop.serving import server_logging

    server_logging()
    err.print(f"modelloop dashboard on http://{host}:{port}/ui")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
