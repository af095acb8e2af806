"""What a fitted model answers for raw rows, as a table: the one shape every consumer shows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelloop.models._threshold import predicted_labels
from modelloop.models._unsupervised import UNSUPERVISED_TASKS, unsupervised_output

__all__ = ["model_output"]


def model_output(task: str, model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions for ``frame``: a ``prediction`` column, and a ``proba_<class>`` column per
    class for a classifier (labels by the model's decision threshold, if it has one).

    Unsupervised models answer ``cluster``; ``pc1``..``pcK``; or ``anomaly_score`` and
    ``is_anomaly`` (see :func:`unsupervised_output`); a decision policy (``bandit``) its best
    ``action`` and a ``proba_<action>`` column per action. ``modelloop predict``, the Python API
    and an exported MLflow model all answer with this.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> model = LogisticRegression().fit(X, ["a", "a", "b", "b"])
    >>> model_output("binary", model, X).columns.tolist()
    ['prediction', 'proba_a', 'proba_b']
    """
    if task in UNSUPERVISED_TASKS:
        return unsupervised_output(task, model, frame)
    index = frame.index if isinstance(frame, pd.DataFrame) else None
    if task == "bandit":  # a policy: its best action, and each action's chance
        chances = model.action_probabilities(frame)
        best = {"action": model.predict(frame)}
        cols = {f"proba_{a}": chances[:, j] for j, a in enumerate(model.actions_)}
        return pd.DataFrame({**best, **cols}, index=index)
    if task == "regression":
        return pd.DataFrame({"prediction": model.predict(frame)}, index=index)
    proba = np.asarray(model.predict_proba(frame), dtype=float)
    classes = np.asarray(model.classes_)
    out: dict[str, Any] = {"prediction": predicted_labels(model, proba, classes)}
    for i, c in enumerate(classes):
        out[f"proba_{c}"] = proba[:, i]
    return pd.DataFrame(out, index=index)
