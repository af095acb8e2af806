"""``Explainer``: per-row contributions of each input column to a fitted model's output.

A final model of modelloop is a ``Pipeline`` (schema check, preprocessing, estimator), a
soft-voting blend of such pipelines, or fold models averaged by ``models.FoldBag``; its
estimator may be wrapped in ``TemperatureScaled``, ``FixedThresholdClassifier`` or
``LogTargetRegressor``. The explainer mirrors that structure:

- a pipeline whose estimator is a tree ensemble or linear is explained on its encoded
  features (see :mod:`~modelloop.explain._methods`), and the contributions of a column's
  encoded features are summed into the column's (see :func:`feature_groups`);
- any other pipeline is explained as a whole, by Shapley values over its input columns
  with a background sample (see :class:`PermutationShapley`);
- wrappers pass contributions through the function they apply (a temperature divides
  log-odds; ``expm1`` and the sigmoid go through the chain rule, see
  :mod:`~modelloop.explain._attribution`);
- blends and bags average their members' contributions to the class probabilities (or
  the value) with the members' weights: as the models average outputs, so the
  contributions add up to the blend's output.

Every explanation is additive: ``base_value + sum(contributions)`` equals the explained
output of each row, up to floating-point rounding.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from modelloop.data import json_value
from modelloop.exceptions import ConfigurationError
from modelloop.explain._attribution import (
    Attribution,
    expm1_clipped,
    log_odds,
    tempered,
    to_probability,
)
from modelloop.explain._groups import feature_groups, group_matrix
from modelloop.explain._methods import leaf_explainer, leaf_kind
from modelloop.explain._permutation import PermutationShapley

__all__ = ["OUTPUTS", "Explainer", "Explanation", "explainable_outputs"]

OUTPUTS = ("probability", "log-odds", "value")
"""What an explanation explains: a class probability, the log-odds of a binary model's
class, or a regressor's value."""

BACKGROUND_ROWS = 50
"""Background rows the model-agnostic method averages over."""
LINEAR_BACKGROUND_ROWS = 1000
"""Reference rows whose encoded mean a linear model's contributions are measured from."""
PERMUTATIONS = 10
"""Orderings the model-agnostic method samples (when it cannot enumerate coalitions)."""


def explainable_outputs(task: str) -> tuple[str, ...]:
    """The outputs a model of ``task`` can be explained as; the first is the default.

    >>> explainable_outputs("binary"), explainable_outputs("regression")
    (('probability', 'log-odds'), ('value',))
    """
    if task == "binary":
        return ("probability", "log-odds")
    if task == "multiclass":
        return ("probability",)
    if task == "regression":
        return ("value",)
    return ()


@dataclass(frozen=True)
class Explanation:
    """Per-row contributions of each input column, and what they explain.

    ``values[i, j]`` is column ``columns[j]``'s contribution to row ``i``'s ``output``
    (a class probability, log-odds or value); ``base[i] + values[i].sum()`` is that output.
    ``explained_class`` holds the class each row's output belongs to (classifiers).
    ``method`` is ``'tree_shap'``, ``'linear'``, ``'permutation'`` or ``'mixed'`` (a blend
    of members explained differently); ``detail`` says, per model explained, how; ``exact``
    is whether every value is an exact Shapley value of the output (TreeSHAP or the
    linear form on the model's own scale, nothing sampled or carried through a link).
    """

    values: np.ndarray
    base: np.ndarray
    columns: list[str]
    output: str
    method: str
    detail: str
    exact: bool
    explained_class: np.ndarray | None = None

    @property
    def output_values(self) -> np.ndarray:
        """``base + values.sum(axis=1)``: the explained output of each row."""
        return self.base + self.values.sum(axis=1)

    def frame(self, index: Any = None) -> pd.DataFrame:
        """``explained_class`` (classifiers), ``output_value``, ``base_value`` and one
        ``contrib_<column>`` per input column; ``attrs`` holds output, method and detail."""
        data: dict[str, Any] = {}
        if self.explained_class is not None:
            data["explained_class"] = self.explained_class
        data["output_value"] = self.output_values
        data["base_value"] = self.base
        for j, col in enumerate(self.columns):
            data[f"contrib_{col}"] = self.values[:, j]
        out = pd.DataFrame(data, index=index)
        out.attrs.update(
            {"output": self.output, "method": self.method, "detail": self.detail,
             "exact": self.exact}
        )  # fmt: skip
        return out

    def records(self, top: int | None = None) -> list[dict[str, Any]]:
        """One JSON-ready dict per row: explained class, output, base value and the
        contributions by column (largest magnitude first; ``top`` keeps that many)."""
        out = []
        for i in range(len(self.base)):
            order = np.argsort(-np.abs(self.values[i]), kind="stable")
            if top is not None:
                order = order[:top]
            row: dict[str, Any] = {}
            if self.explained_class is not None:
                row["explained_class"] = json_value(self.explained_class[i], unknown="keep")
            row["output_value"] = float(self.output_values[i])
            row["base_value"] = float(self.base[i])
            row["contributions"] = {self.columns[j]: float(self.values[i, j]) for j in order}
            out.append(row)
        return out


