"""A PyTorch network for tabular data, as scikit-learn classifier and regressor.

:class:`TabularNetClassifier` and :class:`TabularNetRegressor` are multilayer perceptrons
over the preprocessed feature matrix, with a learned embedding for each categorical column
(given as integer codes, ``-1`` for an unseen level), batch normalisation and dropout,
trained with AdamW under a one-cycle learning-rate schedule and stopped early on a
validation split. PyTorch is optional (``pip install 'modelloop[deep]'``): this module
imports without it, and fitting without it raises a :class:`ConfigurationError` that says
how to install it.

The fitted estimator keeps its weights as numpy arrays (``state_dict`` tensors converted)
plus a small config; the torch module is rebuilt from them on first use after loading. So a
fitted network is saved by skops like any scikit-learn estimator (no torch object and no
pickle inside the model file) and loads even where PyTorch is absent, until it predicts.
"""

from __future__ import annotations

import math
import time
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from modelloop.exceptions import ConfigurationError, InvalidInputError

__all__ = [
    "TORCH_REQUIREMENT",
    "TabularNetClassifier",
    "TabularNetRegressor",
    "require_torch",
    "torch_available",
]

TORCH_REQUIREMENT = "torch==2.13.0"
"""The PyTorch build modelloop is tested with (the ``deep`` extra pins it)."""

_INSTALL_HINT = (
    "Install it with: pip install 'modelloop[deep]' (or pip install "
    f"{TORCH_REQUIREMENT}, which takes the CPU build)."
)
_MIN_VALIDATION_ROWS = 5


def torch_available() -> bool:
    """Whether PyTorch can be imported (without importing it).

    Examples
    --------
    >>> isinstance(torch_available(), bool)
    True
    """
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def require_torch() -> Any:
    """The ``torch`` module; a :class:`ConfigurationError` saying how to install it if absent.

    Examples
    --------
    >>> require_torch().__name__  # doctest: +SKIP
    'torch'
    """
    try:
        import torch
    except ImportError as exc:
        raise ConfigurationError(
            f"The tabular network (model 'mlp_torch') needs PyTorch, which is not installed "
            f"({exc}). {_INSTALL_HINT}"
        ) from None
    return torch


def _embedding_dim(cardinality: int) -> int:
    # fastai's rule of thumb: grows slowly with the number of levels.
    return int(min(32, max(2, round(1.6 * cardinality**0.56))))


