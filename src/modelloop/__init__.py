"""modelloop: machine learning for tabular data that closes the loop.

Load and profile data, train with honest cross-validation, register versions, predict —
from one Python API and one CLI.

>>> import modelloop as ml
>>> result = ml.train("titanic.csv", target="Survived", time_budget=60)  # doctest: +SKIP
>>> result.leaderboard  # doctest: +SKIP
>>> ml.registry().register(result, name="titanic", alias="production")  # doctest: +SKIP

Heavy libraries are imported on first use, so ``import modelloop`` stays quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "Dataset",
    "Settings",
    "TrainResult",
    "__version__",
    "load",
    "make_metric",
    "predict",
    "predict_file",
    "profile",
    "registry",
    "report",
    "train",
]

_LAZY = {
    "Dataset": "modelloop.data",
    "load": "modelloop.data",
    "profile": "modelloop.data",
    "make_metric": "modelloop.evaluation",
    "Settings": "modelloop.config",
    "TrainResult": "modelloop.workflows",
    "train": "modelloop.workflows",
    "report": "modelloop.workflows",
    "predict": "modelloop.workflows",
    "predict_file": "modelloop.workflows",
}

if TYPE_CHECKING:
    __version__: str
    from modelloop.config import Settings
    from modelloop.data import Dataset, load, profile
    from modelloop.evaluation import make_metric
    from modelloop.store import Store
    from modelloop.workflows import TrainResult, predict, predict_file, report, train


def _version() -> str:
    # importlib.metadata costs a tenth of a second: read only when asked (--version, the server)
    from importlib import metadata

    try:
        return metadata.version("modelloop")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        version = _version()
        globals()["__version__"] = version
        return version
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'modelloop' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)


def registry(settings: Settings | None = None) -> Store:
    """The model registry (the store) named by ``settings``, default ``./.modelloop``.

    >>> import modelloop as ml
    >>> with ml.registry() as reg:  # doctest: +SKIP
    ...     reg.list_models()
    """
    from modelloop.config import Settings
    from modelloop.store import Store

    return Store.from_settings(settings or Settings())