# --------------------------------------------------------------------------- the nodes


class _Context:
    """What building the explainer of a model needs: its input columns and background.

    ``background`` may be a frame or a function returning one (read only when a part of
    the model needs it: tree models never do).
    """

    def __init__(
        self,
        columns: list[str],
        background: Any,
        permutations: int,
        background_rows: int,
        seed: int,
        name: str,
    ) -> None:
        self.columns = columns
        self._background = background
        self.permutations = permutations
        self.background_rows = background_rows
        self.seed = seed
        self.name = name

    @property
    def background(self) -> pd.DataFrame | None:
        if callable(self._background):
            self._background = self._background()
        frame = self._background
        if frame is None:
            return None
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ConfigurationError(f"the background rows lack column(s) {', '.join(missing[:5])}")
        frame = frame[self.columns]
        if len(frame) > LINEAR_BACKGROUND_ROWS:
            frame = frame.sample(LINEAR_BACKGROUND_ROWS, random_state=self.seed)
        self._background = frame
        return frame

    def require_background(self, what: str) -> pd.DataFrame:
        background = self.background
        if background is None or background.empty:
            raise ConfigurationError(
                f"{what} needs reference rows to compare with, and none were given (a model "
                "registered without its training rows, or an empty background)"
            )
        return background


class _Inputs:
    """The rows being explained: their frame and, where a caller has them encoded already
    (the server's fast path), a function giving a member pipeline's encoded matrix."""

    def __init__(self, frame: pd.DataFrame, encoded: Any = None) -> None:
        self.frame = frame
        self.encoded = encoded

    def encoded_for(self, pipeline: Any, pre: Any) -> Any:
        if self.encoded is not None:
            X = self.encoded(pipeline)
            if X is not None:
                return X
        return pre.transform(self.frame)


def _estimator_name(model: Any) -> str:
    while isinstance(model, Pipeline):
        model = model.steps[-1][1]
    for attr in ("estimator_", "regressor_"):
        inner = getattr(model, attr, None)
        if inner is not None and type(model).__module__.startswith("modelloop"):
            return _estimator_name(inner)
    return type(model).__name__


