"""Image features from EfficientNet-Lite0 with its last layer fine-tuned on the target.

:class:`TunedImageFeatures` is the catalog model ``efficientnet_finetune``'s preprocessing
of an image column. In ``fit`` it retrains the network's last convolution (the 1x1 head
convolution, 320 -> 1,280 channels, 410k weights, under the pooling) together with a
temporary linear head on the target, with augmentation: each training image is seen as
``n_views`` views (the centre square, its mirror image, and random crops of 50-100 % of the
shorter side, mirrored at random; seeded by the image's content). Everything under that
layer stays frozen, so each view's activations (320 x 7 x 7) are computed once per process
and remembered, and an epoch costs only the last layer. The output is the tuned layer's
1,280 pooled features of the centre square, standardised; the estimator after it (logistic
regression or ridge) learns on them beside the other columns. Cross-validation compares it
with the frozen features of the other candidates, so it is kept only where it pays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from modelloop.data import image_bytes, open_image, square_image
from modelloop.exceptions import InvalidInputError
from modelloop.features._image import IMAGE_SIZE, ImageFeatures, image_digests
from modelloop.features._image_net import N_FEATURES, load_weights, trunk

__all__ = ["TunedImageFeatures"]

_ACTIVATIONS: dict[tuple[str, int], np.ndarray] = {}
_MAX_ACTIVATIONS = 40_000  # about 1.2 GB of float16 activations per process, at most
_BATCH = 32


def _views(img: Any, digest: str, n_views: int) -> list[Any]:
    from PIL import Image, ImageOps

    base = square_image(img, IMAGE_SIZE)
    out = [base, ImageOps.mirror(base)][:n_views]
    rng = np.random.default_rng(int(digest[:12], 16))
    w, h = img.size
    while len(out) < n_views:
        side = int(min(w, h) * rng.uniform(0.5, 1.0))
        left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        view = img.crop((left, top, left + side, top + side)).resize(
            (IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR
        )
        out.append(ImageOps.mirror(view) if rng.random() < 0.5 else view)
    return out


def _activations(values: list[Any], n_views: int, n_threads: int | None) -> np.ndarray:
    """(len(values), n_views, 320, 7, 7) float32: the frozen network under its last layer.

    ``values`` are distinct images (the callers deduplicate by content).
    """
    import torch

    from modelloop.features._image import net_weights

    weights = net_weights()
    keys = [str(d) for d in image_digests(values, True)]
    todo = [(i, d) for i, d in enumerate(keys) if (d, n_views - 1) not in _ACTIVATIONS]
    per_batch = max(1, _BATCH // n_views)
    threads = torch.get_num_threads()
    try:
        if n_threads is not None:
            torch.set_num_threads(int(n_threads))
        for start in range(0, len(todo), per_batch):
            pixels, owners = [], []
            for i, d in todo[start : start + per_batch]:
                img = open_image(image_bytes(values[i]), reduce_to=IMAGE_SIZE).image
                for k, view in enumerate(_views(img, d, n_views)):
                    arr = np.asarray(view, dtype=np.float32) * (1.0 / 127.5) - 1.0
                    pixels.append(arr.transpose(2, 0, 1))
                    owners.append((d, k))
            x = torch.from_numpy(np.stack(pixels)).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                acts = trunk(x, weights).float().numpy().astype(np.float16)
            if len(_ACTIVATIONS) + len(owners) > _MAX_ACTIVATIONS:
                _ACTIVATIONS.clear()
            for key, a in zip(owners, acts, strict=True):
                _ACTIVATIONS[key] = a
    finally:
        torch.set_num_threads(threads)
    return np.stack(
        [np.stack([_ACTIVATIONS[(d, k)] for k in range(n_views)]) for d in keys]
    ).astype(np.float32)


def _distinct(values: list[Any]) -> tuple[list[Any], np.ndarray]:
    """The distinct images among ``values`` (by content) and each value's index into them."""
    digests = image_digests(values, True)
    first: dict[str | None, int] = {}  # None: a missing image
    unique: list[Any] = []
    index = np.empty(len(values), dtype=np.intp)
    for i, d in enumerate(digests):
        if d not in first:
            first[d] = len(unique)
            unique.append(values[i])
        index[i] = first[d]
    return unique, index


