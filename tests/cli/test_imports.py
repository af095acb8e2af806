"""What each command imports: heavy libraries load only for the commands that use them.

Each command runs in a fresh interpreter (``sys.modules`` of this test process holds
everything already); the child prints the heavy modules it ended up importing. Speed
itself is measured by ``bench/cli.py``, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HEAVY = (
    "torch",
    "dask",
    "distributed",
    "matplotlib",
    "skops",
    "sklearn",
    "lightgbm",
    "xgboost",
    "catboost",
    "optuna",
    "fastapi",
    "uvicorn",
    "alembic",
    "pandas",
    "numba",
    "shap",
)

_CHILD = """
import contextlib, io, json, sys
from modelloop.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "heavy": sorted(m for m in HEAVY if m in sys.modules),
                  "estimators": "sklearn.gaussian_process" in sys.modules}))
""".replace("HEAVY", repr(HEAVY))


def _run(home: Path, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        env={**os.environ, "MODELLOOP_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "error" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store

    home = tmp_path_factory.mktemp("imports") / "home"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40), "y": [0, 1] * 20})
    schema = infer_schema(frame, target="y")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["x"]], frame["y"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
              "target": "y", "classes": [0, 1]}  # fmt: skip
    with Store.from_settings(Settings(home=home)) as store:
        store.register_model("alpha", bundle, run_id=None, schema=schema.to_dict(),
                             task="binary", metrics={}, aliases=["production"])  # fmt: skip
    frame[["x"]].to_csv(home.parent / "rows.csv", index=False)
    return home


@pytest.mark.parametrize(
    "args",
    [("models", "list"), ("models", "show", "alpha"), ("runs", "list"), ("data", "list")],
    ids=" ".join,
)
def test_read_only_commands_import_no_heavy_library(home: Path, args: tuple[str, ...]) -> None:
    result = _run(home, *args)
    assert result["code"] == 0
    assert result["heavy"] == []


def test_predict_imports_what_the_model_needs_and_not_all_of_scikit_learn(home: Path) -> None:
    out = home.parent / "out.csv"
    result = _run(
        home, "predict", "alpha@production", str(home.parent / "rows.csv"), "-o", str(out)
    )
    assert result["code"] == 0
    assert len(pd.read_csv(out)) == 40
    # the model's own libraries, and not the search, the server, the plots or the GPU stack
    assert {"pandas", "sklearn", "skops"} <= set(result["heavy"])
    assert not {"torch", "dask", "matplotlib", "optuna", "fastapi", "alembic"} & set(
        result["heavy"]
    )
    # skops imported without its default list of every scikit-learn estimator
    assert result["estimators"] is False
