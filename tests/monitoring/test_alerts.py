"""Alert rules and the webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import numpy as np
import pandas as pd
import pytest

from modelloop.config import Settings
from modelloop.data import ColumnSchema, Role, Schema
from modelloop.monitoring import (
    AlertRules,
    DriftConfig,
    PerformanceReport,
    WindowPerformance,
    alert_message,
    alerts,
    drift_report,
    send_webhook,
)

SCHEMA = Schema(tuple(ColumnSchema(f"x{i}", Role.NUMERIC, "float64") for i in range(4)))


def _report(shifted: int, *, performance=None, domain: bool = False):
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=600) for i in range(4)})
    cur = pd.DataFrame({f"x{i}": rng.normal(1.0 if i < shifted else 0.0, 1, 600) for i in range(4)})
    return drift_report(
        ref, cur, SCHEMA, config=DriftConfig(domain=domain), performance=performance
    )


def _perf(training: float, now: float, labeled: bool) -> PerformanceReport:
    values = {"roc_auc": now}
    current = WindowPerformance(
        "current",
        100,
        100 if labeled else 0,
        expected={"roc_auc": 0.99},
        actual=values if labeled else {},
    )
    return PerformanceReport("binary", "roc_auc", training, current)


def test_alerts_drift_share_rule_fires_at_threshold():
    assert [a.rule for a in alerts(_report(2), AlertRules(max_drift_share=0.5))] == ["drift_share"]
    assert alerts(_report(1), AlertRules(max_drift_share=0.5)) == []
    assert alerts(_report(4), AlertRules(max_drift_share=None)) == []
    fired = alerts(_report(2), AlertRules(max_drift_share=0.5))[0]
    assert fired.value == 0.5 and "x0, x1" in fired.message


def test_alerts_domain_auc_rule():
    report = _report(4, domain=True)
    assert report.domain.drifted
    rules = AlertRules(max_drift_share=None, max_domain_auc=0.55)
    assert [a.rule for a in alerts(report, rules)] == ["domain_auc"]
    assert alerts(report, AlertRules(max_drift_share=None, max_domain_auc=None)) == []


def test_alerts_metric_drop_uses_labels_before_the_estimate():
    rules = AlertRules(max_drift_share=None, max_metric_drop=0.05)
    fired = alerts(_report(0, performance=_perf(0.90, 0.80, labeled=True)), rules)
    assert [a.rule for a in fired] == ["metric_drop"]
    assert fired[0].value == pytest.approx(0.1111, abs=1e-3) and "(labels)" in fired[0].message
    # no labels: the estimate (0.99) is used, which is no drop
    assert alerts(_report(0, performance=_perf(0.90, 0.80, labeled=False)), rules) == []


def test_alert_rules_from_settings(settings):
    s = settings.with_overrides(monitor_drift_share=0.1, monitor_webhook_url="http://127.0.0.1:9/h")
    rules = AlertRules.from_settings(s)
    assert rules.max_drift_share == 0.1 and rules.webhook_url == "http://127.0.0.1:9/h"
    assert AlertRules.from_settings(Settings(home=settings.home)).max_metric_drop == 0.05


def test_send_webhook_posts_json_to_a_local_server():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        report = _report(2)
        fired = alerts(report, AlertRules(max_drift_share=0.5))
        url = f"http://127.0.0.1:{server.server_port}/hook"
        result = send_webhook(url, alert_message("churn:1", fired, report), timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok and result.status == 200
    assert received[0]["model"] == "churn:1" and received[0]["alerts"][0]["rule"] == "drift_share"
    assert received[0]["text"].startswith("modelloop: model churn:1 raised 1 alert")


def test_send_webhook_failure_is_reported_not_raised():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = send_webhook(
        "http://127.0.0.1:9/hook", {"text": "x"}, transport=httpx.MockTransport(refuse)
    )
    assert not result.ok and "ConnectError" in result.error
    bad = httpx.MockTransport(lambda request: httpx.Response(500, text="boom"))
    result = send_webhook("http://127.0.0.1:9/hook", {"text": "x"}, transport=bad)
    assert not result.ok and result.status == 500 and "boom" in result.error