def _build_module(config: dict[str, Any]) -> Any:
    """The torch module described by ``config`` (weights freshly initialised)."""
    torch = require_torch()
    nn = torch.nn
    module: Any = nn.Module  # torch is imported at run time (optional): no static base class

    class _Net(module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = nn.ModuleList(
                nn.Embedding(card, _embedding_dim(card)) for card in config["cardinalities"]
            )
            width = config["n_continuous"] + sum(e.embedding_dim for e in self.embeddings)
            layers: list[Any] = []
            for size in config["hidden"]:
                layers += [
                    nn.Linear(width, size),
                    nn.BatchNorm1d(size),
                    nn.ReLU(),
                    nn.Dropout(config["dropout"]),
                ]
                width = size
            layers.append(nn.Linear(width, config["n_outputs"]))
            self.mlp = nn.Sequential(*layers)

        def forward(self, cont: Any, cats: Any) -> Any:
            parts = [cont] + [emb(cats[:, i]) for i, emb in enumerate(self.embeddings)]
            return self.mlp(torch.cat(parts, dim=1))

    return _Net()


class _TabularNet(BaseEstimator):
    """Shared fitting code of the classifier and the regressor."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_layer_sizes": [tuple, list],
        "categorical_features": [None, "array-like"],
        "dropout": [Interval(Real, 0.0, 1.0, closed="left")],
        "learning_rate": [Interval(Real, 0.0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0.0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0.0, 1.0, closed="neither")],
        "validation_split": [StrOptions({"random", "last"})],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "n_jobs": [None, Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (256, 128),
        *,
        categorical_features: Any = None,
        dropout: float = 0.1,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        max_epochs: int = 100,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        validation_split: str = "random",
        patience: int = 10,
        device: str = "auto",
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.categorical_features = categorical_features
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.patience = patience
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ``features.make_pipeline(..., family="deep")`` sets ``categorical_features`` to the
    # leading ordinal-code columns of estimators that say they embed them.
    embeds_leading_codes = True

    # -- hooks of the two subclasses ------------------------------------------------

    _is_classifier = False

    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    # -- fitting --------------------------------------------------------------------

    def _check_params(self) -> None:
        self._validate_params()
        sizes = list(self.hidden_layer_sizes)
        if not sizes or not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise ValueError(
                f"The 'hidden_layer_sizes' parameter of {type(self).__name__} must be a "
                f"non-empty sequence of positive ints. Got {self.hidden_layer_sizes!r} instead."
            )

    def _split_columns(self, X: np.ndarray, *, fitting: bool) -> tuple[np.ndarray, np.ndarray]:
        """Continuous columns (standardised) and categorical codes (shifted so -1 -> 0)."""
        if fitting:
            n = X.shape[1]
            cats = [] if self.categorical_features is None else list(self.categorical_features)
            for c in cats:
                if not isinstance(c, Integral) or not 0 <= int(c) < n:
                    raise ValueError(
                        f"The 'categorical_features' parameter of {type(self).__name__} must "
                        f"hold column indices in [0, {n}). Got {c!r}."
                    )
            self.categorical_indices_ = np.asarray(sorted(set(cats)), dtype=np.int64)
            self.continuous_indices_ = np.setdiff1d(np.arange(n), self.categorical_indices_)
        cont = X[:, self.continuous_indices_].astype(np.float32)
        codes = X[:, self.categorical_indices_]
        if codes.size and not np.all(np.isfinite(codes)):
            raise InvalidInputError("Categorical columns of the network must be integer codes.")
        codes = np.rint(codes).astype(np.int64) + 1  # -1 (unseen) -> 0
        if fitting:
            self.mean_ = cont.mean(axis=0) if len(cont) else np.zeros(cont.shape[1], np.float32)
            std = cont.std(axis=0)
            self.scale_ = np.where(std > 1e-12, std, 1.0).astype(np.float32)
            self.cardinalities_ = (
                (codes.max(axis=0) + 2).astype(np.int64)  # + one spare index for unseen codes
                if codes.size
                else np.zeros(0, dtype=np.int64)
            )
        else:
            # A level never seen in fit maps to the 'unseen' index 0.
            codes = np.where((codes < 0) | (codes >= self.cardinalities_), 0, codes)
        np.clip(codes, 0, None, out=codes)
        scaled = (cont - self.mean_) / self.scale_
        return scaled.astype(np.float32), codes

    def _device(self, torch: Any) -> Any:
        if self.device == "cuda" or (self.device == "auto" and torch.cuda.is_available()):
            return torch.device("cuda")
        return torch.device("cpu")

    def fit(self, X: Any, y: Any) -> Any:
        """Train the network; returns ``self``."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=not self._is_classifier)
        if self._is_classifier:
            check_classification_targets(y)
        if len(y) < 2:
            raise InvalidInputError(
                f"The tabular network needs at least 2 rows to train (batch normalisation "
                f"needs 2). Got {len(y)} sample."
            )
        target, n_outputs = self._encode_target(y)
        torch = require_torch()
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        cont, codes = self._split_columns(X, fitting=True)
        train_idx, val_idx = self._validation_split(target, seed)
        self.config_ = {
            "n_continuous": int(cont.shape[1]),
            "cardinalities": [int(c) for c in self.cardinalities_],
            "hidden": [int(s) for s in self.hidden_layer_sizes],
            "dropout": float(self.dropout),
            "n_outputs": int(n_outputs),
        }
        threads = torch.get_num_threads()
        try:
            if self.n_jobs is not None:
                torch.set_num_threads(int(self.n_jobs))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self._train(torch, cont, codes, target, train_idx, val_idx, seed)
        finally:
            torch.set_num_threads(threads)
        return self

    def _validation_split(self, target: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(target)
        idx = np.arange(n)
        if not self.early_stopping:
            return idx, idx[:0]
        n_val = math.ceil(self.validation_fraction * n)
        n_classes = len(np.unique(target)) if self._is_classifier else 1
        need = max(_MIN_VALIDATION_ROWS, n_classes)
        if n_val < need or n - n_val < need:
            rows = math.ceil(need / min(self.validation_fraction, 1 - self.validation_fraction))
            raise InvalidInputError(
                f"The tabular network holds out {self.validation_fraction:.0%} of the rows to "
                f"stop early; {n} rows are too few (it needs at least {rows} rows, so that "
                f"both parts have {need}). Give it more rows, or set early_stopping=False."
            )
        if self.validation_split == "last":
            return idx[: n - n_val], idx[n - n_val :]
        stratify = target if self._is_classifier else None
        try:
            tr, va = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
        except ValueError:  # a class too rare to stratify
            tr, va = train_test_split(idx, test_size=n_val, random_state=seed)
        return np.sort(tr), np.sort(va)

    def _loss(self, torch: Any, target: np.ndarray, device: Any) -> Any:
        if not self._is_classifier:
            return torch.nn.MSELoss()
        weights = self._class_weights(target)
        w = (
            None
            if weights is None
            else torch.as_tensor(weights, dtype=torch.float32, device=device)
        )
        return torch.nn.CrossEntropyLoss(weight=w)

    def _class_weights(self, target: np.ndarray) -> np.ndarray | None:
        return None

    def _train(self, torch, cont, codes, target, train_idx, val_idx, seed) -> None:
        device = self._device(torch)
        module = _build_module(self.config_).to(device)
        t_cont = torch.as_tensor(cont, device=device)
        t_codes = torch.as_tensor(codes, device=device)
        t_y = torch.as_tensor(
            target, dtype=torch.long if self._is_classifier else torch.float32, device=device
        )
        loss_fn = self._loss(torch, target[train_idx], device)
        n_train = len(train_idx)
        batch = min(self.batch_size, n_train)
        steps = max(1, n_train // batch)  # the last partial batch joins the others
        optimizer = torch.optim.AdamW(
            module.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.learning_rate, total_steps=steps * self.max_epochs
        )
        generator = torch.Generator().manual_seed(seed)
        best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
        self.train_loss_curve_: list[float] = []
        self.validation_loss_curve_: list[float] = []
        progress = _progress(self.verbose, self.max_epochs, type(self).__name__)
        started = time.perf_counter()
        epoch = 0
        try:
            for epoch in range(1, self.max_epochs + 1):
                module.train()
                order = torch.as_tensor(train_idx)[torch.randperm(n_train, generator=generator)]
                total = 0.0
                for part in torch.tensor_split(order, steps):
                    part = part.to(device)
                    optimizer.zero_grad(set_to_none=True)
                    out = module(t_cont[part], t_codes[part])
                    loss = loss_fn(out if self._is_classifier else out[:, 0], t_y[part])
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    total += float(loss.detach()) * len(part)
                self.train_loss_curve_.append(total / n_train)
                if len(val_idx):
                    val_loss = self._evaluate(torch, module, loss_fn, t_cont, t_codes, t_y, val_idx)
                    self.validation_loss_curve_.append(val_loss)
                    if val_loss < best_loss - 1e-6:
                        best_loss, best_epoch, stale = val_loss, epoch, 0
                        best_state = {
                            k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()
                        }
                    else:
                        stale += 1
                if progress is not None:
                    progress.update(
                        progress.task_ids[0],
                        advance=1,
                        description=f"epoch {epoch} loss {self.train_loss_curve_[-1]:.4f}"
                        + (f" val {self.validation_loss_curve_[-1]:.4f}" if len(val_idx) else ""),
                    )
                if len(val_idx) and stale >= self.patience:
                    break
        finally:
            if progress is not None:
                progress.stop()
        if best_state is not None:
            module.load_state_dict(best_state)
        self.n_epochs_ = epoch
        self.best_epoch_ = best_epoch if best_state is not None else epoch
        self.best_validation_loss_ = None if best_state is None else float(best_loss)
        self.fit_time_ = time.perf_counter() - started
        self.weights_ = {
            k: v.detach().to("cpu").numpy().copy() for k, v in module.state_dict().items()
        }
        self._module = module.to("cpu").eval()

    def _evaluate(self, torch, module, loss_fn, t_cont, t_codes, t_y, idx) -> float:
        module.eval()
        with torch.no_grad():
            part = torch.as_tensor(idx, device=t_cont.device)
            out = module(t_cont[part], t_codes[part])
            loss = loss_fn(out if self._is_classifier else out[:, 0], t_y[part])
        return float(loss)

    # -- predicting -----------------------------------------------------------------

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        cont, codes = self._split_columns(X, fitting=False)
        torch = require_torch()
        module = self._torch_module(torch)
        threads = torch.get_num_threads()
        try:
            if self.n_jobs is not None:
                torch.set_num_threads(int(self.n_jobs))
            with torch.no_grad():
                out = module(torch.as_tensor(cont), torch.as_tensor(codes))
        finally:
            torch.set_num_threads(threads)
        return out.numpy().astype(np.float64)

    def _torch_module(self, torch: Any) -> Any:
        module = getattr(self, "_module", None)
        if module is None:
            module = _build_module(self.config_)
            module.load_state_dict({k: torch.as_tensor(v) for k, v in self.weights_.items()})
            module.eval()
            self._module = module
        return module

    # -- persistence ----------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        # The torch module is rebuilt from config_ + weights_ (numpy): no torch object is
        # pickled, so skops can save the estimator and load it with trusted types only.
        state = super().__getstate__()
        state = dict(state)
        state.pop("_module", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(dict(state))
        self._module = None

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class TabularNetClassifier(ClassifierMixin, _TabularNet):
    """A tabular network classifier (PyTorch MLP with categorical embeddings).

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(256, 128)
        Width of each hidden layer (Linear -> BatchNorm -> ReLU -> Dropout).
    categorical_features : array-like of int or None, default=None
        Indices of the columns that hold integer category codes (``-1``: unseen level);
        each gets an embedding. The ``deep`` preprocessing family puts them first.
    dropout : float, default=0.1
    learning_rate : float, default=3e-3
        The peak of the one-cycle schedule.
    weight_decay : float, default=1e-4
        AdamW's decoupled weight decay.
    batch_size : int, default=256
    max_epochs : int, default=100
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows (stratified) and keep the weights of
        the epoch with the lowest validation loss; stop after ``patience`` epochs without
        improvement.
    validation_fraction : float, default=0.1
    validation_split : {"random", "last"}, default="random"
        Which rows are held out: a seeded (stratified) sample, or the last
        ``validation_fraction`` of the rows as given. With rows in time order, "last" stops
        early on the latest rows, as modelloop's search does under ``--time``.
    patience : int, default=10
    class_weight : {"balanced"} or dict or None, default=None
        Weights of the classes in the loss (``"balanced"``: inverse class frequency).
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``"auto"`` trains on the GPU when PyTorch sees one.
    n_jobs : int or None, default=None
        PyTorch's CPU threads while fitting and predicting (None: leave PyTorch's setting).
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation split.
    verbose : int, default=0
        A progress bar over the epochs when > 0.

    Attributes
    ----------
    classes_ : ndarray
    n_epochs_ : int
        Epochs run; ``best_epoch_`` is the one whose weights were kept.
    train_loss_curve_, validation_loss_curve_ : list of float
    weights_ : dict of str to ndarray
        The network's ``state_dict`` as numpy arrays.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=200), rng.integers(0, 3, 200)])
    >>> y = (X[:, 0] + (X[:, 1] == 2) > 0.5).astype(int)
    >>> net = TabularNetClassifier((32,), categorical_features=[1], max_epochs=5,
    ...                            random_state=0).fit(X, y)  # doctest: +SKIP
    >>> net.predict_proba(X[:2]).shape  # doctest: +SKIP
    (2, 2)
    """

    _is_classifier = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_TabularNet._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (256, 128),
        *,
        categorical_features: Any = None,
        dropout: float = 0.1,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        max_epochs: int = 100,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        validation_split: str = "random",
        patience: int = 10,
        class_weight: Any = None,
        device: str = "auto",
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            categorical_features=categorical_features,
            dropout=dropout,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            validation_split=validation_split,
            patience=patience,
            device=device,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        self.classes_, codes = np.unique(y, return_inverse=True)
        return codes.astype(np.int64), max(2, len(self.classes_))

    def _class_weights(self, target: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        k = max(2, len(self.classes_))
        present = np.unique(target)
        weights = np.ones(k)
        if self.class_weight == "balanced":
            weights[present] = compute_class_weight("balanced", classes=present, y=target)
            return weights
        for label, w in self.class_weight.items():
            hits = np.flatnonzero(self.classes_ == label)
            if not len(hits):
                raise ValueError(
                    f"The 'class_weight' of {type(self).__name__} names class {label!r}, "
                    f"which is not in y. Classes: {list(self.classes_)}."
                )
            weights[hits[0]] = float(w)
        return weights

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "weights_")
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba[:, : len(self.classes_)] / proba[:, : len(self.classes_)].sum(
            axis=1, keepdims=True
        )

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "weights_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class TabularNetRegressor(RegressorMixin, _TabularNet):
    """A tabular network regressor (PyTorch MLP with categorical embeddings, MSE loss).

    The target is standardised for training and mapped back for prediction. Parameters
    are those of :class:`TabularNetClassifier` without ``class_weight``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> net = TabularNetRegressor((16,), max_epochs=3, random_state=0)
    >>> net.fit(X, X.sum(axis=1)).predict(X[:2]).shape  # doctest: +SKIP
    (2,)
    """

    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"TabularNetRegressor takes a 1-D target. Got shape {y.shape}.")
        self.y_mean_ = float(y.mean())
        std = float(y.std())
        self.y_scale_ = std if std > 1e-12 else 1.0
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32), 1

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X)[:, 0] * self.y_scale_ + self.y_mean_


def _progress(verbose: int, epochs: int, name: str) -> Any:
    if not verbose:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn(f"{name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        transient=False,
    )
    progress.add_task("", total=epochs)
    progress.start()
    return progress
