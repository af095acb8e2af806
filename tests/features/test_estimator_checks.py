"""scikit-learn's conformance suite on our transformers."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from modelloop.features import DatetimeFeatures, MissingCategory, TextFeatures

# TextFeatures takes exactly one text column; these checks feed 2-D numeric arrays with
# several columns (or a 1-D array, which we accept on purpose as one column of text).
_ONE_COLUMN = "feeds several columns; TextFeatures takes exactly one text column"
_TEXT_FAILURES = {
    name: _ONE_COLUMN
    for name in (
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
    )
} | {"check_fit1d": "a 1-D array is one text column (a Series), accepted on purpose"}

# MissingCategory outputs strings (categories for the encoder after it); these checks
# compare outputs numerically (assert_allclose) or expect float output.
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
        "check_transformer_preserve_dtypes",
    )
}

_EXPECTED = {
    "DatetimeFeatures": {
        "check_dtype_object": "strings are parsed as dates (unparseable ones become NaT) "
        "instead of raising TypeError"
    },
    "MissingCategory": _CATEGORY_FAILURES,
    "TextFeatures": _TEXT_FAILURES,
}


@parametrize_with_checks(
    [DatetimeFeatures(), MissingCategory(), TextFeatures(), TextFeatures(n_components=3)],
    expected_failed_checks=lambda est: _EXPECTED[type(est).__name__],
)
def test_transformer_passes_sklearn_checks(estimator, check) -> None:
    check(estimator)
