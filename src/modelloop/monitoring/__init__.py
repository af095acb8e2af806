"""Monitoring: drift between reference and production data, performance, alert rules.

Pure computation on DataFrames and arrays (the workflow ``modelloop.workflows.monitor``
reads the store and calls it):

* :func:`drift_report` -- per-feature tests picked by role and sample size (KS or
  normalized Wasserstein, chi-squared or Jensen-Shannon, PSI as a second opinion, missing
  rate, unseen categories) with p-values corrected for many columns, prediction drift, and
  a domain classifier for multivariate drift;
* :func:`window_performance` -- expected accuracy / ROC AUC from calibrated probabilities
  (no labels needed) beside the measured metric where labels exist;
* :func:`attribution_drift` -- whether what the model relies on (each input column's share of
  its mean absolute contribution) moved between the reference and recent traffic;
* :func:`alerts` and :func:`send_webhook` -- rules from the config, and the message.

>>> import numpy as np, pandas as pd
>>> from modelloop.data import infer_schema
>>> ref = pd.DataFrame({"x": np.random.default_rng(0).normal(size=300)})
>>> drift_report(ref, ref, infer_schema(ref), config=DriftConfig(domain=False)).drift_share
0.0
"""

from __future__ import annotations

from modelloop.monitoring._alerts import (
    Alert,
    AlertRules,
    WebhookResult,
    alert_message,
    alerts,
    send_webhook,
)
from modelloop.monitoring._attribution import (
    AttributionDrift,
    ColumnAttribution,
    attribution_drift,
)
from modelloop.monitoring._config import NOT_ENOUGH_DATA, DriftConfig
from modelloop.monitoring._correction import adjust_pvalues
from modelloop.monitoring._domain import DomainDrift, domain_classifier
from modelloop.monitoring._drift import (
    MAX_IMAGE_ROWS,
    DriftReport,
    FeatureDrift,
    drift_report,
    with_attribution,
    with_windows,
)
from modelloop.monitoring._html import drift_html
from modelloop.monitoring._performance import (
    PerformanceReport,
    WindowPerformance,
    expected_accuracy,
    expected_roc_auc,
    monitored_metric,
    window_performance,
)
from modelloop.monitoring._rewards import (
    STATUSES,
    RewardReport,
    RewardWindow,
    reward_alert,
    reward_report,
)

__all__ = [
    "MAX_IMAGE_ROWS",
    "NOT_ENOUGH_DATA",
    "STATUSES",
    "Alert",
    "AlertRules",
    "AttributionDrift",
    "ColumnAttribution",
    "DomainDrift",
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "PerformanceReport",
    "RewardReport",
    "RewardWindow",
    "WebhookResult",
    "WindowPerformance",
    "adjust_pvalues",
    "alert_message",
    "alerts",
    "attribution_drift",
    "domain_classifier",
    "drift_html",
    "drift_report",
    "expected_accuracy",
    "expected_roc_auc",
    "monitored_metric",
    "reward_alert",
    "reward_report",
    "send_webhook",
    "window_performance",
    "with_attribution",
    "with_windows",
]
