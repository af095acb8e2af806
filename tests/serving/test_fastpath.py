"""The fast path builds exactly what the pipeline builds, and predicts what it predicts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from modelloop.data import ColumnSchema, Role, Schema, infer_schema
from modelloop.features import SchemaEnforcer, make_pipeline
from modelloop.serving._fastpath import CompiledModel, FrameBuilder, compile_pipeline
from modelloop.serving._schemas import RowParser


def _both(schema: Schema, records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    enforcer = SchemaEnforcer(schema.to_dict()).fit(pd.DataFrame.from_records(records))
    rows = RowParser(schema, "t").validate(records)
    return FrameBuilder(enforcer.schema_).build(rows), enforcer.transform(records)


def test_fastpath_equals_enforcer_on_titanic_rows(titanic_frame) -> None:
    frame = titanic_frame.drop(columns=["Survived"])
    schema = infer_schema(titanic_frame, target="Survived")
    records = json.loads(frame.head(60).to_json(orient="records"))
    fast, slow = _both(schema, records)
    assert_frame_equal(fast, slow)


def test_fastpath_equals_enforcer_on_awkward_values() -> None:
    schema = Schema(
        (
            ColumnSchema("n", Role.NUMERIC, "float64"),
            ColumnSchema("grade", Role.CATEGORICAL, "object", categories=("1", "2", "3")),
            ColumnSchema("city", Role.CATEGORICAL, "object", categories=("Oslo", "Rome")),
            ColumnSchema("member", Role.BOOLEAN, "object", categories=("no", "yes")),
            ColumnSchema("day", Role.DATETIME, "datetime64[ns]", format="ISO8601"),
        )
    )
    records = [
        {"n": "4.5", "grade": 2, "city": " Oslo ", "member": "yes", "day": "2024-01-02"},
        {"n": None, "grade": "3.0", "city": "NA", "member": "no", "day": None},
        {"n": 7, "grade": None, "city": "Paris", "member": None, "day": "2024-03-04T05:06:07"},
    ]
    fast, slow = _both(schema, records)
    assert_frame_equal(fast, slow)


# -- the compiled pipeline -------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _messy(records: list[dict[str, Any]], schema: Schema, seed: int = 0) -> list[dict[str, Any]]:
    """Copies of rows with values knocked out, missing markers and unseen categories."""
    rng = np.random.default_rng(seed)
    out = []
    for rec in records:
        rec = dict(rec)
        for col in schema.columns:
            u = rng.random()
            if u < 0.1:
                rec[col.name] = None
            elif u < 0.15 and col.role in (Role.CATEGORICAL, Role.TEXT, Role.NUMERIC):
                rec[col.name] = "NA"
            elif u < 0.25 and col.role in (Role.CATEGORICAL, Role.TEXT):
                rec[col.name] = f"never seen {u:.3f}"
        out.append(rec)
    return out


def _check_same(pipeline: Any, schema: Schema, records: list[dict[str, Any]], task: str) -> None:
    features = schema.features()
    compiled = compile_pipeline(pipeline, features)
    assert isinstance(compiled, CompiledModel)
    rows = RowParser(features, "t").validate(records)
    raw = pd.DataFrame.from_records(records)
    for start in range(0, len(rows), 97):  # single rows and batches of every size
        chunk = rows[start : start + 97]
        for part in (chunk[:1], chunk):
            frame = raw.iloc[start : start + len(part)]
            if task == "regression":
                np.testing.assert_allclose(
                    compiled.predict(part), pipeline.predict(frame), rtol=1e-12, atol=0
                )
            else:
                np.testing.assert_allclose(
                    compiled.predict_proba(part), pipeline.predict_proba(frame), rtol=1e-12, atol=0
                )
                assert compiled.predict(part).tolist() == pipeline.predict(frame).tolist()


def _estimator(kind: str, task: str) -> tuple[Any, str]:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    classifier = task != "regression"
    if kind == "lightgbm":
        cls = LGBMClassifier if classifier else LGBMRegressor
        return cls(n_estimators=40, verbose=-1, random_state=0), "tree"
    if kind == "xgboost":
        from xgboost import XGBClassifier, XGBRegressor

        cls = XGBClassifier if classifier else XGBRegressor
        return cls(n_estimators=30, max_depth=4, tree_method="hist", n_jobs=1), "tree"
    if kind == "tree":
        cls = DecisionTreeClassifier if classifier else DecisionTreeRegressor
        return cls(max_depth=6, random_state=0), "tree"
    return (LogisticRegression(max_iter=500) if classifier else Ridge()), "linear"


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost", "tree", "linear"])
def test_compile_pipeline_predicts_like_the_pipeline_on_titanic(titanic_frame, kind) -> None:
    schema = infer_schema(titanic_frame, target="Survived")
    X, y = titanic_frame.drop(columns=["Survived"]), titanic_frame["Survived"]
    estimator, family = _estimator(kind, "binary")
    pipeline = make_pipeline(schema, family, estimator, task="binary").fit(X, y)
    records = _records(X[schema.feature_columns()])
    _check_same(pipeline, schema, records + _messy(records[:300], schema.features()), "binary")


@pytest.mark.parametrize(
    ("dataset", "target", "kind", "nrows"),
    [
        ("ames_house_prices", "SalePrice", "lightgbm", None),  # boolean, target encoding
        ("airbnb_amsterdam", "price", "tree", 1500),  # dates, text, high cardinality
        ("penguins", "species", "linear", None),  # multiclass, one-hot
    ],
)
def test_compile_pipeline_predicts_like_the_pipeline_on_real_data(
    shared_datasets, dataset, target, kind, nrows
) -> None:
    frame = pd.read_csv(shared_datasets / f"{dataset}.csv", nrows=nrows)
    frame = frame[frame[target].notna()].reset_index(drop=True)
    schema = infer_schema(frame, target=target)
    task = "regression" if dataset != "penguins" else "multiclass"
    estimator, family = _estimator(kind, task)
    X, y = frame.drop(columns=[target]), frame[target]
    pipeline = make_pipeline(schema, family, estimator, task=task).fit(X, y)
    records = _records(X[schema.feature_columns()].head(400))
    _check_same(pipeline, schema, records + _messy(records[:200], schema.features()), task)


def _titanic_voting(titanic_frame, weights: dict[str, float]):
    """A soft-voting ensemble on titanic of the members named in ``weights`` (gbm: LightGBM,
    lr: linear, tree: decision tree), fitted; with its schema and test records."""
    from sklearn.ensemble import VotingClassifier

    kinds = {"gbm": "lightgbm", "lr": "linear", "tree": "tree"}
    schema = infer_schema(titanic_frame, target="Survived")
    X, y = titanic_frame.drop(columns=["Survived"]), titanic_frame["Survived"]
    members = []
    for name in weights:
        est, family = _estimator(kinds[name], "binary")
        members.append((name, make_pipeline(schema, family, est, task="binary")))
    ensemble = VotingClassifier(members, voting="soft", weights=list(weights.values())).fit(X, y)
    records = _records(X[schema.feature_columns()].head(200))
    return ensemble, schema, records + _messy(records, schema.features())


def test_compile_pipeline_predicts_like_a_soft_voting_ensemble(titanic_frame) -> None:
    ensemble, schema, records = _titanic_voting(titanic_frame, {"gbm": 0.7, "lr": 0.3})
    _check_same(ensemble, schema, records, "binary")


def test_compile_pipeline_predicts_like_a_fitted_subset_of_an_ensemble(titanic_frame) -> None:
    from modelloop.models import with_threshold
    from modelloop.tuning._ensemble import fitted_subset

    ensemble, schema, records = _titanic_voting(titanic_frame, {"gbm": 0.5, "lr": 0.3, "tree": 0.2})
    # what the search keeps when the refitted blend is too slow: fewer fitted members
    kept = with_threshold(fitted_subset(ensemble, {"tree": 0.6, "lr": 0.4}), 0.35)
    _check_same(kept, schema, records, "binary")


def test_compile_pipeline_declines_what_it_does_not_know(titanic_frame) -> None:
    from sklearn.ensemble import VotingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    schema = infer_schema(titanic_frame[["Age", "Fare", "Survived"]], target="Survived")
    X, y = titanic_frame[["Age", "Fare"]].fillna(0), titanic_frame["Survived"]
    plain = Pipeline([("model", DecisionTreeClassifier(max_depth=3))]).fit(X, y)
    assert compile_pipeline(plain, schema) is None
    members = [
        (f"t{d}", make_pipeline(schema, "tree", DecisionTreeClassifier(max_depth=d)))
        for d in (2, 3)
    ]
    hard = VotingClassifier(members, voting="hard").fit(X, y)
    assert compile_pipeline(hard, schema) is None


def test_served_model_uses_the_compiled_fast_path(titanic_frame) -> None:
    from sklearn.tree import DecisionTreeClassifier

    from modelloop.serving._registry import served_from_pipeline

    schema = infer_schema(titanic_frame, target="Survived")
    X, y = titanic_frame.drop(columns=["Survived"]), titanic_frame["Survived"]
    pipe = make_pipeline(schema, "tree", DecisionTreeClassifier(max_depth=4), task="binary")
    pipe.fit(X, y)
    served = served_from_pipeline("t", 1, pipe, schema, "binary", pipe.classes_.tolist())
    assert isinstance(served.estimator, CompiledModel)
    records = _records(X[schema.feature_columns()].head(5))
    preds, probas = served.predict_rows(served.parser.validate(records))
    assert preds == pipe.predict(pd.DataFrame(records)).tolist()
    expected = pipe.predict_proba(pd.DataFrame(records))[:, 1]
    np.testing.assert_allclose([p["1"] for p in probas], expected, rtol=1e-12)


@pytest.mark.parametrize(("target", "task"), [("Pclass", "multiclass"), ("Fare", "regression")])
def test_compile_pipeline_predicts_xgboost_through_its_booster(titanic_frame, target, task) -> None:
    frame = titanic_frame.drop(columns=["Survived"]).dropna(subset=[target])
    if task == "multiclass":  # labels 0..K-1, as modelloop's training encodes them
        frame = frame.assign(Pclass=frame["Pclass"] - 1)
    schema = infer_schema(frame, target=target)
    X, y = frame.drop(columns=[target]), frame[target]
    estimator, family = _estimator("xgboost", task)
    pipeline = make_pipeline(schema, family, estimator, task=task).fit(X, y)
    records = _records(X[schema.feature_columns()].head(200))
    _check_same(pipeline, schema, records, task)
    compiled = compile_pipeline(pipeline, schema.features())
    assert compiled is not None
    _, _, predict = compiled._members[0]
    assert predict != pipeline[-1].predict  # the booster, not the scikit-learn wrapper


@pytest.mark.parametrize(
    ("kind", "target", "task", "temperature"),
    [
        ("lightgbm", "Survived", "binary", 2.5),
        ("lightgbm", "Pclass", "multiclass", 0.6),
        ("xgboost", "Pclass", "multiclass", 1.7),
    ],
)
def test_compile_pipeline_unwraps_a_temperature_scaled_booster(
    titanic_frame, kind, target, task, temperature
) -> None:
    from modelloop.models import TemperatureScaled

    frame = titanic_frame if target == "Survived" else titanic_frame.drop(columns=["Survived"])
    if target == "Pclass":  # labels 0..K-1, as modelloop's training encodes them
        frame = frame.assign(Pclass=frame["Pclass"] - 1)
    schema = infer_schema(frame, target=target)
    X, y = frame.drop(columns=[target]), frame[target]
    estimator, family = _estimator(kind, task)
    wrapped = TemperatureScaled(estimator, temperature=temperature)
    pipeline = make_pipeline(schema, family, wrapped, task=task).fit(X, y)
    records = _records(X[schema.feature_columns()].head(200))
    _check_same(pipeline, schema, records + _messy(records[:100], schema.features()), task)
    compiled = compile_pipeline(pipeline, schema.features())
    assert compiled is not None
    rows = RowParser(schema.features(), "t").validate(records[:20])
    expected = pipeline.predict_proba(pd.DataFrame(records[:20]))
    raw = pipeline[-1].estimator_.predict_proba(pipeline[:-1].transform(pd.DataFrame(records[:20])))
    assert not np.allclose(expected, raw)  # the temperature does change the probabilities

    def wrapper_called(X: Any) -> Any:
        raise AssertionError("the scikit-learn wrapper's predict_proba was called")

    pipeline[-1].estimator_.predict_proba = wrapper_called  # the booster must serve alone
    np.testing.assert_allclose(compiled.predict_proba(rows), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
def test_served_predictions_of_a_thresholded_model_equal_pipeline_predict(
    titanic_frame, kind
) -> None:
    from sklearn.ensemble import VotingClassifier

    from modelloop.models import TemperatureScaled, with_threshold
    from modelloop.serving._registry import served_from_pipeline

    schema = infer_schema(titanic_frame, target="Survived")
    X, y = titanic_frame.drop(columns=["Survived"]), titanic_frame["Survived"]
    estimator, family = _estimator(kind, "binary")
    scaled = TemperatureScaled(estimator, temperature=1.4)
    if kind == "lightgbm":
        model = make_pipeline(schema, family, with_threshold(scaled, 0.2), task="binary")
    else:  # as modelloop refits a single XGBoost model: a voting wrapper encodes the labels
        pipe = make_pipeline(schema, family, scaled, task="binary")
        model = with_threshold(VotingClassifier([("xgboost", pipe)], voting="soft"), 0.2)
    model.fit(X, y)
    records = _records(X[schema.feature_columns()].head(200))
    records += _messy(records[:100], schema.features())
    frame = pd.DataFrame.from_records(records)
    expected = model.predict(frame)
    argmax = np.asarray(model.classes_)[model.predict_proba(frame).argmax(axis=1)]
    assert (expected != argmax).any()  # the threshold does change some labels
    compiled = compile_pipeline(model, schema.features())
    assert isinstance(compiled, CompiledModel)
    rows = RowParser(schema.features(), "t").validate(records)
    assert compiled.predict(rows).tolist() == expected.tolist()
    served = served_from_pipeline("t", 1, model, schema, "binary", [0, 1])
    assert served.estimator is not model  # the fast path serves it
    preds, _ = served.predict_rows(rows)
    assert preds == expected.tolist()


@pytest.mark.parametrize("kind", ["lightgbm", "linear"])
def test_served_predictions_of_a_log_target_model_equal_pipeline_predict(
    titanic_frame, kind
) -> None:
    from modelloop.models import LogTargetRegressor
    from modelloop.serving._registry import served_from_pipeline

    frame = titanic_frame.dropna(subset=["Fare"])  # Fare: >= 0 and right-skewed
    schema = infer_schema(frame, target="Fare")
    X, y = frame.drop(columns=["Fare"]), frame["Fare"]
    estimator, family = _estimator(kind, "regression")
    model = make_pipeline(schema, family, LogTargetRegressor(estimator), task="regression")
    model.fit(X, y)
    records = _records(X[schema.feature_columns()].head(200))
    records += _messy(records[:100], schema.features())
    _check_same(model, schema, records, "regression")
    compiled = compile_pipeline(model, schema.features())
    assert isinstance(compiled, CompiledModel)
    rows = RowParser(schema.features(), "t").validate(records)
    expected = model.predict(pd.DataFrame.from_records(records))
    served = served_from_pipeline("t", 1, model, schema, "regression", None)
    assert served.estimator is not model  # the fast path serves it
    preds, _ = served.predict_rows(rows)
    np.testing.assert_allclose(preds, expected, rtol=1e-12, atol=0)
    if kind != "linear":

        def wrapper_called(X: Any) -> Any:
            raise AssertionError("the scikit-learn wrapper's predict was called")

        model[-1].regressor_.predict = wrapper_called  # the booster must serve alone
    np.testing.assert_allclose(compiled.predict(rows), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_served_predictions_of_bagged_fold_models_equal_the_bag(titanic_frame, task) -> None:
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import KFold

    from modelloop.models import FoldBag, TemperatureScaled
    from modelloop.serving._registry import served_from_pipeline

    target = {"binary": "Survived", "multiclass": "Pclass", "regression": "Fare"}[task]
    frame = titanic_frame.dropna(subset=[target]).reset_index(drop=True)
    schema = infer_schema(frame, target=target)
    X, y = frame.drop(columns=[target]), frame[target]
    members = []
    for i, (rows, _) in enumerate(KFold(3, shuffle=True, random_state=0).split(X)):
        estimator, family = _estimator("lightgbm" if i != 1 else "linear", task)
        if task != "regression" and i == 2:  # one member calibrated, as a search may make it
            estimator = TemperatureScaled(estimator, temperature=1.7)
        fold_model = make_pipeline(schema, family, estimator, task=task)
        members.append(FrozenEstimator(fold_model.fit(X.iloc[rows], y.iloc[rows])))
    classes = None if task == "regression" else np.unique(y)
    threshold = 0.3 if task == "binary" else None
    bag = FoldBag(
        members,
        [0.5, 0.2, 0.3],
        temperatures=[None, 1.2, None] if classes is not None else None,
        threshold=threshold,
    ).fit(X, y)
    records = _records(X[schema.feature_columns()].head(200))
    records += _messy(records[:100], schema.features())
    _check_same(bag, schema, records, task)
    compiled = compile_pipeline(bag, schema.features())
    assert isinstance(compiled, CompiledModel)
    rows = RowParser(schema.features(), "t").validate(records)
    expected = bag.predict(pd.DataFrame.from_records(records))
    served = served_from_pipeline(
        "t", 1, bag, schema, task, None if classes is None else classes.tolist()
    )
    assert served.estimator is not bag  # the fast path serves it
    preds, _ = served.predict_rows(rows)
    if task == "regression":
        np.testing.assert_allclose(preds, expected, rtol=1e-12, atol=0)
    else:
        assert preds == expected.tolist()


@pytest.mark.parametrize(
    ("kind", "target", "task"),
    [("random_forest", "Survived", "binary"), ("extra_trees", "Pclass", "multiclass"),
     ("extra_trees", "Fare", "regression"), ("random_forest", "Fare", "regression")],
)  # fmt: skip
def test_compile_pipeline_walks_a_forest_packed_for_few_rows(titanic_frame, kind, target, task):
    from modelloop.models import get_spec

    frame = titanic_frame.drop(columns=["Survived"] if target != "Survived" else [])
    frame = frame.dropna(subset=[target])
    schema = infer_schema(frame, target=target)
    X, y = frame.drop(columns=[target]), frame[target]
    forest = get_spec(kind, task).make(task).set_params(n_estimators=40)
    pipeline = make_pipeline(schema, "tree", forest, task=task).fit(X, y)
    records = _records(X[schema.feature_columns()].head(100))
    _check_same(pipeline, schema, records, task)  # batches beyond the packed size too
    compiled = compile_pipeline(pipeline, schema.features())
    assert compiled is not None
    _, predict = compiled._members[0][1:]
    assert predict != pipeline[-1].predict  # the packed trees, not the forest's own loop
    for record in records[:20]:  # one row at a time, as the server's small batches go
        one = compiled.predict([record])
        expected = pipeline.predict(pd.DataFrame([record]))
        np.testing.assert_allclose(np.asarray(one, dtype=float), expected.astype(float))
