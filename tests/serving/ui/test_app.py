"""The dashboard over HTTP (no browser): pages, error pages, promote and rollback, pagination."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

API_KEY = "ui-secret"


def test_create_app_mounts_the_dashboard_at_ui(ui_client: Any) -> None:
    answer = ui_client.get("/ui/models")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'data-model="titanic"' in answer.text
    assert "production → v1" in answer.text


def test_ui_root_redirects_to_the_models_page(ui_client: Any) -> None:
    answer = ui_client.get("/ui/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/ui/models"


def test_pages_load_nothing_from_another_host(ui_client: Any, ui_store: Any) -> None:
    run = ui_store.list_runs()[0]
    for path in ("/ui/models", "/ui/runs", f"/ui/runs/{run.id}", "/ui/live/titanic"):
        html = ui_client.get(path).text
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert url.startswith("/"), f"{path} refers to {url}"
    assert ui_client.get("/ui/static/ui.css").status_code == 200
    assert ui_client.get("/ui/static/ui.js").status_code == 200


def test_model_page_lists_versions_newest_first(ui_client: Any) -> None:
    html = ui_client.get("/ui/models/titanic").text
    assert re.findall(r'data-version="(\d+)"', html) == ["2", "1"]
    assert 'data-alias="production"' in html


def test_version_page_shows_metrics_schema_and_report_frame(ui_client: Any) -> None:
    html = ui_client.get("/ui/models/titanic/versions/1").text
    assert 'data-section="test"' in html and 'data-section="cv"' in html
    assert 'id="schema"' in html and "<td>Sex</td>" in html
    assert 'src="/ui/models/titanic/versions/1/report"' in html


def test_run_page_shows_leaderboard_and_charts(ui_client: Any, ui_store: Any) -> None:
    run = ui_store.list_runs()[0]
    html = ui_client.get(f"/ui/runs/{run.short_id}").text
    assert 'id="leaderboard"' in html
    assert html.count('<svg class="chart"') == 2
    assert "decision_tree" in html


def test_compare_page_shows_each_run(ui_client: Any, ui_store: Any) -> None:
    runs = ui_store.list_runs()
    html = ui_client.get(f"/ui/compare?ids={runs[0].short_id},{runs[1].short_id}").text
    assert re.findall(r'<th data-run="([0-9a-f]+)"', html) == [runs[0].id, runs[1].id]
    assert html.count('class="compare-column"') == 2
    assert html.count("data-metric=") == 1  # one metric: one overlaid history


def test_compare_page_gives_each_metric_its_own_axis(ui_client: Any, ui_store: Any) -> None:
    trained = ui_store.list_runs()[0]
    other = ui_store.create_run(name="by-accuracy", dataset_hash=trained.dataset_hash,
                                target=trained.target, task=trained.task, metric="accuracy",
                                params={})  # fmt: skip
    ui_store.finish_run(other.id, status="finished", cv_metrics={"accuracy": 0.8})
    html = ui_client.get(f"/ui/compare?ids={trained.short_id},{other.short_id}").text
    metrics = re.findall(r'<section class="panel" data-metric="([a-z_]+)"', html)
    assert sorted(metrics) == sorted({trained.metric, "accuracy"})
    assert "each metric has its own axis" in html


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/ui/models/nope", 404, "No model named &#39;nope&#39;"),
        ("/ui/models/titanic/versions/9", 404, "has no version 9"),
        ("/ui/models/titanic/versions/x", 422, "Field &#39;path.version&#39;"),
        ("/ui/runs/0123456789abcdef", 404, "No run with id"),
        ("/ui/runs/0123456789abcdef/report", 404, "No run with id"),
        ("/ui/compare?ids=abcd1234", 422, "Compare takes 2 to 6 run ids"),
        ("/ui/compare?ids=abcd1234,dcba4321", 404, "No run with id"),
        ("/ui/runs?per_page=0", 422, "Field &#39;query.per_page&#39;"),
        ("/ui/runs?after=0123456789abcdef", 404, "No run with id"),
        ("/ui/runs?metric=roc_auc&op=~&value=1", 422, "A metric filter needs a metric name"),
        ("/ui/runs?metric=roc_auc&value=high", 422, "as in roc_auc &gt; 0.9"),
        ("/ui/runs?metric=roc_auc&value=1&scope=train", 422, "must be one of cv, test"),
        ("/ui/runs?status=done", 422, "Run status must be one of"),
        ("/ui/live/nope", 404, "No model named"),
        ("/ui/no/such/page", 404, "There is no page at /ui/no/such/page"),
    ],
)
def test_bad_ids_get_an_error_page_not_a_traceback(
    ui_client: Any, path: str, status: int, message: str
) -> None:
    answer = ui_client.get(path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert message in answer.text
    assert "Traceback" not in answer.text


def test_error_answers_json_when_asked(ui_client: Any) -> None:
    answer = ui_client.get("/ui/models/nope", headers={"accept": "application/json"})
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(
    ("headers", "data", "status", "message"),
    [
        ({}, {"version": "2"}, 401, "needs an API key"),
        ({"x-api-key": "wrong"}, {"version": "2"}, 403, "is wrong"),
        ({}, {"version": "2", "api_key": "wrong"}, 403, "is wrong"),
        ({"authorization": "Bearer wrong"}, {"version": "2"}, 403, "is wrong"),
    ],
)
def test_promote_is_refused_without_the_right_key(
    ui_client: Any, ui_store: Any, headers: dict, data: dict, status: int, message: str
) -> None:
    answer = ui_client.post(
        "/ui/models/titanic/promote", data=data, headers={"accept": "application/json", **headers}
    )
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]
    assert ui_store.get_model_version("titanic", alias="production").version == 1


def test_promote_refusal_is_an_html_page_for_a_plain_form(ui_client: Any) -> None:
    answer = ui_client.post("/ui/models/titanic/promote", data={"version": "2", "api_key": "x"})
    assert answer.status_code == 403
    assert '<h1><span class="status">403</span> Refused</h1>' in answer.text


def test_promote_is_refused_when_the_server_has_no_key(ui_home: Any) -> None:
    from fastapi.testclient import TestClient

    from modelloop.config import Settings
    from modelloop.serving.ui import ui_app

    with TestClient(ui_app(Settings(home=ui_home, api_key=None))) as client:
        answer = client.post(
            "/ui/models/titanic/promote",
            data={"version": "2", "api_key": "anything"},
            headers={"accept": "application/json"},
        )
    assert answer.status_code == 403
    assert "has none configured" in answer.json()["error"]["message"]


def test_promote_with_the_key_moves_the_alias_and_the_server_switches(
    ui_client: Any, ui_store: Any
) -> None:
    answer = ui_client.post(
        "/ui/models/titanic/promote",
        data={"version": "2", "alias": "production"},
        headers={"accept": "application/json", "x-api-key": API_KEY},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["changes"] == ["titanic: 1 -> 2"]
    assert ui_store.get_model_version("titanic", alias="production").version == 2
    assert ui_client.get("/v1/models/titanic").json()["default_version"] == 2


def test_promote_from_a_plain_form_redirects_to_the_model_page(
    ui_client: Any, ui_store: Any
) -> None:
    answer = ui_client.post(
        "/ui/models/titanic/promote",
        data={"version": "2", "alias": "staging", "api_key": API_KEY},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ui/models/titanic?msg=")
    assert ui_store.get_model_version("titanic", alias="staging").version == 2
    page = ui_client.get(answer.headers["location"]).text
    assert "titanic@staging now points at version 2." in page


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"version": "two"}, 422, "Field 'version' must be an integer"),
        ({"version": "7"}, 404, "has no version 7"),
        ({"version": "2", "alias": "9lives"}, 422, "An alias must start with a letter"),
    ],
)
def test_promote_with_bad_fields_is_refused(
    ui_client: Any, data: dict, status: int, message: str
) -> None:
    answer = ui_client.post(
        "/ui/models/titanic/promote",
        data=data,
        headers={"accept": "application/json", "x-api-key": API_KEY},
    )
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]


def test_rollback_moves_the_alias_back(ui_client: Any, ui_store: Any) -> None:
    headers = {"accept": "application/json", "x-api-key": API_KEY}
    ui_client.post("/ui/models/titanic/promote", data={"version": "2"}, headers=headers)
    answer = ui_client.post("/ui/models/titanic/rollback", json={}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["from_version"] == 2 and answer.json()["version"] == 1
    assert ui_store.get_model_version("titanic", alias="production").version == 1


def test_rollback_without_an_earlier_version_is_refused(ui_client: Any) -> None:
    answer = ui_client.post(
        "/ui/models/titanic/rollback",
        json={"alias": "production"},
        headers={"accept": "application/json", "x-api-key": API_KEY},
    )
    assert answer.status_code == 422
    assert "no earlier version to roll back to" in answer.json()["error"]["message"]


def test_standalone_dashboard_rolls_back_to_the_older_version(ui_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving.ui import ui_app
    from modelloop.store import Store

    with Store.from_settings(ui_settings) as store:
        store.set_alias("titanic", "production", 2)
        with TestClient(ui_app(ui_settings, store)) as client:
            assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"
            answer = client.post(
                "/ui/models/titanic/rollback", data={"api_key": API_KEY}, follow_redirects=False
            )
            assert answer.status_code == 303
        assert store.get_model_version("titanic", alias="production").version == 1


def test_live_view_shows_counters_and_logged_predictions(
    ui_client: Any, ui_store: Any, passenger: dict
) -> None:
    for _ in range(3):
        answer = ui_client.post("/v1/models/titanic/predict", json={"instances": [passenger]})
        assert answer.status_code == 200
    ui_client.post("/v1/models/titanic/predict", json={"instances": [{"Age": "old"}]})
    now = datetime.now(UTC)
    ui_store.log_predictions(
        [
            {
                "request_id": f"r{i}",
                "model_name": "titanic",
                "model_version": 1,
                "inputs": {},
                "prediction": str(i % 2),
                "latency_ms": 2.0 + i,
                "created_at": now - timedelta(seconds=60 - i),
            }
            for i in range(20)
        ]
    )
    html = ui_client.get("/ui/live/titanic").text
    assert re.search(r'id="requests">4<', html)
    assert re.search(r'id="errors">1<', html)
    assert 'data-chart="latency"' in html and 'data-chart="predictions"' in html
    assert 'id="drift"' in html and "no monitoring data yet" not in html
    fragment = ui_client.get("/ui/live/titanic?fragment=1").text
    assert "<html" not in fragment and 'id="logged"' in fragment


def test_live_view_of_the_standalone_dashboard_has_no_counters(ui_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving.ui import ui_app

    with TestClient(ui_app(ui_settings)) as client:
        html = client.get("/ui/live", follow_redirects=True).text
    assert "only inside <code>modelloop serve</code>" in html
    assert "no predictions logged yet" in html


def test_server_of_a_model_file_explains_the_dashboard_needs_a_store(
    ui_settings: Any, tmp_path: Any
) -> None:
    import skops.io
    from fastapi.testclient import TestClient
    from sklearn.linear_model import LogisticRegression

    from modelloop.serving import create_app

    model_file = tmp_path / "model.skops"
    skops.io.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), model_file)
    settings = ui_settings.with_overrides(serve_model_path=model_file)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/ui/models")
    assert answer.status_code == 400
    assert "without a store" in answer.text


def _pager(html: str) -> dict[str, str]:
    """The pager's links of a runs page: ``{rel: href}`` (``&amp;`` unescaped)."""
    nav = html.split('class="pager"')[1].split("</nav>")[0]
    return {
        rel: href.replace("&amp;", "&")
        for rel, href in re.findall(r'rel="(\w+)" href="([^"]+)"', nav)
    }