class _PipelineNode:
    """Encoded-feature contributions of the pipeline's estimator, summed per input column."""

    def __init__(self, pipeline: Pipeline, ctx: _Context) -> None:
        self.pipeline = pipeline
        self.pre = Pipeline(pipeline.steps[:-1])
        self.estimator = pipeline.steps[-1][1]
        transformer = pipeline.steps[-2][1]
        sources = feature_groups(transformer)
        self.groups = group_matrix(sources, ctx.columns)
        self.columns = ctx.columns
        background = None
        if _needs_background(self.estimator):
            rows = ctx.require_background(f"The linear model {_estimator_name(pipeline)}")
            background = self.pre.transform(rows.head(LINEAR_BACKGROUND_ROWS))
        self.chain = _wrapped(self.estimator, background)

    def attribute(self, inputs: _Inputs) -> Attribution:
        Xt = inputs.encoded_for(self.pipeline, self.pre)
        leaf, links = self.chain
        raw, base = leaf.contributions(Xt)
        values = self._grouped(raw)
        a = Attribution(values, base, leaf.space, [leaf.name], True, {leaf.kind})
        for link in links:
            a = link(a)
        return a

    def _grouped(self, raw: Any) -> np.ndarray:
        g = self.groups
        if isinstance(raw, list):  # sparse linear terms, one per output
            cols = []
            for product, mean_term in raw:
                grouped = np.asarray((product @ g).todense(), dtype=float)
                cols.append(grouped - np.asarray(g.T @ mean_term, dtype=float).ravel())
            return np.stack(cols, axis=2)
        n, f, k = raw.shape
        flat = raw.transpose(0, 2, 1).reshape(n * k, f)
        grouped = np.asarray(flat @ g, dtype=float) if f else np.zeros((n * k, g.shape[1]))
        return grouped.reshape(n, k, -1).transpose(0, 2, 1)


def _needs_background(estimator: Any) -> bool:
    return leaf_kind(_unwrap(estimator)) == "linear"


def _unwrap(estimator: Any) -> Any:
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import LogTargetRegressor, TemperatureScaled, thresholded

    while True:
        if isinstance(estimator, FixedThresholdClassifier):
            estimator = thresholded(estimator)
        elif isinstance(estimator, TemperatureScaled):
            estimator = estimator.estimator_
        elif isinstance(estimator, LogTargetRegressor):
            estimator = estimator.regressor_
        else:
            return estimator


def _wrapped(estimator: Any, background: Any) -> tuple[Any, list[Any]]:
    """The leaf explainer inside modelloop's wrappers, and the links applied after it
    (innermost first); ``(None, [])`` when the estimator is not a tree or linear model."""
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import LogTargetRegressor, TemperatureScaled, thresholded

    links: list[Any] = []
    while True:
        if isinstance(estimator, FixedThresholdClassifier):  # same probabilities
            estimator = thresholded(estimator)
        elif isinstance(estimator, TemperatureScaled):
            t = float(estimator.temperature)
            links.append(lambda a, t=t: tempered(a, t))
            estimator = estimator.estimator_
        elif isinstance(estimator, LogTargetRegressor):
            low, high = estimator.z_range_
            links.append(lambda a, lo=low, hi=high: expm1_clipped(a, lo, hi))
            estimator = estimator.regressor_
        else:
            break
    return leaf_explainer(estimator, background), links[::-1]


class _PermutationNode:
    """A model explained as a whole: Shapley values over its input columns.

    A pipeline whose preprocessing is a ColumnTransformer is mixed on its encoded features
    (the preprocessing runs once per row, not once per coalition); any other model on its
    raw input columns.
    """

    def __init__(self, model: Any, ctx: _Context) -> None:
        from modelloop.features import SchemaEnforcer

        name = _estimator_name(model)
        background = ctx.require_background(f"The model-agnostic explanation of {name}")
        if len(background) > ctx.background_rows:
            background = background.sample(ctx.background_rows, random_state=ctx.seed)
        background = background[ctx.columns]
        self.columns = ctx.columns
        self.classifier = is_classifier(model) or hasattr(model, "predict_proba")
        self.pipeline = model
        self.encoded = False
        self.pre: Any = None
        groups = None
        if (
            isinstance(model, Pipeline)
            and len(model.steps) >= 2
            and _is_column_transformer(model.steps[-2][1])
        ):
            self.pre = Pipeline(model.steps[:-1])
            self.model = model.steps[-1][1]
            self.encoded = True
            sources = feature_groups(model.steps[-2][1])
            position = {c: j for j, c in enumerate(ctx.columns)}
            groups = np.array([position[s] for s in sources], dtype=int)
            rows: Any = self.pre.transform(background)
        elif isinstance(model, Pipeline) and isinstance(model.steps[0][1], SchemaEnforcer):
            self.pre = model.steps[0][1]
            self.model = Pipeline(model.steps[1:])
            rows = self.pre.transform(background)[ctx.columns]
        else:
            self.model = model
            rows = background
        self.shapley = PermutationShapley(
            self._predict, rows, ctx.columns, groups=groups,
            permutations=ctx.permutations, seed=ctx.seed,
        )  # fmt: skip
        self.name = f"{name}: {self.shapley.description}"

    def _predict(self, inputs: Any) -> np.ndarray:
        n = inputs.shape[0]
        if self.classifier:
            return np.asarray(self.model.predict_proba(inputs), dtype=float)
        return np.asarray(self.model.predict(inputs), dtype=float).reshape(n, -1)

    def attribute(self, inputs: _Inputs) -> Attribution:
        rows: Any = inputs.frame[self.columns]
        if self.encoded:
            rows = inputs.encoded_for(self.pipeline, self.pre)
        elif self.pre is not None:
            rows = self.pre.transform(rows)[self.columns]
        values, base = self.shapley.explain(rows)
        space = "probability" if self.classifier else "value"
        return Attribution(values, base, space, [self.name], self.shapley.exact, {"permutation"})