class TunedImageFeatures(TransformerMixin, BaseEstimator):
    """EfficientNet-Lite0 features of one image column, its last layer fine-tuned on ``y``.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"} or None
        What ``y`` is (None: classes unless ``y`` is float with more than 20 values).
    n_views : int, default=4
        Views of each training image per epoch (centre, mirror, random crops).
    epochs : int, default=8
    learning_rate : float, default=3e-4
        AdamW's rate for the tuned layer (the temporary head learns 10 times faster).
    n_jobs : int or None
        PyTorch CPU threads.
    random_state : int, default=0

    Attributes
    ----------
    head_weight_, head_bias_ : ndarray
        The tuned 1x1 convolution (1280 x 320) and its bias.
    mean_, scale_ : ndarray
        Standardisation of the output.
    """

    def __init__(
        self,
        task: str | None = None,
        n_views: int = 4,
        epochs: int = 8,
        learning_rate: float = 3e-4,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.n_views = n_views
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> TunedImageFeatures:
        self._fit(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self._fit(X, y)

    def _fit(self, X: Any, y: Any) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        if y is None:
            raise ValueError("TunedImageFeatures fine-tunes on the target: fit needs y.")
        if not isinstance(self.n_views, int) or self.n_views < 1:
            raise ValueError(f"n_views must be a positive int. Got {self.n_views!r} instead.")
        values = ImageFeatures()._values(X, reset=True)
        self.n_features_in_ = 1
        present = [i for i, v in enumerate(values) if isinstance(v, str | bytes)]
        if not present:
            raise InvalidInputError("The image column has no image in any row: nothing to tune.")
        y = np.asarray(y)[present]
        regression = self.task == "regression" or (
            self.task is None and y.dtype.kind == "f" and len(np.unique(y)) > 20
        )
        unique, index = _distinct([values[i] for i in present])
        acts = _activations(unique, self.n_views, self.n_jobs)[index]
        torch.manual_seed(self.random_state)
        threads = torch.get_num_threads()
        try:
            if self.n_jobs is not None:
                torch.set_num_threads(int(self.n_jobs))
            w0, b0 = load_weights()["head"]
            weight = w0.detach().clone().requires_grad_(True)
            bias = b0.detach().clone().requires_grad_(True)
            if regression:
                target = torch.tensor((y - y.mean()) / (y.std() or 1.0), dtype=torch.float32)
                head = torch.nn.Linear(N_FEATURES, 1)
            else:
                classes, codes = np.unique(y.astype(str), return_inverse=True)
                target = torch.tensor(codes, dtype=torch.long)
                head = torch.nn.Linear(N_FEATURES, len(classes))
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.zeros_(head.bias)
            optimizer = torch.optim.AdamW(
                [
                    {"params": [weight, bias], "lr": self.learning_rate},
                    {"params": head.parameters(), "lr": 10 * self.learning_rate},
                ],
                weight_decay=1e-4,
            )
            n, v = acts.shape[:2]
            flat = torch.from_numpy(acts.reshape(n * v, *acts.shape[2:]))
            labels = target.repeat_interleave(v)
            generator = torch.Generator().manual_seed(self.random_state)
            for _ in range(int(self.epochs)):
                order = torch.randperm(n * v, generator=generator)
                for start in range(0, n * v, _BATCH):
                    rows = order[start : start + _BATCH]
                    h = F.conv2d(flat[rows], weight, bias).clamp(0.0, 6.0).mean(dim=(2, 3))
                    out = head(h)
                    loss = (
                        F.mse_loss(out[:, 0], labels[rows])
                        if regression
                        else F.cross_entropy(out, labels[rows])
                    )
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            self.head_weight_ = weight.detach().numpy().copy()
            self.head_bias_ = bias.detach().numpy().copy()
        finally:
            torch.set_num_threads(threads)
        E = np.full((len(values), N_FEATURES), np.nan, dtype=np.float32)
        E[present] = self._pooled(acts[:, 0])
        self.mean_ = E[present].mean(axis=0)
        scale = E[present].std(axis=0)
        self.scale_ = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
        E[np.isnan(E[:, 0])] = self.mean_
        return (E - self.mean_) / self.scale_

    def _pooled(self, acts: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            h = F.conv2d(
                torch.from_numpy(np.ascontiguousarray(acts, dtype=np.float32)),
                torch.from_numpy(self.head_weight_),
                torch.from_numpy(self.head_bias_),
            )
            return h.clamp(0.0, 6.0).mean(dim=(2, 3)).numpy()

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "head_weight_")
        values = ImageFeatures()._values(X, reset=False)
        E = np.tile(self.mean_, (len(values), 1)).astype(np.float32)
        present = [i for i, v in enumerate(values) if isinstance(v, str | bytes)]
        if present:
            unique, index = _distinct([values[i] for i in present])
            acts = _activations(unique, 1, self.n_jobs)
            E[present] = self._pooled(acts[:, 0])[index]
        return (E - self.mean_) / self.scale_

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "head_weight_")
        return np.asarray([f"tuned_emb{i}" for i in range(N_FEATURES)], dtype=object)
