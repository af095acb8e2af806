"""Features of an image column: EfficientNet-Lite0 embeddings, remembered by content.

Each image (a file path, a ``data:`` URI or bytes; see :mod:`modelloop.data._images`) is
decoded with Pillow, its centre square taken at 224 x 224 pixels (the shorter side resized
to 224), scaled to [-1, 1] and passed through the packaged ImageNet network
(:mod:`._image_net`): its 1,280 pooled features are the image's embedding.

Embeddings depend only on the image's bytes, so they are remembered by sha256:

* in this process (``_MEMO``: the search's folds and trials, a server's repeated images);
* on disk, in the cache folder (``Settings.cache_dir``, default ``~/.cache/modelloop``):
  :func:`cache_embeddings` embeds a whole dataset once, with progress, and writes its
  embeddings as one shard named after the dataset's content hash (its snapshot). Every
  process that later embeds one of those images (a search worker, the refit, a second
  ``train`` on the same data, ``monitor``) reads it from there instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from modelloop.config import Settings
from modelloop.data import (
    image_bytes,
    image_digest,
    open_image,
    square_image,
    to_data_uri,
    value_digest,
)
from modelloop.exceptions import InvalidInputError
from modelloop.features._image_net import (
    IMAGE_SIZE,
    N_FEATURES,
    WEIGHTS_SHA256,
    forward,
    load_weights,
)

__all__ = [
    "IMAGE_COMPONENTS",
    "ImageFeatures",
    "cache_embeddings",
    "embed_images",
    "image_pixels",
    "portable_image",
    "portable_images",
    "use_cache_dir",
]

IMAGE_COMPONENTS = 64
"""Principal components of the embedding that tree models get (linear models get all 1,280)."""

_MODEL_TAG = f"efficientnet-lite0-{WEIGHTS_SHA256[:12]}-square224-box"
_BATCH = 32
_MEMO_SIZE = 20_000  # embeddings remembered per process (about 100 MB)
_MEMO: dict[str, np.ndarray] = {}

Progress = Callable[[int, int], None]


def image_pixels(data: bytes, *, name: str | None = None) -> np.ndarray:
    """The network's input for one encoded image: float32 ``(3, 224, 224)`` in [-1, 1]."""
    info = open_image(data, name=name, reduce_to=IMAGE_SIZE)
    square = square_image(info.image, IMAGE_SIZE)
    return (np.asarray(square, dtype=np.float32) * (1.0 / 127.5) - 1.0).transpose(2, 0, 1)


@functools.lru_cache(maxsize=1)
def net_weights() -> dict[str, Any]:
    """The folded weights, 4-D ones in channels-last layout (2x faster convolutions on CPU)."""
    import torch

    return {
        k: (w.contiguous(memory_format=torch.channels_last) if w.dim() == 4 else w, b)
        for k, (w, b) in load_weights().items()
    }


def _embed_pixels(batch: np.ndarray) -> np.ndarray:
    import torch

    x = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        return forward(x, net_weights()).numpy().astype(np.float32, copy=False)


# ------------------------------------------------------------------------- disk cache


@functools.lru_cache(maxsize=1)
def _cache_folder() -> Path:
    return Settings().resolved_cache_dir() / "image-embeddings" / _MODEL_TAG


def use_cache_dir(path: str | os.PathLike[str]) -> None:
    """Keep and look up embeddings under ``path`` (``Settings.cache_dir``) from now on.

    Also exported as ``MODELLOOP_CACHE_DIR`` to this process's environment, because the
    search's worker processes (spawned, or on Dask) read the setting from there.
    """
    os.environ["MODELLOOP_CACHE_DIR"] = str(path)
    _cache_folder.cache_clear()


