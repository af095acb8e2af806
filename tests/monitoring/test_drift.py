"""drift_report: test choice, false alarms, detection, domain classifier, correction."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelloop.data import ColumnSchema, Role, Schema
from modelloop.exceptions import ConfigurationError, EmptyDataError, SchemaMismatchError
from modelloop.monitoring import (
    NOT_ENOUGH_DATA,
    DriftConfig,
    adjust_pvalues,
    drift_html,
    drift_report,
    expected_accuracy,
    expected_roc_auc,
    window_performance,
)

NO_DOMAIN = DriftConfig(domain=False)


def _schema(**roles: str) -> Schema:
    return Schema(tuple(ColumnSchema(n, Role(r), "object") for n, r in roles.items()))


def _frame(n: int, seed: int, shift: float = 0.0, p_a: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "c": np.where(rng.random(n) < p_a, "a", rng.choice(["b", "c"], n)),
        }
    )


SCHEMA = _schema(x="numeric", c="categorical")


@pytest.mark.parametrize(
    ("n", "numeric_test", "categorical_test"),
    [(200, "ks", "chi2"), (5000, "wasserstein", "jensen_shannon")],
)
def test_drift_report_picks_test_by_role_and_sample_size(n, numeric_test, categorical_test):
    report = drift_report(_frame(n, 0), _frame(n, 1), SCHEMA, config=NO_DOMAIN)
    assert report.feature("x").test == numeric_test
    assert report.feature("c").test == categorical_test
    assert report.feature("x").psi is not None and report.feature("c").psi is not None


def test_drift_report_false_alarm_rate_on_identical_distributions_is_small():
    alarms = 0
    runs = 40
    for seed in range(runs):
        r = drift_report(_frame(400, 2 * seed), _frame(400, 2 * seed + 1), SCHEMA, config=NO_DOMAIN)
        alarms += len(r.drifted_features)
    assert alarms / (2 * runs) <= 0.05


@pytest.mark.parametrize("n", [300, 20_000])
def test_drift_report_detects_mean_and_frequency_shifts(n):
    report = drift_report(_frame(n, 0), _frame(n, 1, shift=0.5, p_a=0.8), SCHEMA, config=NO_DOMAIN)
    assert report.drifted_features == ["x", "c"]
    assert report.feature("x").reasons == ("distribution",)


def test_drift_report_large_window_ignores_negligible_shift():
    # 0.02 standard deviations is significant at 100k rows but below the Wasserstein threshold
    report = drift_report(
        _frame(100_000, 0), _frame(100_000, 1, shift=0.02), SCHEMA, config=NO_DOMAIN
    )
    x = report.feature("x")
    assert x.p_adjusted < 0.05 and x.statistic < x.threshold
    assert not x.drifted


def test_drift_report_flags_missing_rate_and_unseen_categories():
    ref = _frame(2000, 0)
    cur = _frame(2000, 1)
    cur.loc[:599, "x"] = np.nan
    cur.loc[:99, "c"] = "brand-new"
    report = drift_report(ref, cur, SCHEMA, config=NO_DOMAIN)
    assert "missing rate" in report.feature("x").reasons
    assert report.feature("x").missing_current == pytest.approx(0.3)
    assert "unseen categories" in report.feature("c").reasons
    assert report.feature("c").unseen_share == pytest.approx(0.05)


def test_drift_report_not_enough_data_verdict():
    report = drift_report(_frame(500, 0), _frame(10, 1, shift=3.0), SCHEMA, config=NO_DOMAIN)
    x = report.feature("x")
    assert x.drifted is None and x.verdict == NOT_ENOUGH_DATA and x.statistic is None
    assert report.drift_share == 0.0 and report.drifted_features == []
    domain = drift_report(_frame(500, 0), _frame(50, 1), SCHEMA).domain
    assert domain.verdict == NOT_ENOUGH_DATA and domain.auc is None


def test_domain_classifier_catches_correlation_change_no_marginal_shows():
    rng = np.random.default_rng(0)
    n = 3000
    a = rng.normal(size=n)
    ref = pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.3, size=n)})
    a2 = rng.normal(size=n)
    cur = pd.DataFrame({"a": a2, "b": rng.permutation(a2 + rng.normal(scale=0.3, size=n))})
    report = drift_report(ref, cur, _schema(a="numeric", b="numeric"))
    assert report.drifted_features == []
    assert report.domain.drifted and report.domain.auc > 0.7
    same = drift_report(
        ref, ref.sample(frac=1.0, random_state=1), _schema(a="numeric", b="numeric")
    )
    assert not same.domain.drifted and same.domain.auc < 0.56


def test_adjust_pvalues_bh_and_holm_correct_for_many_columns():
    p = [0.001, 0.02, 0.03, 0.5]
    assert adjust_pvalues(p, "bh") == pytest.approx([0.004, 0.04, 0.04, 0.5])
    assert adjust_pvalues(p, "holm") == pytest.approx([0.004, 0.06, 0.06, 0.5])
    with pytest.raises(ValueError, match="'bh' or 'holm'"):
        adjust_pvalues(p, "bonferroni")


def test_drift_report_corrects_pvalues_across_columns():
    # 20 null columns, one weak shift: the raw p-value passes, the corrected one decides
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({f"n{i}": rng.normal(size=300) for i in range(20)})
    cur = pd.DataFrame({f"n{i}": rng.normal(size=300) for i in range(20)})
    report = drift_report(
        ref, cur, _schema(**{f"n{i}": "numeric" for i in range(20)}), config=NO_DOMAIN
    )
    for f in report.features:
        assert f.p_adjusted >= f.p_value
        assert f.drifted == (f.p_adjusted < 0.05)
    holm = drift_report(
        ref,
        cur,
        _schema(**{f"n{i}": "numeric" for i in range(20)}),
        config=DriftConfig(domain=False, correction="holm"),
    )
    assert all(
        h.p_adjusted >= b.p_adjusted for h, b in zip(holm.features, report.features, strict=True)
    )


def test_drift_report_prediction_drift_numeric_and_labels():
    rng = np.random.default_rng(0)
    ref, cur = _frame(500, 0), _frame(500, 1)
    report = drift_report(
        ref,
        cur,
        SCHEMA,
        config=NO_DOMAIN,
        reference_output=rng.beta(2, 5, 500),
        current_output=rng.beta(5, 2, 500),
    )
    assert report.prediction.test == "ks" and report.prediction.drifted
    labels = drift_report(
        ref,
        cur,
        SCHEMA,
        config=NO_DOMAIN,
        reference_output=np.array(["x"] * 500),
        current_output=np.array(["x"] * 500),
    )
    assert labels.prediction.test == "chi2" and labels.prediction.drifted is False


def test_drift_report_bad_input_is_a_clear_error():
    with pytest.raises(EmptyDataError, match="current window has no rows"):
        drift_report(_frame(100, 0), _frame(100, 1).iloc[:0], SCHEMA)
    with pytest.raises(SchemaMismatchError, match="none of the model's feature columns"):
        drift_report(_frame(100, 0), pd.DataFrame({"other": [1, 2]}), SCHEMA)
    with pytest.raises(ConfigurationError, match="alpha must be in"):
        DriftConfig(alpha=2)


def test_drift_report_to_dict_is_json_and_html_embeds_histograms():
    report = drift_report(_frame(800, 0), _frame(800, 1, shift=1.0), SCHEMA)
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["drifted_features"] == ["x"]
    assert payload["features"][0]["histogram"]["kind"] == "numeric"
    page = drift_html(report)
    assert 'data-plot="hist-x"' in page and "http://" not in page and "https://" not in page


def test_expected_performance_matches_real_when_probabilities_are_calibrated():
    rng = np.random.default_rng(0)
    p = rng.beta(2, 2, 20_000)
    y = (rng.random(20_000) < p).astype(int)
    proba = np.column_stack([1 - p, p])
    from sklearn.metrics import roc_auc_score

    assert expected_accuracy(proba) == pytest.approx(np.mean((p > 0.5) == y), abs=0.01)
    assert expected_roc_auc(proba) == pytest.approx(roc_auc_score(y, p), abs=0.01)
    w = window_performance("now", "binary", classes=[0, 1], proba=proba, y_true=list(y))
    assert w.n_labeled == 20_000
    assert w.actual["roc_auc"] == pytest.approx(w.expected["roc_auc"], abs=0.01)


def test_drift_report_million_rows_uses_a_sample():
    rng = np.random.default_rng(0)
    n = 300_000
    ref = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abcd"), n)})
    report = drift_report(
        ref, ref.assign(x=ref["x"] + 0.2), SCHEMA, config=DriftConfig(domain=False, max_rows=20_000)
    )
    assert report.n_current == n and report.feature("x").n_current == 20_000
    assert report.drifted_features == ["x"]


def test_drift_report_same_on_raw_and_typed_input_with_missing_categories():
    from modelloop.data import conform

    ref, cur = _frame(600, 0), _frame(600, 1, shift=0.3)
    ref["c"] = ref["c"].astype("str")  # raw text, as read from a file
    cur.loc[:40, "c"] = None
    cur.loc[41:60, "c"] = " NA "  # a missing marker: missing once typed
    typed = conform(cur, SCHEMA, require=False, strict=False)
    a = drift_report(ref, cur, SCHEMA).to_dict()
    b = drift_report(ref, typed, SCHEMA).to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert a["features"][1]["missing_current"] == pytest.approx(61 / 600)
    assert a["domain"]["auc"] is not None


def test_domain_classifier_without_feature_columns_is_a_clear_error():
    from modelloop.monitoring import domain_classifier

    with pytest.raises(SchemaMismatchError, match="at least one feature column"):
        domain_classifier(_frame(200, 0), _frame(200, 1), Schema(()), NO_DOMAIN)
