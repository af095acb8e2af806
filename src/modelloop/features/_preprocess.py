"""Preprocessing built from a schema, as a scikit-learn ColumnTransformer."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

from modelloop.data import Role, Schema
from modelloop.exceptions import ConfigurationError, InvalidInputError
from modelloop.features._categorical import MissingCategory
from modelloop.features._datetime import DatetimeFeatures
from modelloop.features._enforcer import SchemaEnforcer
from modelloop.features._image import IMAGE_COMPONENTS, ImageFeatures
from modelloop.features._image_tune import TunedImageFeatures
from modelloop.features._text import TextFeatures

__all__ = [
    "FAMILIES",
    "LOW_CARDINALITY",
    "TEXT_COMPONENTS",
    "make_pipeline",
    "make_preprocessor",
]

FAMILIES = ("linear", "tree", "deep", "finetune")
"""Preprocessing families. ``linear``: scaled numbers, one-hot categories, sparse text
(linear models, SVM, k-NN, MLP). ``tree``: unscaled numbers, ordinal codes, dense output
(forests and gradient boosting). ``deep``: as ``tree``, with the ordinal codes of the
low-cardinality categorical columns first, for a network that embeds them (the network
scales the other columns itself). ``finetune``: as ``linear``, with the last layer of the
image network fine-tuned on the target for each image column (model
``efficientnet_finetune``; data without an image column is refused)."""

LOW_CARDINALITY = 15
"""Categorical columns with at most this many distinct values are one-hot / ordinal
encoded; those with more are target encoded."""

MIN_FREQUENCY = 5
"""One-hot encoding groups categories seen fewer times than this into one 'infrequent'."""

TEXT_COMPONENTS = 20
"""Size of the dense SVD block of a text column for the tree family."""

_TARGET_TYPES = {"binary": "binary", "multiclass": "multiclass", "regression": "continuous"}


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ConfigurationError(
            f"Preprocessing family must be one of {', '.join(map(repr, FAMILIES))}. Got {family!r}."
        )


def _is_low_cardinality(schema: Schema, name: str) -> bool:
    col = schema[name]
    if col.categories is not None and len(col.categories) <= LOW_CARDINALITY:
        return True
    return col.n_unique <= LOW_CARDINALITY


def make_preprocessor(
    schema: Schema, family: str, *, task: str | None = None, text_features: str = "tfidf"
) -> ColumnTransformer:
    """The preprocessing of the feature columns of ``schema`` for a model ``family``.

    Columns are handled by role (the target, identifier and constant columns are dropped):

    ============  ===================================  ===================================
    role          linear                               tree
    ============  ===================================  ===================================
    numeric       median impute + indicator, scaled    median impute + indicator
    boolean       most-frequent impute + indicator     same
    categorical   missing as a category, one-hot       missing as a category, ordinal
    (<= 15 values) (rare levels grouped, unseen -> the  codes (unseen -> -1)
                  rare group or all zeros)
    categorical   missing as a category, target        same, unscaled
    (> 15 values) encoding (cross-fitted), scaled
    datetime      calendar parts + days, imputed,      calendar parts + days, imputed
                  scaled
    text          sparse TF-IDF (1-2 grams)            TF-IDF -> 20 SVD components,
                                                       length, word count
    ============  ===================================  ===================================

    Missing-indicator columns are added only for columns with missing values in ``fit``.
    The output is a numpy array; for ``linear`` it is a sparse CSR matrix when the schema
    has text columns. Input is the typed frame of :func:`modelloop.data.conform` (what
    :class:`SchemaEnforcer` outputs). Fitting needs ``y`` when a column is target encoded.

    Parameters
    ----------
    schema
        The dataset schema (with or without the target).
    family
        One of :data:`FAMILIES`.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``: the target type of the target
        encoder. None lets it guess from ``y``, which reads an integer-valued regression
        target as classes; pass the task when there is one.
    text_features
        ``"tfidf"`` or ``"embedding"``: the ``method`` of each text column's
        :class:`TextFeatures` (embeddings need the ``text`` extra).

    Raises
    ------
    ConfigurationError
        Unknown family or task.
    InvalidInputError
        The schema has no feature column.

    Examples
    --------
    >>> from modelloop.data import ColumnSchema, Role, Schema
    >>> schema = Schema((ColumnSchema("age", Role.NUMERIC, "float64"),
    ...                  ColumnSchema("city", Role.CATEGORICAL, "object", n_unique=3)))
    >>> [name for name, _, _ in make_preprocessor(schema, "tree").transformers]
    ['numeric', 'categorical']
    """
    _check_family(family)
    if task is not None and task not in _TARGET_TYPES:
        raise ConfigurationError(
            f"Task must be one of {', '.join(_TARGET_TYPES)} or None. Got {task!r}."
        )
    tuned = family == "finetune"
    linear = family in ("linear", "finetune")
    deep = family == "deep"
    numeric = schema.by_role(Role.NUMERIC)
    boolean = schema.by_role(Role.BOOLEAN)
    categorical = schema.by_role(Role.CATEGORICAL)
    low = [c for c in categorical if _is_low_cardinality(schema, c)]
    high = [c for c in categorical if c not in low]
    datetime = schema.by_role(Role.DATETIME)
    text = schema.by_role(Role.TEXT)
    images = schema.by_role(Role.IMAGE)
    if not (numeric or boolean or categorical or datetime or text or images):
        raise InvalidInputError(
            "The schema has no feature column to learn from: every column is the target, "
            "an identifier or constant."
        )
    sparse_text = linear and bool(text)

    def scaled(*steps: tuple[str, Any]) -> Pipeline:
        return Pipeline([*steps, ("scale", StandardScaler())] if linear else list(steps))

    transformers: list[tuple[str, Any, list[str]]] = []
    if low and deep:  # first: the network embeds columns 0..len(low)-1 (see make_pipeline)
        transformers.append(("categorical", _ordinal_codes(), low))
    if numeric:
        impute = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        transformers.append(("numeric", scaled(("impute", impute)), numeric))
    if boolean:
        impute = SimpleImputer(
            strategy="most_frequent", add_indicator=True, keep_empty_features=True
        )
        transformers.append(("boolean", impute, boolean))
    if low and not deep:
        if linear:
            encoder: Any = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=MIN_FREQUENCY,
                sparse_output=sparse_text,
            )
        else:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                encoded_missing_value=-1,
                dtype=np.float64,
            )
        steps = [("missing", MissingCategory()), ("encode", encoder)]
        transformers.append(("categorical", Pipeline(steps), low))
    if high:
        # Cross-fitting folds are fixed here so that fitting is reproducible.
        folds: Any = (
            StratifiedKFold(5, shuffle=True, random_state=0)
            if task in ("binary", "multiclass")
            else KFold(5, shuffle=True, random_state=0)
        )
        target_encoder = TargetEncoder(target_type=_TARGET_TYPES.get(task or "", "auto"), cv=folds)
        pipe = scaled(("missing", MissingCategory()), ("encode", target_encoder))
        transformers.append(("high_cardinality", pipe, high))
    if datetime:
        impute = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        pipe = scaled(("expand", DatetimeFeatures()), ("impute", impute))
        transformers.append(("datetime", pipe, datetime))
    for i, name in enumerate(text):
        features = TextFeatures(
            n_components=None if linear else TEXT_COMPONENTS, method=text_features
        )
        transformers.append((f"text{i}", features, [name]))
    if tuned and not images:
        raise ConfigurationError(
            "The 'finetune' preprocessing (model efficientnet_finetune) fine-tunes an image "
            "network on an image column; this data has none. Leave the model out."
        )
    for i, name in enumerate(images):
        embed: Any = (
            TunedImageFeatures(task=task)
            if tuned
            else ImageFeatures(n_components=None if linear else IMAGE_COMPONENTS)
        )
        transformers.append((f"image{i}", embed, [name]))

    return ColumnTransformer(
        transformers,
        remainder="drop",
        sparse_threshold=1.0 if sparse_text else 0.0,
        verbose_feature_names_out=not _short_names_are_safe(schema.feature_columns()),
    )


def _ordinal_codes() -> Pipeline:
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=-1,
        encoded_missing_value=-1,
        dtype=np.float64,
    )
    return Pipeline([("missing", MissingCategory()), ("encode", encoder)])


def low_cardinality_columns(schema: Schema) -> list[str]:
    """The categorical columns of ``schema`` that are one-hot / ordinal encoded, in order.

    Examples
    --------
    >>> from modelloop.data import ColumnSchema, Role, Schema
    >>> low_cardinality_columns(Schema((ColumnSchema("c", Role.CATEGORICAL, "object", n_unique=3),)))
    ['c']
    """
    return [c for c in schema.by_role(Role.CATEGORICAL) if _is_low_cardinality(schema, c)]


def _short_names_are_safe(columns: list[str]) -> bool:
    """Whether output names without the transformer prefix are sure to be unique.

    Our output names are the column name, or the column name + '_' + a suffix, or
    'missingindicator_' + the column name. They can only collide if a column name is
    another column name + '_' + something, or starts with 'missingindicator_'.
    """
    for name in columns:
        if name.startswith("missingindicator_"):
            return False
        if any(other != name and name.startswith(other + "_") for other in columns):
            return False
    return True


def make_pipeline(
    schema: Schema,
    family: str,
    estimator: Any,
    *,
    task: str | None = None,
    text_features: str = "tfidf",
) -> Pipeline:
    """The trainable artifact: schema enforcement, preprocessing and an estimator.

    ``Pipeline([("schema", SchemaEnforcer), ("preprocess", make_preprocessor(...)),
    ("model", estimator)])``. The fitted pipeline accepts raw rows (strings from a CSV,
    JSON records) and serialises with skops.

    Parameters
    ----------
    schema
        The dataset schema; only its feature columns become the model input.
    family
        One of :data:`FAMILIES`, normally ``ModelSpec.family`` of the estimator.
    estimator
        An unfitted scikit-learn-compatible estimator.
    task, text_features
        Passed to :func:`make_preprocessor`.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from modelloop.data import ColumnSchema, Role, Schema
    >>> schema = Schema((ColumnSchema("age", Role.NUMERIC, "float64"),))
    >>> [name for name, _ in make_pipeline(schema, "linear", LogisticRegression()).steps]
    ['schema', 'preprocess', 'model']
    """
    preprocessor = make_preprocessor(schema, family, task=task, text_features=text_features)
    if family == "deep" and getattr(estimator, "embeds_leading_codes", False):
        # The deep preprocessing puts the categorical codes first: the network embeds them.
        n_codes = len(low_cardinality_columns(schema.features()))
        estimator.set_params(categorical_features=list(range(n_codes)) or None)
    return Pipeline(
        [
            ("schema", SchemaEnforcer(schema.features().to_dict())),
            ("preprocess", preprocessor),
            ("model", estimator),
        ]
    )
