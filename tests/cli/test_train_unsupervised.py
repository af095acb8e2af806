from __future__ import annotations

import json

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


def _serve(home, name: str, rows: list[dict], *, v2: bool = False) -> dict:
    """The v1 predict answer for ``rows`` (``v2``: the Open Inference Protocol's outputs)."""
    from fastapi.testclient import TestClient

    from modelloop.config import Settings
    from modelloop.serving import create_app
    from modelloop.store import Store

    settings = Settings(home=home)
    with Store.from_settings(settings) as store, TestClient(create_app(settings, store)) as client:
        if v2:
            inputs = [
                {
                    "name": col,
                    "shape": [len(rows)],
                    "datatype": "BYTES" if col == "kind" else "FP64",
                    "data": [r[col] for r in rows],
                }
                for col in rows[0]
            ]
            response = client.post(f"/v2/models/{name}/infer", json={"inputs": inputs})
            assert response.status_code == 200, response.text
            meta = client.get(f"/v2/models/{name}").json()
            return {"outputs": {o["name"]: o for o in response.json()["outputs"]}, "meta": meta}
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
    v2 = _serve(home, "groups", ROWS, v2=True)
    assert v2["outputs"] == {
        "cluster": {
            "name": "cluster",
            "shape": [2],
            "datatype": "INT64",
            "data": body["predictions"],
        }
    }
    assert [o["name"] for o in v2["meta"]["outputs"]] == ["cluster"]


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
    components = _serve(home, "pcs", ROWS, v2=True)["outputs"]["components"]
    k = scored.shape[1]
    assert components["shape"] == [2, k] and components["datatype"] == "FP64"
    assert components["data"] == [v for row in body["predictions"] for v in row]
    assert components["parameters"]["columns"] == list(scored.columns)


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
    v2 = _serve(home, "odd", [*ROWS, {"x": 40.0, "y": -40.0, "kind": "r"}], v2=True)
    assert v2["outputs"]["anomaly_score"]["data"] == [
        r["anomaly_score"] for r in body["predictions"]
    ]
    assert v2["outputs"]["is_anomaly"] == {
        "name": "is_anomaly", "shape": [3], "datatype": "BOOL",
        "data": [r["is_anomaly"] for r in body["predictions"]],
    }  # fmt: skip


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


def test_cli_clustering_max_clusters_and_runs_show(cli, table_csv, tmp_path) -> None:
    home = tmp_path / "home"
    r = cli(
        "train", table_csv, "--task", "clustering", "--models", "kmeans,dbscan",
        "--max-clusters", "3", "--no-register", "--json", "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    result = json.loads(r.out)
    ks = [json.loads(row["params"]).get("n_clusters") for row in result["leaderboard"]]
    assert sorted(k for k in ks if k is not None) == [2, 3]
    assert any(row["model"] == "dbscan" for row in result["leaderboard"])
    r = cli("runs", "show", result["run_id"][:12], "--home", home)
    assert r.code == 0, r.err
    assert "Metrics on all rows" in r.out and "Test metrics" not in r.out
    assert "max_clusters" in r.out and "contamination" not in r.out
    # the winner's k explained and the runner-up offered, with the options that keep it
    notes = " ".join(result["notes"])
    assert "the highest silhouette" in notes and "the runner-up with another number" in notes
    r = cli(
        "train", table_csv, "--task", "clustering", "--models", "kmeans",
        "--min-clusters", "3", "--max-clusters", "3", "--no-register", "--json", "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    board = json.loads(r.out)["leaderboard"]
    assert [json.loads(row["params"])["n_clusters"] for row in board] == [3]


def test_cli_anomaly_contamination_and_reduce_variance(cli, table_csv, tmp_path) -> None:
    home = tmp_path / "home"
    r = cli(
        "train", table_csv, "--task", "anomaly", "--contamination", "0.2", "--json",
        "--no-register", "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["test_metrics"]["contamination"] == 0.2
    r = cli(
        "train", table_csv, "--task", "reduce", "--variance", "0.3", "--json",
        "--no-register", "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["test_metrics"]["n_components"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--task", "anomaly", "--max-clusters", "3"],
            "--max-clusters applies to --task clustering",
        ),
        (["--task", "clustering", "--variance", "0.9"], "--variance applies to --task reduce"),
        (
            ["--target", "kind", "--contamination", "0.1"],
            "--contamination applies to --task anomaly",
        ),
        (["--task", "clustering", "--max-clusters", "1"], "max_clusters must be an integer >= 2"),
        (["--task", "anomaly", "--contamination", "0.7"], "contamination must be a share in"),
    ],
)
def test_cli_unsupervised_option_misuse_exits_2(cli, table_csv, tmp_path, args, message) -> None:
    home = tmp_path / "home"
    r = cli("train", table_csv, *args, "--home", home)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
    assert not (home / "modelloop.db").exists()  # refused before the store is touched
