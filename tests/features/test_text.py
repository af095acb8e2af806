from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from modelloop.exceptions import InvalidInputError
from modelloop.features import TextFeatures, check_text_column

DOCS = [f"word{i % 7} common term{i % 3} extra" for i in range(40)]


def test_text_features_sparse_tfidf_for_linear() -> None:
    tf = TextFeatures().fit(pd.DataFrame({"note": DOCS}))
    out = tf.transform(pd.DataFrame({"note": ["word1 common", None]}))
    assert sparse.issparse(out) and out.shape[0] == 2
    names = list(tf.get_feature_names_out())
    assert out.shape[1] == len(names)
    assert "note_common" in names and "note_word1 common" in names  # bigrams
    assert out[1].nnz == 0  # missing text is empty text


def test_text_features_min_df_drops_terms_seen_once_when_enough_rows() -> None:
    docs = [*DOCS, "hapax"]
    names = TextFeatures().fit(pd.Series(docs, name="t")).get_feature_names_out()
    assert "t_hapax" not in names
    few = TextFeatures().fit(pd.Series(["hapax one", "two words"], name="t"))
    assert "t_hapax" in few.get_feature_names_out()


def test_text_features_dense_svd_block_for_tree() -> None:
    tf = TextFeatures(n_components=5).fit(pd.DataFrame({"note": DOCS}))
    out = tf.transform(pd.DataFrame({"note": ["word1 common extra", None, "unseen words only"]}))
    assert isinstance(out, np.ndarray) and out.shape == (3, 7)
    assert list(tf.get_feature_names_out())[-2:] == ["note_length", "note_words"]
    assert out[0, -2:].tolist() == [18.0, 3.0]
    assert out[1].tolist() == [0.0] * 7


def test_text_features_adapts_components_to_tiny_vocabulary() -> None:
    tf = TextFeatures(n_components=20).fit(np.array([["alpha beta"], ["beta gamma"], ["alpha"]]))
    assert tf.svd_ is not None and tf.svd_.n_components == 2  # n_rows - 1
    one_term = TextFeatures(n_components=20).fit(pd.Series(["hotel", "hotel", None], name="t"))
    assert one_term.svd_ is None
    assert list(one_term.get_feature_names_out()) == ["t_hotel", "t_length", "t_words"]
    assert one_term.transform(pd.Series(["hotel"], name="t")).shape == (1, 3)


@pytest.mark.parametrize(
    "values",
    [
        [None, "", "a"],  # missing, blank, single letters are not tokens
        ["   ", "\t", None],
        ["?!", "...", "- -"],
        ["the and of", "it is what it is", "The"],  # English stop words only
    ],
)
@pytest.mark.parametrize("n_components", [None, 3])
def test_text_features_column_without_usable_text_raises(values, n_components) -> None:
    X = pd.DataFrame({"t": values})
    with pytest.raises(InvalidInputError, match="Text column 't' has no usable text: every value"):
        TextFeatures(n_components=n_components).fit(X)


def test_text_features_one_usable_row_is_enough() -> None:
    X = pd.DataFrame({"t": [None, "", "a", "the hotel"]})
    tf = TextFeatures().fit(X)
    assert "t_hotel" in tf.get_feature_names_out()
    assert tf.transform(pd.DataFrame({"t": ["", "a"]})).nnz == 0  # no usable text now: zeros


def test_check_text_column_names_the_column_and_the_fix() -> None:
    check_text_column(pd.Series(["fine words", None]), "note")
    with pytest.raises(InvalidInputError, match=r"--drop note\) or give it another role"):
        check_text_column(pd.Series([None, np.nan, " "], dtype=object), "note")


def test_text_features_fit_transform_matches_fit_then_transform() -> None:
    X = pd.DataFrame({"t": DOCS})
    tf = TextFeatures(n_components=4)
    np.testing.assert_allclose(
        tf.fit_transform(X), TextFeatures(n_components=4).fit(X).transform(X), atol=1e-10
    )


def test_text_features_rejects_several_columns_and_bad_components() -> None:
    with pytest.raises(ValueError, match=r"one text column at a time\. Got 2 columns"):
        TextFeatures().fit(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    with pytest.raises(ValueError, match="'n_components' parameter of TextFeatures"):
        TextFeatures(n_components=0).fit(pd.Series(DOCS))


def test_text_features_column_renamed_at_transform_raises() -> None:
    tf = TextFeatures().fit(pd.DataFrame({"a": DOCS}))
    with pytest.raises(ValueError, match=r"fitted on column 'a'\. Got 'b'"):
        tf.transform(pd.DataFrame({"b": DOCS}))