class _BlendNode:
    """Members' contributions averaged with the members' weights (probabilities or values).

    ``places`` gives, per member, the position of each of its probability columns among
    the blend's classes; ``temperatures`` are applied to a member before averaging (as
    ``FoldBag`` does).
    """

    def __init__(
        self,
        members: list[Any],
        weights: np.ndarray,
        classes: np.ndarray | None,
        places: list[np.ndarray] | None,
        temperatures: list[float | None] | None,
        label: str,
    ) -> None:
        self.members = members
        self.weights = weights
        self.classes = classes
        self.places = places
        self.temperatures = temperatures
        self.label = label

    def attribute(self, inputs: _Inputs) -> Attribution:
        total_values: np.ndarray | None = None
        total_base: np.ndarray | None = None
        methods: list[str] = []
        kinds: set[str] = set()
        exact = True
        for i, (member, w) in enumerate(zip(self.members, self.weights, strict=True)):
            a = member.attribute(inputs)
            if self.classes is not None:
                t = None if self.temperatures is None else self.temperatures[i]
                if t is not None:
                    a = tempered(a, t)
                a = to_probability(a)
                values = np.zeros((a.values.shape[0], a.values.shape[1], len(self.classes)))
                base = np.zeros((a.base.shape[0], len(self.classes)))
                place = self.places[i] if self.places is not None else np.arange(len(self.classes))
                values[:, :, place] = a.values
                base[:, place] = a.base
            else:
                values, base = a.values, a.base
            total_values = w * values if total_values is None else total_values + w * values
            total_base = w * base if total_base is None else total_base + w * base
            methods.extend(a.methods)
            kinds |= a.kinds
            exact = exact and a.exact
        space = "probability" if self.classes is not None else "value"
        summary = _summarise(methods)
        return Attribution(
            np.asarray(total_values), np.asarray(total_base), space,
            [f"{self.label} of {len(self.members)} models: {summary}"], exact, kinds,
        )  # fmt: skip


def _summarise(methods: list[str]) -> str:
    counts: dict[str, int] = {}
    for m in methods:
        counts[m] = counts.get(m, 0) + 1
    return "; ".join(f"{m}" + (f" (x{c})" if c > 1 else "") for m, c in counts.items())


