"""The fast path: validated request rows straight to the numbers a fitted model takes.

A modelloop pipeline is ``SchemaEnforcer -> ColumnTransformer -> estimator``. For a one-row
request, pandas frame construction, the enforcer and the ColumnTransformer's dispatch cost
far more than the model itself (milliseconds against tens of microseconds). Rows that
passed the request schema (:class:`~modelloop.serving._schemas.RowParser`) are already
typed, so :func:`compile_pipeline` turns a fitted pipeline into a :class:`CompiledModel`
that builds the estimator's input matrix with plain Python and numpy:

- numeric columns (imputer, missing indicators, scaler): arithmetic on one float array,
  with the fitted statistics;
- categorical columns (missing as a category, ordinal / one-hot / target encoding, scaler):
  a lookup table from each known value (and "unseen") to its output block, computed once by
  the fitted transformer itself, so the numbers are the transformer's own;
- any other block (text, dates, booleans, anything unknown): the fitted transformer on a
  small frame from :class:`FrameBuilder`, exactly as the ColumnTransformer would call it.

Random forests and extra trees predict a few rows through ``models.PackedForest`` (every tree
walked at once with numpy, a hundred times quicker than scikit-learn's per-tree dispatch for
one row). LightGBM models predict through their booster with one thread (the scikit-learn wrapper's
checks cost ten times the prediction), XGBoost models through ``Booster.inplace_predict``
with one thread, as their wrapper would call it (also inside a ``TemperatureScaled``
calibration wrapper, whose temperature is then applied to the probabilities, and a
``FixedThresholdClassifier``, whose threshold then turns them into labels, and a
``LogTargetRegressor``, whose ``expm1`` then maps the predictions back); soft-voting
ensembles of pipelines and bagged fold models (``models.FoldBag``) are compiled member by
member. Compiling checks itself: the compiled matrix must equal the
ColumnTransformer's on probe rows (every known category, missing and unseen values), and
the predictions the estimator's; otherwise :func:`compile_pipeline` returns ``None`` and the
server uses the full pipeline.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import MISSING_MARKERS, ColumnSchema, Role, Schema, conform
from modelloop.evaluation import threshold_labels
from modelloop.models import is_forest

__all__ = ["CompiledModel", "FrameBuilder", "compile_pipeline"]

log = logging.getLogger("modelloop.serving")

_INT_FLOAT = re.compile(r"^(-?\d+)\.0+$")
_UNSEEN = "\x00unseen\x00"  # a value no training category can equal
_MAX_TABLE = 200_000  # categories of one column a lookup table may hold


def _text_value(value: Any, int_categories: bool) -> Any:
    """One validated value as the conformed categorical value: stripped text or NaN."""
    if value is None:
        return np.nan
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
    if text in MISSING_MARKERS:
        return np.nan
    if int_categories:
        m = _INT_FLOAT.match(text)
        if m:
            return m.group(1)
    return text


def _int_categories(col: ColumnSchema) -> bool:
    return bool(col.categories) and all(x.lstrip("-").isdigit() for x in col.categories or ())


class FrameBuilder:
    """Builds the frame ``SchemaEnforcer.transform`` would return, from validated rows.

    Numeric and categorical columns are built with plain Python and numpy; boolean and date
    columns go through :func:`modelloop.data.conform` (the enforcer's own code).

    Examples
    --------
    >>> from modelloop.data import ColumnSchema, Role, Schema
    >>> s = Schema((ColumnSchema("age", Role.NUMERIC, "float64"),
    ...             ColumnSchema("city", Role.CATEGORICAL, "object")))
    >>> FrameBuilder(s).build([{"age": 41.0, "city": " Oslo"}]).values.tolist()
    [[41.0, 'Oslo']]
    """

    def __init__(self, schema: Schema, source: str = "the request") -> None:
        self.schema = schema.features()
        self.columns = self.schema.columns
        self.source = source
        self._int_categories = {c.name: _int_categories(c) for c in self.columns}
        other = [c for c in self.columns if not _is_simple(c.role)]
        self._other = Schema(tuple(other)) if other else None

    def build(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        data: dict[str, Any] = {}
        index = pd.RangeIndex(len(rows))
        conformed = None
        if self._other is not None:
            raw = pd.DataFrame(
                {
                    c.name: pd.Series([r.get(c.name) for r in rows], dtype=object)
                    for c in self._other
                },
                index=index,
            )
            conformed = conform(raw, self._other, source=self.source, strict=True)
        for col in self.columns:
            name = col.name
            if col.role is Role.NUMERIC:
                values = [r.get(name) for r in rows]
                data[name] = np.array([np.nan if v is None else v for v in values], dtype="float64")
            elif col.role in (Role.CATEGORICAL, Role.TEXT):
                ints = self._int_categories[name]
                arr = np.empty(len(rows), dtype=object)
                arr[:] = [_text_value(r.get(name), ints) for r in rows]
                # a Series keeps object dtype (pandas 3 would infer its "str" dtype)
                data[name] = pd.Series(arr, dtype=object, index=index, copy=False)
            else:  # boolean, datetime: conformed above by the enforcer's own function
                data[name] = conformed[name].to_numpy()  # type: ignore[index]
        return pd.DataFrame(data, index=index)


def _is_simple(role: Role) -> bool:
    return role in (Role.NUMERIC, Role.CATEGORICAL, Role.TEXT)


# -- blocks of the ColumnTransformer -------------------------------------------------------

Block = Callable[[Sequence[Mapping[str, Any]]], Any]
Blocks = tuple[list[Block], bool]  # the blocks, and whether they are stacked sparse


def _steps(transformer: Any) -> list[Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(transformer, Pipeline):
        return [step for _, step in transformer.steps if step not in (None, "passthrough")]
    return [transformer]


def _numeric_block(transformer: Any, columns: list[str]) -> Block | None:
    """Imputer (+ missing indicators) (+ standard scaler) on numeric columns, in numpy."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    steps = _steps(transformer)
    if not steps or not isinstance(steps[0], SimpleImputer) or len(steps) > 2:
        return None
    imputer = steps[0]
    scaler = steps[1] if len(steps) == 2 else None
    if scaler is not None and not isinstance(scaler, StandardScaler):
        return None
    missing = imputer.missing_values
    if not (isinstance(missing, float) and np.isnan(missing)):
        return None
    stats = np.asarray(imputer.statistics_, dtype="float64")
    if np.isnan(stats).any() and not imputer.keep_empty_features:
        return None  # the imputer drops those columns: leave it to the transformer
    indicator = getattr(imputer, "indicator_", None)
    if imputer.add_indicator and indicator is None:
        return None
    ind_features = None if indicator is None else np.asarray(indicator.features_, dtype=np.intp)
    mean = None if scaler is None or not scaler.with_mean else scaler.mean_
    scale = None if scaler is None or not scaler.with_std else scaler.scale_
    nan = np.nan

    def block(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = np.array(
            [[nan if (v := r.get(c)) is None else v for c in columns] for r in rows],
            dtype="float64",
        )
        mask = np.isnan(X)
        if mask.any():
            X = np.where(mask, stats, X)
        if ind_features is not None:
            X = np.hstack((X, mask[:, ind_features]))
        if mean is not None:
            X -= mean
        if scale is not None:
            X /= scale
        return X

    return block


def _table_block(transformer: Any, columns: list[str], schema: Schema) -> Block | None:
    """Categorical columns through column-wise encoders: one lookup table per column.

    Every step (missing-as-category, an ordinal / one-hot / target encoder, a scaler) maps
    each column on its own, row by row, so a column's output block depends on its value
    only. The tables hold the fitted transformer's own output for every known value, the
    missing category and one unseen value (which stands for every unseen value).
    """
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

    from modelloop.features import MissingCategory

    steps = _steps(transformer)
    if len(steps) < 2 or not isinstance(steps[0], MissingCategory):
        return None
    encoder = steps[1]
    if not isinstance(encoder, OrdinalEncoder | OneHotEncoder | TargetEncoder):
        return None
    if any(not isinstance(s, StandardScaler) for s in steps[2:]):
        return None
    if isinstance(encoder, OneHotEncoder):
        if encoder.handle_unknown == "error":
            return None
        widths = list(getattr(encoder, "_n_features_outs", []))
    elif isinstance(encoder, TargetEncoder):
        n_out = len(encoder.classes_) if encoder.target_type_ == "multiclass" else 1
        widths = [n_out] * len(columns)
    else:
        widths = [1] * len(columns)
    if len(widths) != len(columns):
        return None
    fill = steps[0].fill_value
    keys = []
    for j in range(len(columns)):
        known = [str(v) for v in encoder.categories_[j]]
        if len(known) > _MAX_TABLE:
            return None
        keys.append([*dict.fromkeys([*known, fill]), _UNSEEN])
    n = max(len(k) for k in keys)
    probe = pd.DataFrame(
        {
            c: pd.Series(k + [k[0]] * (n - len(k)), dtype=object)
            for c, k in zip(columns, keys, strict=True)
        }
    )
    out = _dense(transformer.transform(probe))
    out = np.asarray(out, dtype="float64")
    if out.ndim != 2 or out.shape[1] != sum(widths):
        return None
    tables: list[tuple[dict[str, int], np.ndarray, int, int]] = []
    start = 0
    for j, k in enumerate(keys):
        part = np.ascontiguousarray(out[: len(k), start : start + widths[j]])
        index = {key: i for i, key in enumerate(k[:-1])}
        tables.append((index, part, len(k) - 1, start))
        start += widths[j]
    ints = [_int_categories(schema[c]) if c in schema else False for c in columns]
    total = start
    plan = list(zip(columns, ints, tables, widths, strict=True))

    def block(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = np.empty((len(rows), total), dtype="float64")
        for c, as_int, (index, part, unseen, pos), width in plan:
            at = []
            for r in rows:
                v = _text_value(r.get(c), as_int)
                at.append(index.get(fill if v is np.nan else v, unseen))
            X[:, pos : pos + width] = part[at]
        return X

    return block


def _text_block(transformer: Any, columns: list[str], schema: Schema) -> Block | None:
    """``TextFeatures`` with its SVD block: TF-IDF and the projection, without the checks.

    The same operations in the same order as TfidfVectorizer (counts, sublinear tf, idf,
    l2 norm) and TruncatedSVD (a sparse-dense product), so the numbers are the same.
    """
    from scipy import sparse

    from modelloop.features import TextFeatures

    if not isinstance(transformer, TextFeatures) or len(columns) != 1:
        return None
    vec, svd = transformer.vectorizer_, transformer.svd_
    dense = transformer.n_components is not None
    if vec is None or (dense and svd is None):
        return None
    if vec.binary or vec.norm not in ("l2", None) or getattr(vec, "_tfidf", None) is None:
        return None
    analyze = vec.build_analyzer()
    vocabulary = vec.vocabulary_
    idf = vec.idf_ if vec.use_idf else None
    sublinear, norm = vec.sublinear_tf, vec.norm
    components_t = svd.components_.T if dense and svd is not None else None
    n_terms = len(vocabulary)
    name = columns[0]
    as_int = _int_categories(schema[name])

    def block(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        docs = []
        indptr, indices, data = [0], [], []
        for r in rows:
            v = _text_value(r.get(name), as_int)
            doc = "" if v is np.nan else str(v)
            docs.append(doc)
            counts: dict[int, int] = {}
            for term in analyze(doc):
                j = vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            for j in sorted(counts):
                indices.append(j)
                data.append(float(counts[j]))
            indptr.append(len(indices))
        values = np.asarray(data, dtype="float64")
        cols = np.asarray(indices, dtype=np.int32)
        if sublinear:
            np.log(values, values)
            values += 1.0
        if idf is not None:
            values *= idf[cols]
        if norm == "l2":
            for i in range(len(rows)):
                row = values[indptr[i] : indptr[i + 1]]
                total = 0.0
                for x in row:
                    total += x * x
                if total != 0.0:
                    row /= np.sqrt(total)
        tfidf = sparse.csr_matrix((values, cols, np.asarray(indptr)), shape=(len(rows), n_terms))
        if not dense:
            return tfidf
        reduced = tfidf @ components_t
        chars = np.fromiter((len(t) for t in docs), dtype=np.float64, count=len(docs))
        words = np.fromiter((len(t.split()) for t in docs), dtype=np.float64, count=len(docs))
        return np.hstack([reduced, np.column_stack([chars, words])])

    return block


def _frame_block(transformer: Any, columns: list[str], schema: Schema) -> Block:
    """Any other transformer: called on the typed frame of its columns, as the
    ColumnTransformer calls it."""
    builder = FrameBuilder(Schema(tuple(schema[c] for c in columns)))

    def block(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return transformer.transform(builder.build(rows))

    return block


def _compile_blocks(ct: Any, schema: Schema) -> Blocks | None:
    from sklearn.compose import ColumnTransformer

    if not isinstance(ct, ColumnTransformer):
        return None
    blocks: list[Block] = []
    for _, transformer, cols in ct.transformers_:
        if isinstance(transformer, str):
            if transformer == "drop":
                continue
            return None  # passthrough: leave it to the ColumnTransformer
        columns = list(cols) if not isinstance(cols, str) else [cols]
        if not columns:
            continue
        if not all(isinstance(c, str) and c in schema for c in columns):
            return None
        roles = {schema[c].role for c in columns}
        block = None
        if roles == {Role.NUMERIC}:
            block = _numeric_block(transformer, columns)
        elif roles == {Role.TEXT}:
            block = _text_block(transformer, columns, schema)
        if block is None and roles <= {Role.CATEGORICAL, Role.TEXT}:
            block = _table_block(transformer, columns, schema)
        blocks.append(block or _frame_block(transformer, columns, schema))
    return blocks, bool(ct.sparse_output_)


# -- estimators ----------------------------------------------------------------------------

Predict = Callable[[np.ndarray], np.ndarray]


def estimator_functions(estimator: Any) -> tuple[Predict | None, Predict]:
    """``(predict_proba or None, predict)`` on the estimator's input matrix."""
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import LogTargetRegressor, TemperatureScaled

    if isinstance(estimator, TemperatureScaled):
        return _temperature_functions(estimator)
    if isinstance(estimator, LogTargetRegressor):
        return _log_target_functions(estimator)
    if isinstance(estimator, FixedThresholdClassifier):
        return _threshold_functions(estimator)
    proba = getattr(estimator, "predict_proba", None)
    predict = estimator.predict
    module = type(estimator).__module__
    if module.startswith("lightgbm") and not callable(getattr(estimator, "objective", None)):
        booster = estimator.booster_
        if proba is not None:
            if getattr(estimator, "n_classes_", 0) == 2:

                def proba(X: np.ndarray) -> np.ndarray:
                    p = booster.predict(X, num_threads=1)
                    return np.vstack((1.0 - p, p)).transpose()
            else:

                def proba(X: np.ndarray) -> np.ndarray:
                    return booster.predict(X, num_threads=1)
        else:

            def predict(X: np.ndarray) -> np.ndarray:
                return booster.predict(X, num_threads=1)

    elif module.startswith("xgboost"):
        return _xgboost_functions(estimator, proba, predict)
    elif is_forest(estimator):
        return _forest_functions(estimator)
    return proba, predict


_PACKED_ROWS = 64  # up to this many rows a packed forest beats scikit-learn's tree loop


def _forest_functions(forest: Any) -> tuple[Predict | None, Predict]:
    """A random forest or extra trees: few rows through ``models.PackedForest`` (every tree
    at once, without joblib's dispatch per tree), many through the forest itself."""
    from modelloop.models import PackedForest

    packed = PackedForest(forest)
    if packed.classifier:
        classes = np.asarray(forest.classes_)

        def proba(X: np.ndarray) -> np.ndarray:
            return packed.predict_proba(X) if len(X) <= _PACKED_ROWS else forest.predict_proba(X)

        def predict(X: np.ndarray) -> np.ndarray:
            return classes[proba(X).argmax(axis=1)]

        return proba, predict

    def value(X: np.ndarray) -> np.ndarray:
        return packed.predict(X) if len(X) <= _PACKED_ROWS else forest.predict(X)

    return None, value


def _bag_member(proba: Predict, *, bag: Any, i: int) -> Predict:
    """Member ``i`` of a ``FoldBag``: its fast ``predict_proba``, then the bag's own
    ``member_proba`` (temperature, class columns), as the bag averages it."""

    def placed(X: Any) -> np.ndarray:
        return bag.member_proba(i, proba(X))

    return placed


def _temperature_functions(estimator: Any) -> tuple[Predict | None, Predict]:
    """A :class:`~modelloop.models.TemperatureScaled` classifier: the fast functions of the
    classifier it wraps, with its temperature applied to the probabilities, as its own
    ``predict_proba`` does (``predict`` is the wrapped classifier's, as its own is)."""
    from modelloop.models import apply_temperature

    inner_proba, inner_predict = estimator_functions(estimator.estimator_)
    if inner_proba is None:
        return estimator.predict_proba, inner_predict
    temperature = float(estimator.temperature)
    if temperature == 1.0:  # apply_temperature leaves them as they are
        return inner_proba, inner_predict

    def proba(X: np.ndarray) -> np.ndarray:
        return apply_temperature(inner_proba(X), temperature)

    return proba, inner_predict


def _log_target_functions(estimator: Any) -> tuple[Predict | None, Predict]:
    """A :class:`~modelloop.models.LogTargetRegressor`: the fast ``predict`` of the
    regressor it wraps, mapped back to the target's scale as its own ``predict`` does."""
    _, inner_predict = estimator_functions(estimator.regressor_)
    inverse = estimator.inverse

    def predict(X: np.ndarray) -> np.ndarray:
        return inverse(inner_predict(X))

    return None, predict


def _threshold_functions(estimator: Any) -> tuple[Predict | None, Predict]:
    """A ``FixedThresholdClassifier`` on probabilities (:func:`modelloop.models.with_threshold`):
    the fast probabilities of the classifier it wraps, and its threshold applied to them,
    as its own ``predict`` does."""
    from modelloop.models import decision_threshold, thresholded

    threshold = decision_threshold(estimator)
    inner_proba, _ = estimator_functions(thresholded(estimator))
    if inner_proba is None or threshold is None or estimator.response_method != "predict_proba":
        return estimator.predict_proba, estimator.predict
    classes = estimator.classes_

    def predict(X: np.ndarray) -> np.ndarray:
        return threshold_labels(inner_proba(X), classes, threshold)

    return inner_proba, predict


def _xgboost_functions(
    estimator: Any, proba: Predict | None, predict: Predict
) -> tuple[Predict | None, Predict]:
    """XGBClassifier / XGBRegressor through the booster's ``inplace_predict``, one thread.

    The same call, iteration range and missing value as the wrapper's ``predict`` (and
    the same post-processing as its ``predict_proba``), without its per-call checks.
    Anything else (custom or margin objectives, gblinear, random forests) keeps the wrapper.
    """
    kind = type(estimator).__name__
    objective = getattr(estimator, "objective", None)
    if kind not in ("XGBClassifier", "XGBRegressor") or not isinstance(objective, str):
        return proba, predict
    if getattr(estimator, "booster", None) == "gblinear":
        return proba, predict
    if kind == "XGBClassifier":
        n_classes = getattr(estimator, "n_classes_", 0)
        binary = n_classes == 2 and objective == "binary:logistic"
        if not (binary or (n_classes > 2 and objective == "multi:softprob")):
            return proba, predict
    booster = estimator.get_booster()
    booster.set_param({"nthread": 1})
    best = getattr(estimator, "best_iteration", None)
    iteration_range = (0, best + 1) if best is not None else (0, 0)
    missing = estimator.missing

    def value(X: np.ndarray) -> np.ndarray:
        return booster.inplace_predict(
            X,
            iteration_range=iteration_range,
            predict_type="value",
            missing=missing,
            validate_features=False,
        )

    if kind == "XGBRegressor":
        return None, value
    if n_classes == 2:

        def xgb_proba(X: np.ndarray) -> np.ndarray:
            p = value(X)
            return np.vstack((1 - p, p)).transpose()
    else:
        xgb_proba = value

    def xgb_predict(X: np.ndarray) -> np.ndarray:
        return np.argmax(xgb_proba(X), axis=1)

    return xgb_proba, xgb_predict


class CompiledModel:
    """A fitted pipeline (or soft-voting ensemble of them) as functions of validated rows.

    Made by :func:`compile_pipeline`; ``predict_proba`` exists for classifiers only.
    """

    def __init__(
        self,
        members: list[tuple[Blocks, Predict | None, Predict]],
        weights: list[float] | None,
        classes: Any,
        classifier: bool,
        threshold: float | None = None,
    ) -> None:
        self._members = members
        self._weights = weights
        self.classes_ = classes
        self.threshold = threshold  # a FixedThresholdClassifier around an ensemble
        if classifier:
            self.predict_proba = self._predict_proba

    @staticmethod
    def _matrix(blocks: Blocks, rows: Sequence[Mapping[str, Any]]) -> Any:
        parts, sparse_output = blocks
        if sparse_output:  # as the ColumnTransformer stacks them when fitted sparse
            from scipy import sparse

            matrices = [b(rows) for b in parts]
            return sparse.hstack(
                [x if sparse.issparse(x) else sparse.csr_matrix(x) for x in matrices], format="csr"
            )
        if len(parts) == 1:
            return parts[0](rows)
        return np.hstack([b(rows) for b in parts])

    def matrix(self, rows: Sequence[Mapping[str, Any]], member: int = 0) -> Any:
        """The input matrix of one member's estimator."""
        return self._matrix(self._members[member][0], rows)

    def _predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        outs = [proba(self._matrix(b, rows)) for b, proba, _ in self._members]  # type: ignore[misc]
        if self._weights is None:
            return outs[0]
        return np.average(np.asarray(outs), axis=0, weights=self._weights)

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if self.threshold is not None:
            return threshold_labels(self._predict_proba(rows), self.classes_, self.threshold)
        if self._weights is None:
            blocks, _, predict = self._members[0]
            return predict(self._matrix(blocks, rows))
        if hasattr(self, "predict_proba"):
            proba = self._predict_proba(rows)
            return np.asarray(self.classes_)[np.argmax(proba, axis=1)]
        outs = np.asarray([p(self._matrix(b, rows)) for b, _, p in self._members]).T
        return np.average(outs, axis=1, weights=self._weights)


def probe_rows(schema: Schema, pipelines: list[Any]) -> list[dict[str, Any]]:
    """Rows touching every known category, missing and unseen values, and a few numbers."""
    from sklearn.compose import ColumnTransformer

    seen: dict[str, list[str]] = {}
    for pipe in pipelines:
        for step in pipe.named_steps.values():
            if not isinstance(step, ColumnTransformer):
                continue
            for _, transformer, cols in step.transformers_:
                for s in [] if isinstance(transformer, str) else _steps(transformer):
                    for j, cats in enumerate(getattr(s, "categories_", [])):
                        if j < len(cols) and isinstance(cols[j], str):
                            seen.setdefault(cols[j], []).extend(str(c) for c in cats[:500])
    values: dict[str, list[Any]] = {}
    for col in schema.columns:
        if col.role is Role.NUMERIC:
            values[col.name] = [None, 0.0, 1.5, -3.25, 41.0, 1e6, 2.0]
        elif col.role is Role.BOOLEAN:
            values[col.name] = [None, *(col.categories or ("true", "false"))]
        elif col.role is Role.DATETIME:
            stamps = [pd.Timestamp("2021-03-04"), pd.Timestamp("2019-12-31 23:30:00")]
            fmt = col.format if col.format not in (None, "ISO8601") else None
            values[col.name] = [None, *(t.strftime(fmt) if fmt else t.isoformat() for t in stamps)]
        else:
            known = [*(col.categories or ()), *seen.get(col.name, [])]
            values[col.name] = [None, "never seen before", "NA", *dict.fromkeys(known)]
    n = max((len(v) for v in values.values()), default=1)
    return [{name: v[i % len(v)] for name, v in values.items()} for i in range(n)]


def _split(pipeline: Any) -> tuple[Any, Any, Any] | None:
    """``(enforcer, column transformer, estimator)`` of a modelloop pipeline, else None."""
    from sklearn.pipeline import Pipeline

    from modelloop.features import SchemaEnforcer

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 3:
        return None
    enforcer, ct, estimator = (step for _, step in pipeline.steps)
    if not isinstance(enforcer, SchemaEnforcer):
        return None
    return enforcer, ct, estimator


def _dense(X: Any) -> Any:
    return X.toarray() if hasattr(X, "toarray") else X


def _same(fast: Any, slow: Any) -> bool:
    fast, slow = np.asarray(fast), np.asarray(slow)
    if fast.shape != slow.shape:
        return False
    if fast.dtype.kind in "fc" and slow.dtype.kind in "fc":
        return bool(np.allclose(fast, slow, rtol=1e-12, atol=1e-15, equal_nan=True))
    return bool(np.array_equal(fast, slow))


def compile_pipeline(model: Any, schema: Schema) -> CompiledModel | None:
    """The fast path of a fitted modelloop pipeline or soft-voting ensemble of them.

    Parameters
    ----------
    model : Pipeline or VotingClassifier / VotingRegressor of Pipelines
        ``SchemaEnforcer -> ColumnTransformer -> estimator`` pipelines, fitted.
    schema : Schema
        The model's input schema (feature columns).

    Returns
    -------
    CompiledModel or None
        ``None`` when some part is not supported or the compiled model does not reproduce
        the pipeline on probe rows: use the pipeline then.

    Examples
    --------
    >>> compiled = compile_pipeline(pipeline, schema)  # doctest: +SKIP
    >>> compiled.predict_proba([{"age": 41.0, "city": "Oslo"}])  # doctest: +SKIP
    array([[0.2, 0.8]])
    """
    try:
        return _compile(model, schema.features())  # None: a part it does not support
    except Exception:
        # Not a model it does not support (that is None above) but a failure: a bug, or a
        # library whose fitted objects changed. Serving goes on with the full pipeline,
        # several times slower per row, so say so with the traceback.
        log.warning(
            "compiling the fast path of %s failed; the full pipeline serves it (slower)",
            type(model).__name__,
            exc_info=True,
        )
        return None


def _compile(model: Any, schema: Schema) -> CompiledModel | None:
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import FoldBag, decision_threshold, thresholded

    weights: list[float] | None = None
    outer, threshold = model, None
    adapt: list[Callable[[Predict], Predict]] | None = None
    if isinstance(model, FixedThresholdClassifier):  # around an ensemble (an XGBoost refit)
        if model.response_method != "predict_proba":
            return None
        model, threshold = thresholded(model), decision_threshold(model)
    if isinstance(model, FoldBag):  # bagged fold models: a weighted blend of pipelines
        pipelines = list(model.estimators_)
        weights = [float(w) for w in model.weights_]
        classifier = hasattr(model, "classes_")
        threshold = None if model.threshold is None else float(model.threshold)
        if classifier:
            adapt = [partial(_bag_member, bag=model, i=i) for i in range(len(pipelines))]
    elif isinstance(model, VotingClassifier | VotingRegressor):
        if isinstance(model, VotingClassifier) and model.voting != "soft":
            return None
        pipelines = list(model.estimators_)
        # the weights of the members that are not dropped (scikit-learn's own rule)
        weights = [
            1.0 if model.weights is None else float(w)
            for (_, est), w in zip(
                model.estimators, model.weights or [None] * len(model.estimators), strict=True
            )
            if est != "drop"
        ]
        classifier = isinstance(model, VotingClassifier)
    else:
        pipelines = [model]
        classifier = hasattr(model, "predict_proba")
    members: list[tuple[Blocks, Predict | None, Predict]] = []
    for pipe in pipelines:
        parts = _split(pipe)
        if parts is None:
            return None
        _, ct, estimator = parts
        blocks = _compile_blocks(ct, schema)
        if blocks is None:
            return None
        proba, predict = estimator_functions(estimator)
        if classifier and proba is None:
            return None
        if adapt is not None and proba is not None:  # the bag's classes, the member's temperature
            proba = adapt[len(members)](proba)
        members.append((blocks, proba, predict))
    classes = getattr(model, "classes_", None)
    compiled = CompiledModel(members, weights, classes, classifier, threshold)
    if not _verify(compiled, outer, pipelines, schema, classifier):
        log.warning("the fast path does not reproduce %s; serving it unchanged", type(model))
        return None
    return compiled


def _verify(
    compiled: CompiledModel, model: Any, pipelines: list[Any], schema: Schema, classifier: bool
) -> bool:
    rows = probe_rows(schema, pipelines)
    frame = FrameBuilder(schema).build(rows)
    for i, pipe in enumerate(pipelines):
        expected = pipe[1].transform(pipe[0].transform(frame))
        if not _same(_dense(compiled.matrix(rows, i)), _dense(expected)):
            return False
    if classifier:
        return _same(compiled.predict_proba(rows), model.predict_proba(frame)) and _same(
            compiled.predict(rows), model.predict(frame)
        )
    return _same(compiled.predict(rows), model.predict(frame))