def _run_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-run="([0-9a-f]+)"', html)


def test_runs_page_pages_through_ten_thousand_runs_by_keyset(ui_store: Any, ui_client: Any) -> None:
    import sqlalchemy as sa

    from modelloop.store._tables import run_metrics, runs

    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": f"{i:032x}",
            "name": "bulk",
            "params": {},
            "status": "finished" if i % 3 else "failed",
            "metric": "roc_auc",
            "cv_metrics": {"roc_auc": i / 10_000},
            "started_at": start + timedelta(minutes=i),
        }
        for i in range(10_000)
    ]
    metric_rows = [
        {"run_id": r["id"], "scope": "cv", "key": "roc_auc", "value": r["cv_metrics"]["roc_auc"]}
        for r in rows
    ]
    engine = sa.create_engine(ui_store.url)
    with engine.begin() as conn:
        conn.execute(runs.insert(), rows)
        conn.execute(run_metrics.insert(), metric_rows)
    engine.dispose()

    # newest first: the fixture's 2 runs (trained today), then the bulk from 2020 down
    everything = [r.id for r in ui_store.list_runs(name="titanic")]
    everything += [f"{i:032x}" for i in range(9_999, -1, -1)]
    first = ui_client.get("/ui/runs").text
    assert "runs 1–50 of 10002" in first
    assert _run_ids(first) == everything[:50]
    assert set(_pager(first)) == {"next"}
    second = ui_client.get(_pager(first)["next"]).text
    assert "runs 51–100 of 10002" in second
    assert _run_ids(second) == everything[50:100]
    deep = ui_client.get(f"/ui/runs?after={everything[9_951]}&start=9952").text
    assert _run_ids(deep) == everything[9_952:] and "runs 9953–10002 of 10002" in deep
    assert set(_pager(deep)) == {"first", "prev"}
    back = ui_client.get(_pager(second)["prev"]).text
    assert _run_ids(back) == _run_ids(first) and "runs 1–50 of" in back
    assert _pager(second)["first"] == "/ui/runs"

    failed = ui_client.get("/ui/runs?status=failed&name=bulk&per_page=100").text
    assert "runs 1–100 of 3334" in failed
    page2 = ui_client.get(_pager(failed)["next"]).text
    assert page2.count('class="run-link"') == 100
    assert "status=failed" in _pager(page2)["next"] and "per_page=100" in _pager(page2)["next"]
    assert all(int(i, 16) % 3 == 0 for i in _run_ids(page2))
    newer = ui_client.get(_pager(page2)["prev"]).text
    assert _run_ids(newer) == _run_ids(failed)

    last = ui_client.get(f"/ui/runs?name=bulk&after={0:032x}").text
    assert "No runs on this page." in last and "older" not in _pager(last)
    assert set(_pager(last)) == {"first"}


