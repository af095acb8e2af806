"""The loader MLflow calls for a model exported with ``modelloop export --format mlflow``.

The exported folder's ``MLmodel`` names this module as the ``python_function`` flavor's
``loader_module``; ``mlflow.pyfunc.load_model(folder)`` calls :func:`_load_pyfunc` with the
folder's ``data`` path. The model file is checked against the sha256 written beside it and
loaded with the same trusted types as any model in modelloop's store, and ``predict``
answers what ``modelloop predict`` answers: a ``prediction`` column and, for a classifier,
one ``proba_<class>`` column per class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["ModelloopPyfunc", "load"]

MODEL_FILE = "model.skops"
INFO_FILE = "model.json"


class ModelloopPyfunc:
    """A loaded modelloop model with the pyfunc ``predict(model_input, params=None)``."""

    def __init__(self, bundle: dict[str, Any], info: dict[str, Any]) -> None:
        self.bundle = bundle
        self.info = info
        self.task = str(bundle["task"])
        self.pipeline = bundle["pipeline"]

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Predictions for raw rows (a DataFrame, or records)."""
        import pandas as pd

        from modelloop.models import model_output

        frame = (
            model_input
            if isinstance(model_input, pd.DataFrame)
            else pd.DataFrame.from_records(list(model_input))
        )
        return model_output(self.task, self.pipeline, frame)


def load(path: str | Path) -> ModelloopPyfunc:
    """The model in an exported ``data`` folder, its sha256 checked first."""
    from modelloop.store._artifacts import load_model_bytes, read_verified

    folder = Path(path)
    info = json.loads((folder / INFO_FILE).read_text())
    what = f"exported model '{info.get('model', '?')}'"
    data = read_verified(folder / MODEL_FILE, str(info["sha256"]), what=what)
    bundle = load_model_bytes(data, what=what, path=folder / MODEL_FILE)
    if not isinstance(bundle, dict) or "pipeline" not in bundle:
        from modelloop.exceptions import StoreError

        raise StoreError(f"The {what} at {folder} is not a modelloop model bundle.")
    return ModelloopPyfunc(bundle, info)


def _load_pyfunc(data_path: str) -> ModelloopPyfunc:
    """MLflow's entry point (``loader_module`` contract)."""
    return load(data_path)
