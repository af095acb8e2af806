"""The model catalog: which estimators modelloop trains, and how each is configured.

A :class:`ModelSpec` names an estimator, the preprocessing family it needs (see
:data:`modelloop.features.FAMILIES`) and the tasks it handles; ``spec.make(task)`` returns
a fresh, unfitted scikit-learn-compatible estimator with modelloop's defaults.

Classification estimators always receive labels encoded as ``0..K-1``: the training code
label-encodes the target before fitting and keeps the original classes (XGBoost requires
this; it also keeps every model's ``classes_`` comparable).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn import ensemble, linear_model, neighbors, svm, tree
from sklearn.calibration import CalibratedClassifierCV

from modelloop.data import TASKS, UNSUPERVISED_TASKS, check_task
from modelloop.exceptions import ConfigurationError

__all__ = [
    "MODELS",
    "CatalogEntry",
    "ModelSpec",
    "accepts_sample_weight",
    "catalog",
    "catalog_entries",
    "default_candidates",
    "get_spec",
    "is_available",
]

_CLASSIFICATION = frozenset({"binary", "multiclass"})
_REGRESSION = frozenset({"regression"})
_ALL = _CLASSIFICATION | _REGRESSION

Factory = Callable[[str, int, int], Any]  # (task, seed, n_jobs) -> unfitted estimator


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the catalog.

    Attributes
    ----------
    name
        Catalog name, e.g. ``"lightgbm"``.
    family
        Preprocessing family: ``"linear"`` (scaled, one-hot) or ``"tree"`` (ordinal, dense).
    tasks
        Tasks the model handles: a subset of ``{"binary", "multiclass", "regression"}``.
    description
        One line for listings.
    """

    name: str
    family: str
    tasks: frozenset[str]
    description: str
    factory: Factory = field(repr=False, compare=False)

    def make(self, task: str, *, seed: int = 0, n_jobs: int = 1) -> Any:
        """A fresh unfitted estimator for ``task``.

        Classifiers expect labels encoded as ``0..K-1`` (see the module docstring).

        Examples
        --------
        >>> get_spec("random_forest", "regression").make("regression", seed=1)
        RandomForestRegressor(max_features=0.33, min_samples_leaf=2, n_estimators=300,
                              n_jobs=1, random_state=1)
        """
        if task not in self.tasks:
            raise ConfigurationError(
                f"Model {self.name!r} does not support task {task!r}. "
                f"It supports: {', '.join(sorted(self.tasks))}."
            )
        return self.factory(task, seed, n_jobs)


# ---------------------------------------------------------------------------- factories


def _is_clf(task: str) -> bool:
    return task in _CLASSIFICATION


def _logistic_regression(task: str, seed: int, n_jobs: int) -> Any:
    return linear_model.LogisticRegression(max_iter=2000, C=1.0, random_state=seed)


def _ridge(task: str, seed: int, n_jobs: int) -> Any:
    return linear_model.Ridge(alpha=1.0, random_state=seed)


def _lasso(task: str, seed: int, n_jobs: int) -> Any:
    # Lasso's alpha depends on the scale of the target, so no fixed default fits all
    # datasets; LassoCV picks it by 5-fold CV along its regularisation path.
    return linear_model.LassoCV(cv=5, max_iter=5000, n_jobs=n_jobs, random_state=seed)


def _svm(task: str, seed: int, n_jobs: int) -> Any:
    if _is_clf(task):
        # SVC(probability=True) is deprecated since scikit-learn 1.9; this is its documented
        # replacement (Platt scaling fit on 5-fold out-of-fold decision values). Tune the
        # SVC through 'model__estimator__C'.
        return CalibratedClassifierCV(
            svm.SVC(random_state=seed), method="sigmoid", cv=5, ensemble=False, n_jobs=n_jobs
        )
    return svm.SVR()


def _knn(task: str, seed: int, n_jobs: int) -> Any:
    if _is_clf(task):
        return neighbors.KNeighborsClassifier(n_neighbors=15, weights="distance", n_jobs=n_jobs)
    return neighbors.KNeighborsRegressor(n_neighbors=15, weights="distance", n_jobs=n_jobs)


def _decision_tree(task: str, seed: int, n_jobs: int) -> Any:
    kind = tree.DecisionTreeClassifier if _is_clf(task) else tree.DecisionTreeRegressor
    return kind(min_samples_leaf=5, random_state=seed)