class _DiskCache:
    """Shards of ``(digests, vectors)`` as .npy files; an index built on first use."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.index: dict[str, tuple[Path, int]] = {}
        self.seen: set[str] = set()
        self.stamp: int | None = None

    def _refresh(self) -> None:
        folder = _cache_folder()
        if folder != self.folder:
            self.folder, self.index, self.seen, self.stamp = folder, {}, set(), None
        try:
            stamp = folder.stat().st_mtime_ns
        except OSError:
            return
        if stamp == self.stamp:
            return
        self.stamp = stamp
        for digests in sorted(folder.glob("*.digests.npy")):
            if digests.name in self.seen:
                continue
            self.seen.add(digests.name)
            try:
                keys = np.load(digests, allow_pickle=False)
            except (OSError, ValueError):
                continue
            vectors = digests.with_name(digests.name.replace(".digests.", ".vectors."))
            for row, key in enumerate(keys.tolist()):
                self.index.setdefault(key.hex(), (vectors, row))

    def lookup(self, digests: Sequence[str]) -> dict[str, np.ndarray]:
        self._refresh()
        found: dict[str, np.ndarray] = {}
        by_file: dict[Path, list[tuple[str, int]]] = {}
        for d in digests:
            hit = self.index.get(d)
            if hit is not None:
                by_file.setdefault(hit[0], []).append((d, hit[1]))
        for path, rows in by_file.items():
            try:
                vectors = np.load(path, mmap_mode="r", allow_pickle=False)
                for d, row in rows:
                    found[d] = np.array(vectors[row], dtype=np.float32)
            except (OSError, ValueError, IndexError):
                continue
        return found

    def write(self, name: str, digests: Sequence[str], vectors: np.ndarray) -> Path:
        folder = _cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
        keys = np.array([bytes.fromhex(d) for d in digests], dtype="S32")
        final = folder / f"{name}.digests.npy"
        for suffix, array in ((".vectors.npy", vectors), (".digests.npy", keys)):
            # the vectors first: a shard is only indexed once its digests file exists
            tmp = folder / f".{name}{suffix}.{os.getpid()}.tmp"
            with open(tmp, "wb") as fh:
                np.save(fh, array, allow_pickle=False)
            tmp.replace(folder / f"{name}{suffix}")
        return final


_DISK = _DiskCache()


# ----------------------------------------------------------------------------- embedding


def image_digests(values: Sequence[Any], paths: bool) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, str) and not v.startswith("data:"):
            if not paths:
                raise InvalidInputError(
                    "An image must be given as base64 data here, not as a file path."
                )
            if not Path(v).expanduser().is_file():
                raise InvalidInputError(f"Image file '{v}' does not exist.")
            out.append(value_digest(v))
        else:
            out.append(image_digest(image_bytes(v, paths=False)))
    return out


def embed_images(
    values: Sequence[Any],
    *,
    paths: bool = True,
    n_threads: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Embeddings of images: float32 ``(len(values), 1280)``, NaN rows for missing values.

    Each distinct image is embedded once; images embedded before (in this process, or in
    a dataset whose embeddings :func:`cache_embeddings` kept) are not embedded again.

    Parameters
    ----------
    values : sequence of paths, ``data:`` URIs or bytes (None / NaN: missing)
    paths : read file paths (``False``: only bytes and ``data:`` URIs are images).
    n_threads : PyTorch CPU threads while embedding (None: PyTorch's setting).
    progress : called with (images done, images to embed) after each batch.

    Raises
    ------
    InvalidInputError
        An image cannot be read or decoded (the message names it).
    ConfigurationError
        The packaged network or PyTorch is not installed (says how to install them).
    """
    values = list(values)
    digests = image_digests(values, paths)
    out = np.full((len(values), N_FEATURES), np.nan, dtype=np.float32)
    todo: dict[str, int] = {}
    for i, d in enumerate(digests):
        if d is None:
            continue
        known = _MEMO.get(d)
        if known is not None:
            out[i] = known
        elif d not in todo:
            todo[d] = i
    if todo:
        found = _DISK.lookup(list(todo))
        for d, vector in found.items():
            _remember(d, vector)
            del todo[d]
    if todo:
        _compute(values, todo, paths, n_threads, progress)
    for i, d in enumerate(digests):
        if d is not None and np.isnan(out[i, 0]):
            out[i] = _MEMO[d]
    return out


def _remember(digest: str, vector: np.ndarray) -> None:
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[digest] = vector


