"""Explanations add up to what the model predicts, for every catalog model and blend."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.frozen import FrozenEstimator

from modelloop.exceptions import ConfigurationError, SchemaMismatchError
from modelloop.explain import Explainer
from modelloop.models import (
    FoldBag,
    LogTargetRegressor,
    TemperatureScaled,
    catalog,
    with_threshold,
)

from .conftest import FEATURES, TARGETS, fitted

TOLERANCE = 1e-6


def _check_additive(model, task, frame, *, output=None, target_class=None, rows=40):
    X = frame[FEATURES].head(rows)
    explainer = Explainer(model, task, FEATURES, background=frame[FEATURES], name="m:1")
    e = explainer.explain(X, output=output, target_class=target_class)
    assert e.values.shape == (rows, len(FEATURES))
    assert e.columns == FEATURES
    if task == "regression":
        expected = np.asarray(model.predict(X), dtype=float)
        np.testing.assert_allclose(e.output_values, expected, atol=TOLERANCE, rtol=1e-9)
        return e
    proba = np.asarray(model.predict_proba(X), dtype=float)
    classes = list(np.asarray(model.classes_).tolist())
    idx = np.array([classes.index(c) for c in e.explained_class])
    p = proba[np.arange(rows), idx]
    if e.output == "log-odds":  # compared on the probability scale (no saturated logits)
        got = 1.0 / (1.0 + np.exp(-e.output_values))
        np.testing.assert_allclose(got, np.clip(p, 1e-15, 1 - 1e-15), atol=TOLERANCE)
    else:
        np.testing.assert_allclose(e.output_values, p, atol=TOLERANCE)
    return e


FAMILIES = [
    (spec.name, task)
    for task in ("binary", "multiclass", "regression")
    for spec in catalog(task)
    # svm: below, on fewer rows (its permutation is the slowest); the image model needs an
    # image column (tests/explain/test_images.py)
    if spec.name not in ("svm", "efficientnet_finetune")
]


@pytest.mark.parametrize(("name", "task"), FAMILIES, ids=[f"{n}-{t}" for n, t in FAMILIES])
def test_explain_adds_up_for_every_catalog_model(name, task, frame) -> None:
    model = fitted(name, task, frame)
    rows = 20 if name not in ("knn", "mlp_torch") else 4
    e = _check_additive(model, task, frame, rows=rows)
    assert np.isfinite(e.values).all()
    expected = {"knn": "permutation", "mlp_torch": "permutation"}.get(name)
    if expected is None:
        expected = "linear" if name in ("logistic_regression", "ridge", "lasso") else "tree_shap"
    assert e.method == expected
    if task == "binary":
        _check_additive(model, task, frame, output="log-odds", rows=rows)


def test_explain_adds_up_for_a_support_vector_machine(frame) -> None:
    model = fitted("svm", "binary", frame)
    e = _check_additive(model, "binary", frame, rows=3)
    assert e.method == "permutation" and "orderings" in e.detail


@pytest.mark.parametrize(
    ("name", "task", "wrap"),
    [
        ("lightgbm", "binary", lambda est: TemperatureScaled(est, temperature=2.5)),
        ("random_forest", "binary", lambda est: TemperatureScaled(est, temperature=0.7)),
        ("random_forest", "multiclass", lambda est: TemperatureScaled(est, temperature=1.8)),
        ("logistic_regression", "multiclass", lambda est: TemperatureScaled(est, temperature=3.0)),
        ("knn", "binary", lambda est: TemperatureScaled(est, temperature=1.5)),
        ("xgboost", "binary",
         lambda est: with_threshold(TemperatureScaled(est, temperature=1.3), 0.3)),
        ("lightgbm", "regression", LogTargetRegressor),
        ("ridge", "regression", LogTargetRegressor),
    ],
)  # fmt: skip
def test_explain_adds_up_through_modelloops_wrappers(name, task, wrap, frame) -> None:
    frame = frame.assign(y=frame["y"].abs() + 1.0)  # a positive target for the log target
    model = fitted(name, task, frame, wrap=wrap)
    rows = 8 if name == "knn" else 40
    e = _check_additive(model, task, frame, rows=rows)
    if task == "binary":
        _check_additive(model, task, frame, output="log-odds", rows=rows)
    assert ("temperature" in e.detail) == (wrap is not LogTargetRegressor and name != "knn")


def _voting(task, frame, names, weights):
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    members = [(f"m{i}", fitted(name, task, frame)) for i, name in enumerate(names)]
    kind = VotingRegressor if task == "regression" else VotingClassifier
    kwargs = {} if task == "regression" else {"voting": "soft"}
    blend = kind(members, weights=weights, **kwargs)
    y = frame[TARGETS[task]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # refit: the members are fitted again inside the blend, as the search's refit does
        return blend.fit(frame[FEATURES], y)


@pytest.mark.parametrize(
    ("task", "names", "weights"),
    [
        ("binary", ["lightgbm", "logistic_regression", "extra_trees"], [0.5, 0.3, 0.2]),
        ("multiclass", ["xgboost", "random_forest", "knn"], [0.4, 0.4, 0.2]),
        ("regression", ["catboost", "ridge", "hist_gradient_boosting"], [0.6, 0.2, 0.2]),
    ],
)
def test_explain_adds_up_for_soft_voting_blends(task, names, weights, frame) -> None:
    blend = _voting(task, frame, names, weights)
    rows = 6 if "knn" in names else 40
    e = _check_additive(blend, task, frame, rows=rows)
    assert e.method == "mixed"
    assert "blend of 3 models" in e.detail
    if task == "binary":
        thresholded = with_threshold(blend, 0.35)
        _check_additive(thresholded, task, frame, output="log-odds", rows=rows)
    if task == "multiclass":  # every class of every row adds up too
        _check_additive(blend, task, frame, target_class="b", rows=rows)


def test_explain_adds_up_for_fold_bags_with_missing_classes_and_temperatures(frame) -> None:
    # fold models as the search keeps them: one fold never saw class 'c'
    members, columns = [], []
    for i, name in enumerate(["lightgbm", "logistic_regression", "lightgbm"]):
        part = frame.iloc[i::3]
        if i == 2:
            part = part[part["kind"] != "c"]
        model = fitted(name, "multiclass", part, fit_task="binary" if i == 2 else None)
        members.append(FrozenEstimator(model))
        columns.append(np.searchsorted(["a", "b", "c"], model.classes_))
    bag = FoldBag(
        members, [0.5, 0.25, 0.25], columns=columns, temperatures=[2.0, None, 0.5],
    ).fit(frame[FEATURES], frame["kind"])  # fmt: skip
    e = _check_additive(bag, "multiclass", frame)
    assert "bag of 3 models" in e.detail
    for c in ("a", "b", "c"):
        _check_additive(bag, "multiclass", frame, target_class=c)


def test_explain_adds_up_for_a_regression_bag(frame) -> None:
    members = [fitted("xgboost", "regression", frame.iloc[i::2], seed=i) for i in range(2)]
    bag = FoldBag([FrozenEstimator(m) for m in members], [0.7, 0.3])
    bag.fit(frame[FEATURES], frame[TARGETS["regression"]])
    e = _check_additive(bag, "regression", frame)
    assert e.exact  # TreeSHAP on values, averaged: still exact Shapley values


def test_explain_a_row_with_missing_values_like_any_other(frame) -> None:
    model = fitted("lightgbm", "binary", frame)
    row = frame[FEATURES].head(1).copy()
    for col in FEATURES:
        row[col] = None
    explainer = Explainer(model, "binary", FEATURES, background=frame[FEATURES])
    e = explainer.explain(row)
    np.testing.assert_allclose(e.output_values, model.predict_proba(row)[:, 1], atol=TOLERANCE)
    assert np.isfinite(e.values).all()


def test_explain_defaults_to_the_positive_class_and_the_predicted_class(frame) -> None:
    binary = fitted("lightgbm", "binary", frame)
    e = Explainer(binary, "binary", FEATURES).explain(frame[FEATURES].head(20))
    assert set(e.explained_class) == {binary.classes_[1]}
    multi = fitted("lightgbm", "multiclass", frame)
    X = frame[FEATURES].head(30)
    e = Explainer(multi, "multiclass", FEATURES).explain(X)
    assert e.explained_class.tolist() == multi.predict(X).tolist()
    first = Explainer(binary, "binary", FEATURES).explain(X, output="log-odds", target_class="high")
    second = Explainer(binary, "binary", FEATURES).explain(X, output="log-odds")
    np.testing.assert_allclose(first.values, -second.values)


def test_explain_groups_encoded_features_into_their_input_column(frame) -> None:
    # a model that only looks at the text column: only 'note' may get a contribution
    from modelloop.features import make_pipeline
    from modelloop.models import get_spec

    from .conftest import mixed_schema

    schema = mixed_schema("y")
    X = frame[FEATURES]
    y = np.array(["fast" in t for t in frame["note"]], dtype=float) * 3.0
    pipe = make_pipeline(schema, "linear", get_spec("ridge", "regression").make("regression"))
    pipe.fit(X.assign(age=1.0, income=1.0, member="no", city="Oslo", shop="shop01",
                      day="2024-01-01"), y)  # fmt: skip
    e = Explainer(pipe, "regression", FEATURES, background=X).explain(X.head(20))
    others = [j for j, c in enumerate(FEATURES) if c != "note"]
    assert np.abs(e.values[:, others]).max() < 1e-9
    assert np.abs(e.values[:, FEATURES.index("note")]).max() > 0.5


def test_explain_refuses_what_the_model_cannot_be_explained_as(frame) -> None:
    multi = fitted("lightgbm", "multiclass", frame)
    explainer = Explainer(multi, "multiclass", FEATURES, name="kinds:2")
    with pytest.raises(ConfigurationError, match=r"kinds:2 \(multiclass\) cannot be explained as "
                       r"log-odds: .*binary models\. Available: probability\."):  # fmt: skip
        explainer.explain(frame[FEATURES].head(2), output="log-odds")
    with pytest.raises(ConfigurationError, match=r"has no class 'z' to explain\. Classes: a, b, c"):
        explainer.explain(frame[FEATURES].head(2), target_class="z")
    with pytest.raises(SchemaMismatchError, match=r"lack column.*'note'"):
        explainer.explain(frame[FEATURES[:-1]].head(2))
    regressor = Explainer(fitted("ridge", "regression", frame), "regression", FEATURES, name="r:1")
    with pytest.raises(ConfigurationError, match="Available: value"):
        regressor.explain(frame[FEATURES].head(2), output="probability")
    with pytest.raises(
        ConfigurationError, match=r"r:1 cannot be explained: .*needs reference rows"
    ):
        regressor.explain(frame[FEATURES].head(2))  # a linear model without background rows
    clusters = Explainer(object(), "clustering", FEATURES, name="seg:1")
    with pytest.raises(ConfigurationError, match=r"seg:1 \(clustering\) cannot be explained"):
        clusters.explain(frame[FEATURES].head(2))


def test_explanation_frame_and_records(frame) -> None:
    model = fitted("lightgbm", "binary", frame)
    X = frame[FEATURES].head(5).set_axis(list("abcde"))
    e = Explainer(model, "binary", FEATURES).explain(X)
    out = e.frame(index=X.index)
    assert list(out.columns) == [
        "explained_class", "output_value", "base_value", *[f"contrib_{c}" for c in FEATURES]
    ]  # fmt: skip
    assert list(out.index) == list("abcde")
    assert out.attrs["output"] == "probability" and out.attrs["method"] == "tree_shap"
    records = e.records(top=3)
    assert len(records[0]["contributions"]) == 3
    sizes = [abs(v) for v in records[0]["contributions"].values()]
    assert sizes == sorted(sizes, reverse=True)
    assert isinstance(pd.Series(records[0]).to_json(), str)
