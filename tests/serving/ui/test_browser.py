"""The dashboard in a real browser: headless Chromium, driven by Selenium, against a live server.

Skipped (saying why) only when Chromium is not installed; ``make test`` installs it first
with scripts/browser-up.sh.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.browser

API_KEY = "ui-secret"


def _wait(predicate: Any, timeout: float = 20.0, what: str = "the page") -> Any:
    """Poll ``predicate`` until it is truthy; a page that reloads meanwhile is polled again."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _by_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def test_models_page_lists_the_trained_model(browser: Any, live_server: str) -> None:
    browser.get(f"{live_server}/ui/models")
    rows = _by_css(browser, "#models tbody tr")
    assert [r.get_attribute("data-model") for r in rows] == ["titanic"]
    text = rows[0].text
    assert "production → v1" in text
    assert "roc_auc" in text
    _by_css(browser, "a.model-link")[0].click()
    _wait(lambda: browser.current_url.endswith("/ui/models/titanic"), what="the model page")
    versions = [r.get_attribute("data-version") for r in _by_css(browser, "#versions tbody tr")]
    assert versions == ["2", "1"]


def test_run_page_shows_plots_and_leaderboard(browser: Any, live_server: str) -> None:
    browser.get(f"{live_server}/ui/runs")
    links = _by_css(browser, "#runs a.run-link")
    assert len(links) == 2
    links[0].click()  # the newest run: two model families searched
    _wait(lambda: _by_css(browser, "#plots"), what="the run page")
    charts = _by_css(browser, "#plots svg.chart")
    assert len(charts) == 2
    assert _by_css(browser, "#plots svg.chart rect")  # the leaderboard's bars
    assert _by_css(browser, "#plots svg.chart polyline.series")  # the search history
    for chart in charts:
        box = chart.size
        assert box["width"] > 200 and box["height"] > 80
    models = [r.text.split()[0] for r in _by_css(browser, "#leaderboard tbody tr")]
    assert any(m.startswith("decision_tree") for m in models)


def test_run_page_embeds_the_report_plots(browser: Any, live_server: str) -> None:
    browser.get(f"{live_server}/ui/runs")
    _by_css(browser, "#runs a.run-link")[0].click()
    frames = _wait(lambda: _by_css(browser, "iframe#report"), what="the report frame")
    browser.execute_script("arguments[0].scrollIntoView();", frames[0])  # it loads lazily
    browser.switch_to.frame(frames[0])
    try:
        # The report is made on first request (a few seconds); its plots are embedded images.
        images = _wait(
            lambda: _by_css(browser, "img") or _by_css(browser, "#no-report"),
            timeout=120,
            what="the report",
        )
        assert not _by_css(browser, "#no-report"), _by_css(browser, "#no-report")[0].text
        assert len(images) >= 3
        assert all(img.size["width"] > 50 for img in images[:3])
    finally:
        browser.switch_to.default_content()


def test_compare_shows_both_runs(browser: Any, live_server: str) -> None:
    browser.get(f"{live_server}/ui/runs")
    button = _by_css(browser, "#compare-button")[0]
    assert not button.is_enabled()
    boxes = _by_css(browser, "input.pick")
    ids = [b.get_attribute("value") for b in boxes]
    for box in boxes:
        box.click()
    assert button.is_enabled()
    button.click()
    _wait(lambda: "/ui/compare" in browser.current_url, what="the compare page")
    headers = [h.text for h in _by_css(browser, "#compare-metrics thead th[data-run]")]
    assert len(headers) == 2
    assert {h.split()[0].lower() for h in headers} == set(ids)
    columns = _by_css(browser, ".compare-column")
    assert len(columns) == 2
    for column in columns:
        assert len(column.find_elements("css selector", "svg.chart")) == 2
    assert _by_css(browser, "#compare-metrics td.best")


def _text(driver: Any, selector: str) -> str:
    found = _by_css(driver, selector)
    return found[0].text if found else ""


def _production(browser: Any) -> str:
    rows = _by_css(browser, "#aliases tr[data-alias='production'] .alias-version")
    return rows[0].text if rows else ""


