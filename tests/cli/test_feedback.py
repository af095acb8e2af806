"""``modelloop feedback NAME FILE``: labels from CSV/Parquet, reports, exit status 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A store with model 'toy' (classes no/yes, key column 'cid') and 3 logged predictions."""
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store

    home = tmp_path / "home"
    frame = pd.DataFrame(
        {"cid": range(40), "x": [float(i % 7) for i in range(40)], "y": ["no", "yes"] * 20}
    )
    schema = infer_schema(frame, target="y", types={"cid": "identifier"})
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["cid", "x"]], frame["y"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "target": "y",
              "classes": ["no", "yes"]}  # fmt: skip
    with Store.from_settings(Settings(home=home)) as store:
        store.register_model(
            "toy", bundle, run_id=None, schema=schema.to_dict(), task="binary", metrics={},
            lineage={"id_column": "cid"},
        )  # fmt: skip
        store.log_predictions(
            [
                {"request_id": f"r{i}", "model_name": "toy", "model_version": 1,
                 "inputs": {"x": 1.0, "cid": str(100 + i)}}
                for i in range(3)
            ]
        )  # fmt: skip
    return home


def _labels(home: Path) -> list[Any]:
    from modelloop.config import Settings
    from modelloop.store import Store

    with Store.from_settings(Settings(home=home)) as store:
        return [p.label for p in store.get_predictions("toy")]


def test_feedback_csv_labels_predictions_and_reports_unknown(cli, home, tmp_path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\nr0,yes\nr2,no\nzzz,yes\n")
    r = cli("feedback", "toy", path, "--home", home)
    assert r.code == 0, r.err
    assert "Labeled 2 prediction(s) of model 'toy' (2 of 3 item(s) accepted)" in r.out
    assert "1 unknown id(s): zzz" in r.err
    assert _labels(home) == ["yes", None, "no"]


def test_feedback_parquet_by_key_column_as_json(cli, home, tmp_path) -> None:
    path = tmp_path / "labels.parquet"
    pd.DataFrame({"cid": [100, 101], "label": ["no", "maybe"]}).to_parquet(path)
    r = cli("feedback", "toy", path, "--home", home, "--json")
    assert r.code == 0, r.err
    assert '"labeled": 1' in r.out and "not a class of the model" in r.out
    assert _labels(home) == ["no", None, None]


def test_feedback_all_rows_rejected_exits_2(cli, home, tmp_path, snapshot) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\nr0,maybe\nr1,\n")
    before = snapshot(home)
    r = cli("feedback", "toy", path, "--home", home)
    assert r.code == 2
    assert "No label from" in r.err and "2 row(s) rejected" in r.err
    assert snapshot(home) == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("labels.csv", "request_id,truth\nr0,yes\n", "has no 'label' column"),
        ("labels.csv", "id,label\nr0,yes\n", "needs a 'request_id', 'key' or 'cid' column"),
        ("labels.xml", "<x/>", "use CSV, TSV, Parquet or JSON Lines"),
        ("labels.csv", "request_id,label\n", "has no rows"),
    ],
)
def test_feedback_bad_files_exit_2(cli, home, tmp_path, name, content, message) -> None:
    path = tmp_path / name
    path.write_text(content)
    r = cli("feedback", "toy", path, "--home", home)
    assert r.code == 2 and message in r.err.replace("\n", " ")


def test_feedback_unknown_model_exits_2(cli, home, tmp_path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\nr0,yes\n")
    r = cli("feedback", "toi", path, "--home", home)
    assert r.code == 2 and "Did you mean 'toy'?" in r.err
