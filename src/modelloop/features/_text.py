"""Features from one free-text column."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from modelloop.exceptions import InvalidInputError
from modelloop.features._text_embed import EMBEDDING_DIM

__all__ = ["TEXT_METHODS", "TextFeatures", "check_text_column"]

TEXT_METHODS = ("tfidf", "embedding")
"""How a text column becomes features: TF-IDF (the default) or sentence embeddings."""

# Below this many rows a term seen once is kept: pruning would leave almost nothing.
_MIN_ROWS_FOR_MIN_DF = 20
# TfidfVectorizer's default token: a word of two or more letters or digits.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _has_usable_text(text: Any) -> bool:
    """Whether some value holds a word that is not a common English stop word."""
    for value in text:
        if isinstance(value, str) and any(
            m.group().lower() not in ENGLISH_STOP_WORDS for m in _TOKEN.finditer(value)
        ):
            return True
    return False


def check_text_column(values: Any, name: str) -> None:
    """Raise when a text column holds no usable text in any row.

    Usable text is a word of two or more letters or digits that is not a common English
    stop word ('the', 'and', ...): TF-IDF finds no term and a sentence embedding no
    meaning in a column of missing values, blanks, punctuation, single characters or stop
    words only. :class:`TextFeatures` checks the column it is fitted on, and the search
    checks every text column of the whole table before any trial.

    Parameters
    ----------
    values : iterable of str (missing values may be None or NaN)
    name : the column's name, for the message

    Raises
    ------
    InvalidInputError
        No value holds usable text.

    Examples
    --------
    >>> check_text_column(["a fine hotel", None], "review")
    >>> check_text_column(["", "  ", None, "the", "?!"], "review")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.InvalidInputError: Text column 'review' has no usable text: ...
    """
    if _has_usable_text(values):
        return
    raise InvalidInputError(
        f"Text column '{name}' has no usable text: every value is missing, blank, or "
        "only punctuation, single characters and common English words such as 'the' or "
        f"'and'. Drop the column (--drop {name}) or give it another role "
        f"(--types {name}=categorical)."
    )


class TextFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF features of one text column, sparse or reduced to a small dense block.

    The text is vectorised with TF-IDF over word 1- and 2-grams (``sublinear_tf``; terms in
    a single document are dropped when there are at least 20 rows). Then:

    - ``n_components=None`` (linear models): the sparse TF-IDF matrix is the output.
    - ``n_components=k`` (tree models): TruncatedSVD reduces it to at most ``k`` dense
      columns (fewer when the vocabulary or the data are smaller: never more than
      ``n_terms - 1`` nor ``n_rows - 1``), followed by the text length in characters and
      its number of words.

    Missing values are empty texts. A column with no usable text in any row (only blanks,
    punctuation, single characters or English stop words) is refused in ``fit`` with an
    :class:`~modelloop.exceptions.InvalidInputError` (see :func:`check_text_column`).

    With ``method="embedding"`` the text is embedded by a sentence model shipped inside a
    PyPI package (all-MiniLM-L6-v2, 384 dimensions, see :mod:`._text_embed`; the ``text``
    extra) instead: all 384 columns for ``n_components=None``, else reduced by PCA to at
    most ``n_components`` columns, followed by the length and word count. The search
    chooses between the two through the ``text_features`` hyperparameter.

    Parameters
    ----------
    max_features : int, default=20000
        Largest vocabulary kept, most frequent terms first.
    n_components : int or None, default=None
        Size of the dense SVD block, or None for sparse TF-IDF output.
    method : {"tfidf", "embedding"}, default="tfidf"
        TF-IDF of word n-grams, or sentence embeddings from the packaged language model.

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer or None
        None when no term was found.
    svd_ : TruncatedSVD or None
        None in sparse mode, or when the vocabulary is too small to reduce (the TF-IDF
        columns are then output densely as they are).
    feature_names_in_ : ndarray of str, shape (1,)
        The column name, when fit on a DataFrame or Series with a name.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"review": ["good food", "bad food", None, "good service"]})
    >>> TextFeatures(n_components=2).fit_transform(X).shape
    (4, 4)
    """

    def __init__(
        self, max_features: int = 20_000, n_components: int | None = None, method: str = "tfidf"
    ) -> None:
        self.max_features = max_features
        self.n_components = n_components
        self.method = method

    def fit(self, X: Any, y: Any = None) -> TextFeatures:
        self._fit(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        return self._fit(X)

    def _fit(self, X: Any) -> Any:
        if self.n_components is not None and (
            not isinstance(self.n_components, int | np.integer) or self.n_components < 1
        ):
            raise ValueError(
                "The 'n_components' parameter of TextFeatures must be a positive int or None. "
                f"Got {self.n_components!r} instead."
            )
        if self.method not in TEXT_METHODS:
            raise ValueError(
                f"The 'method' parameter of TextFeatures must be one of "
                f"{', '.join(map(repr, TEXT_METHODS))}. Got {self.method!r} instead."
            )
        text = self._text(X, reset=True)
        check_text_column(text, str(getattr(self, "feature_names_in_", ["x0"])[0]))
        if self.method == "embedding":
            return self._fit_embedding(text)
        min_df = 2 if len(text) >= _MIN_ROWS_FOR_MIN_DF else 1
        self.vectorizer_ = None
        tfidf = sparse.csr_matrix((len(text), 0))
        for df in dict.fromkeys((min_df, 1)):  # retry without pruning if nothing survives
            vec = TfidfVectorizer(
                ngram_range=(1, 2),
                sublinear_tf=True,
                min_df=df,
                max_features=self.max_features,
            )
            try:
                tfidf = vec.fit_transform(text)
            except ValueError:  # empty vocabulary
                continue
            # stop_words_ only documents pruning and can be large; sklearn says drop it.
            vec.stop_words_ = None
            del vec.stop_words_
            self.vectorizer_ = vec
            break

        self.svd_ = None
        if self.n_components is None:
            return tfidf.tocsr()
        k = min(self.n_components, tfidf.shape[1] - 1, len(text) - 1)
        if k >= 1:
            self.svd_ = TruncatedSVD(n_components=k, random_state=0)
            reduced = self.svd_.fit_transform(tfidf)
        else:
            reduced = tfidf.toarray()
        return np.hstack([reduced, _lengths(text)])

    def _fit_embedding(self, text: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        from modelloop.features._text_embed import embed_texts

        self.vectorizer_ = self.svd_ = None
        emb = embed_texts(text)
        self.pca_ = None
        if self.n_components is None:
            return emb.astype(np.float64)
        k = min(self.n_components, len(text) - 1, emb.shape[1])
        if k >= 1:
            self.pca_ = PCA(n_components=k, random_state=0)
            emb = self.pca_.fit_transform(emb)
        return np.hstack([emb.astype(np.float64), _lengths(text)])

    def transform(self, X: Any) -> Any:
        check_is_fitted(self, "vectorizer_")
        text = self._text(X, reset=False)
        if getattr(self, "method", "tfidf") == "embedding":
            from modelloop.features._text_embed import embed_texts

            emb = embed_texts(text)
            if self.n_components is None:
                return emb.astype(np.float64)
            if self.pca_ is not None:
                emb = self.pca_.transform(emb)
            return np.hstack([emb.astype(np.float64), _lengths(text)])
        if self.vectorizer_ is None:
            tfidf = sparse.csr_matrix((len(text), 0))
        else:
            tfidf = self.vectorizer_.transform(text)
        if self.n_components is None:
            return tfidf.tocsr()
        reduced = self.svd_.transform(tfidf) if self.svd_ is not None else tfidf.toarray()
        return np.hstack([reduced, _lengths(text)])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "vectorizer_")
        if input_features is not None:
            if len(input_features) != 1:
                raise ValueError(f"input_features should have length 1. Got {len(input_features)}.")
            col = str(input_features[0])
        else:
            col = str(getattr(self, "feature_names_in_", ["x0"])[0])
        if getattr(self, "method", "tfidf") == "embedding":
            pca = getattr(self, "pca_", None)
            width = EMBEDDING_DIM if pca is None else pca.n_components_
            names = [f"{col}_emb{i}" for i in range(width)]
        elif self.svd_ is not None:
            names = [f"{col}_svd{i}" for i in range(self.svd_.n_components)]
        elif self.vectorizer_ is not None:
            names = [f"{col}_{term}" for term in self.vectorizer_.get_feature_names_out()]
        else:
            names = []
        if self.n_components is not None:
            names += [f"{col}_length", f"{col}_words"]
        return np.asarray(names, dtype=object)

    def _text(self, X: Any, *, reset: bool) -> np.ndarray:
        """The single text column of X as an object array of str, missing as ''."""
        name = None
        if isinstance(X, pd.DataFrame):
            if X.shape[1] != 1:
                raise ValueError(
                    f"TextFeatures takes one text column at a time. Got {X.shape[1]} columns."
                )
            name = X.columns[0]
            col = X.iloc[:, 0]
        elif isinstance(X, pd.Series):
            name = X.name
            col = X
        else:
            if sparse.issparse(X):
                raise TypeError(
                    "Sparse input is not supported: TextFeatures takes one column of text."
                )
            if np.iscomplexobj(X):
                raise ValueError("Complex data not supported: TextFeatures takes text.")
            arr = np.asarray(X, dtype=object)
            if arr.ndim == 2 and arr.shape[1] == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 "
                    "is required."
                )
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 1:
                raise ValueError(
                    "TextFeatures takes one text column at a time: a 1-D array or a 2-D "
                    f"array with one column. Got shape {arr.shape}."
                )
            col = pd.Series(arr, dtype=object)
        if len(col) == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        if reset:
            self.n_features_in_ = 1
            if isinstance(name, str):
                self.feature_names_in_ = np.asarray([name], dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif (
            isinstance(name, str)
            and hasattr(self, "feature_names_in_")
            and name != self.feature_names_in_[0]
        ):
            raise ValueError(
                f"TextFeatures was fitted on column {self.feature_names_in_[0]!r}. Got {name!r}."
            )
        missing = col.isna().to_numpy()
        values = col.astype(object).to_numpy(dtype=object)
        out = np.empty(len(values), dtype=object)
        out[missing] = ""
        out[~missing] = [str(v) for v in values[~missing]]
        return out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        # One column: a 1-D array of texts, or a 2-D array / frame with one column.
        tags.input_tags.one_d_array = True
        return tags


def _lengths(text: np.ndarray) -> np.ndarray:
    """Characters and words of each text, as two float columns."""
    chars = np.fromiter((len(t) for t in text), dtype=np.float64, count=len(text))
    words = np.fromiter((len(t.split()) for t in text), dtype=np.float64, count=len(text))
    return np.column_stack([chars, words])
