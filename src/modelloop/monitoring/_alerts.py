"""Alert rules on a drift report, and the webhook that tells someone.

Rules come from :class:`~modelloop.config.Settings` (``monitor_*`` fields): the share of
drifted feature columns, the domain classifier's AUC, the drop of the followed metric
against its training-time value, and the shift of what the model relies on (attribution
drift, which may fire while every input column looks stable). A webhook failure is reported in the result, never
raised: monitoring must not crash because a chat server is down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from modelloop.config import Settings
    from modelloop.monitoring._drift import DriftReport

__all__ = ["Alert", "AlertRules", "WebhookResult", "alerts", "send_webhook"]


@dataclass(frozen=True)
class AlertRules:
    """When a report raises an alert (``None`` switches a rule off).

    Examples
    --------
    >>> AlertRules().max_drift_share
    0.3
    """

    max_drift_share: float | None = 0.3
    max_domain_auc: float | None = 0.55
    max_metric_drop: float | None = 0.05
    max_attribution_shift: float | None = 0.15
    webhook_url: str | None = None
    webhook_timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertRules:
        """The rules configured in ``settings`` (``monitor_*`` fields)."""
        return cls(
            max_drift_share=settings.monitor_drift_share,
            max_domain_auc=settings.monitor_domain_auc,
            max_metric_drop=settings.monitor_metric_drop,
            max_attribution_shift=settings.monitor_attribution_shift,
            webhook_url=settings.monitor_webhook_url,
            webhook_timeout=settings.monitor_webhook_timeout,
        )


@dataclass(frozen=True)
class Alert:
    """One rule that fired: its name, the value seen, the threshold and a sentence."""

    rule: str
    value: float
    threshold: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def alerts(report: DriftReport, rules: AlertRules) -> list[Alert]:
    """The rules that ``report`` breaks, in a fixed order (drift share, domain, metric,
    attribution).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modelloop.data import infer_schema
    >>> from modelloop.monitoring import DriftConfig, drift_report
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    >>> report = drift_report(ref, ref.assign(x=ref["x"] + 2), infer_schema(ref),
    ...                       config=DriftConfig(domain=False))
    >>> [a.rule for a in alerts(report, AlertRules())]
    ['drift_share']
    """
    fired: list[Alert] = []
    share = report.drift_share
    if (
        rules.max_drift_share is not None
        and report.drifted_features
        and share >= rules.max_drift_share
    ):
        names = ", ".join(report.drifted_features[:8])
        fired.append(
            Alert(
                "drift_share",
                share,
                rules.max_drift_share,
                f"{len(report.drifted_features)} of {len(report.features)} features drifted "
                f"({share:.0%} >= {rules.max_drift_share:.0%}): {names}.",
            )
        )
    domain = report.domain
    if (
        rules.max_domain_auc is not None
        and domain is not None
        and domain.auc is not None
        and domain.drifted
        and domain.auc >= rules.max_domain_auc
    ):
        top = ", ".join(n for n, _ in domain.top_features[:3])
        fired.append(
            Alert(
                "domain_auc",
                domain.auc,
                rules.max_domain_auc,
                f"A classifier tells current rows from reference rows with ROC AUC "
                f"{domain.auc:.3f} (>= {rules.max_domain_auc:.3f}); it relies most on {top}.",
            )
        )
    perf = report.performance
    drop = perf.drop if perf is not None else None
    if rules.max_metric_drop is not None and drop is not None and drop >= rules.max_metric_drop:
        fired.append(
            Alert(
                "metric_drop",
                drop,
                rules.max_metric_drop,
                f"{perf.metric} is {perf.current_value:.4f} ({perf.source}) against "
                f"{perf.training:.4f} at training time: {drop:.1%} worse "
                f"(>= {rules.max_metric_drop:.0%}).",
            )
        )
    shift = report.attribution
    if (
        rules.max_attribution_shift is not None
        and shift is not None
        and shift.drifted
        and shift.distance >= rules.max_attribution_shift
    ):
        moved = ", ".join(
            f"{c.name} {c.reference_share:.0%} -> {c.current_share:.0%}" for c in shift.moved[:3]
        )
        fired.append(
            Alert(
                "attribution_drift",
                shift.distance,
                rules.max_attribution_shift,
                f"What the model relies on shifted: shares of mean |contribution| moved by "
                f"{shift.distance:.3f} (>= {rules.max_attribution_shift:.3f}, p="
                f"{shift.p_value:.3g}): {moved}.",
            )
        )
    return fired


@dataclass(frozen=True)
class WebhookResult:
    """What happened to the webhook call: ``ok``, the HTTP status, or the error text."""

    url: str
    ok: bool
    status: int | None = None
    error: str | None = None


def send_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float = 5.0,
    transport: httpx.BaseTransport | None = None,
) -> WebhookResult:
    """POST ``payload`` as JSON to ``url``; failures come back in the result, not raised.

    Examples
    --------
    >>> ok = httpx.MockTransport(lambda request: httpx.Response(204))
    >>> send_webhook("http://hooks.invalid/x", {"text": "hi"}, transport=ok).ok
    True
    """
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, json=payload)
    except httpx.HTTPError as exc:
        return WebhookResult(url, False, None, f"{type(exc).__name__}: {exc}")
    if response.is_success:
        return WebhookResult(url, True, response.status_code)
    return WebhookResult(
        url, False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
    )


def alert_message(model: str, fired: Sequence[Alert], report: DriftReport) -> dict[str, Any]:
    """The JSON body of the webhook call: a one-line ``text`` plus the details."""
    lines = "; ".join(a.message for a in fired)
    return {
        "text": f"modelloop: model {model} raised {len(fired)} alert(s): {lines}",
        "model": model,
        "alerts": [a.to_dict() for a in fired],
        "drift_share": report.drift_share,
        "drifted_features": report.drifted_features,
        "domain_auc": report.domain.auc if report.domain else None,
        "sent_at": datetime.now(UTC).isoformat(),
    }
