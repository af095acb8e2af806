"""ONNX: a fitted modelloop model, preprocessing included, as one ONNX graph.

The graph has one input per feature column, named as the column: numeric and boolean
columns are ``float`` ``[n, 1]`` (missing: NaN), categorical ones ``string`` ``[n, 1]``
(missing: the empty string). :func:`onnx_inputs` builds these from raw rows the way the
model's own first step types them. The outputs are ``label`` (``[n]``) and
``probabilities`` (``[n, classes]``, in the order of the ``classes`` metadata entry) for a
classifier, ``variable`` (``[n, 1]``) for a regressor.

Each member pipeline (the model itself, or every member of a soft-voting ensemble or a
bag of fold models) is converted by skl2onnx, its LightGBM and XGBoost boosters by
onnxmltools, and modelloop's own parts here: the missing-category step, the target
encoder, the temperature, the decision threshold and the log-target inverse. The members'
graphs are then joined into one, which averages them with the model's weights and labels
rows exactly as modelloop does (the most probable class, or the decision threshold).

A part that has no converter (dates, text, CatBoost, the PyTorch network) stops the export
with one line naming the step; :func:`onnx_convertible` answers the same question for a
model name before training (``train --exportable onnx``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from modelloop.data import TASKS, Role, Schema, conform
from modelloop.exceptions import ExportError

__all__ = [
    "ONNX_MODELS",
    "OnnxMember",
    "convert_onnx",
    "onnx_convertible",
    "onnx_inputs",
    "unconvertible_columns",
]

OPSET = 20  # RegexFullMatch (the missing category) needs 20
ML_OPSET = 3
FLOAT_ROLES = (Role.NUMERIC, Role.BOOLEAN)
STRING_ROLES = (Role.CATEGORICAL,)

# Catalog models whose fitted estimator converts (see models.catalog()).
ONNX_MODELS = frozenset(
    {
        "logistic_regression",
        "ridge",
        "lasso",
        "svm",
        "decision_tree",
        "random_forest",
        "extra_trees",
        "hist_gradient_boosting",
        "lightgbm",
        "xgboost",
    }
)
# Preprocessing steps with a converter (skl2onnx's own, or modelloop's below).
_STEP_CLASSES = frozenset(
    {
        "SimpleImputer",
        "StandardScaler",
        "OrdinalEncoder",
        "OneHotEncoder",
        "MissingCategory",
        "TargetEncoder",
        "Pipeline",
    }
)


def onnx_convertible(model_name: str) -> bool:
    """Whether the catalog model ``model_name`` converts to ONNX (its preprocessing may
    still not: dates and text do not).

    Examples
    --------
    >>> onnx_convertible("lightgbm"), onnx_convertible("catboost")
    (True, False)
    """
    return model_name in ONNX_MODELS


def unconvertible_columns(schema: Schema) -> list[str]:
    """The feature columns an ONNX graph of modelloop cannot take (text and dates).

    Examples
    --------
    >>> from modelloop.data import ColumnSchema
    >>> unconvertible_columns(Schema((ColumnSchema("note", Role.TEXT, "object"),)))
    ['note']
    """
    return [
        c.name
        for c in schema.features().columns
        if c.name in schema.feature_columns() and c.role not in FLOAT_ROLES + STRING_ROLES
    ]


# -- inputs --------------------------------------------------------------------------------


def onnx_inputs(rows: Any, schema: Schema) -> dict[str, np.ndarray]:
    """The feeds of an exported graph for raw rows (a DataFrame or records).

    Rows are typed the way the model's first step types them (:func:`modelloop.data.conform`):
    numbers and booleans become ``float32`` (NaN when missing), categories their text (the
    empty string when missing).

    Examples
    --------
    >>> from modelloop.data import ColumnSchema, Schema
    >>> s = Schema((ColumnSchema("age", Role.NUMERIC, "float64"),
    ...             ColumnSchema("city", Role.CATEGORICAL, "object", n_unique=2)))
    >>> feeds = onnx_inputs([{"age": "41", "city": None}], s)
    >>> feeds["age"].tolist(), feeds["city"].tolist()
    ([[41.0]], [['']])
    """
    features = schema.features()
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(list(rows))
    typed = conform(frame, features, source="the rows", require=True, extra="ignore")
    feeds: dict[str, np.ndarray] = {}
    for col in features.columns:
        values = typed[col.name]
        if col.role in STRING_ROLES:
            mask = values.isna().to_numpy()
            text = np.array([str(v) for v in values.astype(object).to_numpy()], dtype=object)
            text[mask] = ""
            feeds[col.name] = text.reshape(-1, 1)
        elif col.role in FLOAT_ROLES:
            feeds[col.name] = values.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
        else:
            raise ExportError(
                f"Column '{col.name}' is a {col.role.value} column: ONNX graphs of modelloop "
                "take numeric, boolean and categorical columns only."
            )
    return feeds


# -- members -------------------------------------------------------------------------------


@dataclass
class OnnxMember:
    """One pipeline of the model, as the combination step sees it."""

    preprocess: Any  # the fitted steps between the schema step and the estimator
    estimator: Any  # the innermost estimator (wrappers peeled off)
    temperature: float | None = None
    log_target: tuple[float, float] | None = None  # LogTargetRegressor's z range
    columns: np.ndarray | None = None  # where its probability columns go in classes
    weight: float = 1.0
    where: str = "model"


def _peel(estimator: Any, member: OnnxMember) -> Any:
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import LogTargetRegressor, TemperatureScaled, thresholded

    while True:
        # A threshold changes only the labels, which the joined graph gives from the
        # model's final probabilities with models.decision_threshold (as modelloop does):
        # wherever it sits among the wrappers, the probabilities are the same.
        if isinstance(estimator, FixedThresholdClassifier):
            estimator = thresholded(estimator)
        elif isinstance(estimator, TemperatureScaled):
            if member.temperature is not None:
                raise ExportError(f"{member.where}: two temperatures do not convert to ONNX.")
            member.temperature = float(estimator.temperature)
            estimator = estimator.estimator_
        elif isinstance(estimator, LogTargetRegressor):
            member.log_target = tuple(float(v) for v in estimator.z_range_)  # type: ignore[assignment]
            estimator = estimator.regressor_
        else:
            return estimator


def _member(pipeline: Any, where: str) -> OnnxMember:
    from sklearn.pipeline import Pipeline

    from modelloop.features import SchemaEnforcer

    if not isinstance(pipeline, Pipeline) or not isinstance(pipeline.steps[0][1], SchemaEnforcer):
        raise ExportError(
            f"{where} is a {type(pipeline).__name__}, not a modelloop pipeline (schema step, "
            "preprocessing, estimator); only those convert to ONNX."
        )
    member = OnnxMember(preprocess=None, estimator=None, where=where)
    steps = pipeline.steps[1:-1]
    for name, step in steps:
        _check_step(step, f"{where} step '{name}'")
    member.preprocess = Pipeline(list(steps)) if steps else None
    member.estimator = _peel(pipeline.steps[-1][1], member)
    _check_estimator(member.estimator, f"{where} step '{pipeline.steps[-1][0]}'")
    return member


def _check_step(step: Any, where: str) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(step, ColumnTransformer):
        for name, trans, cols in step.transformers_:
            if trans in ("drop", "passthrough") or (isinstance(cols, list) and not cols):
                continue
            _check_step(trans, f"{where}/{name} (columns {', '.join(map(str, cols))})")
        return
    if isinstance(step, Pipeline):
        for name, sub in step.steps:
            _check_step(sub, f"{where}/{name}")
        return
    kind = type(step).__name__
    if kind not in _STEP_CLASSES:
        raise ExportError(
            f"{where} ({kind}) does not convert to ONNX: modelloop converts numeric, boolean "
            "and categorical preprocessing only (not dates or text)."
        )


def _check_estimator(estimator: Any, where: str) -> None:
    from skl2onnx._supported_operators import sklearn_operator_name_map

    if getattr(estimator, "weights", None) == "distance" and hasattr(estimator, "n_neighbors"):
        # scikit-learn gives a row at distance 0 from training rows their labels only; the
        # ONNX converter weighs every neighbour, so such rows would be answered differently.
        raise ExportError(
            f"{where} ({type(estimator).__name__} with distance weights) does not convert to "
            "ONNX exactly: rows equal to a training row would be answered differently. Models "
            f"that convert: {', '.join(sorted(ONNX_MODELS))} (train with --exportable onnx)."
        )
    _register_boosters()
    if type(estimator) in sklearn_operator_name_map:
        return
    for base in type(estimator).__mro__[1:]:
        # A subclass that only changes how it runs (HistGBClassifier: one thread) converts
        # as its base class does.
        if base in sklearn_operator_name_map and base.__module__.startswith("sklearn"):
            _register_like(type(estimator), base)
            return
    raise ExportError(
        f"{where} ({type(estimator).__name__}) does not convert to ONNX; models that do: "
        f"{', '.join(sorted(ONNX_MODELS))} (train with --exportable onnx)."
    )


def members_of(model: Any) -> tuple[list[OnnxMember], np.ndarray | None]:
    """The pipelines of a fitted model, with their weights, and the model's classes."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    from modelloop.models import FoldBag

    if isinstance(model, VotingClassifier | VotingRegressor):
        weights = np.ones(len(model.estimators_)) if model.weights is None else model.weights
        weights = np.asarray([w for w in weights if w is not None], dtype=float)
        members = [_member(m, f"ensemble member {i}") for i, m in enumerate(model.estimators_)]
        classes = None
        if isinstance(model, VotingClassifier):
            classes = np.asarray(model.le_.classes_)
            for m, est in zip(members, model.estimators_, strict=True):
                m.columns = np.asarray(est.classes_, dtype=int)  # members learn 0..K-1
        for m, w in zip(members, weights / weights.sum(), strict=True):
            m.weight = float(w)
        return members, classes
    if isinstance(model, FoldBag):
        members = [_member(m, f"fold model {i}") for i, m in enumerate(model.estimators_)]
        classes = None
        for i, (m, w) in enumerate(zip(members, model.weights_, strict=True)):
            m.weight = float(w)
            if hasattr(model, "classes_"):
                m.columns = model.columns_[i]
                t = model.temperatures_[i]
                if t is not None:
                    if m.temperature is not None:
                        raise ExportError(f"{m.where}: two temperatures do not convert to ONNX.")
                    m.temperature = float(t)
        if hasattr(model, "classes_"):
            classes = np.asarray(model.classes_)
        return members, classes
    member = _member(model, "model")
    classes = np.asarray(model.classes_) if hasattr(model, "classes_") else None
    return [member], classes


