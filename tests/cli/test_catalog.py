"""``modelloop catalog``: every model, its tasks, whether it is installed."""

from __future__ import annotations

import json


def test_catalog_lists_every_model_with_its_tasks(cli) -> None:
    r = cli("catalog", "--json")
    assert r.code == 0, r.err
    entries = {e["name"]: e for e in json.loads(r.out)}
    assert entries["catboost"]["tasks"] == ["binary", "multiclass", "regression"]
    assert entries["logistic_regression"]["tasks"] == ["binary", "multiclass"]
    assert entries["kmeans"]["tasks"] == ["clustering"]
    assert entries["lightgbm"]["installed"] is True and entries["lightgbm"]["install"] == ""


def test_catalog_for_one_task_and_a_wrong_task(cli) -> None:
    r = cli("catalog", "--task", "multiclass")
    assert r.code == 0
    assert "catboost" in r.out and "lasso" not in r.out and "kmeans" not in r.out
    r = cli("catalog", "--task", "ranking")
    assert r.code == 2 and r.err.startswith("error: --task must be one of")