def test_runs_page_filters_by_a_metric(ui_store: Any, ui_client: Any) -> None:
    runs = ui_store.list_runs()
    scores = {r.id: r.cv_metrics[r.metric] for r in runs}
    threshold = min(scores.values())
    html = ui_client.get(f"/ui/runs?metric={runs[0].metric}&op=%3E&value={threshold}").text
    assert _run_ids(html) == [i for i in scores if scores[i] > threshold]
    assert f"<th>cv {runs[0].metric}</th>" in html
    everything = ui_client.get(f"/ui/runs?metric={runs[0].metric}&op=%3E%3D&value={threshold}")
    assert _run_ids(everything.text) == [r.id for r in runs]
    assert '<option value="&gt;=" selected>' in everything.text  # the form keeps the filter
    assert ui_client.get("/ui/runs?metric=&op=%3E&value=").status_code == 200  # empty fields


def test_run_page_lists_the_model_versions_registered_from_it(
    ui_client: Any, ui_store: Any
) -> None:
    by_version = {v.version: v.run_id for v in ui_store.list_versions("titanic")}
    html = ui_client.get(f"/ui/runs/{by_version[1]}").text
    section = html.split('id="run-versions"')[1].split("</section>")[0]
    assert re.findall(r'href="/ui/models/titanic/versions/(\d+)"', section) == ["1"]
    assert 'class="alias">production<' in section
    bare = ui_store.create_run(
        name="scratch", dataset_hash=None, target=None, task=None, metric=None, params={}
    )
    html = ui_client.get(f"/ui/runs/{bare.id}").text
    assert "No model version was registered from this run." in html


