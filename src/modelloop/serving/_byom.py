"""Bring your own model: serve a model file that is not in the store.

``modelloop serve --model PATH`` takes a scikit-learn model or Pipeline saved with
joblib/pickle (only with ``--trust``: unpickling runs code), a skops file (through the one
trust check of :mod:`modelloop.store`: only the exact classes modelloop's pipelines are made
of, unless ``--trust``), or an ONNX file (onnxruntime). A file whose content is not what its
name says (a pickle renamed ``.skops`` or ``.onnx``) is refused. The input
schema comes from ``--schema FILE`` (a ``Schema.to_dict()`` JSON, or ``{"column": "role"}``),
else from the model: ``feature_names_in_``, the ONNX graph's inputs, or ``n_features_in_``
(columns ``f0 .. f{n-1}``), all numeric. Rows reach the model as a DataFrame when it was fit
on named columns, else as a float array in schema order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import ColumnSchema, Role, Schema, conform
from modelloop.exceptions import ConfigurationError, InvalidInputError, UnsupportedSourceError
from modelloop.serving._registry import ServedModel, limit_threads
from modelloop.serving._schemas import RowParser
from modelloop.store import file_kind, is_pickle_name, load_pickle, load_skops

__all__ = ["load_model_file"]


def _read_schema_file(path: Path) -> Schema:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"Cannot read the schema file {path}: {exc}.") from None
    try:
        if isinstance(data, dict) and isinstance(data.get("schema"), dict):
            # inputs.json of `modelloop export --format onnx`
            return Schema.from_dict(data["schema"])
        if isinstance(data, dict) and "columns" in data:
            return Schema.from_dict(data)
        if isinstance(data, dict):
            return Schema(
                tuple(ColumnSchema(str(k), Role(str(v)), "object") for k, v in data.items())
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"The schema file {path} is not a schema: {exc}.") from None
    raise ConfigurationError(
        f'The schema file {path} must hold {{"column": "numeric" | "categorical" | ...}} or '
        "Schema.to_dict(). Got a JSON " + type(data).__name__ + "."
    )


def _numeric_schema(names: Sequence[str]) -> Schema:
    return Schema(tuple(ColumnSchema(str(n), Role.NUMERIC, "float64") for n in names))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the model file {path}: {exc}.") from None


def _load_object(path: Path, trust: bool) -> Any:
    if is_pickle_name(path):
        return load_pickle(path, what=path.name, trust=trust)
    if path.suffix.lower() == ".skops":
        return load_skops(_read(path), what=path.name, trust=trust)
    raise UnsupportedSourceError(
        f"Cannot serve '{path.name}': a model file must end in .onnx, .skops, .joblib or .pkl."
    )


class _OnnxModel:
    """An ONNX graph with the scikit-learn predict / predict_proba surface.

    One input of fixed width takes the rows as a float matrix (columns ``f0 ..``); several
    inputs take one column each, typed as the graph declares (text for ``tensor(string)``,
    the empty string for a missing value). A classifier's labels are the graph's own
    ``label`` output (a decision threshold inside the graph counts), its classes those the
    graph names: modelloop's ``modelloop.classes`` metadata, else the class labels of its
    classifier node, else the class indices.
    """

    def __init__(self, path: Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigurationError(
                "Serving an ONNX file needs onnxruntime: pip install onnxruntime."
            ) from None
        data = _read(path)
        kind = file_kind(data[:16])
        if kind != "other":
            what = "a pickle" if kind == "pickle" else "a zip archive (a skops file?)"
            raise InvalidInputError(
                f"{path.name} is not an ONNX model file: it is {what}. Give a file its own "
                "extension (.pkl/.joblib with --trust, .skops)."
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own errors (InvalidProtobuf, Fail, ...)
            raise InvalidInputError(
                f"{path.name} is not a valid ONNX model file: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}."
            ) from None
        inputs = self.session.get_inputs()
        if len(inputs) == 1 and inputs[0].type != "tensor(string)":
            shape = inputs[0].shape
            n = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
            if n is None:
                raise ConfigurationError(
                    f"The ONNX input '{inputs[0].name}' has no fixed width; give --schema FILE."
                )
            self.input_name: str | None = inputs[0].name
            self.names = [f"f{i}" for i in range(n)]
            self.types = ["tensor(float)"] * n
        else:
            self.input_name = None
            self.names = [i.name for i in inputs]
            self.types = [i.type for i in inputs]
        outputs = self.session.get_outputs()
        self.label_name = outputs[0].name
        self.proba_name = outputs[1].name if len(outputs) > 1 else None
        self.classes_: np.ndarray | None = _onnx_classes(path)

    def schema(self) -> Schema:
        """Text inputs are categorical columns, the others numeric."""
        return Schema(
            tuple(
                ColumnSchema(n, Role.CATEGORICAL, "object")
                if t == "tensor(string)"
                else ColumnSchema(n, Role.NUMERIC, "float64")
                for n, t in zip(self.names, self.types, strict=True)
            )
        )

    def _feeds(self, X: Any) -> dict[str, np.ndarray]:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.names)
        if self.input_name is not None:
            return {self.input_name: frame[self.names].to_numpy(dtype=np.float32)}
        feeds = {}
        for name, kind in zip(self.names, self.types, strict=True):
            values = frame[name]
            if kind == "tensor(string)":
                missing = values.isna().to_numpy()
                text = np.array([str(v) for v in values.astype(object)], dtype=object)
                text[missing] = ""
                feeds[name] = text.reshape(-1, 1)
            else:
                dtype = {"tensor(double)": np.float64, "tensor(int64)": np.int64}.get(
                    kind, np.float32
                )
                feeds[name] = values.to_numpy(dtype=dtype, na_value=np.nan).reshape(-1, 1)
        return feeds

    def _run(self, X: Any) -> list[Any]:
        return self.session.run(None, self._feeds(X))

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self._run(X)[0]).ravel()

    def predict_labeled(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """The graph's labels and probabilities, from one run."""
        out = self._run(X)
        return np.asarray(out[0]).ravel(), self._proba(out[1])

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._proba(self._run(X)[1])

    def _proba(self, proba: Any) -> np.ndarray:
        if isinstance(proba, list):  # ZipMap output: a list of {class: p}
            keys = list(proba[0].keys())
            self.classes_ = np.asarray(keys)
            return np.array([[row[k] for k in keys] for row in proba], dtype=float)
        proba = np.asarray(proba, dtype=float)
        if self.classes_ is None:
            self.classes_ = np.arange(proba.shape[1])
        return proba