def _random_forest(task: str, seed: int, n_jobs: int) -> Any:
    if _is_clf(task):
        return ensemble.RandomForestClassifier(n_estimators=300, n_jobs=n_jobs, random_state=seed)
    # A third of the features per split (the classic regression forest setting) and leaves of
    # at least 2 rows: 5x faster than scikit-learn's all-features default on 15k rows, with
    # the same cross-validated error on the datasets we checked.
    return ensemble.RandomForestRegressor(
        n_estimators=300, max_features=0.33, min_samples_leaf=2, n_jobs=n_jobs, random_state=seed
    )


def _extra_trees(task: str, seed: int, n_jobs: int) -> Any:
    kind = ensemble.ExtraTreesClassifier if _is_clf(task) else ensemble.ExtraTreesRegressor
    return kind(n_estimators=300, n_jobs=n_jobs, random_state=seed)


class HistGBClassifier(ensemble.HistGradientBoostingClassifier):
    """scikit-learn's HistGradientBoostingClassifier, predicting on one thread.

    Its predictions use one OpenMP parallel region per tree (per class): on a busy machine
    every region waits for a descheduled thread, and a 10,000-row batch was measured 4-6x
    slower than on one thread. Fitting is unchanged (modelloop's workers limit threads).

    >>> import numpy as np
    >>> X, y = np.arange(40.0).reshape(-1, 1), np.repeat([0, 1], 20)
    >>> HistGBClassifier(max_iter=5).fit(X, y).predict([[1.0], [38.0]]).tolist()
    [0, 1]
    """

    def _raw_predict(self, X: Any, n_threads: int | None = None) -> Any:
        return super()._raw_predict(X, n_threads=1 if n_threads is None else n_threads)


class HistGBRegressor(ensemble.HistGradientBoostingRegressor):
    """scikit-learn's HistGradientBoostingRegressor, predicting on one thread (see
    :class:`HistGBClassifier`)."""

    def _raw_predict(self, X: Any, n_threads: int | None = None) -> Any:
        return super()._raw_predict(X, n_threads=1 if n_threads is None else n_threads)


def _hist_gradient_boosting(task: str, seed: int, n_jobs: int) -> Any:
    # HistGradientBoosting uses OpenMP threads; their number is not a constructor argument.
    kind = HistGBClassifier if _is_clf(task) else HistGBRegressor
    return kind(early_stopping="auto", random_state=seed)


def _lightgbm(task: str, seed: int, n_jobs: int) -> Any:
    import lightgbm

    kind = lightgbm.LGBMClassifier if _is_clf(task) else lightgbm.LGBMRegressor
    return kind(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=n_jobs,
        verbose=-1,
    )


def _catboost(task: str, seed: int, n_jobs: int) -> Any:
    import catboost

    from modelloop.models._catboost import CatBoostVectorClassifier

    kind = CatBoostVectorClassifier if _is_clf(task) else catboost.CatBoostRegressor
    return kind(
        iterations=500,
        learning_rate=0.08,
        depth=6,
        random_seed=seed,
        thread_count=max(1, n_jobs),
        verbose=0,
        allow_writing_files=False,
    )


def _xgboost(task: str, seed: int, n_jobs: int) -> Any:
    import xgboost

    kind = xgboost.XGBClassifier if _is_clf(task) else xgboost.XGBRegressor
    return kind(
        tree_method="hist",
        n_estimators=300,
        learning_rate=0.05,
        max_depth=6,
        random_state=seed,
        n_jobs=n_jobs,
    )


def _finetune(task: str, seed: int, n_jobs: int) -> Any:
    # the network is tuned in the preprocessing (features.TunedImageFeatures); a linear
    # model reads its features beside the other columns
    if _is_clf(task):
        return linear_model.LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
    return linear_model.Ridge(alpha=1.0, random_state=seed)


