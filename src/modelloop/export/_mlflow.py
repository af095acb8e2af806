"""``--format mlflow``: an MLflow pyfunc model folder that loads without modelloop's store.

``mlflow.pyfunc.load_model(folder).predict(frame)`` answers what ``modelloop predict``
answers. The folder is what MLflow writes for a model: ``MLmodel`` (the ``python_function``
flavor, whose ``loader_module`` is :mod:`modelloop.export.mlflow_pyfunc`, the signature from
the input schema, the input example), ``python_env.yaml`` and ``requirements.txt`` (every
library pinned to the versions that trained the model, modelloop itself as a wheel in
``wheels/``), and under ``data/`` the model file with its sha256.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from modelloop.data import UNSUPERVISED_TASKS, Role
from modelloop.export._environment import (
    build_wheel,
    modelloop_version,
    pinned_requirements,
    python_version,
)
from modelloop.export.mlflow_pyfunc import INFO_FILE, MODEL_FILE

__all__ = ["column_type", "write_mlflow", "write_requirements"]

_TYPES = {
    "int64": "long",
    "int32": "integer",
    "float64": "double",
    "float32": "float",
    "bool": "boolean",
}


def column_type(dtype: str, role: Role) -> str:
    """The MLflow column type of a column read with ``dtype``.

    >>> column_type("int64", Role.NUMERIC), column_type("object", Role.CATEGORICAL)
    ('long', 'string')
    """
    if role is Role.DATETIME or dtype.startswith("datetime64"):
        return "datetime"
    return _TYPES.get(dtype, "string")


def write_requirements(folder: Path, trained_with: dict[str, str]) -> list[str]:
    """``requirements.txt`` (pinned, modelloop from ``wheels/``) and the wheel; the lines."""
    build_wheel(folder / "wheels")
    lines = [
        "# Pinned to the environment that trained the model; modelloop from ./wheels.",
        "--find-links wheels",
        *pinned_requirements(trained_with),
        f"modelloop=={modelloop_version()}",
    ]
    (folder / "requirements.txt").write_text("\n".join(lines) + "\n")
    return lines


def _example(ctx: Any) -> pd.DataFrame | None:
    rows = ctx.reference_rows(5)
    if rows is None or len(rows) == 0:
        return None
    return rows[ctx.schema.feature_columns()]


def _split_json(frame: pd.DataFrame) -> dict[str, Any]:
    data = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    return {"columns": data["columns"], "data": data["data"]}


def _signature(ctx: Any, example: pd.DataFrame | None) -> dict[str, Any]:
    """Input types as the training rows were read (as ``mlflow.models.infer_signature``
    would give them), else from the input schema; outputs as ``modelloop predict``'s."""
    schema = ctx.schema.features()
    dtypes = {} if example is None else {c: str(t) for c, t in example.dtypes.items()}
    inputs = [
        {
            "type": column_type(dtypes.get(c.name, c.dtype), c.role),
            "name": c.name,
            "required": True,
        }
        for c in schema.columns
    ]
    signature: dict[str, Any] = {"inputs": json.dumps(inputs), "outputs": None, "params": None}
    if ctx.task in UNSUPERVISED_TASKS:
        return signature
    if ctx.task == "regression":
        outputs = [{"type": "double", "name": "prediction", "required": True}]
    else:
        classes = list(ctx.bundle.get("classes") or ctx.bundle["pipeline"].classes_)
        kind = np.asarray(classes).dtype.kind
        label = {"i": "long", "u": "long", "b": "boolean", "f": "double"}.get(kind, "string")
        outputs = [{"type": label, "name": "prediction", "required": True}]
        outputs += [{"type": "double", "name": f"proba_{c}", "required": True} for c in classes]
    signature["outputs"] = json.dumps(outputs)
    return signature


def write_mlflow(folder: Path, ctx: Any) -> dict[str, Any]:
    """Write the MLflow model folder described in the module docstring."""
    data = folder / "data"
    data.mkdir()
    shutil.copyfile(ctx.model_file, data / MODEL_FILE)
    (data / INFO_FILE).write_text(
        json.dumps(
            {
                "model": ctx.record.ref,
                "sha256": ctx.record.sha256,
                "task": ctx.task,
                "schema": ctx.bundle["schema"],
                "modelloop_version": modelloop_version(),
            },
            indent=2,
        )
        + "\n"
    )
    write_requirements(folder, ctx.trained_with)
    (folder / "python_env.yaml").write_text(
        yaml.safe_dump(
            {
                "python": ctx.trained_with.get("python") or python_version(),
                "build_dependencies": ["pip", "setuptools", "wheel"],
                "dependencies": ["-r requirements.txt"],
            },
            sort_keys=False,
        )
    )
    mlmodel: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "loader_module": "modelloop.export.mlflow_pyfunc",
                "data": "data",
                "env": {"virtualenv": "python_env.yaml"},
                "python_version": ctx.trained_with.get("python") or python_version(),
            }
        },
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "metadata": {"modelloop_model": ctx.record.ref, "modelloop_sha256": ctx.record.sha256},
    }
    example = _example(ctx)
    mlmodel["signature"] = _signature(ctx, example)
    notes = []
    if example is not None:
        split = _split_json(example)
        (folder / "input_example.json").write_text(json.dumps(split) + "\n")
        (folder / "serving_input_example.json").write_text(
            json.dumps({"dataframe_split": split}, indent=2) + "\n"
        )
        mlmodel["saved_input_example_info"] = {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
        }
    else:
        notes.append("no input example: the version was registered without its training rows")
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
    return {"notes": notes, "flavor": "python_function"}