def _node(model: Any, ctx: _Context) -> Any:
    """The explainer node of a fitted model (see the module docstring)."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.model_selection import FixedThresholdClassifier

    from modelloop.models import FoldBag, TemperatureScaled, thresholded

    if isinstance(model, Pipeline):
        last = model.steps[-1][1]
        transformer = model.steps[-2][1] if len(model.steps) >= 2 else None
        if _explained_inside(last) and _is_column_transformer(transformer):
            return _PipelineNode(model, ctx)
        return _PermutationNode(model, ctx)
    if isinstance(model, FixedThresholdClassifier):
        return _node(thresholded(model), ctx)
    if isinstance(model, TemperatureScaled):
        inner = _node(model.estimator_, ctx)
        return _BlendNode([inner], np.ones(1), np.asarray(model.classes_), None,
                          [float(model.temperature)], "temperature-scaled")  # fmt: skip
    if isinstance(model, VotingClassifier | VotingRegressor):
        members = [_node(m, ctx) for m in model.estimators_]
        weights = (
            np.ones(len(members)) if model.weights is None else np.asarray(model.weights, float)
        )
        weights = weights / weights.sum()
        classes = np.asarray(model.classes_) if isinstance(model, VotingClassifier) else None
        return _BlendNode(members, weights, classes, None, None, "soft-voting blend")
    if isinstance(model, FoldBag):
        members = [_node(m, ctx) for m in model.estimators_]
        classified = hasattr(model, "classes_")
        return _BlendNode(
            members,
            np.asarray(model.weights_, dtype=float),
            np.asarray(model.classes_) if classified else None,
            list(model.columns_) if classified else None,
            list(model.temperatures_) if classified else None,
            "bag",
        )
    return _PermutationNode(model, ctx)


def _explained_inside(estimator: Any) -> bool:
    """Whether the estimator (inside modelloop's wrappers) is a tree ensemble or linear."""
    return leaf_kind(_unwrap(estimator)) is not None


def _is_column_transformer(step: Any) -> bool:
    from sklearn.compose import ColumnTransformer

    return isinstance(step, ColumnTransformer)


# --------------------------------------------------------------------------- the explainer


class Explainer:
    """Explains a fitted modelloop model, row by row, per input column.

    The parts of the explainer (a TreeSHAP explainer per tree model, a background sample
    per pipeline) are built on the first call and reused; the explainer is thread-safe.

    Parameters
    ----------
    model : a fitted pipeline, soft-voting blend, ``FoldBag`` or wrapped model
    task : ``'binary'``, ``'multiclass'`` or ``'regression'``
    columns : the model's input columns (its schema's feature columns)
    background : reference rows (training data), or a function returning them (called
        only when needed); the linear form measures from the mean of up to 1,000 of them,
        the model-agnostic method averages over a sample of ``background_rows``. Tree
        models need none.
    name : what error messages call the model, e.g. ``'churn:3'``
    permutations, background_rows, seed : of the model-agnostic method

    Examples
    --------
    >>> explainer = Explainer(pipeline, "binary", schema.feature_columns(), background=train)  # doctest: +SKIP
    >>> explainer.explain(rows).frame()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        task: str,
        columns: list[str],
        *,
        background: Any = None,
        name: str = "the model",
        permutations: int = PERMUTATIONS,
        background_rows: int = BACKGROUND_ROWS,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.task = task
        self.columns = list(columns)
        self.name = name
        self.ctx = _Context(self.columns, background, permutations, background_rows, seed, name)
        self._root: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # sent to Dask workers: built again there
        state = dict(self.__dict__)
        state["_lock"] = None
        state["_root"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def outputs(self) -> tuple[str, ...]:
        return explainable_outputs(self.task)

    def check(self, output: str | None = None, target_class: Any = None) -> str:
        """The output to explain (``None``: the default), or one clear error naming the
        model and what is available (also for a ``target_class`` the model lacks)."""
        available = self.outputs
        if not available:
            raise ConfigurationError(
                f"Model {self.name} ({self.task}) cannot be explained: explanations cover "
                "binary, multiclass and regression models."
            )
        if output is None:
            return available[0]
        if output not in available:
            why = {
                "log-odds": "log-odds are defined for binary models",
                "probability": "a regression model has no class probabilities",
                "value": "a classifier is explained through its class probabilities",
            }.get(output, f"'{output}' is not an output modelloop explains")
            raise ConfigurationError(
                f"Model {self.name} ({self.task}) cannot be explained as {output}: {why}. "
                f"Available: {', '.join(available)}."
            )
        if target_class is not None:
            if self.task == "regression":
                raise ConfigurationError(
                    f"Model {self.name} is a regression model: it has no class to explain."
                )
            _index_of(np.asarray(self.model.classes_), target_class, self.name)
        return output

    def prepare(self) -> Explainer:
        """Build the explainer's parts now (TreeSHAP explainers, background samples), so
        that a model that cannot be explained fails here, before any row is scored."""
        self._built()
        return self

    def _built(self) -> Any:
        if self._root is None:
            with self._lock:
                if self._root is None:
                    try:
                        self._root = _node(self.model, self.ctx)
                    except ConfigurationError as exc:
                        raise ConfigurationError(
                            f"Model {self.name} cannot be explained: {exc}."
                        ) from None
                    except ValueError as exc:
                        raise ConfigurationError(
                            f"Model {self.name} cannot be explained: {exc}."
                        ) from None
        return self._root

    def attribution(self, X: pd.DataFrame, *, encoded: Any = None) -> Attribution:
        """The contributions in the model's own additive space, before any link: TreeSHAP's
        log-odds or class margins, a linear model's decision function, a blend's class
        probabilities (``Attribution.space`` says which), one output per class."""
        return self._built().attribute(_Inputs(X[self.columns], encoded))

    def explain(
        self,
        X: pd.DataFrame,
        *,
        output: str | None = None,
        target_class: Any = None,
        encoded: Any = None,
    ) -> Explanation:
        """Contributions of each input column to each row's output.

        Parameters
        ----------
        X : raw rows with the model's input columns (missing values are fine)
        output : ``'probability'`` (classifiers' default), ``'log-odds'`` (binary) or
            ``'value'`` (regression); see :func:`explainable_outputs`
        target_class : the class whose output is explained; default: the second class of
            a binary model, each row's predicted class of a multiclass model
        encoded : optional ``f(pipeline) -> matrix or None``: the encoded features of these
            rows for a member pipeline of the model, where the caller has them already (the
            server's fast path builds them without pandas); ``None`` encodes with the
            pipeline

        Raises
        ------
        ConfigurationError
            An output or class the model cannot be explained for (naming what is
            available), or a model that cannot be explained at all.
        """
        output = self.check(output, target_class)
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            from modelloop.exceptions import SchemaMismatchError

            raise SchemaMismatchError(
                f"The rows to explain lack column(s) {', '.join(repr(c) for c in missing[:10])} "
                f"that model {self.name} needs."
            )
        root = self._built()
        a = root.attribute(_Inputs(X[self.columns], encoded))
        explained_class = None
        if self.task == "regression":
            values, base = a.values[:, :, 0], a.base[:, 0]
        else:
            classes = np.asarray(self.model.classes_)
            a = to_probability(a) if output == "probability" else log_odds(a)
            if output == "log-odds":
                if target_class is not None and _index_of(classes, target_class, self.name) != 1:
                    a = a.scaled(-1.0, "of the first class")
                    explained = classes[0]
                else:
                    explained = classes[1]
                values, base = a.values[:, :, 0], a.base[:, 0]
                explained_class = np.full(len(values), explained, dtype=object)
            else:
                proba = a.output
                if target_class is not None:
                    idx = np.full(len(proba), _index_of(classes, target_class, self.name))
                elif self.task == "binary":
                    idx = np.ones(len(proba), dtype=int)
                else:
                    idx = np.argmax(proba, axis=1)
                rows = np.arange(len(proba))
                values = a.values[rows, :, idx]
                base = a.base[rows, idx]
                explained_class = classes[idx].astype(object)
        kinds = a.kinds
        method = next(iter(kinds)) if len(kinds) == 1 else "mixed"
        return Explanation(
            values=np.asarray(values, dtype=float),
            base=np.asarray(base, dtype=float),
            columns=self.columns,
            output=output,
            method=method,
            detail="; ".join(a.methods),
            exact=a.exact,
            explained_class=explained_class,
        )


def _index_of(classes: np.ndarray, target: Any, name: str) -> int:
    for i, c in enumerate(classes.tolist()):
        if c == target or str(c) == str(target):
            return i
    shown = ", ".join(str(c) for c in classes.tolist())
    raise ConfigurationError(f"Model {name} has no class {target!r} to explain. Classes: {shown}.")
