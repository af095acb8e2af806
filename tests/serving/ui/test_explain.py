"""The dashboard's explanations: a waterfall per logged prediction, the global picture per version."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelloop.serving import create_app
from modelloop.serving.ui._charts import waterfall_chart


@pytest.fixture
def logged(ui_settings, ui_store):
    """Three predictions of 'titanic' (version 1, logistic regression) in the log."""
    from modelloop.workflows import demo_data_path

    rows = pd.read_csv(demo_data_path()).drop(columns=["Survived"]).head(3)
    records = json.loads(rows.to_json(orient="records"))
    with TestClient(create_app(ui_settings, ui_store)) as client:  # the log flushes on exit
        body = client.post("/v1/models/titanic/predict", json={"instances": records}).json()
    return body


def test_a_logged_prediction_gets_a_waterfall_of_its_contributions(
    ui_settings, ui_store, logged
) -> None:
    rid = logged["request_ids"][1]
    with TestClient(create_app(ui_settings, ui_store)) as client:
        live = client.get("/ui/live/titanic").text
        assert f"/ui/live/titanic/predictions/{rid}" in live and "Recent predictions" in live
        page = client.get(f"/ui/live/titanic/predictions/{rid}")
        assert page.status_code == 200
        assert 'data-chart="waterfall"' in page.text
        assert 'data-column="Sex"' in page.text  # one bar per input column
        assert "log-odds" in page.text  # a binary model can be explained either way
        data = client.get(
            f"/ui/live/titanic/predictions/{rid}", headers={"accept": "application/json"}
        ).json()
        odds = client.get(
            f"/ui/live/titanic/predictions/{rid}?output=log-odds",
            headers={"accept": "application/json"},
        ).json()
        missing = client.get("/ui/live/titanic/predictions/nope")
    total = data["base_value"] + sum(data["contributions"].values())
    assert abs(total - data["output_value"]) < 1e-9
    assert abs(data["output_value"] - logged["probabilities"][1]["1"]) < 1e-6
    assert data["output"] == "probability" and data["method"] == "linear"
    assert odds["output"] == "log-odds"
    assert missing.status_code == 404 and "no logged prediction" in missing.text


def test_a_version_page_shows_what_the_model_relies_on(ui_client) -> None:
    page = ui_client.get("/ui/models/titanic/versions/1").text
    assert "What the model relies on" in page
    chart = re.search(r'<figure data-chart="importance">(.*?)</figure>', page, re.S)
    assert chart is not None and chart.group(1).count("<rect") >= 5
    assert "Sex" in chart.group(1)


def test_waterfall_runs_from_the_base_to_the_output_and_sums_the_smallest() -> None:
    contributions = [(f"c{i}", 0.01 * (i + 1) * (-1) ** i) for i in range(20)]
    svg = waterfall_chart("Why", 0.5, contributions, value_label="probability", top=6)
    bars = re.findall(r'data-column="([^"]+)"', svg)
    assert bars[:5] == ["c19", "c18", "c17", "c16", "c15"] and bars[5] == "15 other columns"
    output = 0.5 + sum(v for _, v in contributions)
    assert f">{output:.3f}".rstrip("0") in svg
