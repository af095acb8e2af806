"""CatBoost's classifier, answering ``predict`` as every scikit-learn classifier does.

For more than two classes ``catboost.CatBoostClassifier.predict`` returns a column of shape
``(n, 1)`` where scikit-learn's contract (and every pipeline, ensemble and metric built on it)
expects a vector of labels. This subclass flattens it; everything else is CatBoost's own.
It lives in a module of its own so that importing the catalog does not import CatBoost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from catboost import CatBoostClassifier

__all__ = ["CatBoostVectorClassifier"]


class CatBoostVectorClassifier(CatBoostClassifier):
    """``catboost.CatBoostClassifier`` whose ``predict`` returns a vector of labels.

    >>> import numpy as np
    >>> X = np.repeat(np.arange(3.0), 10)[:, None]
    >>> y = np.repeat(["a", "b", "c"], 10)
    >>> model = CatBoostVectorClassifier(iterations=20, verbose=0, allow_writing_files=False)
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def predict(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        labels = super().predict(data, *args, **kwargs)
        prediction_type = kwargs.get("prediction_type", args[0] if args else "Class")
        if prediction_type == "Class":
            return np.asarray(labels).reshape(-1)
        return labels
