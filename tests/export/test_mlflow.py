"""MLflow export: a pyfunc model folder that MLflow itself loads, answering as modelloop."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pandas as pd
import yaml

from modelloop.export import export_model
from modelloop.models import model_output

from .conftest import fit_pipeline, register

LOAD = textwrap.dedent(
    """
    import sys, mlflow.pyfunc, pandas as pd
    model = mlflow.pyfunc.load_model(sys.argv[1])
    rows = pd.read_parquet(sys.argv[2])
    model.predict(rows).to_parquet(sys.argv[3])
    print(model.metadata.get_input_schema().input_names())
    """
)


def test_mlflow_export_folder_is_an_mlflow_model(store, titanic, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    model, schema = fit_pipeline(titanic, "Survived", "binary", LogisticRegression(), "linear")
    register(store, "titanic", model, schema, "binary", titanic)
    result = export_model(store, "titanic", "mlflow", tmp_path / "mlflow")
    folder = result.path
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    flavor = mlmodel["flavors"]["python_function"]
    assert flavor["loader_module"] == "modelloop.export.mlflow_pyfunc"
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [c["name"] for c in inputs] == schema.feature_columns()
    assert {c["name"]: c["type"] for c in inputs}["Sex"] == "string"
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert "--find-links wheels" in requirements
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert len(list((folder / "wheels").glob("modelloop-*.whl"))) == 1
    example = json.loads((folder / "input_example.json").read_text())
    assert example["columns"] == schema.feature_columns() and len(example["data"]) == 5


def test_mlflow_loads_the_export_and_answers_as_modelloop(
    store, titanic, tmp_path, deploy_python
) -> None:
    from modelloop.models import get_spec

    est = get_spec("lightgbm", "binary").make("binary")
    est.set_params(n_estimators=40)
    model, schema = fit_pipeline(titanic, "Survived", "binary", est, "tree")
    register(store, "titanic", model, schema, "binary", titanic)
    result = export_model(store, "titanic", "mlflow", tmp_path / "mlflow")
    rows = titanic.drop(columns=["Survived"]).head(50)
    path, answer = tmp_path / "rows.parquet", tmp_path / "answer.parquet"
    rows.to_parquet(path)
    script = tmp_path / "load.py"
    script.write_text(LOAD)
    done = subprocess.run(
        [str(deploy_python), str(script), str(result.path), str(path), str(answer)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = done.stdout.strip().splitlines()[-1]
    got = pd.read_parquet(answer)
    want = model_output("binary", model, rows)
    pd.testing.assert_frame_equal(got, want)  # the same numbers: the same model, loaded
    assert names == str(schema.feature_columns())
