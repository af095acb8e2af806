"""The one trust check: what a model file may hold before modelloop loads it.

Loading a model file builds objects, and building an object can run code: a pickle runs
whatever it names, and even a skops file names the classes and functions to import and
call (``builtins.eval`` in a ``FunctionTransformer``, ``numpy.load`` with pickles allowed
in a ``functools.partial``, an ``operator.attrgetter`` chain, a class whose constructor
starts a process). Every path that loads a model file -- the store (``predict``,
``serve``, ``retrain``, ``monitor``, ``report``, shadow mode) and ``serve --model`` --
goes through this module:

- a skops file is loaded only when every class, function and method it names is on
  :data:`TRUSTED_TYPES`: the exact classes modelloop's own pipelines are made of (its
  preprocessing, every model of its catalog, their wrappers and what they hold), and no
  function at all. Whole modules are never trusted: ``numpy.ndarray`` is, ``numpy.load``
  is not. The names are read from the file's ``schema.json`` and from skops' own audit,
  before anything is imported;
- a pickle (``.pkl``, ``.joblib``) runs code by design and is loaded only with ``trust``;
- a file whose content is not what its name says (a pickle renamed ``.skops``) is refused.

``trust=True`` -- ``--trust`` on the command line, and nothing else: no environment
variable or config file sets it -- skips the check for a file its user made.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

from modelloop.exceptions import InvalidInputError, UntrustedModelError

__all__ = [
    "TRUSTED_TYPES",
    "file_kind",
    "is_pickle_name",
    "load_pickle",
    "load_skops",
    "model_file_types",
    "skops_io",
    "skops_schema",
    "untrusted_types",
]

# The exact classes modelloop's pipelines hold, by the module that defines them. Found by
# saving every model of the catalog (binary, multiclass, regression; refit, bagged,
# ensembles, decision thresholds, temperature scaling, log targets, text embeddings) and
# every unsupervised model; tests/store/test_trust.py checks that they all load. A class
# joins this list only when loading it runs no code beyond setting its state.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # -- Python: containers and values
        "builtins.bool",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.dict",
        "builtins.float",
        "builtins.int",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "collections.OrderedDict",
        "collections.defaultdict",
        # -- numpy: arrays, dtypes, scalars, random state
        "numpy.bool",
        "numpy.bool_",
        "numpy.dtype",
        "numpy.float16",
        "numpy.float32",
        "numpy.float64",
        "numpy.int8",
        "numpy.int16",
        "numpy.int32",
        "numpy.int64",
        "numpy.intc",
        "numpy.ndarray",
        "numpy.object_",
        "numpy.str_",
        "numpy.uint8",
        "numpy.uint16",
        "numpy.uint32",
        "numpy.uint64",
        "numpy.random._generator.Generator",
        "numpy.random.mtrand.RandomState",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        # -- scikit-learn
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.cluster._kmeans.KMeans",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.decomposition._pca.PCA",
        "sklearn.decomposition._truncated_svd.TruncatedSVD",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._forest.ExtraTreesRegressor",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._iforest.IsolationForest",
        "sklearn.ensemble._voting.VotingClassifier",
        "sklearn.ensemble._voting.VotingRegressor",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.frozen._frozen.FrozenEstimator",
        "sklearn.impute._base.MissingIndicator",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.linear_model._coordinate_descent.LassoCV",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.mixture._gaussian_mixture.GaussianMixture",
        "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
        "sklearn.model_selection._split.KFold",
        "sklearn.model_selection._split.StratifiedKFold",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._regression.KNeighborsRegressor",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.preprocessing._target_encoder.TargetEncoder",
        "sklearn.svm._classes.SVC",
        "sklearn.svm._classes.SVR",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.tree._classes.ExtraTreeRegressor",
        "sklearn.tree._tree.Tree",
        "sklearn.utils._bunch.Bunch",
        # -- LightGBM, XGBoost, CatBoost
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "catboost.core.CatBoostClassifier",
        "catboost.core.CatBoostRegressor",
        # -- modelloop's own estimators and transformers
        "modelloop.features._categorical.MissingCategory",
        "modelloop.features._datetime.DatetimeFeatures",
        "modelloop.features._enforcer.SchemaEnforcer",
        "modelloop.features._image.ImageFeatures",
        "modelloop.features._image_tune.TunedImageFeatures",
        "modelloop.features._text.TextFeatures",
        "modelloop.models._bagging.FoldBag",
        "modelloop.models._calibration.TemperatureScaled",
        "modelloop.models._catalog.HistGBClassifier",
        "modelloop.models._catboost.CatBoostVectorClassifier",
        "modelloop.models._catalog.HistGBRegressor",
        "modelloop.models._policy.RewardPolicy",
        "modelloop.models._policy.RulePolicy",
        "modelloop.models._target.LogTargetRegressor",
        "modelloop.models._threshold.DecisionThreshold",  # in files saved before 2026-12
        "modelloop.models._torch.TabularNetClassifier",
        "modelloop.models._torch.TabularNetRegressor",
        "modelloop.models._unsupervised.CentroidAgglomerative",
        "modelloop.models._unsupervised.DensityClusterer",
    }
)

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".jbl")


def file_kind(head: bytes) -> str:
    """What the first bytes of a file say it is: ``'zip'``, ``'pickle'`` or ``'other'``.

    Examples
    --------
    >>> import pickle
    >>> file_kind(pickle.dumps([1])), file_kind(b"PK\\x03\\x04..."), file_kind(b"\\x08\\x07")
    ('pickle', 'zip', 'other')
    """
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    # protocol 2+ pickles start with PROTO (0x80) and the protocol number; joblib files
    # may be compressed (zlib 'x', gzip, bz2, xz, lz4) pickles
    if (len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5) or head[:1] in (b"(", b"]", b"}"):
        return "pickle"
    if head.startswith((b"\x78\x01", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")):
        return "pickle"  # a compressed joblib pickle
    return "other"


_SKOPS_LOCK = threading.Lock()


def skops_io() -> Any:
    """``skops.io``, imported without building skops' own list of default-trusted types.

    On import, skops lists every scikit-learn estimator as trusted by default, which
    imports every module of scikit-learn: seconds of CPU for each process that loads or
    saves a model. modelloop never relies on that list: :func:`load_skops` refuses any
    name outside :data:`TRUSTED_TYPES` before skops sees the file, and passes skops the
    exact names to trust. With the default list empty, skops itself trusts only those
    names and its own primitives, which is stricter, never looser.
    """
    with _SKOPS_LOCK:
        if "skops.io._trusted_types" not in sys.modules:
            import sklearn.utils

            everything = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = _no_estimators  # read once, by skops' import
            try:
                import skops.io  # noqa: F401  (imported for its side effect: the module)
            finally:
                sklearn.utils.all_estimators = everything
    # an import statement waits for another thread's import of the same module to end
    import skops.io as sio

    return sio


def _no_estimators(*args: Any, **kwargs: Any) -> list[tuple[str, type]]:
    return []


def _not_skops(what: str, data: bytes, reason: str) -> InvalidInputError:
    kind = file_kind(data[:16])
    if kind == "pickle":
        reason = (
            "it is a pickle, and loading a pickle runs the code inside it. If you made it "
            "yourself, name it .pkl or .joblib and pass --trust"
        )
    return InvalidInputError(f"{what} is not a skops model file: {reason}.")


def skops_schema(data: bytes, *, what: str) -> dict[str, Any]:
    """The ``schema.json`` of a skops file; ``InvalidInputError`` when it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            schema = json.loads(zf.read("schema.json"))
    except zipfile.BadZipFile:
        raise _not_skops(what, data, "it is not a zip archive") from None
    except KeyError:
        raise _not_skops(what, data, "the archive has no schema.json") from None
    except (ValueError, RuntimeError, OSError) as exc:
        raise _not_skops(what, data, f"its schema.json cannot be read ({exc})") from None
    if not isinstance(schema, dict):
        raise _not_skops(what, data, "its schema.json is not an object")
    return schema