def _compute(
    values: list[Any],
    todo: dict[str, int],
    paths: bool,
    n_threads: int | None,
    progress: Progress | None,
) -> None:
    import torch

    load_weights()  # a missing package fails before any image is decoded
    items = list(todo.items())
    threads = torch.get_num_threads()
    try:
        if n_threads is not None:
            torch.set_num_threads(int(n_threads))
        for start in range(0, len(items), _BATCH):
            chunk = items[start : start + _BATCH]
            pixels = np.stack(
                [
                    image_pixels(
                        image_bytes(values[i], paths=paths),
                        name=f"'{values[i]}'" if isinstance(values[i], str) and not
                        values[i].startswith("data:") else None,
                    )
                    for _, i in chunk
                ]
            )  # fmt: skip
            vectors = _embed_pixels(pixels)
            for (d, _), vector in zip(chunk, vectors, strict=True):
                _remember(d, vector.copy())
            if progress is not None:
                progress(min(start + _BATCH, len(items)), len(items))
    finally:
        torch.set_num_threads(threads)


def cache_embeddings(
    values: Sequence[Any],
    name: str,
    *,
    n_threads: int | None = None,
    progress: Progress | None = None,
) -> dict[str, float]:
    """Embed every image of a dataset once and keep the embeddings on disk as shard ``name``.

    ``name`` is the dataset's content hash: a second call (a second ``train`` on the same
    data) finds the shard and computes nothing. Returns ``{"images": n, "computed": k,
    "seconds": s}``.
    """
    started = time.monotonic()
    values = [v for v in values if not (v is None or (isinstance(v, float) and np.isnan(v)))]
    digests = image_digests(values, True)
    before = set(_MEMO)
    known = _DISK.lookup([d for d in digests if d is not None])
    missing = {d for d in digests if d is not None and d not in known and d not in before}
    try:
        vectors = embed_images(values, n_threads=n_threads, progress=progress)
    except BaseException:
        # stopped (the time budget, Ctrl-C): keep what was embedded, so a rerun resumes
        done = [d for d in missing if d in _MEMO]
        if done:
            with contextlib.suppress(OSError):
                _DISK.write(f"{name}-partial", done, np.stack([_MEMO[d] for d in done]))
        raise
    unique: dict[str, np.ndarray] = {}
    for d, v in zip(digests, vectors, strict=True):
        if d is not None:
            unique.setdefault(d, v)
    if unique and (missing or not (_cache_folder() / f"{name}.digests.npy").is_file()):
        # a read-only cache folder costs time, not correctness
        with contextlib.suppress(OSError):
            _DISK.write(name, list(unique), np.stack(list(unique.values())))
    return {
        "images": float(len(unique)),
        "computed": float(len(missing)),
        "seconds": round(time.monotonic() - started, 3),
    }


# ---------------------------------------------------------------------------- transformer


