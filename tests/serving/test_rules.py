"""Validation rules given at train time are checked on every served row (issue: rules at serve)."""

from __future__ import annotations

from typing import Any

import pytest

RULES = {
    "rows": {"min": 100},
    "columns": {
        "Age": {"min": 0, "max": 100, "max_missing": 0.3},
        "Sex": {"allowed": ["male", "female"]},
        "Survived": {"allowed": [0, 1]},
    },
}


@pytest.fixture(scope="module")
def ruled_home(tmp_path_factory: pytest.TempPathFactory, titanic_frame) -> Any:
    from modelloop.config import Settings
    from modelloop.workflows import train

    settings = Settings(home=tmp_path_factory.mktemp("ruled"))
    result = train(
        titanic_frame,
        target="Survived",
        name="ruled",
        models=["decision_tree"],
        max_trials=1,
        time_budget=60,
        rules=RULES,
        settings=settings,
    )
    return settings, result


def test_train_keeps_row_level_rules_without_the_target(ruled_home) -> None:
    _, result = ruled_home
    assert result.rules == {
        "columns": {"Age": {"min": 0, "max": 100}, "Sex": {"allowed": ["male", "female"]}}
    }


@pytest.fixture
def passenger(titanic_frame) -> dict[str, Any]:
    """A row of every column but the target: the 'ruled' model learned from them all."""
    import pandas as pd

    row = titanic_frame.drop(columns=["Survived"]).iloc[0]
    return {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v))
            for k, v in row.items()}  # fmt: skip


def test_served_rows_breaking_the_training_rules_get_422(ruled_home, passenger) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app
    from modelloop.store import Store

    settings, _ = ruled_home
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as c:
        ok = c.post("/v1/models/ruled/predict", json={"instances": [passenger]})
        assert ok.status_code == 200, ok.text
        missing_age = c.post(
            "/v1/models/ruled/predict", json={"instances": [{**passenger, "Age": None}]}
        )
        assert missing_age.status_code == 200, missing_age.text  # max_missing is column-wide
        bad = c.post(
            "/v1/models/ruled/predict",
            json={"instances": [passenger, {**passenger, "Age": 240, "Sex": "robot"}]},
        )
        assert bad.status_code == 422
        text = bad.text
        assert "Age" in text and "Sex" in text and "240" in text
