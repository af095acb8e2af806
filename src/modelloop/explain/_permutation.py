"""Model-agnostic Shapley values over input columns, with a background sample.

For a model that is neither a tree ensemble nor linear (k-NN, SVM, the PyTorch network, a
model of the user's own) the value of a set ``S`` of input columns for a row ``x`` is the
model's mean output when the columns in ``S`` take ``x``'s values and the others take the
values of each background row (the interventional, or marginal, value function of
Janzing et al. 2020, which shap's permutation and kernel explainers also estimate).

The Shapley value of a column is its mean marginal contribution over orderings of the
columns. With at most ``2**M`` coalitions no more than the sampled orderings would cost,
every coalition is evaluated and the values are exact; otherwise ``permutations``
orderings are sampled as antithetic pairs (each with its reverse), the method of
Strumbelj & Kononenko (2014) with the variance reduction of Mitchell et al. (2022). Either
way the values add up exactly: along one ordering the marginal contributions telescope to
``f(x) - mean f(background)``.

Rows are mixed either as raw columns of a frame, or -- much cheaper, when the model's
preprocessing maps each input column to its own encoded features -- as encoded features
(``groups`` names each encoded feature's column), so that the preprocessing runs once
rather than for every coalition. The orderings are drawn once per explainer from a fixed
seed, so a row gets the same explanation whenever and with whichever other rows it is
explained.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PermutationShapley"]

_MAX_MODEL_ROWS = 100_000  # rows predicted at once


class PermutationShapley:
    """Shapley values of ``predict(inputs) -> (n, outputs)`` over ``players``.

    Parameters
    ----------
    predict : callable
        Takes inputs like ``background`` and returns an array ``(n, outputs)``.
    background : DataFrame or array / sparse matrix
        The reference rows, in the form ``predict`` takes.
    players : list of str
        The input columns. For a frame, its columns of those names; for a matrix, see
        ``groups``.
    groups : array of int, optional
        For a matrix: the player (index into ``players``) each of its columns belongs to.
    permutations : int
        Orderings sampled when exact enumeration would cost more (rounded up to even).
    seed : int
        Seed of the orderings.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 1.0, 4.0]})
    >>> f = lambda rows: (2 * rows["a"] + rows["b"]).to_numpy()[:, None]
    >>> values, base = PermutationShapley(f, frame, ["a", "b"]).explain(
    ...     pd.DataFrame({"a": [3.0], "b": [0.0]}))
    >>> values[0, :, 0].round(6).tolist(), float(base[0, 0].round(6))
    ([4.0, -2.0], 4.0)
    """

    def __init__(
        self,
        predict: Any,
        background: Any,
        players: list[str],
        *,
        groups: np.ndarray | None = None,
        permutations: int = 10,
        seed: int = 0,
    ) -> None:
        self.predict = predict
        self.players = list(players)
        self.groups = None if groups is None else np.asarray(groups, dtype=int)
        if isinstance(background, pd.DataFrame):
            background = background[self.players].reset_index(drop=True)
        self.background = background
        m = len(self.players)
        pairs = max(1, math.ceil(permutations / 2))
        sampled_cost = 2 * pairs * max(m - 1, 0) + 2
        self.exact = m <= 20 and 2**m <= sampled_cost
        if self.exact:
            self.coalitions = [
                frozenset(c) for size in range(m + 1) for c in combinations(range(m), size)
            ]
            self.orders: list[list[int]] = []
        else:
            rng = np.random.default_rng(seed)
            self.orders = []
            for _ in range(pairs):
                order = [int(i) for i in rng.permutation(m)]
                self.orders += [order, order[::-1]]
            seen: dict[frozenset[int], None] = {}
            for order in self.orders:
                for k in range(m + 1):
                    seen.setdefault(frozenset(order[:k]), None)
            self.coalitions = list(seen)
        self.index = {c: i for i, c in enumerate(self.coalitions)}
        self.masks = np.zeros((len(self.coalitions), m), dtype=bool)
        for i, c in enumerate(self.coalitions):
            self.masks[i, list(c)] = True

    @property
    def n_background(self) -> int:
        return int(self.background.shape[0])

    @property
    def description(self) -> str:
        b, m = self.n_background, len(self.players)
        if self.exact:
            return (
                f"exact Shapley values (all {2**m} coalitions of {m} columns, {b} background rows)"
            )
        return (
            f"permutation Shapley values ({len(self.orders)} antithetic orderings of {m} "
            f"columns, {b} background rows)"
        )

    def explain(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(values (n, players, outputs), base (n, outputs))`` for the rows of ``X``."""
        if isinstance(X, pd.DataFrame):
            X = X[self.players].reset_index(drop=True)
        n = X.shape[0]
        per_row = self.n_background * len(self.coalitions)
        chunk = max(1, _MAX_MODEL_ROWS // per_row)
        values, bases = [], []
        for start in range(0, n, chunk):
            v = self._coalition_values(_rows(X, start, min(n, start + chunk)))
            values.append(self._shapley(v))
            bases.append(v[:, self.index[frozenset()]])
        return np.concatenate(values, axis=0), np.concatenate(bases, axis=0)

    def _coalition_values(self, rows: Any) -> np.ndarray:
        """Mean model output over the background, per row and coalition: (r, C, outputs).

        The model inputs are laid out coalition by coalition, then row, then background row.
        """
        r, n_b, n_c = rows.shape[0], self.n_background, len(self.coalitions)
        if isinstance(rows, pd.DataFrame):
            inputs = self._mixed_frame(rows)
        else:
            inputs = self._mixed_matrix(rows)
        out = np.asarray(self.predict(inputs), dtype=float)
        if out.ndim == 1:
            out = out[:, None]
        return out.reshape(n_c, r, n_b, -1).mean(axis=2).transpose(1, 0, 2)

    def _mixed_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        r, n_b, n_c = len(rows), self.n_background, len(self.coalitions)
        coalition_of = np.repeat(np.arange(n_c), r * n_b)
        ours = rows.iloc[np.tile(np.repeat(np.arange(r), n_b), n_c)].reset_index(drop=True)
        frame = self.background.iloc[np.tile(np.arange(n_b), r * n_c)].reset_index(drop=True)
        for j, col in enumerate(self.players):
            frame[col] = ours[col].where(self.masks[coalition_of, j], frame[col])
        return frame

    def _mixed_matrix(self, rows: Any) -> Any:
        from scipy import sparse

        if self.groups is None:
            raise ValueError("A matrix of encoded features needs the column of each feature.")
        r, n_b = rows.shape[0], self.n_background
        feature_masks = self.masks[:, self.groups]  # (C, features): taken from the row
        if sparse.issparse(rows) or sparse.issparse(self.background):
            ours = sparse.csr_matrix(rows, dtype=float)[np.repeat(np.arange(r), n_b)]
            theirs = sparse.csr_matrix(self.background, dtype=float)[np.tile(np.arange(n_b), r)]
            blocks = [
                ours @ sparse.diags(mask.astype(float))
                + theirs @ sparse.diags((~mask).astype(float))
                for mask in feature_masks
            ]
            return sparse.vstack(blocks, format="csr")
        rows = np.asarray(rows, dtype=float)
        bg = np.asarray(self.background, dtype=float)
        out = np.where(
            feature_masks[:, None, None, :], rows[None, :, None, :], bg[None, None, :, :]
        )
        return out.reshape(-1, bg.shape[1])

    def _shapley(self, v: np.ndarray) -> np.ndarray:
        r, _, k = v.shape
        m = len(self.players)
        phi = np.zeros((r, m, k))
        if self.exact:
            weight = [
                math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)
            ]
            for c, i in self.index.items():
                for j in range(m):
                    if j not in c:
                        phi[:, j] += weight[len(c)] * (v[:, self.index[c | {j}]] - v[:, i])
            return phi
        for order in self.orders:
            before = v[:, self.index[frozenset()]]
            for k_, j in enumerate(order):
                after = v[:, self.index[frozenset(order[: k_ + 1])]]
                phi[:, j] += after - before
                before = after
        return phi / len(self.orders)


def _rows(X: Any, start: int, stop: int) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.iloc[start:stop].reset_index(drop=True)
    return X[start:stop]