class ImageFeatures(TransformerMixin, BaseEstimator):
    """EfficientNet-Lite0 features of one image column (ImageNet weights, frozen).

    Each image becomes its 1,280-dimensional embedding (see :func:`embed_images`):
    standardised for ``n_components=None`` (linear models), else reduced by PCA to at most
    ``n_components`` columns (tree models). A missing image gets the mean embedding of the
    training images. The network itself is never part of the fitted transformer (only the
    scaler or PCA): it is read from the installed package when needed.

    Parameters
    ----------
    n_components : int or None, default=None
        Size of the PCA block, or None for all 1,280 standardised features.
    n_jobs : int or None, default=None
        PyTorch CPU threads while embedding (None: PyTorch's setting; the server sets 1).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"photo": ["cat.jpg", "dog.png"]})
    >>> ImageFeatures(n_components=8).fit_transform(X).shape  # doctest: +SKIP
    (2, 2)
    """

    def __init__(self, n_components: int | None = None, n_jobs: int | None = None) -> None:
        self.n_components = n_components
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any = None) -> ImageFeatures:
        self._fit(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self._fit(X)

    def _fit(self, X: Any) -> np.ndarray:
        if self.n_components is not None and (
            not isinstance(self.n_components, int | np.integer) or self.n_components < 1
        ):
            raise ValueError(
                "The 'n_components' parameter of ImageFeatures must be a positive int or "
                f"None. Got {self.n_components!r} instead."
            )
        values = self._values(X, reset=True)
        E = embed_images(values, n_threads=self.n_jobs)
        present = ~np.isnan(E[:, 0])
        if not present.any():
            raise InvalidInputError(
                f"Image column '{self._name()}' has no image in any row: nothing to learn from."
            )
        self.mean_ = E[present].mean(axis=0)
        E[~present] = self.mean_
        if self.n_components is None:
            self.pca_ = None
            scale = E.std(axis=0)
            self.scale_: np.ndarray | None = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
            return (E - self.mean_) / self.scale_
        k = int(min(self.n_components, len(E) - 1, N_FEATURES)) if len(E) > 1 else 1
        if len(E) < 2:
            self.pca_ = None
            self.scale_ = np.ones(N_FEATURES, dtype=np.float32)
            return (E - self.mean_)[:, :k]
        self.pca_ = PCA(n_components=k, random_state=0)
        self.scale_ = None
        return self.pca_.fit_transform(E).astype(np.float32)

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "mean_")
        E = embed_images(self._values(X, reset=False), n_threads=self.n_jobs)
        missing = np.isnan(E[:, 0])
        E[missing] = self.mean_
        if self.pca_ is not None:
            return self.pca_.transform(E).astype(np.float32)
        out = (E - self.mean_) / self.scale_
        return out if self.n_components is None else out[:, : self.n_components]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "mean_")
        name = self._name()
        if self.pca_ is not None:
            n = self.pca_.n_components_
        elif self.n_components is None:
            n = N_FEATURES
        else:
            n = 1
        return np.asarray([f"{name}_emb{i}" for i in range(n)], dtype=object)

    def _name(self) -> str:
        return str(getattr(self, "feature_names_in_", ["image"])[0])

    def _values(self, X: Any, *, reset: bool) -> list[Any]:
        if isinstance(X, pd.DataFrame):
            if X.shape[1] != 1:
                raise ValueError(f"ImageFeatures takes one image column. Got {X.shape[1]} columns.")
            name = str(X.columns[0])
            col = X.iloc[:, 0]
        elif isinstance(X, pd.Series):
            name, col = str(X.name), X
        else:
            arr = np.asarray(X, dtype=object)
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 1:
                raise ValueError(f"ImageFeatures takes one image column. Got shape {arr.shape}.")
            name, col = None, pd.Series(arr, dtype=object)
        if len(col) == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        if reset:
            self.n_features_in_ = 1
            if name is not None:
                self.feature_names_in_ = np.asarray([name], dtype=object)
        return col.astype(object).tolist()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags


def portable_image(value: Any, *, paths: bool = True) -> Any:
    """An image value as a self-contained ``data:`` URI of exactly what the network sees.

    The centre square at 224 x 224 pixels, JPEG-encoded, with the original width and
    height recorded in the URI: embedding it again gives (up to JPEG's loss) the same
    features, and monitoring reads the original size from it. Missing stays missing;
    a value that is already such a URI is returned as it is.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return value
    if isinstance(value, str) and value.startswith("data:image/jpeg;width="):
        return value
    info = open_image(image_bytes(value, paths=paths), reduce_to=IMAGE_SIZE)
    return to_data_uri(square_image(info.image, IMAGE_SIZE), info.width, info.height)


def portable_images(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with the image ``columns`` as :func:`portable_image` URIs (a copy).

    What a registered model keeps as reference rows: they stay readable when the image
    files move or vanish. A value that can no longer be read becomes missing.
    """
    out = frame.copy()
    for name in columns:
        if name not in out.columns:
            continue
        converted = []
        for v in out[name].tolist():
            try:
                converted.append(portable_image(v))
            except InvalidInputError:
                converted.append(np.nan)
        out[name] = pd.Series(converted, index=out.index, dtype=object)
    return out
