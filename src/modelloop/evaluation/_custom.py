"""Metrics defined by the user: a Python function scored like the built-in metrics.

A custom metric is a :class:`~modelloop.evaluation.Metric` whose ``func`` calls the user's
``function(y_true, y_pred)`` (or ``function(y_true, proba)`` when it needs probabilities),
with ``sample_weight=`` when the run has weights. Once registered (``register_metric``) it
is looked up by name like ``rmse``, so selection, reports and monitoring treat it alike.

Importing a user's module runs its code: :func:`import_metric` does it only when the
caller passes ``trust=True`` (the CLI's ``--trust``); a stored run names the metric as
``module:function`` and nothing imports it without that consent.
"""

from __future__ import annotations

import importlib
import inspect
import numbers
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from modelloop.evaluation._metrics import (
    _CUSTOM,
    METRICS,
    TASKS,
    Metric,
    UndefinedMetricError,
    register_metric,
)
from modelloop.exceptions import ConfigurationError, InvalidInputError, UntrustedCodeError

__all__ = [
    "import_metric",
    "install_metric",
    "is_metric_reference",
    "known_metric",
    "make_metric",
    "metric_payload",
    "resolve_metric",
]

# Folders added to ``sys.path`` to import users' metric modules (sent to worker processes).
_PATHS: list[str] = []


class _UserFunction:
    """``Metric.func`` around a user's function: picklable, checks what the function returns."""

    def __init__(self, function: Callable[..., Any], name: str, needs_proba: bool) -> None:
        self.function, self.name, self.needs_proba = function, name, needs_proba

    def takes_weights(self) -> bool:
        try:
            params = inspect.signature(self.function).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature: try it
            return True
        return any(
            p.name == "sample_weight" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params
        )

    def __call__(
        self, y_true: np.ndarray, y: np.ndarray, classes: Any, w: np.ndarray | None = None
    ) -> float:
        if self.needs_proba and y.ndim == 2 and y.shape[1] == 2:
            y = y[:, 1]  # binary: the positive class's probability, as scikit-learn passes it
        kwargs: dict[str, Any] = {}
        if w is not None:
            if not self.takes_weights():
                raise ConfigurationError(
                    f"Metric {self.name!r} must take a sample_weight= argument to score a "
                    "weighted run. Add 'sample_weight=None' to its parameters."
                )
            kwargs["sample_weight"] = w
        try:
            value = self.function(y_true, y, **kwargs)
        except (ConfigurationError, InvalidInputError):
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise InvalidInputError(
                f"Metric {self.name!r} raised {type(exc).__name__}: {first}"
            ) from None
        return _number(value, self.name)


def _number(value: Any, name: str) -> float:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidInputError(
            f"Metric {name!r} must return a number. Got {shown} ({type(value).__name__})."
        )
    number = float(value)
    if np.isnan(number):
        raise UndefinedMetricError(f"Metric {name!r} returned NaN on these rows.")
    return number


def make_metric(
    function: Callable[..., Any],
    *,
    greater_is_better: bool,
    needs_proba: bool = False,
    name: str | None = None,
    tasks: Any = TASKS,
    description: str = "",
) -> Metric:
    """A :class:`Metric` computed by ``function(y_true, y_pred)``.

    With ``needs_proba`` the function gets the predicted probabilities instead of labels:
    for a binary target a 1-D array (the probability of ``classes[1]``), otherwise one
    column per class in sorted class order. When the run has sample weights the function
    is called with ``sample_weight=`` too (it must take that argument). It must return a
    number. ``name`` defaults to ``module:function`` for a function of an importable
    module (so a stored run can name it) and to the function's name otherwise.

    Examples
    --------
    >>> def profit(y_true, y_pred):
    ...     return float(((y_pred == 1) & (y_true == 1)).sum() * 10 - (y_pred == 1).sum())
    >>> m = make_metric(profit, greater_is_better=True, name="profit")
    >>> m.greater_is_better, m.needs_proba
    (True, False)
    """
    if not callable(function):
        raise ConfigurationError(
            f"A custom metric must be a function (y_true, y_pred) -> float. "
            f"Got {type(function).__name__}."
        )
    if not isinstance(greater_is_better, bool | np.bool_):
        raise ConfigurationError(
            "A custom metric needs greater_is_better=True or False (whether larger values "
            f"are better). Got {greater_is_better!r}."
        )
    name = name or _default_name(function)
    if name in METRICS:
        raise ConfigurationError(
            f"A custom metric cannot be called {name!r}: that is a built-in metric. "
            "Give it another name (name=)."
        )
    return Metric(
        name=name,
        greater_is_better=bool(greater_is_better),
        needs_proba=bool(needs_proba),
        tasks=frozenset(tasks),
        func=_UserFunction(function, name, bool(needs_proba)),
        description=description or (inspect.getdoc(function) or "").split("\n")[0],
        custom=True,
    )