def _drift_cache(app: Any) -> Any:
    from starlette.routing import Mount

    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/ui")
    return mount.app.state.ui.drift


def test_live_view_drift_panel_fills_in_from_a_background_check(
    drift_settings: Any, drift_data: Any, log_rows: Any
) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app
    from modelloop.store import Store

    with Store.from_settings(drift_settings) as store:
        log_rows(store, "churn", drift_data(400, 2, shift=1.5))
        with TestClient(create_app(drift_settings, store)) as client:
            first = client.get("/ui/live/churn").text  # answers before the check is done
            assert 'data-state="computing"' in first and "in the background" in first
            status = _drift_cache(client.app).wait("churn:1", timeout=60)
            assert status.state == "ready"
            html = client.get("/ui/live/churn?fragment=1").text
            report = client.get("/ui/live/churn/drift")
    assert 'data-state="ready"' in html and 'id="drift-badge">alert<' in html
    assert re.search(r'id="drift-share">1 of 2 ', html)
    rows = re.findall(r'<tr class="(drifted)?" data-feature="(\w+)"', html)
    assert rows[0] == ("drifted", "a")
    assert 'data-rule="drift_share"' in html
    assert 'id="drift-auc">0.' in html
    assert 'data-chart="drift-drift"' in html and 'data-chart="drift-metric"' in html
    assert 'href="/ui/live/churn/drift"' in html
    assert report.status_code == 200
    assert "Drift report: churn:1" in report.text and 'data-plot="hist-a"' in report.text


