"""Multivariate drift: a classifier trained to tell reference rows from current rows.

If the two windows come from one distribution no model can tell them apart and its
cross-validated ROC AUC is about 0.5; a change in how columns go together (a correlation)
that leaves every column's own distribution intact still lets it do better. The AUC is the
drift score. The classifier is LightGBM on a balanced sample: numeric columns as they are,
categorical ones as integer codes it splits on natively.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from modelloop.data import Schema
from modelloop.evaluation import score
from modelloop.exceptions import SchemaMismatchError
from modelloop.monitoring._config import NOT_ENOUGH_DATA
from modelloop.monitoring._encode import Encoded, encode

if TYPE_CHECKING:
    from modelloop.monitoring._config import DriftConfig

__all__ = ["DomainDrift", "domain_classifier", "domain_drift"]

_MAX_CODES = 200  # most frequent categories kept per column; the rest share one code
_FOLDS = 3
_ROUNDS = 30  # with learning_rate 0.2: the AUC of 60 rounds at 0.1, in half the time
_MAX_BIN = 63  # histogram bins per feature (LightGBM's default 255 buys nothing here)


@dataclass(frozen=True)
class DomainDrift:
    """The domain classifier's verdict.

    ``auc`` is the out-of-fold ROC AUC of telling the windows apart (``None`` with "not
    enough data"); ``threshold`` the AUC at or above which the rows drifted: the
    configured ``domain_auc`` or 0.5 plus 3 standard errors, whichever is higher.
    ``top_features`` are the columns the classifier used most (by split gain).
    """

    auc: float | None
    threshold: float
    drifted: bool | None
    verdict: str
    n_per_window: int
    top_features: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top_features"] = [[n, float(v)] for n, v in self.top_features]
        return d


def _codes(enc: Encoded, ref_rows: np.ndarray, cur_rows: np.ndarray) -> np.ndarray:
    """Categorical codes for LightGBM: sampled reference categories by frequency (the most
    frequent ``_MAX_CODES``), one shared code for the rest and for new ones, NaN if missing."""
    ref, cur = enc.reference[ref_rows], enc.current[cur_rows]
    assert enc.labels is not None
    counts = np.bincount(ref[ref >= 0], minlength=len(enc.labels))
    levels = min(_MAX_CODES, int((counts > 0).sum()))
    rank = np.empty(len(counts), dtype=float)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    rank[(counts == 0) | (rank >= levels)] = levels
    both = np.concatenate([ref, cur])
    return np.append(rank, np.nan)[both]


def _matrix(
    columns: Sequence[Encoded], ref_rows: np.ndarray, cur_rows: np.ndarray
) -> tuple[np.ndarray, list[str], list[int]]:
    X = np.empty((len(ref_rows) + len(cur_rows), len(columns)))
    categorical = []
    for j, enc in enumerate(columns):
        if enc.kind == "categorical":
            X[:, j] = _codes(enc, ref_rows, cur_rows)
            categorical.append(j)
        else:
            X[: len(ref_rows), j] = enc.reference[ref_rows]
            X[len(ref_rows) :, j] = enc.current[cur_rows]
    return X, [enc.name for enc in columns], categorical


def domain_classifier(
    reference: pd.DataFrame, current: pd.DataFrame, schema: Schema, config: DriftConfig
) -> DomainDrift:
    """Cross-validated ROC AUC of a classifier telling ``current`` rows from ``reference``.

    Both windows are sampled to the same size (at most ``config.domain_rows`` each).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modelloop.data import infer_schema
    >>> from modelloop.monitoring import DriftConfig
    >>> ref = pd.DataFrame({"x": np.random.default_rng(0).normal(size=400)})
    >>> domain_classifier(ref, ref + 3.0, infer_schema(ref), DriftConfig()).drifted
    True
    """
    n = min(len(reference), len(current), config.domain_rows)
    rng = np.random.default_rng(config.seed + 7)
    if n >= config.domain_min_rows:  # sample the frames first: only n rows get typed
        reference = reference.iloc[np.sort(rng.choice(len(reference), n, replace=False))]
        current = current.iloc[np.sort(rng.choice(len(current), n, replace=False))]
    columns = encode([schema[name] for name in schema.feature_columns()], reference, current)
    return domain_drift(columns, config)


def domain_drift(columns: Sequence[Encoded], config: DriftConfig) -> DomainDrift:
    """:func:`domain_classifier` on columns already typed by ``encode``."""
    import lightgbm as lgb

    if not columns:
        raise SchemaMismatchError(
            "The domain classifier needs at least one feature column. Got none: pass the "
            "model's input schema."
        )
    n_ref, n_cur = len(columns[0].reference), len(columns[0].current)
    n = min(n_ref, n_cur, config.domain_rows)
    if n < config.domain_min_rows:
        return DomainDrift(None, config.domain_auc, None, NOT_ENOUGH_DATA, n)
    rng = np.random.default_rng(config.seed + 7)
    ref_rows = np.sort(rng.choice(n_ref, n, replace=False))
    cur_rows = np.sort(rng.choice(n_cur, n, replace=False))
    X, names, categorical = _matrix(columns, ref_rows, cur_rows)
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    oof = np.zeros(len(y))
    gains = np.zeros(X.shape[1])
    params = {
        "objective": "binary",
        "learning_rate": 0.2,
        "num_leaves": 31,
        "min_data_in_leaf": max(10, n // 500),
        "feature_fraction": 1.0,
        "verbose": -1,
        "seed": config.seed,
        "max_bin": _MAX_BIN,
        # one thread: deterministic, no oversubscription beside a server, and on a busy
        # 2-core machine two threads measured 8-10x slower than one
        "num_threads": 1,
        "max_cat_to_onehot": 8,
        "cat_smooth": 10.0,
    }
    folds = StratifiedKFold(_FOLDS, shuffle=True, random_state=config.seed)
    # bin the features once; each fold trains on a subset of the same binned data
    full = lgb.Dataset(
        X, y, categorical_feature=categorical or "auto", params=params, free_raw_data=False
    )
    for train, test in folds.split(X, y):
        # lightgbm annotates list[int]; it takes any array of row indices
        booster = lgb.train(params, full.subset(np.sort(train)), num_boost_round=_ROUNDS)  # type: ignore[arg-type]
        oof[test] = booster.predict(X[test])
        gains += booster.feature_importance(importance_type="gain")
    auc = score("roc_auc", y, y_proba=oof, classes=[0, 1])
    se = float(np.sqrt((2 * n + 1) / (12.0 * n * n)))
    threshold = max(config.domain_auc, 0.5 + 3 * se)
    drifted = auc >= threshold
    share = gains / gains.sum() if gains.sum() > 0 else gains
    order = np.argsort(-share)[:5]
    top = tuple((names[i], float(share[i])) for i in order if share[i] > 0)
    return DomainDrift(auc, threshold, drifted, "drift" if drifted else "no drift", n, top)