# -- converters for modelloop's own parts and the boosters ---------------------------------

_REGISTERED = False


def _register_boosters() -> None:
    """Teach skl2onnx the boosters (onnxmltools) and modelloop's transformers, once."""
    global _REGISTERED
    if _REGISTERED:
        return
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    from modelloop.features import MissingCategory

    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
        update_registered_converter(
            LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=options,
        )
        update_registered_converter(
            LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
        )
    except ImportError:  # pragma: no cover - both are dependencies
        pass
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor

        update_registered_converter(
            XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
        )
        update_registered_converter(
            XGBRegressor,
            "XGBoostXGBRegressor",
            calculate_linear_regressor_output_shapes,
            convert_xgboost,
        )
    except ImportError:  # pragma: no cover
        pass
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, TargetEncoder

    # skl2onnx's OneHotEncoder converter does not group infrequent categories.
    update_registered_converter(
        OneHotEncoder, "SklearnOneHotEncoder", _one_hot_shape, _convert_one_hot, overwrite=True
    )
    # skl2onnx's TargetEncoder converter takes binary and continuous targets only.
    update_registered_converter(
        TargetEncoder,
        "SklearnTargetEncoder",
        _target_shape,
        _convert_target_encoder,
        overwrite=True,
    )
    for cls in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        _fix_boolean_attributes(cls)
    # skl2onnx's own SimpleImputer converter leaves out the missing-indicator columns.
    update_registered_converter(
        SimpleImputer, "SklearnSimpleImputer", _imputer_shape, _convert_imputer, overwrite=True
    )
    update_registered_converter(
        SinglePrecision, "ModelloopSinglePrecision", _single_shape, _convert_single
    )
    update_registered_converter(
        MissingCategory,
        "ModelloopMissingCategory",
        _missing_category_shape,
        _convert_missing_category,
    )
    _REGISTERED = True