def _onnx_classes(path: Path) -> np.ndarray | None:
    """The class labels an ONNX classifier names, in the order of its probability columns."""
    try:
        import onnx
    except ImportError:  # onnxruntime without onnx: class indices
        return None
    model = onnx.load(str(path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == "modelloop.classes":
            return np.asarray(json.loads(prop.value))
    found = None
    for node in model.graph.node:  # the last classifier node labels the rows
        for attr in node.attribute:
            if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
                found = np.asarray(list(attr.ints))
            elif attr.name == "classlabels_strings" and attr.strings:
                found = np.asarray([b.decode() for b in attr.strings])
    return found


class _Compiled:
    """A booster model's fast functions (``serving._fastpath``) on float matrices."""

    def __init__(self, model: Any, proba: Any, predict: Any) -> None:
        self.model = model
        self.classes_ = getattr(model, "classes_", None)
        self.predict = predict
        if proba is not None:
            self.predict_proba = proba


def _compiled(model: Any) -> _Compiled | None:
    module = type(model).__module__
    if not (module.startswith("lightgbm") or module.startswith("xgboost")):
        return None
    from modelloop.serving._fastpath import estimator_functions

    proba, predict = estimator_functions(model)
    return _Compiled(model, proba, predict)


def load_model_file(
    path: str | Path, *, trust: bool = False, schema_file: str | Path | None = None
) -> ServedModel:
    """A :class:`ServedModel` for a model file given to ``modelloop serve --model``.

    Examples
    --------
    >>> served = load_model_file("model.joblib", trust=True)  # doctest: +SKIP
    >>> served.predict_rows([{"f0": 1.0, "f1": 2.0}])  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"No model file at {path}.")
    model: Any = _OnnxModel(path) if path.suffix.lower() == ".onnx" else _load_object(path, trust)
    onnx_schema = None
    if isinstance(model, _OnnxModel):
        names = model.names
        named = True  # the graph's inputs are fed by name (see _OnnxModel._feeds)
        classifier = model.proba_name is not None
        classes = None if model.classes_ is None else model.classes_.tolist()
        onnx_schema = model.schema()
    else:
        if not hasattr(model, "predict"):
            raise InvalidInputError(
                f"{path.name} holds a {type(model).__name__}, which has no predict method."
            )
        limit_threads(model, 1)
        names_in = getattr(model, "feature_names_in_", None)
        named = names_in is not None
        if names_in is not None:
            names = [str(n) for n in names_in]
        elif getattr(model, "n_features_in_", None) is not None:
            names = [f"f{i}" for i in range(int(model.n_features_in_))]
        else:
            names = []
        classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
        classes = np.asarray(model.classes_).tolist() if classifier else None
    schema = (
        _read_schema_file(Path(schema_file))
        if schema_file
        else onnx_schema or _numeric_schema(names)
    )
    if not schema.feature_columns():
        raise ConfigurationError(
            f"Cannot tell the input columns of {path.name}; give them with --schema FILE "
            '(JSON such as {"age": "numeric", "city": "categorical"}).'
        )
    features = schema.features()
    order = features.feature_columns()

    def prepare(rows: Sequence[dict[str, Any]]) -> Any:
        frame = pd.DataFrame.from_records(list(rows), columns=order)
        frame = conform(frame, features, source="the request")[order]
        return frame if named else frame.to_numpy(dtype=float)

    numeric = all(c.role is Role.NUMERIC for c in features.columns)
    if numeric and not isinstance(model, _OnnxModel):
        # Validated numeric rows (None when missing) go straight to a float matrix; a
        # LightGBM or XGBoost model predicts on it with its booster, one thread.
        compiled = _compiled(model)
        as_frame = named and compiled is None

        def prepare(rows: Sequence[dict[str, Any]]) -> Any:
            X = np.array([[row.get(c) for c in order] for row in rows], dtype=np.float64)
            return pd.DataFrame(X, columns=order, copy=False) if as_frame else X

        if compiled is not None:
            model = compiled

    task = (
        ("binary" if classes is None or len(classes) == 2 else "multiclass")
        if classifier
        else "regression"
    )
    return ServedModel(
        name=path.stem,
        version=1,
        task=task,
        classes=classes,
        schema=features,
        parser=RowParser(features, path.stem),
        estimator=model,
        prepare=prepare,
        record=None,
        source=str(path),
    )
