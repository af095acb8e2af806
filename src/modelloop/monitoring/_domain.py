"""Multivariate drift: a classifier trained to tell reference rows from current rows.

If the two windows come from one distribution no model can tell them apart and its
cross-validated ROC AUC is about 0.5; a change in how columns go together (a correlation)
that leaves every column's own distribution intact still lets it do better. The AUC is the
drift score. The classifier is LightGBM on a balanced sample: numeric columns as they are,
categorical ones as integer codes it splits on natively.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from modelloop.data import Role, Schema

if TYPE_CHECKING:
    from modelloop.monitoring._config import DriftConfig

__all__ = ["DomainDrift", "domain_classifier"]

_MAX_CODES = 200  # most frequent categories kept per column; the rest share one code
_FOLDS = 3
_ROUNDS = 60


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


def _encode(
    ref: pd.DataFrame, cur: pd.DataFrame, schema: Schema
) -> tuple[np.ndarray, list[str], list[int]]:
    from modelloop.monitoring._drift import _as_numeric

    columns, names, categorical = [], [], []
    for name in schema.feature_columns():
        role = schema[name].role
        r = ref[name] if name in ref.columns else pd.Series(np.nan, index=ref.index)
        c = cur[name] if name in cur.columns else pd.Series(np.nan, index=cur.index)
        if role in (Role.CATEGORICAL, Role.BOOLEAN):
            levels = r.dropna().astype(str).value_counts().index[:_MAX_CODES]
            lookup = {v: i for i, v in enumerate(levels)}
            both = pd.concat([r, c], ignore_index=True)
            codes = both.astype(str).map(lookup).fillna(len(levels)).to_numpy(dtype=float)
            codes[both.isna().to_numpy()] = np.nan
            categorical.append(len(columns))
            columns.append(codes)
        else:
            columns.append(np.concatenate([_as_numeric(r, role), _as_numeric(c, role)]))
        names.append(name)
    return np.column_stack(columns), names, categorical


def domain_classifier(
    reference: pd.DataFrame, current: pd.DataFrame, schema: Schema, config: DriftConfig
) -> DomainDrift:
    """Cross-validated ROC AUC of a classifier telling ``current`` rows from ``reference``.

    Both windows are sampled to the same size (at most ``config.domain_rows`` each).
    """
    import lightgbm as lgb

    from modelloop.monitoring._drift import NOT_ENOUGH_DATA

    n = min(len(reference), len(current), config.domain_rows)
    if n < config.domain_min_rows:
        return DomainDrift(None, config.domain_auc, None, NOT_ENOUGH_DATA, n)
    rng = np.random.default_rng(config.seed + 7)
    ref = reference.iloc[np.sort(rng.choice(len(reference), n, replace=False))]
    cur = current.iloc[np.sort(rng.choice(len(current), n, replace=False))]
    X, names, categorical = _encode(ref.reset_index(drop=True), cur.reset_index(drop=True), schema)
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    oof = np.zeros(len(y))
    gains = np.zeros(X.shape[1])
    params = {
        "objective": "binary",
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_data_in_leaf": max(10, n // 500),
        "feature_fraction": 1.0,
        "verbose": -1,
        "seed": config.seed,
        "num_threads": 1,  # deterministic, and no oversubscription beside a server
        "max_cat_to_onehot": 8,
        "cat_smooth": 10.0,
    }
    folds = StratifiedKFold(_FOLDS, shuffle=True, random_state=config.seed)
    # bin the features once; each fold trains on a subset of the same binned data
    full = lgb.Dataset(
        X, y, categorical_feature=categorical or "auto", params=params, free_raw_data=False
    )
    for train, test in folds.split(X, y):
        booster = lgb.train(params, full.subset(np.sort(train)), num_boost_round=_ROUNDS)
        oof[test] = booster.predict(X[test])
        gains += booster.feature_importance(importance_type="gain")
    auc = float(roc_auc_score(y, oof))
    se = float(np.sqrt((2 * n + 1) / (12.0 * n * n)))
    threshold = max(config.domain_auc, 0.5 + 3 * se)
    drifted = auc >= threshold
    share = gains / gains.sum() if gains.sum() > 0 else gains
    order = np.argsort(-share)[:5]
    top = tuple((names[i], float(share[i])) for i in order if share[i] > 0)
    return DomainDrift(auc, threshold, drifted, "drift" if drifted else "no drift", n, top)