def _register_like(cls: type, base: type) -> None:
    """Convert ``cls`` with the converter (and options) of its scikit-learn base class."""
    from skl2onnx import update_registered_converter
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter, get_shape_calculator
    from sklearn.base import ClassifierMixin

    alias = sklearn_operator_name_map[base]
    options = {
        "zipmap": [True, False, "columns"],
        "nocl": [True, False],
        "raw_scores": [True, False],
    }
    inner = get_converter(alias)

    def convert(scope: Any, operator: Any, container: Any) -> None:
        inner(scope, operator, container)

    update_registered_converter(
        cls,
        f"Modelloop{cls.__name__}",
        get_shape_calculator(alias),
        convert,
        options=options if issubclass(cls, ClassifierMixin) else None,
    )


def _fix_boolean_attributes(cls: type) -> None:
    """Re-register ``cls``'s converter so that boolean lists become 0/1 integers.

    skl2onnx 1.20 passes scikit-learn 1.9's boolean missing-value flags of histogram
    gradient boosting to an integer-list attribute, which onnx refuses.
    """
    from skl2onnx import update_registered_converter
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter, get_shape_calculator

    alias = sklearn_operator_name_map[cls]
    convert, shape = get_converter(alias), get_shape_calculator(alias)

    def fixed(scope: Any, operator: Any, container: Any) -> None:
        add = container.add_node

        def add_node(*args: Any, **attrs: Any) -> Any:
            for key, value in attrs.items():
                if isinstance(value, list | np.ndarray) and any(
                    isinstance(v, bool | np.bool_) for v in value
                ):
                    attrs[key] = [int(v) for v in value]
            return add(*args, **attrs)

        container.add_node = add_node
        try:
            convert(scope, operator, container)
        finally:
            del container.add_node

    update_registered_converter(cls, alias, shape, fixed, overwrite=True)


