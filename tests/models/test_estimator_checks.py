"""scikit-learn's conformance suite on modelloop's own estimators (the transformers' run in
tests/features/test_estimator_checks.py, the network's in test_torch.py, the clusterers'
in test_unsupervised.py)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from modelloop.models import FoldBag, LogTargetRegressor, TemperatureScaled
from modelloop.models._catalog import HistGBClassifier, HistGBRegressor

_EXPECTED: dict[str, dict[str, str]] = {}


@parametrize_with_checks(
    [
        TemperatureScaled(LogisticRegression(), temperature=1.5),
        FoldBag([LogisticRegression(), LogisticRegression(C=0.1)], weights=[2.0, 1.0]),
        FoldBag([Ridge(), Ridge(alpha=10.0)]),
        LogTargetRegressor(Ridge()),
        HistGBClassifier(max_iter=10),
        HistGBRegressor(max_iter=10),
    ],
    expected_failed_checks=lambda est: _EXPECTED.get(type(est).__name__, {}),
)
def test_model_passes_sklearn_checks(estimator, check) -> None:
    check(estimator)
