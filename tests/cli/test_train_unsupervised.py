from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def table_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 90
    group = np.arange(n) % 3
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    xy = centres[group] + rng.normal(0, 0.5, (n, 2))
    frame = pd.DataFrame(
        {"x": xy[:, 0], "y": xy[:, 1], "kind": np.array(["p", "q", "r"], dtype=object)[group]}
    )
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def _serve(home, name: str, rows: list[dict]) -> dict:
    from fastapi.testclient import TestClient

    from modelloop.config import Settings
    from modelloop.serving import create_app
    from modelloop.store import Store

    settings = Settings(home=home)
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as client:
        response = client.post(f"/v1/models/{name}/predict", json={"instances": rows})
        assert response.status_code == 200, response.text
        return response.json()


ROWS = [{"x": 0.1, "y": -0.2, "kind": "p"}, {"x": 7.9, "y": 0.3, "kind": "q"}]


@pytest.mark.slow
def test_cli_clustering_trains_registers_predicts_and_serves(cli, table_csv, tmp_path) -> None:
    home = tmp_path / "home"
    r = cli("train", table_csv, "--task", "clustering", "--name", "groups", "--home", home)
    assert r.code == 0, r.err
    assert "ranked by silhouette" in r.out and "stands apart by" in r.out
    assert "Registered groups version 1" in r.out
    out = tmp_path / "scored.csv"
    r = cli("predict", "groups", table_csv, "-o", out, "--home", home)
    assert r.code == 0, r.err
    scored = pd.read_csv(out)
    assert scored.columns.tolist() == ["cluster"] and scored["cluster"].nunique() == 3
    body = _serve(home, "groups", ROWS)
    assert body["predictions"] == [int(scored["cluster"][0]), int(scored["cluster"][1])]
    assert "probabilities" not in body


@pytest.mark.slow
def test_cli_reduce_trains_registers_predicts_and_serves(cli, table_csv, tmp_path) -> None:
    home = tmp_path / "home"
    r = cli("train", table_csv, "--task", "reduce", "--name", "pcs", "--home", home)
    assert r.code == 0, r.err
    assert "Explained variance" in r.out and "heaviest inputs" in r.out
    out = tmp_path / "pcs.parquet"
    assert cli("predict", "pcs", table_csv, "-o", out, "--home", home).code == 0
    scored = pd.read_parquet(out)
    assert scored.columns[0] == "pc1" and all(c.startswith("pc") for c in scored.columns)
    body = _serve(home, "pcs", ROWS)
    assert len(body["predictions"]) == 2
    assert len(body["predictions"][0]) == scored.shape[1]


@pytest.mark.slow
def test_cli_anomaly_trains_registers_predicts_and_serves(cli, table_csv, tmp_path) -> None:
    home = tmp_path / "home"
    r = cli("train", table_csv, "--task", "anomaly", "--name", "odd", "--home", home)
    assert r.code == 0, r.err
    assert "Anomalies (isolation forest, threshold" in r.out
    out = tmp_path / "odd.csv"
    assert cli("predict", "odd", table_csv, "-o", out, "--home", home).code == 0
    scored = pd.read_csv(out)
    assert scored.columns.tolist() == ["anomaly_score", "is_anomaly"]
    assert 0 < scored["is_anomaly"].sum() < len(scored)
    body = _serve(home, "odd", [*ROWS, {"x": 40.0, "y": -40.0, "kind": "r"}])
    first, _, far = body["predictions"]
    assert set(first) == {"anomaly_score", "is_anomaly"}
    assert far["is_anomaly"] is True and far["anomaly_score"] > first["anomaly_score"]


def test_cli_clustering_with_target_exits_2(cli, table_csv, tmp_path) -> None:
    home = tmp_path / "home"
    r = cli("train", table_csv, "--task", "clustering", "--target", "kind", "--home", home)
    assert r.code == 2
    assert "learns without a target, but target 'kind'" in r.err
    assert "Traceback" not in r.err
    assert not (home / "modelloop.db").exists()  # refused before the store is touched


def test_cli_clustering_too_few_rows_exits_2(cli, tmp_path) -> None:
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"]}).to_csv(path, index=False)
    r = cli("train", path, "--task", "clustering", "--home", tmp_path / "home")
    assert r.code == 2 and "needs at least 10" in r.err


def test_cli_clustering_nothing_to_cluster_exits_2(cli, tmp_path) -> None:
    path = tmp_path / "ids.csv"
    pd.DataFrame({"id": range(20), "same": ["k"] * 20}).to_csv(path, index=False)
    r = cli("train", path, "--task", "clustering", "--home", tmp_path / "home")
    assert r.code == 2 and "no column to learn from for clustering" in r.err


def test_cli_train_without_target_or_task_exits_2(cli, table_csv, tmp_path) -> None:
    r = cli("train", table_csv, "--home", tmp_path / "home")
    assert r.code == 2 and "A target is needed" in r.err