def _missing_category_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import StringTensorType

    n = operator.inputs[0].get_first_dimension()
    width = sum(int(i.get_second_dimension() or 1) for i in operator.inputs)
    operator.outputs[0].type = StringTensorType([n, width])


def _convert_missing_category(scope: Any, operator: Any, container: Any) -> None:
    """Missing (the empty string) becomes ``fill_value``; every other text stays."""
    from onnx import TensorProto

    X = operator.inputs[0].full_name
    if len(operator.inputs) > 1:
        X = scope.get_unique_variable_name("concat")
        container.add_node(
            "Concat",
            [i.full_name for i in operator.inputs],
            X,
            axis=1,
            name=scope.get_unique_operator_name("Concat"),
        )
    fill = scope.get_unique_variable_name("fill")
    container.add_initializer(
        fill, TensorProto.STRING, [], [str(operator.raw_operator.fill_value).encode()]
    )
    is_missing = scope.get_unique_variable_name("is_missing")
    container.add_node(
        "RegexFullMatch",
        [X],
        is_missing,
        name=scope.get_unique_operator_name("RegexFullMatch"),
        op_version=OPSET,
        pattern="",
    )
    container.add_node(
        "Where",
        [is_missing, fill, X],
        operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Where"),
    )


def _one_hot_layout(encoder: Any) -> list[tuple[list[str], list[int], int, int]]:
    """Per input column: its categories, the output column of each within the column's
    block, where an unknown value goes (-1: nowhere), and the block's width."""
    widths = getattr(encoder, "_n_features_outs", None)
    if widths is None or encoder.drop is not None:
        raise ExportError("This OneHotEncoder (drop, or an old scikit-learn) does not convert.")
    layout = []
    for i, cats in enumerate(encoder.categories_):
        width = int(widths[i])
        infrequent = (getattr(encoder, "infrequent_categories_", None) or [None] * 99)[i]
        frequent = [c for c in cats if infrequent is None or c not in set(infrequent)]
        index = {c: j for j, c in enumerate(frequent)}
        has_rare = infrequent is not None and len(infrequent) > 0
        rare = width - 1 if has_rare else -1
        positions = [index.get(c, rare) for c in cats]
        unknown = rare if encoder.handle_unknown == "infrequent_if_exist" else -1
        layout.append(([str(c) for c in cats], positions, unknown, width))
    return layout


