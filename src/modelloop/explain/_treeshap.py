"""Path-dependent TreeSHAP from per-leaf tables: exact, and fast in batches and for one row.

TreeSHAP (Lundberg et al., 2020) gives each feature ``j`` on the path to a leaf with value
``v`` the share

    v * (o_j - z_j) * sum over S of |S|! (d - |S| - 1)! / d! * prod_{k in S} o_k * prod_{k not in S} z_k

where the path's ``d`` distinct features ``k != j`` are split into those in ``S`` and the
rest, ``z_k`` is the share of the training rows (the cover) that follows the path at the
nodes splitting on ``k``, and ``o_k`` is 1 when the explained row follows the path at all
of them, else 0. The sum is the integral ``∫_0^1 prod_{k != j} ((1 - t) z_k + t o_k) dt`` of a
polynomial of degree ``d - 1``, which Gauss-Legendre quadrature with ``ceil(d / 2)`` nodes
computes exactly.

A leaf's shares depend on the row only through the pattern ``o`` in ``{0, 1}^d``. For
leaves up to a depth that keeps memory bounded, the shares of every pattern are computed
once when the explainer is built (the precomputation of Fast TreeSHAP v2, Yang 2021); a
row then costs, per path entry, one comparison (is the row inside the entry's interval)
and, per leaf, one table lookup. Deeper leaves are computed per row with the quadrature.
The loop over rows and leaves is compiled with numba (:mod:`._kernel`); without numba it
runs as numpy array operations. The base value is the cover-weighted mean of the leaves.

Trees come from LightGBM (its model dump), XGBoost (its JSON dump), scikit-learn's trees,
forests and histogram gradient boosting. The values equal the libraries' own TreeSHAP
(LightGBM's ``pred_contrib``, XGBoost's ``pred_contribs``, ``shap.TreeExplainer``) up to
floating-point rounding; the tests check that.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ObliviousTables", "TreeTables", "parse_trees"]

_TABLE_ENTRIES = 4_000_000  # table values kept per model (32 MB of float64)
_MAX_TABLE_DEPTH = 12
_CHUNK_ENTRIES = 8_000_000  # rows x path entries evaluated at once


@dataclass
class _Tree:
    """One tree as node arrays. ``left`` / ``right`` are -1 at leaves; a row goes left when
    ``x <= threshold`` (thresholds of strict ``<`` splits are stored as the float below);
    ``values`` is (nodes, outputs), or ``output`` names the one output a scalar tree adds to.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    cover: np.ndarray
    values: np.ndarray
    output: int = -1


@dataclass
class _Leaves:
    """Path entries of leaves of one depth ``d`` (leaf-major: leaf ``l``'s entries are
    ``l * d .. l * d + d - 1``)."""

    d: int
    feature: np.ndarray  # (L * d,)
    low: np.ndarray  # the row follows the path when low < x <= high
    high: np.ndarray
    nan_follows: np.ndarray  # a missing value follows the path at every node of the feature
    zero: np.ndarray  # (L, d) cover shares z
    weight: Any = None  # (L * d, F * K) sparse: entry -> (feature, output) with the leaf value
    table: np.ndarray | None = None  # (L, 2**d, d) shares per pattern
    bits: Any = None  # 2**j per position: a pattern's row in its leaf's table
    offsets: Any = None  # first row of each leaf's table
    values: Any = None  # (L, K) leaf values


def _quadrature(d: int) -> tuple[np.ndarray, np.ndarray]:
    n = max(1, math.ceil(d / 2))
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1.0) / 2.0, w / 2.0


