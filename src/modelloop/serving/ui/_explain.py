"""Explanations on the dashboard: why a logged prediction came out as it did, and what a
model relies on overall.

A logged prediction is explained by the model version that made it, from the inputs the
log kept (see :mod:`modelloop.explain`); the global picture of a version is the mean
absolute contribution per input column that training computed on test rows (kept beside
the run, see ``workflows.record_evaluation``), so it costs no model call.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

import pandas as pd
from markupsafe import Markup

from modelloop.exceptions import ModelloopError, NotFoundError
from modelloop.serving.ui._charts import bar_chart, waterfall_chart
from modelloop.store import Store

__all__ = ["ExplainerCache", "explain_logged", "global_importance", "recent_predictions"]

_OUTPUT_LABEL = {"probability": "probability", "log-odds": "log-odds", "value": "prediction"}


class ExplainerCache:
    """Explainers of model versions: the server's own for a version it serves, else loaded
    from the store (the last ``size`` kept)."""

    def __init__(self, store: Store, state: Any = None, size: int = 4) -> None:
        self.store = store
        self.state = state
        self.size = size
        self._loaded: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str, version: int) -> Any:
        if self.state is not None and name in self.state.registry.names():
            try:
                return self.state.registry.get(name, version=version).explainer()
            except NotFoundError:
                pass
        key = (name, version)
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
        from modelloop.workflows import load_model

        explainer = load_model(f"{name}:{version}", store=self.store).explainer()
        with self._lock:
            self._loaded[key] = explainer
            while len(self._loaded) > self.size:
                self._loaded.popitem(last=False)
        return explainer


def recent_predictions(store: Store, name: str, limit: int = 15) -> list[Any]:
    """The latest ``limit`` logged predictions of ``name``, newest first."""
    latest = store.prediction_activity(name, limit=limit)
    if not latest:
        return []
    records = store.get_predictions(name, since=latest[0].created_at)
    return list(reversed(records[-limit:]))


def explain_logged(cache: ExplainerCache, record: Any, output: str | None = None) -> dict[str, Any]:
    """The explanation of one logged prediction: a waterfall chart and the numbers, or the
    one-line reason it cannot be explained (``error``)."""
    name = record.model_name.split("@", 1)[0]  # shadow logs are named 'churn@challenger'
    try:
        explainer = cache.get(name, int(record.model_version))
        row = pd.DataFrame([{c: record.inputs.get(c) for c in explainer.columns}])
        e = explainer.explain(row, output=output)
    except ModelloopError as exc:
        return {"error": str(exc)}
    contributions = dict(zip(e.columns, e.values[0].tolist(), strict=True))
    explained = e.explained_class[0] if e.explained_class is not None else None
    what = _OUTPUT_LABEL.get(e.output, e.output)
    if explained is not None:
        what = f"{what} of class {explained}"
    chart = waterfall_chart(
        f"Why {what} = {float(e.output_values[0]):.4g}",
        float(e.base[0]),
        list(contributions.items()),
        value_label=what,
    )
    return {
        "chart": chart,
        "output": e.output,
        "outputs": explainer.outputs,
        "explained_class": explained,
        "base_value": float(e.base[0]),
        "output_value": float(e.output_values[0]),
        "contributions": contributions,
        "method": e.method,
        "detail": e.detail,
        "exact": e.exact,
    }


def global_importance(store: Store, record: Any) -> dict[str, Any] | None:
    """The bar chart of a version's mean absolute contributions (from its training run's
    evaluation), or ``None`` when the run kept none."""
    if not record.run_id:
        return None
    try:
        if "evaluation.json" not in store.run_files(record.run_id):
            return None
        payload = json.loads(store.read_run_file(record.run_id, "evaluation.json"))
    except ModelloopError:
        return None
    info = payload.get("explanations")
    if not info or not info.get("importance"):
        return None
    bars = [(r["feature"], r["mean_abs"]) for r in info["importance"]]
    chart: Markup = bar_chart(
        "What the model relies on (test rows)",
        bars,
        value_label=f"mean |contribution| to the {info.get('explained') or info.get('output')}",
    )
    return {"chart": chart, **info}