def _names(node: Any, out: set[str], depth: int = 0) -> None:
    """Every ``module.name`` a skops state tree would import, and every method it binds."""
    if depth > 2000:
        raise ValueError("the object tree is nested too deeply")
    if isinstance(node, dict):
        if "__loader__" in node:
            module, name = node.get("__module__"), node.get("__class__")
            if not isinstance(module, str) or not isinstance(name, str):
                raise ValueError("a node names no module or class")
            out.add(f"{module}.{name}")
            content = node.get("content")
            if node["__loader__"] == "MethodNode" and isinstance(content, dict):
                out.add(f"{module}.{name}.{content.get('func')}")
            if isinstance(content, dict) and "module_path" in content:  # old FunctionNode
                out.add(f"{content.get('module_path')}.{content.get('function')}")
        for value in node.values():
            _names(value, out, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _names(value, out, depth + 1)


def model_file_types(data: bytes, *, what: str = "The model file") -> set[str]:
    """Every class, function and method a skops file names, before anything is loaded.

    The union of what the file's ``schema.json`` names (each object's module and class)
    and what skops' own audit reports (which also reads names stored inside an object's
    state, such as a random generator's bit generator).

    Examples
    --------
    >>> import skops.io as sio
    >>> sorted(model_file_types(sio.dumps({"a": [1, 2]})))
    ['builtins.dict', 'builtins.list', 'builtins.str']
    """
    sio = skops_io()
    schema = skops_schema(data, what=what)
    names: set[str] = set()
    try:
        _names(schema, names)
        names.update(sio.get_untrusted_types(data=data))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise InvalidInputError(
            f"{what} is not a valid skops model file ({type(exc).__name__}: {exc})."
        ) from None
    return names


def untrusted_types(*, data: bytes | None = None, file: Path | None = None) -> list[str]:
    """The names in a skops file that are not on :data:`TRUSTED_TYPES` (empty if none).

    Examples
    --------
    >>> import skops.io as sio
    >>> untrusted_types(data=sio.dumps({"a": [1, 2]}))
    []
    >>> untrusted_types(data=sio.dumps({"f": eval}))
    ['builtins.eval']
    """
    if data is None:
        if file is None:
            raise ValueError("untrusted_types needs data= or file=.")
        data = Path(file).read_bytes()
    return sorted(model_file_types(data) - TRUSTED_TYPES)


def _untrusted(what: str, refused: list[str]) -> UntrustedModelError:
    shown = ", ".join(refused[:8]) + (f" and {len(refused) - 8} more" if len(refused) > 8 else "")
    return UntrustedModelError(
        f"{what} holds code or types modelloop does not trust: {shown}. It was not loaded: "
        "a model file may hold only the classes modelloop's own pipelines are made of. "
        "Pass --trust only if you made this file yourself."
    )


def load_skops(data: bytes, *, what: str, trust: bool = False) -> Any:
    """The object in a skops file, after the trust check (skipped with ``trust``).

    Raises
    ------
    UntrustedModelError
        The file names a class, function or method outside :data:`TRUSTED_TYPES`.
    InvalidInputError
        The bytes are not a skops file (for instance a renamed pickle).

    Examples
    --------
    >>> import skops.io as sio
    >>> load_skops(sio.dumps({"a": [1, 2]}), what="demo.skops")
    {'a': [1, 2]}
    """
    sio = skops_io()
    names = model_file_types(data, what=what)
    refused = sorted(names - TRUSTED_TYPES)
    if refused and not trust:
        raise _untrusted(what, refused)
    # skops checks the tree once more against these names and its own defaults
    trusted = sorted(names) if trust else sorted(names & TRUSTED_TYPES)
    try:
        return sio.loads(data, trusted=trusted)
    except sio.exceptions.UntrustedTypesFoundException as exc:
        raise _untrusted(what, sorted(map(str, exc.args[0] if exc.args else ()))) from None
    except Exception as exc:
        raise InvalidInputError(
            f"{what} could not be loaded: {type(exc).__name__}: {exc}. It may need other "
            "versions of the libraries it was saved with."
        ) from exc


def load_pickle(path: Path, *, what: str, trust: bool = False) -> Any:
    """A pickle or joblib file: unpickling runs code, so only with ``trust``."""
    if not trust:
        raise UntrustedModelError(
            f"{what} is a pickle/joblib file, and loading one runs any code it holds; it "
            "was not loaded. Pass --trust if you made it yourself, or save the model with "
            "skops."
        )
    try:
        head = path.read_bytes()[:16]
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {what}: {exc}.") from None
    if file_kind(head) == "zip":
        raise InvalidInputError(
            f"{what} is a zip archive, not a pickle: a skops file must be named .skops."
        )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:
        raise InvalidInputError(
            f"{what} could not be unpickled: {type(exc).__name__}: {exc}."
        ) from exc


def is_pickle_name(path: Path) -> bool:
    """Whether a file's name says it is a pickle or joblib file."""
    return path.suffix.lower() in _PICKLE_SUFFIXES
