"""``serve --auto-retrain``: the watcher as a low-priority child process of the server.

Training is CPU-heavy; in its own process, at a lower priority (``nice 10``) and with one
thread per model library, it never holds the server's GIL and yields the CPU to requests.
The server notices a promoted challenger through its alias polling and hot-swaps to it.
The child stops when the server exits (and, on Linux, when the server dies).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
from typing import Any

from modelloop.config import Settings

__all__ = ["start_watcher", "stop_watcher"]

_NICE = 10


def _lower_priority() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError):
        os.nice(_NICE)
    try:  # Linux: end with the parent, even if it is killed outright
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def watcher_command(settings: Settings, every_labels: int, interval: float) -> list[str]:
    """The ``modelloop watch`` command line the server starts."""
    cmd = [
        sys.executable,
        "-m",
        "modelloop",
        "watch",
        "--every-labels",
        str(every_labels),
        "--interval",
        f"{interval:g}",
        "--quiet",
        "--home",
        str(settings.home),
    ]
    if settings.store_url:
        cmd += ["--store", settings.store_url]
    if settings.trust:
        cmd.append("--trust")
    return cmd


def start_watcher(settings: Settings, *, every_labels: int, interval: float) -> Any:
    """Start ``modelloop watch`` for every model as a child process; stopped at exit."""
    env = {**os.environ, "MODELLOOP_N_JOBS": "1"}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    proc = subprocess.Popen(
        watcher_command(settings, every_labels, interval),
        env=env,
        preexec_fn=_lower_priority if os.name == "posix" else None,
    )
    atexit.register(stop_watcher, proc)
    return proc


def stop_watcher(proc: Any, timeout: float = 30.0) -> None:
    """Ask the watcher to stop (SIGTERM: it finishes a retrain in progress), then wait."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
