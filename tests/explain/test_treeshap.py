"""modelloop's TreeSHAP tables give the libraries' own TreeSHAP values."""

from __future__ import annotations

import numpy as np
import pytest

from modelloop.explain._methods import leaf_kind
from modelloop.explain._treeshap import ObliviousTables, _quadrature, _shares, parse_trees

from .conftest import FEATURES, fitted


def _native(est, Xt):
    """The library's own TreeSHAP: (values (n, features, outputs), base (n, outputs))."""
    kind = leaf_kind(est)
    if kind == "lightgbm":
        out = np.asarray(est.predict(Xt, pred_contrib=True))
        k = out.shape[1] // (est.n_features_in_ + 1)
        out = out.reshape(len(Xt), k, -1)
        return out[:, :, :-1].transpose(0, 2, 1), out[:, :, -1]
    if kind == "catboost":
        from catboost import Pool

        out = np.asarray(est.get_feature_importance(Pool(np.asarray(Xt, float)), type="ShapValues"))
        out = out[:, None, :] if out.ndim == 2 else out
        return out[:, :, :-1].transpose(0, 2, 1), out[:, :, -1]
    if kind == "xgboost":
        import xgboost

        out = est.get_booster().predict(xgboost.DMatrix(np.asarray(Xt, np.float32)),
                                        pred_contribs=True)  # fmt: skip
        out = out[:, None, :] if out.ndim == 2 else out
        return out[:, :, :-1].transpose(0, 2, 1), None
    import warnings

    with warnings.catch_warnings():  # shap's plotting colours warn on import
        warnings.simplefilter("ignore")
        import shap

    explainer = shap.TreeExplainer(est)
    values = np.asarray(explainer.shap_values(np.asarray(Xt, float), check_additivity=False))
    values = values[:, :, None] if values.ndim == 2 else values
    return values, np.broadcast_to(np.atleast_1d(explainer.expected_value), values[:, 0].shape)


CASES = [
    (name, task)
    for task in ("binary", "multiclass", "regression")
    for name in ("lightgbm", "xgboost", "catboost", "random_forest", "extra_trees",
                 "decision_tree", "hist_gradient_boosting")
]  # fmt: skip


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_tables_equal_the_libraries_treeshap(name, task, frame) -> None:
    model = fitted(name, task, frame)
    est = model[-1]
    # trees grown to purity have mostly deep leaves (no tables): fewer rows keep it quick
    Xt = model[:-1].transform(frame[FEATURES].head(15 if name == "extra_trees" else 60))
    kind = leaf_kind(est)
    tables = ObliviousTables(est) if kind == "catboost" else parse_trees(est, kind)
    values, base = tables.contributions(Xt)
    native, native_base = _native(est, Xt)
    scale = max(1.0, float(np.abs(native).max()))
    np.testing.assert_allclose(values, native, atol=2e-6 * scale)  # XGBoost adds in float32
    if native_base is not None:
        np.testing.assert_allclose(base, native_base, atol=1e-9 * scale)


def test_a_batch_gives_each_row_what_it_gets_alone(frame, monkeypatch) -> None:
    # without tables, a batch computes each leaf's shares once per pattern its rows meet
    # (rows repeated, so patterns repeat); alone, a row computes them itself
    from modelloop.explain import _treeshap

    monkeypatch.setattr(_treeshap, "_TABLE_ENTRIES", 0)
    model = fitted("lightgbm", "multiclass", frame)
    Xt = model[:-1].transform(frame[FEATURES].head(12))
    Xt = np.vstack([Xt, Xt[::-1]])
    tables = parse_trees(model[-1], leaf_kind(model[-1]))
    assert all(g.table is None for g in tables.groups)
    batch, _ = tables.contributions(Xt)
    alone = np.concatenate([tables.contributions(Xt[i : i + 1])[0] for i in range(len(Xt))])
    np.testing.assert_allclose(batch, alone, rtol=0, atol=1e-12)
    native, _ = _native(model[-1], Xt)
    np.testing.assert_allclose(batch, native, atol=1e-9)


def test_shares_are_exact_shapley_weights_for_every_pattern() -> None:
    # brute force: (o_j - z_j) * sum over subsets S of the other features of
    # |S|! (d-|S|-1)! / d! * prod_S o * prod_rest z
    from itertools import combinations
    from math import factorial

    rng = np.random.default_rng(0)
    d = 5
    z = rng.uniform(0.1, 0.9, d)
    t, w = _quadrature(d)
    for pattern in range(2**d):
        o = np.array([(pattern >> j) & 1 for j in range(d)], dtype=float)
        got = _shares(o, z, t, w)
        for j in range(d):
            others = [k for k in range(d) if k != j]
            total = 0.0
            for size in range(d):
                for S in combinations(others, size):
                    rest = [k for k in others if k not in S]
                    weight = factorial(size) * factorial(d - size - 1) / factorial(d)
                    total += weight * np.prod(o[list(S)]) * np.prod(z[rest])
            assert got[j] == pytest.approx((o[j] - z[j]) * total, abs=1e-12)