def _number_type(shape: list[Any]) -> Any:
    """The tensor type of numbers in these graphs: double (see the module docstring)."""
    from skl2onnx.common.data_types import DoubleTensorType

    return DoubleTensorType(shape)


def _one_hot_shape(operator: Any) -> None:
    n = operator.inputs[0].get_first_dimension()
    width = sum(w for *_, w in _one_hot_layout(operator.raw_operator))
    operator.outputs[0].type = _number_type([n, width])


def _convert_one_hot(scope: Any, operator: Any, container: Any) -> None:
    """``OneHotEncoder`` of text columns, rare categories grouped as scikit-learn groups
    them (``min_frequency``), unknown values in the rare group or nowhere."""
    from onnx import TensorProto

    X = operator.inputs[0].full_name
    if len(operator.inputs) > 1:
        X = scope.get_unique_variable_name("concat")
        container.add_node(
            "Concat",
            [i.full_name for i in operator.inputs],
            X,
            axis=1,
            name=scope.get_unique_operator_name("Concat"),
        )
    blocks = []
    for i, (cats, positions, unknown, width) in enumerate(_one_hot_layout(operator.raw_operator)):
        pick = scope.get_unique_variable_name("pick")
        container.add_initializer(pick, TensorProto.INT64, [1], [i])
        column = scope.get_unique_variable_name("column")
        container.add_node(
            "Gather", [X, pick], column, axis=1, name=scope.get_unique_operator_name("Gather")
        )
        flat = scope.get_unique_variable_name("flat")
        shape = scope.get_unique_variable_name("shape")
        container.add_initializer(shape, TensorProto.INT64, [1], [-1])
        container.add_node(
            "Reshape", [column, shape], flat, name=scope.get_unique_operator_name("Reshape")
        )
        codes = scope.get_unique_variable_name("codes")
        # Out of [0, width): all zeros (ONNX OneHot), which is what "nowhere" means.
        container.add_node(
            "LabelEncoder",
            [flat],
            codes,
            op_domain="ai.onnx.ml",
            op_version=2,
            keys_strings=cats,
            values_int64s=[p if p >= 0 else width for p in positions],
            default_int64=unknown if unknown >= 0 else width,
            name=scope.get_unique_operator_name("LabelEncoder"),
        )
        depth = scope.get_unique_variable_name("depth")
        container.add_initializer(depth, TensorProto.INT64, [1], [width])
        values = scope.get_unique_variable_name("values")
        container.add_initializer(values, TensorProto.FLOAT, [2], [0.0, 1.0])
        hot = scope.get_unique_variable_name("hot")
        container.add_node(
            "OneHot",
            [codes, depth, values],
            hot,
            axis=-1,
            name=scope.get_unique_operator_name("OneHot"),
        )
        block = scope.get_unique_variable_name("block")  # 0/1: exact in any precision
        container.add_node(
            "Cast", [hot], block, to=TensorProto.DOUBLE, name=scope.get_unique_operator_name("Cast")
        )
        blocks.append(block)
    if len(blocks) == 1:
        container.add_node(
            "Identity",
            blocks,
            operator.outputs[0].full_name,
            name=scope.get_unique_operator_name("Identity"),
        )
    else:
        container.add_node(
            "Concat",
            blocks,
            operator.outputs[0].full_name,
            axis=1,
            name=scope.get_unique_operator_name("Concat"),
        )


def _target_layout(encoder: Any) -> list[tuple[int, list[str], list[float], float]]:
    """Per output column: its input column, the categories, their encodings, the value of
    an unknown category (scikit-learn's layout: feature by feature, class by class)."""
    n_classes = len(encoder.classes_) if encoder.target_type_ == "multiclass" else 1
    means = np.atleast_1d(np.asarray(encoder.target_mean_, dtype=float))
    layout = []
    for e, encoding in enumerate(encoder.encodings_):
        feature = e // n_classes
        cats = [str(c) for c in encoder.categories_[feature]]
        layout.append(
            (feature, cats, np.asarray(encoding, dtype=float).tolist(), float(means[e % n_classes]))
        )
    return layout


