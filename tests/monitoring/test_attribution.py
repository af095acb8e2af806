"""Attribution drift: the shares of mean |contribution| per column, and their shift."""

from __future__ import annotations

import numpy as np
import pytest

from modelloop.monitoring import (
    AlertRules,
    DriftConfig,
    attribution_drift,
    drift_report,
    with_attribution,
)
from modelloop.monitoring import alerts as fire


def test_attribution_drift_finds_a_model_leaning_on_other_columns() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(400, 4)) * [4.0, 1.0, 1.0, 1.0]
    cur = rng.normal(size=(400, 4)) * [1.0, 1.0, 1.0, 4.0]
    d = attribution_drift(ref, cur, ["a", "b", "c", "d"], output="probability", method="m")
    assert d.drifted is True and d.p_value <= 1 / 201 + 1e-12
    assert d.distance == pytest.approx(0.5 * np.abs(
        np.array([4, 1, 1, 1]) / 7 - np.array([1, 1, 1, 4]) / 7).sum(), abs=0.05)  # fmt: skip
    assert {d.moved[0].name, d.moved[1].name} == {"a", "d"}
    assert sum(c.reference_share for c in d.columns) == pytest.approx(1.0)
    assert d.verdict.startswith("shifted: shares moved by")


def test_attribution_drift_is_quiet_on_the_same_distribution_and_on_small_windows() -> None:
    rng = np.random.default_rng(1)
    scale = [3.0, 1.0, 0.5]
    same = attribution_drift(rng.normal(size=(300, 3)) * scale, rng.normal(size=(300, 3)) * scale,
                             ["a", "b", "c"])  # fmt: skip
    assert same.drifted is False and same.distance < 0.05
    small = attribution_drift(np.ones((10, 3)), np.ones((300, 3)), ["a", "b", "c"], min_rows=30)
    assert small.drifted is None and "not enough data" in small.verdict


def test_a_small_shift_on_noisy_windows_is_not_significant() -> None:
    rng = np.random.default_rng(2)
    ref = rng.exponential(size=(40, 3)) * [2.0, 1.0, 1.0]
    cur = rng.exponential(size=(40, 3)) * [1.6, 1.0, 1.0]
    d = attribution_drift(ref, cur, ["a", "b", "c"], threshold=0.01)
    assert d.distance >= 0.01 and d.p_value > 0.05 and d.drifted is False


def test_attribution_alert_fires_on_the_report_that_carries_a_shift() -> None:
    import pandas as pd

    from modelloop.data import infer_schema

    frame = pd.DataFrame({"x": np.random.default_rng(3).normal(size=200)})
    report = drift_report(frame, frame, infer_schema(frame), config=DriftConfig(domain=False))
    rng = np.random.default_rng(4)
    shift = attribution_drift(rng.normal(size=(200, 2)) * [3, 1], rng.normal(size=(200, 2)) * [1, 3],
                              ["x", "y"])  # fmt: skip
    fired = fire(with_attribution(report, shift), AlertRules())
    assert [a.rule for a in fired] == ["attribution_drift"]
    assert fired[0].message.startswith("What the model relies on shifted")
    assert fire(with_attribution(report, shift), AlertRules(max_attribution_shift=None)) == []
    assert fire(report, AlertRules()) == []
