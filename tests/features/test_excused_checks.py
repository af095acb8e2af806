"""What the conformance checks excused in test_estimator_checks.py check, tested on the
input each transformer is made for: one text column for TextFeatures, string categories
out of MissingCategory, exactly the schema's columns into SchemaEnforcer."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import InvalidInputError, SchemaMismatchError
from modelloop.features import MissingCategory, SchemaEnforcer, TextFeatures

_WORDS = ["good", "bad", "food", "service", "slow", "quick", "friendly", "cold", "warm", "view"]


def _texts(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [" ".join(rng.choice(_WORDS, size=rng.integers(2, 6))) for _ in range(n)]
    rows[3] = None  # a missing text is an empty one
    return pd.DataFrame({"review": rows})


def _categories(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"city": rng.choice(["Oslo", "Rome", None], n), "size": rng.choice([1, 2, 3], n)}
    )
    frame.loc[2, "size"] = np.nan
    return frame


_SCHEMA = Schema(
    (
        ColumnSchema("age", Role.NUMERIC, "float64"),
        ColumnSchema("city", Role.CATEGORICAL, "object", categories=("Oslo", "Rome")),
    )
)


def _rows(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"age": rng.integers(18, 90, n).astype(str), "city": rng.choice(["Oslo", "Rome"], n)}
    )


# (estimator, training rows, other rows) for each transformer with excused checks
CASES = {
    "text_sparse": (TextFeatures(), _texts(), _texts(12, seed=1)),
    "text_dense": (TextFeatures(n_components=3), _texts(), _texts(12, seed=1)),
    "missing_category": (MissingCategory(), _categories(), _categories(12, seed=1)),
    "schema_enforcer": (SchemaEnforcer(_SCHEMA.to_dict()), _rows(), _rows(12, seed=1)),
}


def _dense(out):
    out = out.toarray() if sparse.issparse(out) else out
    return out.to_numpy() if isinstance(out, pd.DataFrame) else np.asarray(out)


def _assert_same(a, b) -> None:
    a, b = _dense(a), _dense(b)
    assert a.shape == b.shape
    if a.dtype == object or b.dtype == object:
        assert pd.DataFrame(a).equals(pd.DataFrame(b))
    else:
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


@pytest.fixture(params=sorted(CASES))
def case(request):
    est, X, other = CASES[request.param]
    return clone(est), X, other


def test_fit_returns_self_and_leaves_params_and_public_attributes_alone(case) -> None:
    # check_estimators_fit_returns_self, check_estimators_overwrite_params,
    # check_dont_overwrite_parameters
    est, X, _ = case
    before = {k: repr(v) for k, v in est.get_params().items()}
    public = {k for k in vars(est) if not k.endswith("_")}
    assert est.fit(X) is est
    assert {k: repr(v) for k, v in est.get_params().items()} == before
    assert {k for k in vars(est) if not k.endswith("_") and not k.startswith("_")} == public


def test_unfitted_transform_raises_not_fitted(case) -> None:
    # check_fit_check_is_fitted
    est, X, _ = case
    with pytest.raises(NotFittedError):
        est.transform(X)


def test_transform_leaves_the_fitted_state_unchanged(case) -> None:
    # check_dict_unchanged
    est, X, other = case
    est.fit(X)
    state = pickle.dumps(vars(est))
    est.transform(other)
    assert pickle.dumps(vars(est)) == state


def test_fit_is_idempotent_and_fit_transform_equals_fit_then_transform(case) -> None:
    # check_fit_idempotent, check_transformer_general, check_pipeline_consistency
    est, X, other = case
    first = clone(est).fit(X).transform(other)
    _assert_same(est.fit(X).transform(other), first)
    _assert_same(est.fit(X).transform(other), first)  # a second fit changes nothing
    _assert_same(clone(est).fit_transform(X), clone(est).fit(X).transform(X))
    _assert_same(make_pipeline(clone(est)).fit(X).transform(other), first)


def test_rows_are_transformed_independently_of_order_and_batch(case) -> None:
    # check_methods_sample_order_invariance, check_methods_subset_invariance
    est, X, other = case
    est.fit(X)
    whole = _dense(est.transform(other))
    order = np.random.default_rng(0).permutation(len(other))
    _assert_same(est.transform(other.iloc[order]), whole[order])
    for rows in np.array_split(np.arange(len(other)), 3):
        _assert_same(est.transform(other.iloc[rows]), whole[rows])


def test_plain_arrays_lists_and_read_only_arrays_give_the_frame_output(case) -> None:
    # check_transformer_data_not_an_array, check_readonly_memmap_input,
    # check_f_contiguous_array_estimator, check_dtype_object
    est, X, other = case
    est.fit(X)
    expected = est.transform(other)
    array = other.to_numpy(dtype=object)
    frozen = array.copy()
    frozen.flags.writeable = False
    for data in (array, array.tolist(), frozen, np.asfortranarray(array)):
        _assert_same(est.transform(data), expected)


def test_estimator_pickles_and_predicts_the_same(case) -> None:
    # check_estimators_pickle
    est, X, other = case
    est.fit(X)
    _assert_same(pickle.loads(pickle.dumps(est)).transform(other), est.transform(other))


def test_n_features_in_is_set_and_another_width_is_refused(case) -> None:
    # check_n_features_in, check_n_features_in_after_fitting, check_fit2d_predict1d
    est, X, other = case
    est.fit(X)
    assert est.n_features_in_ == X.shape[1]
    wider = np.column_stack([other.to_numpy(dtype=object)] * 2)
    with pytest.raises(ValueError):
        est.transform(wider)


def test_one_row_fits(case) -> None:
    # check_fit2d_1sample, check_fit2d_1feature
    est, X, _ = case
    row = X.iloc[[0]]
    _assert_same(est.fit(row).transform(row), clone(est).fit_transform(row))


def test_text_features_take_a_1d_column_and_refuse_sparse_and_wordless_numbers() -> None:
    # check_fit1d, check_estimator_sparse_array, check_estimators_dtypes
    X = _texts()
    _assert_same(TextFeatures().fit(X["review"].to_numpy()).transform(X), TextFeatures().fit_transform(X))
    with pytest.raises(TypeError, match="Sparse input is not supported"):
        TextFeatures().fit(sparse.csr_matrix(np.ones((3, 1))))
    assert TextFeatures().fit_transform(np.array([12, 345, 6789])).shape == (3, 3)
    with pytest.raises(InvalidInputError, match="no usable text"):
        TextFeatures().fit(np.array([1, 2, 3]))


def test_schema_enforcer_refuses_another_width_complex_numbers_and_takes_no_rows() -> None:
    # check_estimators_dtypes, check_positive_only_tag_during_fit, check_complex_data,
    # check_estimators_empty_data_messages
    est = SchemaEnforcer(_SCHEMA.to_dict())
    with pytest.raises(SchemaMismatchError, match=r"must have 2 values, in the order \['age', 'city'\]"):
        est.fit(np.zeros((5, 3)))
    with pytest.raises(InvalidInputError, match=r"Column 'age' of input must be numeric. Got \(1\+2j\)"):
        est.fit(np.array([[1 + 2j, "Oslo"]], dtype=object))
    assert est.fit_transform(np.zeros((0, 2))).shape == (0, 2)
    np.testing.assert_array_equal(
        est.fit_transform(np.array([[-3.5, "Rome"]], dtype=object))["age"], [-3.5]
    )