def _target_shape(operator: Any) -> None:
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _number_type([n, len(operator.raw_operator.encodings_)])


def _convert_target_encoder(scope: Any, operator: Any, container: Any) -> None:
    """``TargetEncoder`` (as fitted: its ``encodings_``), binary, multiclass or continuous."""
    from onnx import TensorProto

    X = operator.inputs[0].full_name
    if len(operator.inputs) > 1:
        X = scope.get_unique_variable_name("concat")
        container.add_node(
            "Concat",
            [i.full_name for i in operator.inputs],
            X,
            axis=1,
            name=scope.get_unique_operator_name("Concat"),
        )
    columns = []
    for feature, cats, values, unknown in _target_layout(operator.raw_operator):
        pick = scope.get_unique_variable_name("pick")
        container.add_initializer(pick, TensorProto.INT64, [1], [feature])
        column = scope.get_unique_variable_name("column")
        container.add_node(
            "Gather", [X, pick], column, axis=1, name=scope.get_unique_operator_name("Gather")
        )
        encoded = scope.get_unique_variable_name("encoded")
        container.add_node(
            "LabelEncoder",
            [column],
            encoded,
            op_domain="ai.onnx.ml",
            op_version=2,
            keys_strings=cats,
            values_floats=values,
            default_float=unknown,
            name=scope.get_unique_operator_name("LabelEncoder"),
        )
        # ai.onnx.ml LabelEncoder 2 maps to float only: the float encodings, exactly as
        # double (they are target means, kept to about 7 digits).
        as_double = scope.get_unique_variable_name("as_double")
        container.add_node(
            "Cast",
            [encoded],
            as_double,
            to=TensorProto.DOUBLE,
            name=scope.get_unique_operator_name("Cast"),
        )
        columns.append(as_double)
    container.add_node(
        "Concat",
        columns,
        operator.outputs[0].full_name,
        axis=1,
        name=scope.get_unique_operator_name("Concat"),
    )


def _imputer_shape(operator: Any) -> None:
    imputer = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    width = len(imputer.statistics_)
    if getattr(imputer, "indicator_", None) is not None:
        width += len(imputer.indicator_.features_)
    operator.outputs[0].type = _number_type([n, width])


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """``SimpleImputer`` on numbers (NaN = missing), with its missing-indicator columns."""
    from onnx import TensorProto

    imputer = operator.raw_operator
    if not (isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)):
        raise ExportError(
            f"A SimpleImputer with missing_values={imputer.missing_values!r} does not convert "
            "to ONNX (modelloop's use NaN)."
        )
    X = operator.inputs[0].full_name
    if len(operator.inputs) > 1:
        X = scope.get_unique_variable_name("concat")
        container.add_node(
            "Concat",
            [i.full_name for i in operator.inputs],
            X,
            axis=1,
            name=scope.get_unique_operator_name("Concat"),
        )
    stats = scope.get_unique_variable_name("statistics")
    values = np.asarray(imputer.statistics_, dtype=np.float64)
    container.add_initializer(stats, TensorProto.DOUBLE, [1, len(values)], values.tolist())
    nan = scope.get_unique_variable_name("isnan")
    container.add_node("IsNaN", [X], nan, name=scope.get_unique_operator_name("IsNaN"))
    filled = scope.get_unique_variable_name("filled")
    indicator = getattr(imputer, "indicator_", None)
    container.add_node(
        "Where",
        [nan, stats, X],
        filled if indicator is not None else operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Where"),
    )
    if indicator is None:
        return
    index = scope.get_unique_variable_name("indicator_features")
    features = np.asarray(indicator.features_, dtype=np.int64)
    container.add_initializer(index, TensorProto.INT64, [len(features)], features.tolist())
    picked = scope.get_unique_variable_name("picked")
    container.add_node(
        "Gather", [nan, index], picked, axis=1, name=scope.get_unique_operator_name("Gather")
    )
    flags = scope.get_unique_variable_name("flags")
    container.add_node(
        "Cast", [picked], flags, to=TensorProto.DOUBLE, name=scope.get_unique_operator_name("Cast")
    )
    container.add_node(
        "Concat",
        [filled, flags],
        operator.outputs[0].full_name,
        axis=1,
        name=scope.get_unique_operator_name("Concat"),
    )


