"""A fitted random forest or extra-trees model, packed for predicting a few rows at a time.

scikit-learn's forests predict tree by tree through joblib: for one row, the dispatch of 300
trees costs tens of milliseconds, a hundred times the work itself. :class:`PackedForest`
copies the fitted trees' node arrays into one set of arrays and walks every tree at once,
level by level, with numpy: one row through 300 trees takes well under a millisecond.
The answers are the forest's own: rows are compared as scikit-learn compares them (cast to
float32, ``<=`` the node's threshold, missing values sent the way the node learned), and the
leaves' values averaged over the trees. Large batches are better left to scikit-learn, whose
compiled loop walks one tree over many rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PackedForest", "is_forest"]

_FORESTS = (
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
)


def is_forest(estimator: Any) -> bool:
    """Whether ``estimator`` is one of scikit-learn's fitted forests that can be packed."""
    return (
        type(estimator).__name__ in _FORESTS
        and type(estimator).__module__.startswith("sklearn.ensemble")
        and hasattr(estimator, "estimators_")
        and getattr(estimator, "n_outputs_", 1) == 1
    )


class PackedForest:
    """The trees of a fitted forest in flat arrays (see the module docstring).

    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X = np.random.default_rng(0).random((200, 3))
    >>> forest = RandomForestClassifier(20, random_state=0).fit(X, X[:, 0] > 0.5)
    >>> bool(np.allclose(PackedForest(forest).predict_proba(X[:5]), forest.predict_proba(X[:5])))
    True
    """

    def __init__(self, forest: Any) -> None:
        trees = [est.tree_ for est in forest.estimators_]
        sizes = np.array([t.node_count for t in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.roots = offsets.astype(np.intp)
        left = np.concatenate([t.children_left for t in trees]).astype(np.intp)
        right = np.concatenate([t.children_right for t in trees]).astype(np.intp)
        shift = np.repeat(offsets, sizes)
        leaf = left < 0
        own = np.arange(len(left), dtype=np.intp)
        # a leaf points to itself, so walking further keeps every row where it ended
        self.left = np.where(leaf, own, left + shift)
        self.right = np.where(leaf, own, right + shift)
        self.feature = np.where(leaf, 0, np.concatenate([t.feature for t in trees]))
        self.threshold = np.concatenate([t.threshold for t in trees])
        missing = [getattr(t, "missing_go_to_left", None) for t in trees]
        present = [m for m in missing if m is not None]
        self.missing_left = (
            np.concatenate(present).astype(bool)
            if len(present) == len(missing)
            else np.zeros(len(left), dtype=bool)
        )
        self.depth = int(max(t.max_depth for t in trees))
        values = np.concatenate([t.value[:, 0, :] for t in trees]).astype(float)
        self.classifier = hasattr(forest, "classes_")
        if self.classifier:  # a tree's predict_proba: its leaf's class shares
            total = values.sum(axis=1, keepdims=True)
            values = values / np.where(total == 0.0, 1.0, total)
        self.values = values
        self.n_trees = len(trees)

    def _leaves(self, X: Any) -> np.ndarray:
        """The leaf each row reaches in each tree: ``(rows, trees)`` node indices."""
        X = np.asarray(X, dtype=np.float32).astype(np.float64)
        rows = np.arange(len(X))[:, None]
        node = np.broadcast_to(self.roots, (len(X), self.n_trees)).copy()
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            go_left = (x <= self.threshold[node]) | (np.isnan(x) & self.missing_left[node])
            node = np.where(go_left, self.left[node], self.right[node])
        return node

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, as the forest's ``predict_proba``."""
        return self.values[self._leaves(X)].mean(axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Values (regressor) as the forest's ``predict``; for a classifier, the class
        positions (``argmax`` of the probabilities)."""
        means = self.values[self._leaves(X)].mean(axis=1)
        return means.argmax(axis=1) if self.classifier else means[:, 0]