def test_promote_moves_the_alias_and_is_refused_without_the_key(
    browser: Any, live_server: str, live_store: Any
) -> None:
    browser.get(f"{live_server}/ui/models/titanic")
    assert _production(browser) == "v1"
    promote_v2 = "#versions tr[data-version='2'] button.promote-button"

    _by_css(browser, promote_v2)[0].click()  # no key
    flash = _wait(lambda: [f for f in _by_css(browser, "#flash") if f.is_displayed()])
    assert "401" in flash[0].text and "needs an API key" in flash[0].text
    assert live_store.get_model_version("titanic", alias="production").version == 1

    key = _by_css(browser, "#api-key")[0]
    key.send_keys("wrong-key")
    _by_css(browser, promote_v2)[0].click()
    _wait(lambda: "403" in _text(browser, "#flash"), what="the refusal")
    assert "wrong" in _by_css(browser, "#flash")[0].text
    assert live_store.get_model_version("titanic", alias="production").version == 1

    key.clear()
    key.send_keys(API_KEY)
    _by_css(browser, promote_v2)[0].click()
    _wait(lambda: "now points at version 2" in _text(browser, "#message"), what="the promotion")
    assert _production(browser) == "v2"
    assert live_store.get_model_version("titanic", alias="production").version == 2

    # Roll back: the key stays in this tab; production goes back to version 1.
    _by_css(browser, "#aliases tr[data-alias='production'] button.rollback")[0].click()
    _wait(lambda: "rolled back" in _text(browser, "#message"), what="the rollback")
    assert _production(browser) == "v1"


def test_missing_ids_show_a_404_page(browser: Any, live_server: str) -> None:
    browser.get(f"{live_server}/ui/runs/0123456789abcdef")
    heading = _by_css(browser, ".error-page h1")[0].text
    assert heading.startswith("404")
    assert "No run with id" in _by_css(browser, ".error-message")[0].text
    assert "Traceback" not in browser.page_source
    browser.get(f"{live_server}/ui/models/no-such-model")
    assert _by_css(browser, ".error-page h1")[0].text.startswith("404")


def test_live_page_drift_panel_fills_in_and_links_the_drift_report(
    browser: Any, live_server: str, live_store: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from modelloop.data._bundled import load_bundled

    rows = load_bundled("titanic").drop(columns=["Survived"]).head(300)
    rows["Age"] = pd.to_numeric(rows["Age"], errors="coerce") + 25  # an older crowd
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
    start = datetime.now(UTC) - timedelta(minutes=20)
    live_store.log_predictions(
        [
            {
                "request_id": f"drift-{i}",
                "model_name": "titanic",
                "model_version": 1,
                "inputs": inputs,
                "prediction": "0",
                "latency_ms": 2.0,
                "created_at": start + timedelta(seconds=4 * i),
            }
            for i, inputs in enumerate(records)
        ]
    )
    browser.get(f"{live_server}/ui/live/titanic")
    # The first view answers at once; the panel refreshes itself once the check is done.
    _wait(
        lambda: _by_css(browser, "#drift[data-state='ready']"),
        timeout=90,
        what="the drift panel",
    )
    drifted = _by_css(browser, "#drift-features tbody tr.drifted")
    assert "Age" in [r.get_attribute("data-feature") for r in drifted]
    assert _by_css(browser, "#drift figure[data-chart='drift-drift'] polyline.series")
    assert _text(browser, "#drift-badge") in ("alert", "no alert")
    href = _by_css(browser, "#drift-report-link")[0].get_attribute("href")
    browser.get(href)
    assert "Drift report" in browser.title
    assert _by_css(browser, "img")  # the histograms, embedded


def test_report_file_opens_in_chromium_with_every_expected_plot(
    browser: Any, live_store: Any, tmp_path: Any
) -> None:
    """``modelloop report`` output, opened from disk: every expected figure has a drawn image."""
    from modelloop.evaluation import expected_plots
    from modelloop.workflows import report

    record = live_store.resolve("titanic")
    path = report(record.ref, tmp_path / "report.html", store=live_store)
    browser.get(path.resolve().as_uri())
    _wait(lambda: _by_css(browser, "figure[data-plot]"), what="the report's figures")
    drawn = browser.execute_script(
        """
        const out = {};
        for (const fig of document.querySelectorAll('figure[data-plot]')) {
          const img = fig.querySelector('img');
          out[fig.dataset.plot] = img ? [img.complete, img.naturalWidth, img.naturalHeight] : null;
        }
        return out;
        """
    )
    for name in expected_plots(record.task):
        assert drawn.get(name), f"{name} missing from the report: {sorted(drawn)}"
        complete, width, height = drawn[name]
        assert complete and width > 100 and height > 100, (name, drawn[name])
    # Optional figures (importance, history, learning curve), when present, are drawn too.
    assert all(v is None or v[1] > 100 for v in drawn.values()), drawn