# -- conversion ----------------------------------------------------------------------------


def _initial_types(schema: Schema) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import StringTensorType

    types: list[tuple[str, Any]] = []
    for col in schema.features().columns:
        if col.role in STRING_ROLES:
            types.append((col.name, StringTensorType([None, 1])))
        elif col.role in FLOAT_ROLES:
            types.append((col.name, _number_type([None, 1])))
        else:
            raise ExportError(
                f"Column '{col.name}' ({col.role.value}) does not convert to ONNX: modelloop "
                "converts numeric, boolean and categorical columns only (not dates or text)."
            )
    return types


class SinglePrecision(TransformerMixin, BaseEstimator):
    """A conversion-time step: numbers to 32-bit floats, before a model whose converter
    computes in them (XGBoost and scikit-learn's trees cast their input so themselves)."""

    def fit(self, X: Any, y: Any = None) -> SinglePrecision:
        return self

    def transform(self, X: Any) -> Any:
        return np.asarray(X, dtype=np.float32)


def _single_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    operator.outputs[0].type = FloatTensorType(list(operator.inputs[0].type.shape))


def _convert_single(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    container.add_node(
        "Cast",
        [operator.inputs[0].full_name],
        operator.outputs[0].full_name,
        to=TensorProto.FLOAT,
        name=scope.get_unique_operator_name("Cast"),
    )


def _single_precision(estimator: Any) -> bool:
    if type(estimator).__module__.startswith("xgboost"):
        return True
    from sklearn import ensemble
    from sklearn.tree import BaseDecisionTree

    trees = (
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.HistGradientBoostingClassifier,
        ensemble.HistGradientBoostingRegressor,
        BaseDecisionTree,
    )
    # Histogram boosting computes in double, but skl2onnx converts its trees in single
    # precision only (with double inputs the graph answers wrongly).
    return isinstance(estimator, trees)


def _member_graph(member: OnnxMember, schema: Schema, classifier: bool) -> Any:
    """The ONNX model of one member: its preprocessing and estimator, zipmap off."""
    from skl2onnx import convert_sklearn
    from sklearn.pipeline import Pipeline

    _register_boosters()
    steps = list(member.preprocess.steps) if member.preprocess is not None else []
    if _single_precision(member.estimator):
        steps.append(("single", SinglePrecision()))
    pipe = Pipeline([*steps, ("model", member.estimator)])
    options = {id(member.estimator): {"zipmap": False}} if classifier else None
    try:
        return convert_sklearn(
            pipe,
            initial_types=_initial_types(schema),
            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
            options=options,
        )
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"{member.where} does not convert to ONNX: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc


def convert_onnx(
    model: Any, schema: Schema, *, task: str, metadata: dict[str, str] | None = None
) -> Any:
    """The ONNX ``ModelProto`` of a fitted modelloop model (a Pipeline, a soft-voting
    ensemble or a bag of them).

    Raises
    ------
    ExportError
        A part of the model has no converter; the message names the step.
    """
    from modelloop.export._onnx_graph import join_members

    if task not in TASKS:
        raise ExportError(
            f"A {task} model does not convert to ONNX: modelloop exports classifiers and "
            "regressors."
        )
    classifier = task != "regression"
    _initial_types(schema)  # dates and text stop here, with the column's name
    members, classes = members_of(model)
    from modelloop.models import decision_threshold

    threshold = None
    if classifier:
        threshold = decision_threshold(model)
        if classes is None:
            raise ExportError("The classifier has no classes_; it cannot be exported.")
    graphs = [_member_graph(m, schema, classifier) for m in members]
    info = {
        "modelloop.task": task,
        "modelloop.inputs": json.dumps(
            [{"name": c.name, "role": c.role.value} for c in schema.features().columns]
        ),
    }
    if classes is not None:
        info["modelloop.classes"] = json.dumps(_plain(classes))
    info.update(metadata or {})
    return join_members(
        graphs,
        members,
        classes=classes,
        threshold=threshold,
        schema_inputs=[name for name, _ in _initial_types(schema)],
        metadata=info,
    )


def _plain(values: Sequence[Any] | np.ndarray) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]