def _mlp_torch(task: str, seed: int, n_jobs: int) -> Any:
    from modelloop.models._torch import TabularNetClassifier, TabularNetRegressor, require_torch

    require_torch()
    kind = TabularNetClassifier if _is_clf(task) else TabularNetRegressor
    return kind(random_state=seed, n_jobs=max(1, n_jobs))


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("logistic_regression", "linear", _CLASSIFICATION,
                  "L2-regularised logistic regression", _logistic_regression),
        ModelSpec("ridge", "linear", _REGRESSION, "L2-regularised linear regression", _ridge),
        ModelSpec("lasso", "linear", _REGRESSION,
                  "L1-regularised linear regression, alpha chosen by CV", _lasso),
        ModelSpec("svm", "linear", _ALL, "support vector machine, RBF kernel (calibrated)", _svm),
        ModelSpec("knn", "linear", _ALL, "k nearest neighbours (k=15, distance-weighted)", _knn),
        ModelSpec("decision_tree", "tree", _ALL, "a single decision tree", _decision_tree),
        ModelSpec("random_forest", "tree", _ALL, "random forest, 300 trees", _random_forest),
        ModelSpec("extra_trees", "tree", _ALL, "extremely randomised trees, 300 trees",
                  _extra_trees),
        ModelSpec("hist_gradient_boosting", "tree", _ALL,
                  "scikit-learn histogram gradient boosting", _hist_gradient_boosting),
        ModelSpec("lightgbm", "tree", _ALL, "LightGBM gradient boosting, 300 rounds", _lightgbm),
        ModelSpec("xgboost", "tree", _ALL, "XGBoost gradient boosting (hist), 300 rounds",
                  _xgboost),
        ModelSpec("catboost", "tree", _ALL, "CatBoost gradient boosting, 500 rounds",
                  _catboost),
        # Needs the optional 'deep' extra (PyTorch): listed only when torch is installed.
        ModelSpec("mlp_torch", "deep", _ALL,
                  "PyTorch tabular network: MLP with categorical embeddings", _mlp_torch),
        ModelSpec("efficientnet_finetune", "finetune", _ALL,
                  "EfficientNet-Lite0, last layer fine-tuned on the image column, then "
                  "logistic regression / ridge", _finetune),
    )
}  # fmt: skip

_DEFAULT_CANDIDATES = {
    "classification": ("logistic_regression", "hist_gradient_boosting", "lightgbm", "random_forest"),
    "regression": ("ridge", "hist_gradient_boosting", "lightgbm", "random_forest"),
}  # fmt: skip


# ---------------------------------------------------------------------------- lookup


def catalog(task: str) -> list[ModelSpec]:
    """Every model spec that handles ``task``, in catalog order.

    Examples
    --------
    >>> [s.name for s in catalog("regression")][:3]
    ['ridge', 'lasso', 'svm']
    """
    check_task(task)
    return [spec for spec in MODELS.values() if task in spec.tasks and is_available(spec.name)]


# Models whose fit takes no per-row weights (the torch nets' fit(X, y); making one to ask
# would import torch).
_UNWEIGHTED = frozenset({"mlp_torch"})


def accepts_sample_weight(name: str, task: str) -> bool:
    """Whether catalog model ``name`` can be fitted with ``sample_weight`` for ``task``.

    >>> accepts_sample_weight("random_forest", "binary"), accepts_sample_weight("knn", "binary")
    (True, False)
    """
    if name in _UNWEIGHTED:
        return False
    from sklearn.utils.validation import has_fit_parameter

    return has_fit_parameter(get_spec(name, task).make(task), "sample_weight")


def is_available(name: str) -> bool:
    """Whether the libraries model ``name`` needs are installed (PyTorch for 'mlp_torch').

    Examples
    --------
    >>> is_available("lightgbm")
    True
    """
    if name == "mlp_torch":
        from modelloop.models._torch import torch_available

        return torch_available()
    if name == "efficientnet_finetune":
        from modelloop.features import image_model_available

        return image_model_available()
    return True