def _default_name(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if module and qualname and module not in ("__main__", "builtins") and "<" not in qualname:
        return f"{module}:{qualname}"
    name = getattr(function, "__name__", "")
    return name if name and "<" not in name else "custom_metric"


def is_metric_reference(metric: Any) -> bool:
    """Whether ``metric`` names a function in a module (``module:function``).

    >>> is_metric_reference("scoring:profit"), is_metric_reference("rmse")
    (True, False)
    """
    return isinstance(metric, str) and ":" in metric


def import_metric(
    reference: str,
    *,
    trust: bool,
    greater_is_better: bool | None = None,
    needs_proba: bool | None = None,
    search_path: str | Path | None = None,
) -> Metric:
    """The metric ``module:function``, imported from ``search_path`` (default: the working
    folder) or the installed packages, named by ``reference``.

    ``function`` may be a :class:`Metric` (made with :func:`make_metric`) or a plain
    function; ``greater_is_better`` / ``needs_proba`` default to the function's attributes
    of those names (``needs_proba``: False).

    Raises
    ------
    UntrustedCodeError
        Without ``trust``: importing a module runs its code.
    ConfigurationError
        A malformed reference, a missing module or name, an object that is not callable,
        or no ``greater_is_better``.
    """
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr or ":" in attr:
        raise ConfigurationError(
            f"A custom metric is named module:function, e.g. 'scoring:profit'. Got {reference!r}."
        )
    if not trust:
        raise UntrustedCodeError(
            f"Metric {reference!r} is Python code: importing module '{module_name}' runs it. "
            "Pass --trust to allow it (only for code you wrote or checked)."
        )
    folder = str(Path(search_path or Path.cwd()).resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
        _PATHS.append(folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigurationError(
                f"Metric {reference!r}: no module named '{module_name}' in {folder} or the "
                "installed packages."
            ) from None
        raise ConfigurationError(
            f"Metric {reference!r}: importing module '{module_name}' failed: {exc}"
        ) from None
    except Exception as exc:
        raise ConfigurationError(
            f"Metric {reference!r}: importing module '{module_name}' failed: "
            f"{type(exc).__name__}: {exc}".splitlines()[0]
        ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigurationError(
                f"Metric {reference!r}: module '{module_name}' has no attribute '{attr}'."
            )
        obj = getattr(obj, part)
    if isinstance(obj, Metric):
        metric = replace(obj, name=reference, custom=True)
        if isinstance(metric.func, _UserFunction):
            metric.func.name = reference
        return metric
    if not callable(obj):
        raise ConfigurationError(
            f"Metric {reference!r} must be a function (y_true, y_pred) -> float. "
            f"Got {type(obj).__name__}."
        )
    if greater_is_better is None:
        greater_is_better = getattr(obj, "greater_is_better", None)
    if greater_is_better is None:
        raise ConfigurationError(
            f"Metric {reference!r}: say whether larger values are better: --greater-is-better "
            "or --lower-is-better (or set the function's greater_is_better attribute)."
        )
    if needs_proba is None:
        needs_proba = bool(getattr(obj, "needs_proba", False))
    return make_metric(
        obj, greater_is_better=greater_is_better, needs_proba=needs_proba, name=reference
    )


def resolve_metric(
    metric: str | Metric | Callable[..., Any] | None,
    *,
    trust: bool = False,
    greater_is_better: bool | None = None,
    needs_proba: bool | None = None,
) -> str | None:
    """The name under which ``metric`` is scored: a built-in name as it is; a
    ``module:function`` reference imported (with ``trust``); a :class:`Metric` or a
    function made a custom metric. Custom metrics are registered (``register_metric``).

    >>> resolve_metric("rmse")
    'rmse'
    """
    if metric is None:
        return None
    if isinstance(metric, Metric):
        if not metric.custom and metric.name in METRICS:
            return metric.name
        return register_metric(replace(metric, custom=True)).name
    if isinstance(metric, str):
        if not is_metric_reference(metric):
            return metric
        known = _CUSTOM.get(metric)
        imported = known is not None and not isinstance(known.func, _NotImported)
        if imported and greater_is_better is None and needs_proba is None:
            return metric  # already imported in this process
        found = import_metric(
            metric, trust=trust, greater_is_better=greater_is_better, needs_proba=needs_proba
        )
        return register_metric(found).name
    if callable(metric):
        if greater_is_better is None:
            greater_is_better = getattr(metric, "greater_is_better", None)
        if greater_is_better is None:
            raise ConfigurationError(
                "A custom metric needs greater_is_better=True or False (whether larger values "
                "are better), e.g. train(..., metric=my_metric, greater_is_better=False)."
            )
        if needs_proba is None:
            needs_proba = bool(getattr(metric, "needs_proba", False))
        made = make_metric(metric, greater_is_better=greater_is_better, needs_proba=needs_proba)
        return register_metric(made).name
    raise ConfigurationError(
        f"metric must be a metric name, 'module:function' or a function. Got {metric!r}."
    )


class _NotImported:
    """``Metric.func`` of a stored custom metric this process did not import."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        how = (
            "pass --trust to import it"
            if is_metric_reference(self.name)
            else "it was a function of a notebook or script: pass it again as metric="
        )
        raise UntrustedCodeError(
            f"Metric {self.name!r} is a custom metric that was not imported: {how}."
        )


def known_metric(name: str | None, spec: dict[str, Any] | None, *, trust: bool = False) -> None:
    """Make a stored run's custom metric ``name`` known in this process, from the run's
    ``metric_spec`` (its direction): imported with ``trust`` when it is ``module:function``,
    else by name and direction only, so that reports and listings can rank by it while
    computing it raises :class:`UntrustedCodeError`. Built-in names are left alone.

    >>> known_metric("rmse", None)
    """
    if not name or name in METRICS or not spec:
        return
    existing = _CUSTOM.get(name)
    if existing is not None and not isinstance(existing.func, _NotImported):
        return
    if trust and is_metric_reference(name):
        resolve_metric(
            name,
            trust=True,
            greater_is_better=spec.get("greater_is_better"),
            needs_proba=spec.get("needs_proba"),
        )
        return
    register_metric(
        Metric(
            name=name,
            greater_is_better=bool(spec.get("greater_is_better", True)),
            needs_proba=bool(spec.get("needs_proba", False)),
            tasks=frozenset(TASKS),
            func=_NotImported(name),
            custom=True,
        )
    )


def metric_payload(name: str) -> dict[str, Any] | None:
    """What a worker process needs to score custom metric ``name`` (``None`` for a built-in
    one): the metric pickled with cloudpickle (a function defined in a notebook or a script
    travels by value) and the folders its module was imported from."""
    metric = _CUSTOM.get(name)
    if metric is None or name in METRICS:
        return None
    import cloudpickle

    return {"name": name, "pickled": cloudpickle.dumps(metric), "paths": list(_PATHS)}


def install_metric(payload: dict[str, Any] | None) -> None:
    """Register in this (worker) process the custom metric of ``metric_payload``."""
    if not payload:
        return
    import pickle

    for folder in payload.get("paths", ()):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    register_metric(pickle.loads(payload["pickled"]))
