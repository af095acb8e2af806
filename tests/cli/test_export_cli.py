"""``modelloop export``: one line and exit 2 on bad input; exports listed by ``models show``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("skl2onnx")


@pytest.fixture
def home(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store
    from modelloop.workflows import demo_data_path

    frame = pd.read_csv(demo_data_path())[["Pclass", "Sex", "Age", "Fare", "Survived"]]
    schema = infer_schema(frame, target="Survived")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame.drop(columns=["Survived"]), frame["Survived"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
              "classes": [0, 1]}  # fmt: skip
    home = tmp_path / "home"
    with Store.from_settings(Settings(home=home)) as store:
        store.register_model("titanic", bundle, run_id=None, schema=schema.to_dict(),
                             task="binary", metrics={}, reference=frame.drop(columns="Survived"))  # fmt: skip
    return home


def test_export_cli_writes_and_models_show_lists_it(cli, home, tmp_path) -> None:
    r = cli("export", "titanic", "--format", "onnx", "-o", tmp_path / "out", "--home", home)
    assert r.code == 0, r.err
    assert "Exported titanic:1 as onnx" in r.out and "labels equal" in r.out
    shown = cli("models", "show", "titanic", "--home", home)
    assert "Exports" in shown.out and "onnx" in shown.out
    data = json.loads(cli("models", "show", "titanic", "--json", "--home", home).out)
    assert data["exports"][0]["format"] == "onnx"


def test_export_cli_bad_input_is_one_line_and_exit_2(cli, home, tmp_path) -> None:
    r = cli("export", "titanic", "--format", "pmml", "-o", tmp_path / "x", "--home", home)
    assert r.code == 2 and "valid formats: onnx, mlflow, docker, kubernetes, kfp" in r.err
    assert len(r.err.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.txt").write_text("a")
    r = cli("export", "titanic", "-f", "onnx", "-o", tmp_path / "full", "--home", home)
    assert r.code == 2 and "--force" in r.err
    r = cli("export", "nope", "-f", "onnx", "-o", tmp_path / "y", "--home", home)
    assert r.code == 2 and "No model named 'nope'" in r.err
