"""Shadow mode: a challenger scores live traffic beside the champion, logged, not returned."""

from __future__ import annotations

import time

import pytest

from modelloop.exceptions import InvalidInputError


def test_shadow_scores_logs_and_gets_labels(serve_settings, store, passenger) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app, install_shadow

    store.set_alias("titanic", "challenger", 2)
    app = create_app(serve_settings, store)
    scorer = install_shadow(app, ["titanic@challenger"])
    with TestClient(app) as client:
        r = client.post("/v1/models/titanic/predict", json={"instances": [passenger] * 3})
        assert r.status_code == 200 and r.json()["version"] == 1  # the champion answers
        ids = r.json()["request_ids"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(store.get_predictions("titanic@challenger")) < 3:
            time.sleep(0.05)
        shadow = store.get_predictions("titanic@challenger")
        assert [p.request_id for p in shadow] == ids
        assert {p.model_version for p in shadow} == {2}
        assert [p.request_id for p in store.get_predictions("titanic")] == ids
        fb = client.post(
            "/v1/models/titanic/feedback", json={"feedback": [{"request_id": ids[0], "label": 1}]}
        )
        assert fb.status_code == 200 and fb.json()["labeled"] == 1
    assert store.get_predictions("titanic@challenger")[0].label == 1  # comparable on labels
    assert scorer is not None and scorer.scored == 3 and scorer.failed == 0


def test_shadow_of_a_missing_alias_never_fails_a_request(serve_settings, store, passenger) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app, install_shadow

    app = create_app(serve_settings, store)
    scorer = install_shadow(app, ["titanic@nosuch"])
    with TestClient(app) as client:
        r = client.post("/v1/models/titanic/predict", json={"instances": [passenger]})
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and scorer.failed == 0:
            time.sleep(0.05)
    assert scorer.failed == 1 and scorer.scored == 0


def test_parse_shadow_refuses_bad_refs() -> None:
    from modelloop.serving._shadow import parse_shadow

    with pytest.raises(InvalidInputError, match="NAME@ALIAS"):
        parse_shadow(["titanic"])
    with pytest.raises(InvalidInputError, match="twice"):
        parse_shadow(["a@x", "a@y"])
