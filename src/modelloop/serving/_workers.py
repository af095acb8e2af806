"""Several server processes on one port, each with its own listening socket.

``uvicorn.run(..., workers=N)`` binds one socket in the parent and lets every worker accept
from it. Linux then wakes the workers unevenly: under load one worker holds most of the
connections (18 against 46 of 64 in ``bench/serving.py``) and answers them ~2.5x slower.
Here each worker binds its own socket to the same address with ``SO_REUSEPORT``, and the
kernel spreads new connections over the listening sockets by a hash of their addresses.

The parent only supervises: it starts the workers (``spawn``, as uvicorn does), restarts a
worker that dies, and on SIGINT / SIGTERM asks each worker to stop with SIGTERM, which
uvicorn handles gracefully (open requests finish, the app's lifespan shutdown flushes the
prediction log), then waits for them. A worker that fails while starting (a bad store or
model) stops them all, as with uvicorn's own supervisor.

Where ``SO_REUSEPORT`` does not balance connections (outside Linux), the workers share one
socket through uvicorn's own supervisor.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from modelloop.exceptions import ConfigurationError

__all__ = ["check_port_free", "reuse_port_supported", "run_workers"]

log = logging.getLogger("modelloop.serving")

_APP = "modelloop.serving:app_from_settings"
_STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that could not start
_STOP_TIMEOUT_S = 60.0  # graceful shutdown: open requests, then the prediction log flush


def reuse_port_supported() -> bool:
    """Whether the kernel balances connections over ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_port_free(host: str, port: int) -> None:
    """Fail early, and clearly, when something already listens on ``host:port``.

    The probe binds without ``SO_REUSEPORT``, so it also fails when another server of ours
    holds the port (the workers would otherwise join its group and share its traffic).
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}. "
                "Stop what uses that port, or pass another --port."
            ) from None


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock  # uvicorn listens on it once the app has started


def _worker(host: str, port: int, app: str, log_level: str, ready: Any) -> None:
    """One worker process: its own socket, one uvicorn server, stops with its parent.

    ``ready`` (a multiprocessing event) is set once the server listens.
    """
    import uvicorn

    config = uvicorn.Config(
        app, factory=True, host=host, port=port, log_level=log_level, access_log=False
    )
    server = uvicorn.Server(config)
    parent = os.getppid()

    def watch() -> None:
        tick = threading.Event()
        while not server.should_exit:
            if server.started and not ready.is_set():
                ready.set()
            if os.getppid() != parent:  # the supervisor was killed: stop, do not linger
                server.should_exit = True
                return
            tick.wait(1.0 if ready.is_set() else 0.25)

    threading.Thread(target=watch, name="modelloop-worker-watch", daemon=True).start()
    try:
        sock = _reuse_port_socket(host, port)
    except OSError as exc:
        logging.getLogger("uvicorn.error").error("cannot bind %s:%d: %s", host, port, exc)
        sys.exit(_STARTUP_FAILURE)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it handled
        server.run(sockets=[sock])


def run_workers(
    host: str,
    port: int,
    workers: int,
    *,
    app: str = _APP,
    log_level: str = "info",
    on_started: Callable[[], None] | None = None,
) -> int:
    """Serve ``app`` (an app factory's import path) from ``workers`` processes on one port.

    Each worker builds its own app (``app_from_settings`` reads the settings from the
    environment, which the workers inherit) and listens on its own ``SO_REUSEPORT``
    socket. Blocks until SIGINT or SIGTERM, then stops the workers gracefully.

    Parameters
    ----------
    host, port : str, int
        Where to listen.
    workers : int
        Worker processes (at least 1).
    app : str
        ``"module:factory"`` of the ASGI app factory.
    log_level : str
        uvicorn's log level in the workers.
    on_started : callable, optional
        Called once the workers have been started (not necessarily ready).

    Returns
    -------
    int
        0 after a requested stop; uvicorn's startup-failure status (3) when a worker could
        not start.

    Examples
    --------
    >>> run_workers("127.0.0.1", 8000, 2)  # doctest: +SKIP
    0
    """
    if workers < 1:
        raise ConfigurationError(f"workers must be >= 1. Got {workers}.")
    check_port_free(host, port)
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    requested: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        requested.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def start_one() -> tuple[Any, Any]:
        ready = spawn.Event()
        proc = spawn.Process(
            target=_worker, args=(host, port, app, log_level, ready), name="modelloop-worker"
        )
        proc.start()
        return proc, ready

    status = 0
    procs: list[tuple[Any, Any]] = []
    try:
        procs = [start_one() for _ in range(workers)]
        if on_started is not None:
            on_started()
        while not stop.wait(0.5):
            for i, (proc, ready) in enumerate(procs):
                if proc.is_alive():
                    continue
                if proc.exitcode == _STARTUP_FAILURE or not ready.is_set():
                    # it would fail the same way again: a broken store, model or address
                    log.error("worker %d could not start; stopping the server", proc.pid)
                    status = _STARTUP_FAILURE
                    stop.set()
                    break
                log.warning("worker %d died (exit %s); starting another", proc.pid, proc.exitcode)
                procs[i] = start_one()
    finally:
        _stop_all([proc for proc, _ in procs])
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status


def _stop_all(procs: list[Any]) -> None:
    """SIGTERM to every worker (graceful in uvicorn), then wait; SIGKILL what hangs."""
    for proc in procs:
        if proc.is_alive() and proc.pid is not None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.join(_STOP_TIMEOUT_S)
        if proc.is_alive():  # pragma: no cover - a worker that ignores SIGTERM
            log.error("worker %d did not stop in %.0f s; killing it", proc.pid, _STOP_TIMEOUT_S)
            proc.kill()
            proc.join()
