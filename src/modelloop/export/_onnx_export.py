"""``--format onnx``: ``model.onnx``, its input description, checked against the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from modelloop.exceptions import ExportError
from modelloop.export._environment import modelloop_version
from modelloop.export._onnx import convert_onnx, onnx_inputs

__all__ = ["check_parity", "tied_rows", "write_onnx"]

PARITY_ROWS = 200
RTOL = 1e-5
ATOL = 1e-5


def check_parity(
    onnx_bytes: bytes, model: Any, task: str, schema: Any, rows: Any
) -> dict[str, Any]:
    """Run the graph with onnxruntime on ``rows`` and compare with the model in process.

    Labels must be equal and probabilities / values within ``RTOL``/``ATOL``
    (``|a - b| <= ATOL + RTOL * |b|``); returns what was compared, raises otherwise.
    """
    import onnxruntime as ort

    from modelloop.models import decision_threshold, model_output

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    outputs = session.run(None, onnx_inputs(rows, schema))
    expected = model_output(task, model, rows)
    if task == "regression":
        got = np.asarray(outputs[0], dtype=float).ravel()
        want = expected["prediction"].to_numpy(dtype=float)
        diff = np.abs(got - want)
        bad = diff > ATOL + RTOL * np.abs(want)
        if bad.any():
            raise ExportError(
                f"The ONNX graph disagrees with the model on {int(bad.sum())} of {len(want)} "
                f"rows (largest difference {diff.max():.3g}); it was not written."
            )
        return {"rows": len(want), "max_abs_diff": float(diff.max())}
    labels = np.asarray(outputs[0])
    proba = np.asarray(outputs[1], dtype=float)
    want_proba = expected.filter(like="proba_").to_numpy(dtype=float)
    want_labels = expected["prediction"].to_numpy()
    same = np.array([str(a) == str(b) for a, b in zip(labels, want_labels, strict=True)])
    ties = tied_rows(want_proba, decision_threshold(model))
    diff = np.abs(proba - want_proba)
    if not (same | ties).all() or (diff > ATOL + RTOL * np.abs(want_proba)).any():
        raise ExportError(
            f"The ONNX graph disagrees with the model: {int((~(same | ties)).sum())} of "
            f"{len(same)} labels differ, largest probability difference {diff.max():.3g}; it "
            "was not written."
        )
    return {"rows": len(same), "max_abs_diff": float(diff.max()), "ties": int(ties.sum())}


def tied_rows(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """Rows whose label is a tie within the tolerance: the two most probable classes (or
    the probability and the decision threshold) closer than ``ATOL``. Single-precision
    arithmetic may label them either way; their probabilities are still compared."""
    if threshold is not None and proba.shape[1] == 2:
        return np.abs(proba[:, 1] - threshold) <= ATOL
    top = np.sort(proba, axis=1)
    return (top[:, -1] - top[:, -2]) <= ATOL


def write_onnx(folder: Path, ctx: Any) -> dict[str, Any]:
    """Write ``model.onnx`` and ``inputs.json``; check the graph against the model."""
    schema = ctx.schema
    model = ctx.bundle["pipeline"]
    proto = convert_onnx(
        model,
        schema,
        task=ctx.task,
        metadata={
            "modelloop.model": ctx.record.ref,
            "modelloop.sha256": ctx.record.sha256,
            "modelloop.version": modelloop_version(),
        },
    )
    data = proto.SerializeToString()
    notes: list[str] = []
    parity: dict[str, Any] = {}
    rows = ctx.reference_rows(PARITY_ROWS)
    if rows is None or len(rows) == 0:
        notes.append(
            "not checked against the model: the version was registered without its training rows"
        )
    else:
        parity = check_parity(data, model, ctx.task, schema, rows)
        ties = parity.get("ties", 0)
        notes.append(
            f"checked with onnxruntime on {parity['rows']} training rows: labels equal"
            + (f" (but {ties} exact ties)" if ties else "")
            + f", largest difference {parity['max_abs_diff']:.2g}"
        )
    (folder / "model.onnx").write_bytes(data)
    inputs = [
        {
            "name": c.name,
            "role": c.role.value,
            "type": "string" if c.role.value == "categorical" else "float",
            "shape": [None, 1],
            "missing": "" if c.role.value == "categorical" else "NaN",
        }
        for c in schema.features().columns
    ]
    outputs = (
        [{"name": "variable", "type": "float", "shape": [None, 1]}]
        if ctx.task == "regression"
        else [
            {"name": "label", "shape": [None]},
            {"name": "probabilities", "type": "float", "shape": [None, "classes"]},
        ]
    )
    (folder / "inputs.json").write_text(
        json.dumps(
            {
                "model": ctx.record.ref,
                "task": ctx.task,
                "classes": json.loads(
                    next(
                        (p.value for p in proto.metadata_props if p.key == "modelloop.classes"),
                        "null",
                    )
                ),
                "inputs": inputs,
                "outputs": outputs,
                "schema": ctx.bundle["schema"],
            },
            indent=2,
        )
        + "\n"
    )
    return {"parity": parity, "notes": notes, "bytes": len(data)}