def test_live_view_drift_panel_says_no_reference_data_and_not_enough_data(
    drift_settings: Any, drift_data: Any, log_rows: Any
) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving.ui import ui_app
    from modelloop.store import Store

    with Store.from_settings(drift_settings) as store:
        log_rows(store, "churn", drift_data(10, 2))
        log_rows(store, "bare", drift_data(50, 2))
        with TestClient(ui_app(drift_settings, store)) as client:
            cache = _drift_cache(client.app)
            client.get("/ui/live/bare")
            client.get("/ui/live/churn")
            assert cache.wait("bare:1", timeout=60).state == "no_reference"
            assert cache.wait("churn:1", timeout=60).state == "not_enough_data"
            bare = client.get("/ui/live/bare").text
            churn = client.get("/ui/live/churn").text
            bare_report = client.get("/ui/live/bare/drift")
            churn_report = client.get("/ui/live/churn/drift")
            nobody = client.get("/ui/live/nobody/drift")
    assert 'data-state="no_reference"' in bare and "<b>No reference data.</b>" in bare
    assert 'data-state="not_enough_data"' in churn and "<b>Not enough data.</b>" in churn
    assert "10 logged predictions of &#39;churn&#39;" in churn
    assert 'id="drift-report-link"' not in bare + churn
    assert (
        bare_report.status_code == 404
        and "registered without its training rows" in bare_report.text
    )
    assert churn_report.status_code == 409 and "at least 30" in churn_report.text
    assert nobody.status_code == 404