# The library each model needs beyond scikit-learn, and how to get it.
_NEEDS: dict[str, tuple[str, str]] = {
    "lightgbm": ("lightgbm", "pip install lightgbm"),
    "xgboost": ("xgboost", "pip install xgboost"),
    "catboost": ("catboost", "pip install catboost"),
    "mlp_torch": ("torch", "pip install 'modelloop[deep]'"),
    "efficientnet_finetune": ("torch", "pip install 'modelloop[images]'"),
}


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the catalog as ``modelloop catalog`` lists it."""

    name: str
    tasks: tuple[str, ...]
    family: str
    installed: bool
    install: str  # how to install what it needs ('' when installed)
    description: str


def catalog_entries() -> list[CatalogEntry]:
    """Every model modelloop knows, supervised then unsupervised, with its tasks and whether
    what it needs is installed.

    Examples
    --------
    >>> entries = {e.name: e for e in catalog_entries()}
    >>> entries["catboost"].tasks
    ('binary', 'multiclass', 'regression')
    >>> entries["kmeans"].tasks, entries["kmeans"].installed
    (('clustering',), True)
    """
    import importlib.util

    rows = []
    for spec in [*MODELS.values(), *UNSUPERVISED_MODELS.values()]:
        module, how = _NEEDS.get(spec.name, ("", ""))
        if spec.name in ("mlp_torch", "efficientnet_finetune"):
            installed = is_available(spec.name)
        else:
            installed = not module or importlib.util.find_spec(module) is not None
        order = [*TASKS, *UNSUPERVISED_TASKS]
        tasks = tuple(t for t in order if t in spec.tasks)
        rows.append(
            CatalogEntry(
                spec.name,
                tasks,
                spec.family,
                installed,
                "" if installed else how,
                spec.description,
            )
        )
    return rows


def default_candidates(task: str) -> list[str]:
    """The names ``modelloop train`` fits by default for ``task``, cheapest first.

    Examples
    --------
    >>> default_candidates("binary")
    ['logistic_regression', 'hist_gradient_boosting', 'lightgbm', 'random_forest']
    """
    check_task(task)
    return list(_DEFAULT_CANDIDATES["regression" if task == "regression" else "classification"])


def get_spec(name: str, task: str) -> ModelSpec:
    """The spec called ``name``, checked to support ``task``.

    Raises
    ------
    ConfigurationError
        Unknown name (with the closest names), or a model that does not handle ``task``.

    Examples
    --------
    >>> get_spec("lightgbm", "binary").family
    'tree'
    """
    check_task(task)
    spec = MODELS.get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), list(MODELS), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        names = ", ".join(s.name for s in catalog(task))
        raise ConfigurationError(f"Unknown model {name!r}.{hint} Models for {task}: {names}.")
    if not is_available(name):
        from modelloop.models._torch import require_torch

        require_torch()  # raises, saying how to install PyTorch
    if task not in spec.tasks:
        others = ", ".join(s.name for s in catalog(task))
        raise ConfigurationError(
            f"Model {name!r} does not support task {task!r}. Models for {task}: {others}."
        )
    return spec


# ---------------------------------------------------------------------------- unsupervised
# Models learned without a target ('clustering', 'reduce', 'anomaly'). Kept apart from
# MODELS: the supervised search, portfolio and listings iterate MODELS and never see them.


def _unsupervised_specs() -> dict[str, ModelSpec]:
    from modelloop.models import _unsupervised as u

    clustering, reduce, anomaly = (frozenset({t}) for t in u.UNSUPERVISED_TASKS)
    return {
        spec.name: spec
        for spec in (
            ModelSpec("kmeans", "linear", clustering, "k-means, k chosen by silhouette",
                      u.kmeans),
            ModelSpec("agglomerative", "linear", clustering,
                      "hierarchical (Ward) clustering; new rows -> nearest centroid",
                      u.agglomerative),
            ModelSpec("hdbscan", "linear", clustering,
                      "HDBSCAN density clustering; new rows -> nearest core sample or noise",
                      u.hdbscan),
            ModelSpec("dbscan", "linear", clustering,
                      "DBSCAN, eps at the k-distance elbow; new rows -> core sample within eps",
                      u.dbscan),
            ModelSpec("gaussian_mixture", "linear", clustering,
                      "Gaussian mixture (full covariance), k chosen by silhouette, BIC shown",
                      u.gaussian_mixture),
            ModelSpec("pca", "linear", reduce,
                      "principal components, enough for 95% of the variance", u.pca),
            ModelSpec("isolation_forest", "linear", anomaly,
                      "isolation forest, 200 trees; score and a threshold", u.isolation_forest),
        )
    }  # fmt: skip


UNSUPERVISED_MODELS: dict[str, ModelSpec] = _unsupervised_specs()


def unsupervised_catalog(task: str) -> list[ModelSpec]:
    """The model specs for an unsupervised task, in catalog order.

    Examples
    --------
    >>> [s.name for s in unsupervised_catalog("clustering")]
    ['kmeans', 'agglomerative', 'hdbscan', 'dbscan', 'gaussian_mixture']
    """
    from modelloop.models._unsupervised import UNSUPERVISED_TASKS

    if task not in UNSUPERVISED_TASKS:
        raise ConfigurationError(
            f"Task must be one of {', '.join(UNSUPERVISED_TASKS)}. Got {task!r}."
        )
    return [spec for spec in UNSUPERVISED_MODELS.values() if task in spec.tasks]


def get_unsupervised_spec(name: str, task: str) -> ModelSpec:
    """The unsupervised spec called ``name``, checked to support ``task``.

    Examples
    --------
    >>> get_unsupervised_spec("kmeans", "clustering").family
    'linear'
    """
    specs = unsupervised_catalog(task)
    for spec in specs:
        if spec.name == name:
            return spec
    names = ", ".join(s.name for s in specs)
    close = difflib.get_close_matches(str(name), [s.name for s in specs], n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigurationError(
        f"Unknown model {name!r} for {task}.{hint} Models for {task}: {names}."
    )
