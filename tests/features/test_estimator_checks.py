"""scikit-learn's conformance suite on our transformers.

A check excused here fails for a reason written beside it, and what it checks is tested
on the input the transformer is made for in tests/features/test_excused_checks.py.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.features import DatetimeFeatures, MissingCategory, SchemaEnforcer, TextFeatures

# TextFeatures takes one text column: as its tags say (``one_d_array``), the suite feeds
# it a 1-D array, which these checks then index or unpack as a 2-D one.
_CHECK_INDEXES_2D = "the check indexes the 1-D text column it made as a 2-D array"
_TEXT_FAILURES = {
    name: _CHECK_INDEXES_2D
    for name in (
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_estimator_sparse_array",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
    )
} | {
    "check_fit1d": "a 1-D array is one text column (a Series), accepted on purpose",
    "check_estimators_dtypes": "numbers of one digit hold no usable text: refused on purpose",
}

# MissingCategory outputs strings (categories for the encoder after it); these checks
# compare outputs with assert_allclose, as numbers.
_STRING_OUTPUT = "outputs str categories; the check compares outputs as numbers"
_CATEGORY_FAILURES = {
    name: _STRING_OUTPUT
    for name in (
        "check_estimators_pickle",
        "check_fit_idempotent",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_pipeline_consistency",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
    )
}

# SchemaEnforcer takes the columns of its schema and no others; these checks fit it on
# arrays of other widths (or of one row of one value), which it refuses with a
# SchemaMismatchError naming the columns it expects.
_WIDTH = "feeds another number of columns than the schema's three"
_ENFORCER_FAILURES = {
    name: _WIDTH
    for name in (
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
    )
} | {
    "check_complex_data": "complex numbers are refused with modelloop's message, which "
    "names the column and the value, not with scikit-learn's wording",
    "check_estimators_empty_data_messages": "zero rows conform to an empty frame: an "
    "empty batch is valid input to a served model",
}

_EXPECTED = {
    "DatetimeFeatures": {
        "check_dtype_object": "strings are parsed as dates (unparseable ones become NaT) "
        "instead of raising TypeError"
    },
    "MissingCategory": _CATEGORY_FAILURES,
    "SchemaEnforcer": _ENFORCER_FAILURES,
    "TextFeatures": _TEXT_FAILURES,
}

_SCHEMA = Schema(tuple(ColumnSchema(f"x{i}", Role.NUMERIC, "float64") for i in range(3)))


@parametrize_with_checks(
    [
        DatetimeFeatures(),
        MissingCategory(),
        SchemaEnforcer(_SCHEMA.to_dict()),
        TextFeatures(),
        TextFeatures(n_components=3),
    ],
    expected_failed_checks=lambda est: _EXPECTED[type(est).__name__],
)
def test_transformer_passes_sklearn_checks(estimator, check) -> None:
    check(estimator)