def _shares(o: np.ndarray, z: np.ndarray, t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(o_j - z_j) * ∫ prod_{k != j} ((1 - t) z_k + t o_k) dt`` for patterns ``o`` (..., d)
    and cover shares ``z`` broadcast to them."""
    terms = (1.0 - t) * z[..., None] + t * o[..., None]  # (..., d, Q)
    # the product over k != j as prefix and suffix products (no division by a zero term)
    ones = np.ones_like(terms[..., :1, :])
    prefix = np.cumprod(np.concatenate([ones, terms[..., :-1, :]], axis=-2), axis=-2)
    suffix = np.cumprod(np.concatenate([ones, terms[..., :0:-1, :]], axis=-2), axis=-2)[
        ..., ::-1, :
    ]
    return (o - z) * ((prefix * suffix) @ w)


class TreeTables:
    """Path-dependent TreeSHAP of a tree ensemble (see the module docstring).

    Parameters
    ----------
    trees : the ensemble's trees (``parse_trees``)
    n_features, n_outputs : the encoded features and the outputs (1, or one per class)
    base_offset : added to every output (boosting's initial score)
    """

    def __init__(
        self,
        trees: list[_Tree],
        n_features: int,
        n_outputs: int,
        base_offset: Any = 0.0,
        *,
        float32: bool = False,
    ) -> None:
        from scipy import sparse

        self.n_features = n_features
        self.n_outputs = n_outputs
        self.float32 = float32
        self.base = np.broadcast_to(np.asarray(base_offset, dtype=float), (n_outputs,)).copy()
        by_depth: dict[int, list[tuple[Any, ...]]] = {}
        for tree in trees:
            for entries, value, total in _paths(tree, n_outputs):
                self.base += value * total
                if entries:
                    by_depth.setdefault(len(entries), []).append((entries, value))
        budget = _TABLE_ENTRIES
        self.groups: list[_Leaves] = []
        for d in sorted(by_depth):
            leaves = by_depth[d]
            feature = np.array([e[0] for entries, _ in leaves for e in entries], dtype=np.int64)
            group = _Leaves(
                d=d,
                feature=feature,
                low=np.array([e[1] for entries, _ in leaves for e in entries]),
                high=np.array([e[2] for entries, _ in leaves for e in entries]),
                nan_follows=np.array([e[3] for entries, _ in leaves for e in entries]),
                zero=np.array([[e[4] for e in entries] for entries, _ in leaves], dtype=float),
            )
            values = np.array([value for _, value in leaves], dtype=float)  # (L, K)
            rows = np.arange(len(feature)).repeat(n_outputs)
            cols = (feature[:, None] * n_outputs + np.arange(n_outputs)).ravel()
            data = np.repeat(values, d, axis=0).ravel()
            keep = data != 0
            group.weight = sparse.csr_matrix(
                (data[keep], (rows[keep], cols[keep])),
                shape=(len(feature), n_features * n_outputs),
            )
            group.values = values
            size = len(leaves) * (2**d) * d
            if d <= _MAX_TABLE_DEPTH and size <= budget:
                budget -= size
                group.table = self._table(group)
                group.bits = (2.0 ** np.arange(d)).astype(np.float32)
                group.offsets = (np.arange(len(leaves)) * 2**d).astype(np.float32)
            self.groups.append(group)
        self.compiled = _compiled_arrays(self.groups, n_outputs)

    @property
    def cheap(self) -> bool:
        """Whether these tables beat the libraries' own TreeSHAP: always when the loop is
        compiled (numba); with numpy, only when the tables cover enough of the work, since
        leaves deeper than the tables are computed per row several times slower than a
        compiled TreeSHAP (extremely randomised trees grown to purity go to one)."""
        if self.compiled is not None:
            return True
        tabled = sum(len(g.feature) for g in self.groups if g.table is not None)
        deep = sum(len(g.feature) * g.d for g in self.groups if g.table is None)
        return deep <= max(tabled, 20_000)

    @staticmethod
    def _table(group: _Leaves) -> np.ndarray:
        d = group.d
        patterns = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(float)  # (P, d)
        t, w = _quadrature(d)
        out = np.empty((len(group.zero), 2**d, d))
        step = max(1, 2_000_000 // (2**d * d * len(t)))
        for start in range(0, len(group.zero), step):
            z = group.zero[start : start + step, None, :]  # (l, 1, d)
            out[start : start + step] = _shares(patterns[None], z, t, w)
        return out

    def contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(values (n, features, outputs), base (n, outputs))`` for the rows of ``X``."""
        X = np.asarray(X, dtype=np.float32 if self.float32 else float).astype(float)
        n = len(X)
        if self.compiled is not None:
            from modelloop.explain import _kernel

            values = _kernel.contributions(self.compiled, X, self.n_features, self.n_outputs)
            return values, np.broadcast_to(self.base, (n, self.n_outputs)).copy()
        missing = bool(np.isnan(X).any())
        flat = np.zeros((n, self.n_features * self.n_outputs))
        for group in self.groups:
            width = len(group.feature)
            step = max(1, _CHUNK_ENTRIES // max(width * (1 if group.table is not None else 8), 1))
            for start in range(0, n, step):
                rows = X[start : start + step]
                flat[start : start + step] += self._group(rows, group, missing) @ group.weight
        values = flat.reshape(n, self.n_features, self.n_outputs)
        return values, np.broadcast_to(self.base, (n, self.n_outputs)).copy()

    @staticmethod
    def _group(rows: np.ndarray, group: _Leaves, missing: bool) -> Any:
        x = np.take(rows, group.feature, axis=1)
        follows = (x > group.low) & (x <= group.high)
        if missing:
            follows = np.where(np.isnan(x), group.nan_follows, follows)
        r, d = len(rows), group.d
        o = follows.reshape(r, -1, d)
        if group.table is not None:
            n_leaves, n_patterns = group.table.shape[:2]
            index = o.astype(np.float32) @ group.bits + group.offsets  # (r, L): row of the table
            flat = group.table.reshape(n_leaves * n_patterns, d)
            shares = np.take(flat, index.astype(np.int64), axis=0)  # (r, L, d)
        elif r > 1 and d <= 40:  # a batch: each (leaf, pattern) met is computed once
            n_leaves = o.shape[1]
            pattern = o.astype(np.int64) @ (np.int64(1) << np.arange(d, dtype=np.int64))
            key = pattern + np.arange(n_leaves, dtype=np.int64)[None, :] * (np.int64(1) << d)
            unique, inverse = np.unique(key.ravel(), return_inverse=True)
            leaf = unique >> d
            bits = ((unique[:, None] >> np.arange(d)) & 1).astype(float)
            t, w = _quadrature(d)
            met = _shares(bits, group.zero[leaf], t, w)  # (unique, d)
            shares = met[inverse].reshape(r, n_leaves, d)
        else:
            t, w = _quadrature(d)
            shares = _shares(o.astype(float), group.zero[None], t, w)
        return shares.reshape(r, -1)


def _compiled_arrays(groups: list[_Leaves], n_outputs: int) -> dict[str, Any] | None:
    """The leaves of every group as the flat arrays the compiled loop reads (``None`` when
    numba is not there)."""
    from modelloop.explain import _kernel

    if not groups or not _kernel.available():
        return None
    starts, depths, table_starts, tables, values = [], [], [], [], []
    entry = table_at = 0
    for g in groups:
        n_leaves = len(g.zero)
        starts.append(entry + np.arange(n_leaves) * g.d)
        depths.append(np.full(n_leaves, g.d))
        if g.table is not None:
            table_starts.append(table_at + np.arange(n_leaves) * (2**g.d) * g.d)
            tables.append(g.table.ravel())
            table_at += g.table.size
        else:
            table_starts.append(np.full(n_leaves, -1))
        values.append(g.values)
        entry += len(g.feature)
    max_d = max(g.d for g in groups)
    max_q = max(1, math.ceil(max_d / 2))
    nodes = np.zeros((max_d + 1, max_q))
    weights = np.zeros((max_d + 1, max_q))
    for d in range(1, max_d + 1):
        t, w = _quadrature(d)
        nodes[d, : len(t)], weights[d, : len(w)] = t, w
    return {
        "start": np.concatenate(starts).astype(np.int64),
        "depth": np.concatenate(depths).astype(np.int64),
        "table_start": np.concatenate(table_starts).astype(np.int64),
        "feature": np.concatenate([g.feature for g in groups]).astype(np.int64),
        "low": np.concatenate([g.low for g in groups]).astype(np.float64),
        "high": np.concatenate([g.high for g in groups]).astype(np.float64),
        "nan_follows": np.concatenate([g.nan_follows for g in groups]).astype(np.bool_),
        "zero": np.concatenate([g.zero.ravel() for g in groups]).astype(np.float64),
        "table": np.concatenate(tables) if tables else np.zeros(1),
        "value": np.vstack(values).astype(np.float64).reshape(-1, n_outputs),
        "nodes": nodes,
        "weights": weights,
    }


def _paths(
    tree: _Tree, n_outputs: int
) -> Iterator[tuple[list[tuple[Any, ...]], np.ndarray, float]]:
    """For each leaf: its path entries ``(feature, low, high, nan_follows, zero)`` (one per
    distinct feature), its value per output and its cover share of the whole tree."""
    root_cover = float(tree.cover[0]) if tree.cover[0] > 0 else 1.0
    stack: list[tuple[int, dict[int, tuple[Any, ...]]]] = [(0, {})]
    while stack:
        node, path = stack.pop()
        if tree.left[node] < 0:
            value = np.zeros(n_outputs)
            if tree.output >= 0:
                value[tree.output] = float(tree.values[node, 0])
            else:
                value[:] = tree.values[node]
            share = float(tree.cover[node]) / root_cover
            entries = [(f, lo, hi, nan, z) for f, (lo, hi, nan, z) in sorted(path.items())]
            yield entries, value, share
            continue
        f = int(tree.feature[node])
        thr = float(tree.threshold[node])
        parent = float(tree.cover[node]) if tree.cover[node] > 0 else 1.0
        for child, goes_left in ((int(tree.right[node]), False), (int(tree.left[node]), True)):
            lo, hi, nan, z = path.get(f, (-np.inf, np.inf, True, 1.0))
            if goes_left:
                hi = min(hi, thr)
            else:
                lo = max(lo, thr)
            nan = nan and bool(tree.default_left[node]) == goes_left
            z = z * float(tree.cover[child]) / parent
            stack.append((child, {**path, f: (lo, hi, nan, z)}))


# ------------------------------------------------------------------------------- parsing


def _arrays(nodes: list[dict[str, Any]]) -> _Tree:
    n = len(nodes)
    tree = _Tree(
        left=np.full(n, -1, dtype=np.int64),
        right=np.full(n, -1, dtype=np.int64),
        feature=np.zeros(n, dtype=np.int64),
        threshold=np.zeros(n),
        default_left=np.zeros(n, dtype=bool),
        cover=np.zeros(n),
        values=np.zeros((n, 1)),
    )
    for i, node in enumerate(nodes):
        for key in ("left", "right", "feature", "threshold", "default_left", "cover"):
            if key in node:
                getattr(tree, key)[i] = node[key]
        tree.values[i, 0] = node.get("value", 0.0)
    return tree


def _lightgbm(model: Any) -> tuple[list[_Tree], int, np.ndarray]:
    booster = model.booster_ if hasattr(model, "booster_") else model
    dump = booster.dump_model()
    per_iteration = int(dump.get("num_tree_per_iteration", 1))
    trees = []
    for i, info in enumerate(dump["tree_info"]):
        nodes: list[dict[str, Any]] = []

        def walk(node: dict[str, Any], nodes: list[dict[str, Any]] = nodes) -> int:
            index = len(nodes)
            nodes.append({})
            if "leaf_value" in node:
                nodes[index] = {"value": node["leaf_value"], "cover": node.get("leaf_count", 0)}
                return index
            if node.get("decision_type", "<=") != "<=":
                raise ValueError("a categorical split (LightGBM's own categories)")
            if node.get("missing_type") not in ("NaN", "None", None):
                raise ValueError(f"missing values as {node.get('missing_type')!r}")
            left = walk(node["left_child"])
            right = walk(node["right_child"])
            nodes[index] = {
                "left": left, "right": right, "feature": node["split_feature"],
                "threshold": node["threshold"], "default_left": node.get("default_left", True),
                "cover": node.get("internal_count", 0),
            }  # fmt: skip
            return index

        walk(info["tree_structure"])
        tree = _arrays(nodes)
        tree.output = i % per_iteration
        trees.append(tree)
    return trees, per_iteration, np.zeros(per_iteration)


def _xgboost(model: Any, iterations: tuple[int, int]) -> tuple[list[_Tree], int, None]:
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    config = json.loads(booster.save_config())
    learner = config["learner"]["learner_model_param"]
    n_class = int(learner.get("num_class", "0") or 0)
    per_iteration = max(1, n_class)
    dumps = booster.get_dump(dump_format="json", with_stats=True)
    if iterations[1] > 0:
        dumps = dumps[iterations[0] * per_iteration : iterations[1] * per_iteration]
    trees = []
    for i, text in enumerate(dumps):
        root = json.loads(text)
        order: dict[int, int] = {}
        flat: list[dict[str, Any]] = []

        def visit(node: dict[str, Any], order: dict[int, int] = order,
                  flat: list[dict[str, Any]] = flat) -> None:  # fmt: skip
            order[node["nodeid"]] = len(flat)
            flat.append(node)
            for child in node.get("children", []):
                visit(child)

        visit(root)
        nodes = []
        for node in flat:
            if "leaf" in node:
                nodes.append({"value": node["leaf"], "cover": node.get("cover", 0.0)})
                continue
            # XGBoost goes 'yes' when x < threshold (in float32): x <= the float below it
            threshold = float(
                np.nextafter(np.float32(node["split_condition"]), np.float32(-np.inf))
            )
            nodes.append({
                "left": order[node["yes"]], "right": order[node["no"]],
                "feature": int(str(node["split"]).lstrip("f")), "threshold": threshold,
                "default_left": node["missing"] == node["yes"], "cover": node.get("cover", 0.0),
            })  # fmt: skip
        tree = _arrays(nodes)
        tree.output = i % per_iteration
        trees.append(tree)
    return trees, per_iteration, None


def _sklearn_tree(tree_: Any, classifier: bool, scale: float) -> _Tree:
    value = np.asarray(tree_.value, dtype=float)[:, 0, :]  # (nodes, classes or 1)
    if classifier:
        value = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
    missing = getattr(tree_, "missing_go_to_left", None)
    return _Tree(
        left=np.asarray(tree_.children_left, dtype=np.int64),
        right=np.asarray(tree_.children_right, dtype=np.int64),
        feature=np.maximum(np.asarray(tree_.feature, dtype=np.int64), 0),
        threshold=np.asarray(tree_.threshold, dtype=float),
        default_left=np.ones(tree_.node_count, dtype=bool)
        if missing is None
        else np.asarray(missing, dtype=bool),
        cover=np.asarray(tree_.weighted_n_node_samples, dtype=float),
        values=value * scale,
    )


def _hist_gradient_boosting(model: Any) -> tuple[list[_Tree], int, np.ndarray]:
    trees = []
    per_iteration = len(model._predictors[0])
    for predictors in model._predictors:
        for k, predictor in enumerate(predictors):
            nodes = predictor.nodes
            if np.any(nodes["is_categorical"]):
                raise ValueError("a categorical split")
            leaf = nodes["is_leaf"].astype(bool)
            tree = _Tree(
                left=np.where(leaf, -1, nodes["left"].astype(np.int64)),
                right=np.where(leaf, -1, nodes["right"].astype(np.int64)),
                feature=np.asarray(nodes["feature_idx"], dtype=np.int64),
                threshold=np.asarray(nodes["num_threshold"], dtype=float),
                default_left=np.asarray(nodes["missing_go_to_left"], dtype=bool),
                cover=np.asarray(nodes["count"], dtype=float),
                values=np.asarray(nodes["value"], dtype=float)[:, None],
                output=k,
            )
            trees.append(tree)
    base = np.asarray(model._baseline_prediction, dtype=float).ravel()
    return trees, per_iteration, base


def parse_trees(model: Any, kind: str, *, iterations: tuple[int, int] = (0, 0)) -> TreeTables:
    """The :class:`TreeTables` of a fitted tree model: ``kind`` is ``'lightgbm'``,
    ``'xgboost'``, ``'hist_gbm'`` or ``'sklearn_tree'`` (a tree, random forest or extra
    trees). XGBoost's base margin is not in its dump: its caller adds it.

    Raises ``ValueError`` for a tree this module does not read (categorical splits).
    """
    from sklearn.base import is_classifier

    n_features = int(model.n_features_in_)
    if kind == "lightgbm":
        trees, k, base = _lightgbm(model)
        return TreeTables(trees, n_features, k, base)
    if kind == "xgboost":
        trees, k, _ = _xgboost(model, iterations)
        return TreeTables(trees, n_features, k, 0.0, float32=True)
    if kind == "hist_gbm":
        trees, k, base = _hist_gradient_boosting(model)
        return TreeTables(trees, n_features, k, base)
    if kind == "sklearn_tree":
        classifier = is_classifier(model)
        estimators = getattr(model, "estimators_", None)
        members = [model] if estimators is None else list(estimators)
        parsed = [_sklearn_tree(m.tree_, classifier, 1.0 / len(members)) for m in members]
        k = parsed[0].values.shape[1]
        return TreeTables(parsed, n_features, k, 0.0, float32=True)
    raise ValueError(f"unknown tree kind {kind!r}")


class ObliviousTables:
    """Path-dependent TreeSHAP of CatBoost's oblivious trees, tabled per row pattern.

    Every level of an oblivious tree splits on one feature for all its nodes, so a row's
    shares in a tree of depth ``d`` depend only on the ``d`` bits "x > border" of its levels:
    the explainer tables the tree's contributions for each of the ``2**d`` patterns once
    (``d`` is 6 by default), and a row costs one comparison per level and one lookup per tree.
    """

    cheap = True

    def __init__(self, model: Any) -> None:
        import os
        import tempfile

        from scipy import sparse

        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.json")
            model.save_model(path, format="json")
            with open(path, encoding="utf-8") as fh:
                dump = json.load(fh)
        flat = {
            int(f["feature_index"]): int(f["flat_feature_index"])
            for f in dump["features_info"].get("float_features", [])
        }
        scale, bias = dump.get("scale_and_bias", [1.0, [0.0]])
        bias = np.atleast_1d(np.asarray(bias, dtype=float))
        trees = dump["oblivious_trees"]
        self.n_features = int(model.n_features_in_)
        self.n_outputs = len(bias)
        k = self.n_outputs
        depth = max((len(t["splits"]) for t in trees), default=0)
        self.depth = depth
        n_trees = len(trees)
        self.feature = np.zeros((n_trees, depth), dtype=np.int64)
        self.border = np.full((n_trees, depth), np.inf)  # padding levels: the bit is always 0
        self.tables = np.zeros((n_trees, 2**depth, depth, k))
        targets = np.full((n_trees, depth), self.n_features, dtype=np.int64)  # a spare column
        self.base = bias.copy()
        for i, tree in enumerate(trees):
            splits = tree["splits"]
            if any(s.get("split_type") != "FloatFeature" for s in splits):
                raise ValueError("a categorical split of CatBoost's own")
            d = len(splits)
            features = [flat.get(int(s["float_feature_index"]), int(s["float_feature_index"]))
                        for s in splits]  # fmt: skip
            self.feature[i, :d] = features
            self.border[i, :d] = [float(np.float32(s["border"])) for s in splits]
            values = scale * np.asarray(tree["leaf_values"], dtype=float).reshape(2**d, k)
            weights = np.asarray(tree["leaf_weights"], dtype=float)
            total = weights.sum() if weights.sum() > 0 else 1.0
            self.base += (weights / total) @ values
            unique = list(dict.fromkeys(features))
            targets[i, : len(unique)] = unique
            self.tables[i, : 2**d, : len(unique)] = _oblivious_table(
                features, unique, values, weights
            )
        self.cells = n_trees * depth
        rows = np.arange(self.cells * k)
        cols = (targets.reshape(-1, 1) * k + np.arange(k)).ravel()
        self.weight = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(rows), (self.n_features + 1) * k)
        )
        self.bits = (2.0 ** np.arange(depth)).astype(np.float32)
        self.offsets = (np.arange(n_trees) * 2**depth).astype(np.float32)

    def contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float32).astype(float)
        n, k = len(X), self.n_outputs
        out = np.zeros((n, (self.n_features + 1) * k))
        flat_tables = self.tables.reshape(-1, self.depth * k)
        step = max(1, _CHUNK_ENTRIES // max(self.cells * k, 1))
        for start in range(0, n, step):
            rows = X[start : start + step]
            bits = rows[:, self.feature] > self.border  # (r, trees, depth)
            index = bits.astype(np.float32) @ self.bits + self.offsets  # (r, trees)
            shares = np.take(flat_tables, index.astype(np.int64), axis=0)  # (r, trees, d*k)
            out[start : start + step] = shares.reshape(len(rows), -1) @ self.weight
        values = out.reshape(n, self.n_features + 1, k)[:, : self.n_features]
        return values, np.broadcast_to(self.base, (n, k)).copy()


def _oblivious_table(
    features: list[int], unique: list[int], values: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """An oblivious tree's contributions per row pattern: (patterns, unique features, outputs).

    Level ``i`` is bit ``i`` of a leaf's index (1: ``x > border``); the root is the last
    level. A feature met at several levels is one feature of the path (its shares multiply).
    """
    d = len(features)
    leaves = np.arange(2**d)
    leaf_bits = (leaves[:, None] >> np.arange(d)) & 1  # (leaves, d)
    # cover of the node a leaf passes at each level: leaves sharing its bits from the root
    # (level d - 1) down to that level
    covers = np.zeros((2**d, d + 1))
    for i in range(d + 1):  # i levels decided, from the root
        keys = leaves & (((1 << d) - 1) ^ ((1 << (d - i)) - 1))
        covers[:, i] = np.bincount(keys, weights=weights, minlength=2**d)[keys]
    ratio = np.divide(covers[:, 1:], covers[:, :-1], out=np.zeros((2**d, d)),
                      where=covers[:, :-1] > 0)  # fmt: skip
    # ratio[:, i] is the share at the (i+1)-th level from the root, which is level d-1-i
    level_ratio = ratio[:, ::-1]  # (leaves, level)
    m = len(unique)
    position = [unique.index(f) for f in features]
    z = np.ones((2**d, m))
    for level, j in enumerate(position):
        z[:, j] *= level_ratio[:, level]
    patterns = (leaves[:, None] >> np.arange(d)) & 1  # (patterns, d)
    agree = patterns[:, None, :] == leaf_bits[None, :, :]  # (patterns, leaves, d)
    o = np.ones((2**d, 2**d, m))
    for level, j in enumerate(position):
        o[:, :, j] *= agree[:, :, level]
    t, w = _quadrature(m)
    shares = _shares(o, np.broadcast_to(z[None], o.shape), t, w)  # (patterns, leaves, m)
    return np.einsum("plm,lk->pmk", shares, values)
