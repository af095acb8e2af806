"""Fixtures of the export tests: models fitted directly and registered with their rows.

Pipelines are made with ``make_pipeline`` and registered with ``Store.register_model`` (the
artifact ``modelloop train`` registers, with the training rows as reference data, so every
ONNX export is checked against the model on them), which keeps the suite fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelloop.config import Settings
from modelloop.store import Store


def fit_pipeline(
    frame: pd.DataFrame, target: str, task: str, estimator: Any, family: str
) -> tuple[Any, Any]:
    """A modelloop pipeline fitted on ``frame``, and its schema."""
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    schema = infer_schema(frame, target=target)
    pipeline = make_pipeline(schema, family, estimator, task=task)
    pipeline.fit(frame.drop(columns=[target]), frame[target])
    return pipeline, schema


def register(
    store: Store, name: str, model: Any, schema: Any, task: str, frame: pd.DataFrame
) -> Any:
    """Register ``model`` as train does (the bundle, the schema, the training rows)."""
    bundle = {
        "pipeline": model,
        "schema": schema.to_dict(),
        "task": task,
        "target": schema.target,
        "classes": None if task == "regression" else list(model.classes_),
    }
    return store.register_model(
        name,
        bundle,
        run_id=None,
        schema=schema.to_dict(),
        task=task,
        metrics={"test": {}},
        reference=frame.drop(columns=[schema.target]),
        aliases=["production"],
    )


@pytest.fixture(scope="session")
def titanic() -> pd.DataFrame:
    """The bundled Titanic table without its text columns (ONNX takes no text)."""
    from modelloop.workflows import demo_data_path

    return pd.read_csv(demo_data_path()).drop(columns=["Name", "Ticket", "Cabin", "PassengerId"])


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store.from_settings(Settings(home=tmp_path / "home")) as opened:
        yield opened


DEPLOY_PYTHON = Path(__file__).resolve().parents[2] / ".venv-deploy" / "bin" / "python"


@pytest.fixture(scope="session")
def deploy_python() -> Path:
    """The Python of the deployment tools' own virtualenv (MLflow, kfp), never ``.venv``."""
    if not DEPLOY_PYTHON.exists():
        pytest.skip(
            "the deployment tools' virtualenv .venv-deploy is absent: run `make deploy-env` "
            "(MLflow and the kfp SDK, kept out of .venv)"
        )
    return DEPLOY_PYTHON
