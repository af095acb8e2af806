"""Image columns in drift checks: simple statistics per column, embeddings for the classifier.

An image cannot be compared value by value. Each image column of both windows becomes

* four numeric columns that the per-column tests compare like any other:
  ``<column>.width`` and ``<column>.height`` (of the original image), ``<column>.brightness``
  (mean luma, 0-255) and ``<column>.colourfulness`` (Hasler and Süsstrunk), and
* the first principal components of its EfficientNet-Lite0 embedding (fitted on the
  reference window), which only the domain classifier reads: a change in what the pictures
  show moves them even when size and brightness stay put.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from modelloop.data import IMAGE_STATS, ColumnSchema, Role, Schema, image_stats, open_image
from modelloop.exceptions import InvalidInputError
from modelloop.monitoring._encode import Encoded

__all__ = ["EMBEDDING_COMPONENTS", "expand_images"]

EMBEDDING_COMPONENTS = 16
_STATS_SIZE = 224


_MEMO: dict[Any, dict[str, float]] = {}
_MEMO_SIZE = 50_000


def _stats_of(value: Any) -> dict[str, float]:
    from modelloop.data import square_image

    key = value if isinstance(value, str | bytes) else None
    if key is not None and key in _MEMO:
        return _MEMO[key]
    try:
        info = open_image(value, reduce_to=_STATS_SIZE)
        pixels = np.asarray(square_image(info.image, _STATS_SIZE))
        stats = image_stats(pixels, info.width, info.height)
    except (InvalidInputError, TypeError):
        stats = dict.fromkeys(IMAGE_STATS, np.nan)
    if key is not None:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        _MEMO[key] = stats
    return stats


def _stats(values: list[Any]) -> pd.DataFrame:
    return pd.DataFrame([_stats_of(v) for v in values], columns=list(IMAGE_STATS))


def _embeddings(values: list[Any]) -> np.ndarray:
    from modelloop.features import embed_images, image_model_available

    out = np.full((len(values), 1), np.nan)
    if not image_model_available():
        return out
    present = [i for i, v in enumerate(values) if isinstance(v, str | bytes)]
    if not present:
        return out
    try:
        E = embed_images([values[i] for i in present])
    except InvalidInputError:
        return out
    full = np.full((len(values), E.shape[1]), np.nan, dtype=np.float32)
    full[present] = E
    return full


def expand_images(
    reference: pd.DataFrame, current: pd.DataFrame, schema: Schema, *, embeddings: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, Schema, list[Encoded]]:
    """Both windows and the schema with each image column replaced by its statistics,
    plus the embedding components of every image column (for the domain classifier;
    none when ``embeddings`` is false)."""
    images = schema.by_role(Role.IMAGE)
    if not images:
        return reference, current, schema, []
    reference, current = reference.copy(), current.copy()
    columns: list[ColumnSchema] = []
    extra: list[Encoded] = []
    for col in schema.columns:
        if col.name not in images:
            columns.append(col)
            continue
        sides = []
        for frame in (reference, current):
            values = frame[col.name].tolist() if col.name in frame.columns else [None] * len(frame)
            stats = _stats(values)
            for stat in IMAGE_STATS:
                frame[f"{col.name}.{stat}"] = stats[stat].to_numpy()
            sides.append(_embeddings(values) if embeddings else np.full((len(values), 1), np.nan))
        for stat in IMAGE_STATS:
            columns.append(
                replace(col, name=f"{col.name}.{stat}", role=Role.NUMERIC, dtype="float64",
                        categories=None, note=f"{stat} of the images of '{col.name}'")
            )  # fmt: skip
        extra += _components(col.name, *sides)
    expanded = Schema(tuple(columns), target=schema.target, notes=schema.notes)
    return reference, current, expanded, extra


def _components(name: str, ref: np.ndarray, cur: np.ndarray) -> list[Encoded]:
    """PCA (fitted on the reference) of both windows' embeddings, as numeric columns."""
    from sklearn.decomposition import PCA

    ok_ref = ~np.isnan(ref).any(axis=1)
    if ref.shape[1] < 2 or ok_ref.sum() < 3:
        return []
    k = int(min(EMBEDDING_COMPONENTS, ok_ref.sum() - 1))
    pca = PCA(n_components=k, random_state=0).fit(ref[ok_ref])

    def project(E: np.ndarray) -> np.ndarray:
        out = np.full((len(E), k), np.nan)
        ok = ~np.isnan(E).any(axis=1)
        if ok.any():
            out[ok] = pca.transform(E[ok])
        return out

    r, c = project(ref), project(cur)
    return [
        Encoded(f"{name}.embedding{j + 1}", Role.NUMERIC, "numeric", r[:, j], c[:, j])
        for j in range(k)
    ]
