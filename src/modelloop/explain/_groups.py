"""Which input column each column of a fitted preprocessing output comes from.

A model sees encoded features (one-hot levels, TF-IDF terms, SVD components, date parts,
missing indicators, target encodings); a user asks about the column they sent. Every
transformer modelloop's preprocessing uses maps each output column to exactly one input
column, so a contribution of an encoded feature belongs to one input column, and the
contributions of a column's features add up to the column's contribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

__all__ = ["feature_groups", "group_matrix"]


def feature_groups(preprocessor: Any) -> list[str]:
    """For each output column of a fitted ``ColumnTransformer``, its input column.

    Known transformers are traced step by step (imputers and their missing indicators,
    scalers, ordinal / one-hot / target encoders, date parts, text features); any other
    transformer of a single column gives all its outputs to that column, and one of several
    columns is matched by its output names (``column_suffix``).

    Raises
    ------
    ValueError
        An output column that cannot be traced to one input column.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.impute import SimpleImputer
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> X = pd.DataFrame({"age": [1.0, None, 3.0], "city": ["a", "b", "a"]})
    >>> ct = ColumnTransformer([
    ...     ("n", SimpleImputer(add_indicator=True), ["age"]),
    ...     ("c", OneHotEncoder(), ["city"]),
    ... ]).fit(X)
    >>> feature_groups(ct)
    ['age', 'age', 'city', 'city']
    """
    if not isinstance(preprocessor, ColumnTransformer):
        raise ValueError(
            f"Contributions are grouped by input column through a ColumnTransformer. Got "
            f"{type(preprocessor).__name__}."
        )
    names_in = list(getattr(preprocessor, "feature_names_in_", []))
    width = sum(s.stop - s.start for s in preprocessor.output_indices_.values())
    sources: list[str | None] = [None] * width
    for name, transformer, columns in preprocessor.transformers_:
        piece = preprocessor.output_indices_.get(name)
        if piece is None or piece.stop <= piece.start or transformer == "drop":
            continue
        cols = _column_names(columns, names_in)
        n_out = piece.stop - piece.start
        labels = _trace(transformer, cols) if transformer != "passthrough" else list(cols)
        if labels is None or len(labels) != n_out:
            labels = _by_names(transformer, cols, n_out, name)
        sources[piece] = labels
    missing = [i for i, s in enumerate(sources) if s is None]
    if missing:
        raise ValueError(f"Output columns {missing[:5]} of the preprocessing have no input column.")
    return [str(s) for s in sources]


def group_matrix(sources: Sequence[str], columns: Sequence[str]) -> Any:
    """A sparse ``(len(sources), len(columns))`` 0/1 matrix: feature ``i`` -> its column.

    ``contributions @ group_matrix(...)`` sums encoded features into input columns.

    >>> group_matrix(["a", "a", "b"], ["a", "b"]).toarray().tolist()
    [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """
    from scipy import sparse

    position = {c: j for j, c in enumerate(columns)}
    cols = np.array([position[s] for s in sources], dtype=np.int64)
    rows = np.arange(len(sources))
    return sparse.csr_matrix(
        (np.ones(len(sources)), (rows, cols)), shape=(len(sources), len(columns))
    )


def _column_names(columns: Any, names_in: list[str]) -> list[str]:
    if isinstance(columns, slice):
        return names_in[columns]
    values = list(np.atleast_1d(columns))
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return [n for n, keep in zip(names_in, values, strict=True) if keep]
    return [names_in[int(v)] if isinstance(v, int | np.integer) else str(v) for v in values]


def _trace(step: Any, labels: list[str]) -> list[str] | None:
    """The input column of each output of ``step`` fed columns labelled ``labels``."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, TargetEncoder

    from modelloop.features import DatetimeFeatures, TextFeatures

    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            if inner is None or inner == "passthrough":
                continue
            traced = _trace(inner, labels)
            if traced is None:
                return None
            labels = traced
        return labels
    if isinstance(step, SimpleImputer):
        kept = labels
        if not getattr(step, "keep_empty_features", False):
            stats = np.asarray(step.statistics_, dtype=object)
            kept = [lab for lab, s in zip(labels, stats, strict=True) if not pd.isna(s)]
        indicator = getattr(step, "indicator_", None)
        extra = [] if indicator is None else [labels[int(i)] for i in indicator.features_]
        return list(kept) + extra
    if isinstance(step, OneHotEncoder):
        out: list[str] = []
        drops = getattr(step, "drop_idx_", None)
        infrequent = getattr(step, "infrequent_categories_", None)
        for i, (label, cats) in enumerate(zip(labels, step.categories_, strict=True)):
            n = len(cats)
            if infrequent is not None and infrequent[i] is not None:
                n -= len(infrequent[i]) - 1
            if drops is not None and drops[i] is not None:
                n -= 1
            out.extend([label] * n)
        return out
    if isinstance(step, TargetEncoder):
        if step.target_type_ == "multiclass":
            return [label for label in labels for _ in step.classes_]
        return list(labels)
    if isinstance(step, DatetimeFeatures):
        out = []
        for label, has_time in zip(labels, step.has_time_, strict=True):
            out.extend([label] * (6 if has_time else 5))  # parts (+ hour) + days
        return out
    if isinstance(step, TextFeatures) and len(labels) == 1:
        return None  # its width is read from the ColumnTransformer: one column, all outputs
    if _one_to_one(step):
        return list(labels)
    return None


def _one_to_one(step: Any) -> bool:
    from sklearn.base import OneToOneFeatureMixin
    from sklearn.preprocessing import OrdinalEncoder

    return isinstance(step, OneToOneFeatureMixin | OrdinalEncoder)


def _by_names(transformer: Any, cols: list[str], n_out: int, name: str) -> list[str]:
    """Every output to the one input column, or matched by ``<column>_...`` output names."""
    if len(cols) == 1:
        return [cols[0]] * n_out
    try:
        names = [str(n) for n in transformer.get_feature_names_out(cols)]
    except Exception as exc:
        raise ValueError(
            f"Cannot tell which input column each output of transformer {name!r} comes from: {exc}"
        ) from exc
    if len(names) != n_out:
        raise ValueError(
            f"Transformer {name!r} names {len(names)} outputs but gives {n_out} columns."
        )
    by_length = sorted(cols, key=len, reverse=True)
    out = []
    for out_name in names:
        bare = out_name.removeprefix("missingindicator_")
        match = next((c for c in by_length if bare == c or bare.startswith(f"{c}_")), None)
        if match is None:
            raise ValueError(
                f"Output {out_name!r} of transformer {name!r} matches none of its input "
                f"columns {cols}."
            )
        out.append(match)
    return out
