"""Worker processes started ahead of the search.

A search runs its trials in worker processes (``tuning._worker``). A new process imports
scikit-learn and the model libraries before it can take a trial: a second or two on an idle
machine, ten or more on a busy one. Started when ``train`` begins, before the caller reads
the data and profiles it, the processes import while the caller works, and the search takes
them ready instead of spending its budget waiting for them.

This module imports nothing heavy, so the command line can start workers before it imports
the rest of modelloop.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import multiprocessing as mp
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "LIBRARIES",
    "ensure_spares",
    "libraries",
    "main_module_hidden",
    "preload",
    "spawn",
    "take_spare",
]

# The module each catalog model's trials import first (the rest import in well under a
# second once scikit-learn is loaded).
LIBRARIES = {
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "catboost": "modelloop.models._catboost",
    "mlp_torch": "torch",
    "random_forest": "sklearn.ensemble",
    "extra_trees": "sklearn.ensemble",
    "hist_gradient_boosting": "sklearn.ensemble",
}
# What the default portfolio uses below the network's budget (see models.portfolio).
_DEFAULT_MODELS = ("lightgbm", "catboost", "extra_trees", "xgboost")

_spares: list[tuple[Any, Any]] = []
_lock = threading.Lock()


def libraries(models: Iterable[str] | None = None) -> tuple[str, ...]:
    """The modules workers should import for ``models`` (``None``: the default portfolio's)."""
    names = sorted(_DEFAULT_MODELS if models is None else models)
    return tuple(dict.fromkeys(LIBRARIES[m] for m in names if m in LIBRARIES))


@contextlib.contextmanager
def main_module_hidden() -> Iterator[None]:
    """Start worker processes without re-running the user's script in them.

    A spawned process imports the parent's ``__main__`` file first, so a script that calls
    ``modelloop.train`` at top level (no ``if __name__ == "__main__":`` guard) would train
    again inside every worker and fail. The workers only need modelloop, so the parent's
    main module is hidden from the spawn for the moment of the start.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    spec, had_file, path = main.__spec__, hasattr(main, "__file__"), getattr(main, "__file__", None)
    try:
        main.__spec__ = None  # multiprocessing reads both; neither is then re-imported
        if had_file:
            del main.__file__
        yield
    finally:
        main.__spec__ = spec
        if had_file:
            main.__file__ = path


def preload(modules: Iterable[str]) -> None:
    """Import ``modules`` now (the model libraries a worker's trials will use), so that a
    trial's time limit is not spent importing them; one that fails is left to the trial."""
    for name in modules:
        with contextlib.suppress(ImportError):  # the trial that needs it says what failed
            importlib.import_module(name)


def _child(conn: Any, modules: tuple[str, ...]) -> None:
    """A worker process: import the worker and ``modules``, then serve requests."""
    preload(("modelloop.tuning._worker", *modules))
    from modelloop.tuning._worker import serve

    serve(conn)


def spawn(modules: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """Start one worker process importing ``modules``; returns ``(process, connection)``."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, tuple(modules)), daemon=True)
    with main_module_hidden():
        proc.start()
    child.close()
    return proc, parent


def ensure_spares(n: int, modules: tuple[str, ...] = ()) -> None:
    """Have ``n`` idle worker processes starting (or started) for the next search."""
    with _lock:
        _spares[:] = [(p, c) for p, c in _spares if p.is_alive()]
        for _ in range(max(0, n - len(_spares))):
            _spares.append(spawn(modules))


def take_spare() -> tuple[Any, Any] | None:
    """An idle worker process started ahead, or ``None``."""
    with _lock:
        while _spares:
            proc, conn = _spares.pop(0)
            if proc.is_alive():
                return proc, conn
            conn.close()
    return None


@atexit.register
def _stop_spares() -> None:
    with _lock:
        for proc, conn in _spares:
            with contextlib.suppress(Exception):
                proc.kill()
                conn.close()
        _spares.clear()
