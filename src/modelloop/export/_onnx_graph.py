"""Join the ONNX graphs of a model's members into one graph with modelloop's outputs.

Every member graph reads the same inputs (one per column). Its nodes, initializers and
inner values get a prefix of their own; then nodes added here turn each member's output
into what the model averages (the temperature applied, the columns put at their classes'
places, the log target taken back, the weight multiplied in), sum the members, and give a
classifier's label from the summed probabilities exactly as ``evaluation.threshold_labels``
does: ``classes[1]`` where ``p1 >= threshold``, else the first most probable class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx import ModelProto, TensorProto, helper, numpy_helper

from modelloop.exceptions import ExportError

__all__ = ["join_members"]

_EPS = 1e-15


class _Graph:
    """Nodes and initializers being gathered, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"ml_{hint}_{self._n}"

    def const(self, value: Any, hint: str = "c") -> str:
        name = self.name(hint)
        arr = np.asarray(value)
        if arr.dtype.kind in "US":
            tensor = helper.make_tensor(
                name,
                TensorProto.STRING,
                arr.shape,
                [str(v).encode() for v in arr.ravel()],  # type: ignore[misc]  # onnx's stub: numbers only; STRING tensors take bytes
            )
        else:
            tensor = numpy_helper.from_array(arr, name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, inputs: Sequence[str], hint: str = "", **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def _prefixed(model: ModelProto, prefix: str, columns: Sequence[str]) -> tuple[Any, dict[str, str]]:
    """The member graph's nodes and initializers with every inner name prefixed, and its
    inputs (which skl2onnx names after the columns, made into identifiers) named as the
    columns again."""
    graph = model.graph
    if len(graph.input) != len(columns):
        raise ExportError(
            f"The converted graph has {len(graph.input)} inputs for {len(columns)} columns; "
            "it cannot be joined."
        )
    inputs = {value.name: column for value, column in zip(graph.input, columns, strict=True)}

    def rename(name: str) -> str:
        if not name:
            return name
        return inputs.get(name) or prefix + name

    nodes = []
    for node in graph.node:
        new = helper.make_node(
            node.op_type,
            [rename(n) for n in node.input],
            [rename(n) for n in node.output],
            name=prefix + node.name,
            domain=node.domain,
        )
        new.attribute.extend(node.attribute)
        nodes.append(new)
    inits = []
    for init in graph.initializer:
        copy = TensorProto()
        copy.CopyFrom(init)
        copy.name = rename(init.name)
        inits.append(copy)
    outputs = {o.name: rename(o.name) for o in graph.output}
    return (nodes, inits), outputs


def _classes_const(g: _Graph, classes: np.ndarray) -> tuple[str, int]:
    if classes.dtype.kind in "iu":
        return g.const(classes.astype(np.int64), "classes"), TensorProto.INT64
    if classes.dtype.kind == "b":
        return g.const(classes.astype(np.int64), "classes"), TensorProto.INT64
    if classes.dtype.kind == "f":
        return g.const(classes.astype(np.float32), "classes"), TensorProto.FLOAT
    return g.const(np.asarray([str(c) for c in classes]), "classes"), TensorProto.STRING


def join_members(
    graphs: Sequence[ModelProto],
    members: Sequence[Any],
    *,
    classes: np.ndarray | None,
    threshold: float | None,
    schema_inputs: Sequence[str],
    metadata: dict[str, str],
) -> ModelProto:
    """One ONNX model: the members' graphs and the combination described above."""
    g = _Graph()
    opsets: dict[str, int] = {}
    inputs: dict[str, Any] = {}
    parts = []
    for i, (model, member) in enumerate(zip(graphs, members, strict=True)):
        for imp in model.opset_import:
            opsets[imp.domain] = max(opsets.get(imp.domain, 0), imp.version)
        for value, column in zip(model.graph.input, schema_inputs, strict=False):
            if column not in inputs:
                renamed = helper.make_tensor_value_info(column, 0, None)
                renamed.CopyFrom(value)
                renamed.name = column
                inputs[column] = renamed
        (nodes, inits), outs = _prefixed(model, f"m{i}_", schema_inputs)
        g.nodes.extend(nodes)
        g.initializers.extend(inits)
        parts.append(_member_output(g, member, outs, classes))
    total = parts[0]
    for part in parts[1:]:
        total = g.op("Add", [total, part], "sum")
    outputs = []
    if classes is None:
        g.nodes.append(
            helper.make_node("Cast", [total], ["variable"], name="variable", to=TensorProto.FLOAT)
        )
        outputs.append(helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1]))
    else:
        g.nodes.append(
            helper.make_node(
                "Cast", [total], ["probabilities"], name="probabilities", to=TensorProto.FLOAT
            )
        )
        table, label_type = _classes_const(g, np.asarray(classes))
        if threshold is not None and len(classes) == 2:
            p1 = g.op("Gather", [total, g.const(np.int64(1))], "p1", axis=1)  # shape [n]
            hit = g.op("GreaterOrEqual", [p1, g.const(np.float64(threshold), "threshold")])
            index = g.op("Cast", [hit], "index", to=TensorProto.INT64)
        else:
            index = g.op("ArgMax", [total], "index", axis=1, keepdims=0, select_last_index=0)
        g.nodes.append(helper.make_node("Gather", [table, index], ["label"], name="label", axis=0))
        outputs.append(helper.make_tensor_value_info("label", label_type, [None]))
        outputs.append(
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(classes)])
        )
    graph = helper.make_graph(
        g.nodes,
        "modelloop",
        [inputs[name] for name in schema_inputs if name in inputs],
        outputs,
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
        producer_name="modelloop",
    )
    model.ir_version = min(model.ir_version, 9)
    for key, value in metadata.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    return model


def _member_output(g: _Graph, member: Any, outs: dict[str, str], classes: np.ndarray | None) -> str:
    """The member's weighted contribution: ``[n, classes]`` probabilities or ``[n, 1]`` values."""
    if classes is None:
        value = outs.get("variable") or next(iter(outs.values()))
        value = g.op("Cast", [value], "value", to=TensorProto.DOUBLE)
        if member.log_target is not None:
            low, high = member.log_target
            z = g.op("Clip", [value, g.const(np.float64(low)), g.const(np.float64(high))], "z")
            sign = g.op("Sign", [z])
            grown = g.op("Sub", [g.op("Exp", [g.op("Abs", [z])]), g.const(np.float64(1.0))])
            value = g.op("Mul", [sign, grown], "inverse")
        value = g.op("Reshape", [value, g.const(np.array([-1, 1], dtype=np.int64))], "value")
    else:
        value = outs.get("probabilities") or list(outs.values())[1]
        value = g.op("Cast", [value], "proba", to=TensorProto.DOUBLE)
        if member.temperature is not None and member.temperature != 1.0:
            clipped = g.op(
                "Clip", [value, g.const(np.float64(_EPS)), g.const(np.float64(1.0))], "clip"
            )
            logits = g.op("Div", [g.op("Log", [clipped]), g.const(np.float64(member.temperature))])
            value = g.op("Softmax", [logits], "scaled", axis=1)
        columns = member.columns
        n = len(classes)
        if columns is not None and list(columns) != list(range(n)):
            place = np.zeros((len(columns), n), dtype=np.float64)
            place[np.arange(len(columns)), np.asarray(columns, dtype=int)] = 1.0
            value = g.op("MatMul", [value, g.const(place, "place")], "placed")
    if member.weight != 1.0:
        value = g.op("Mul", [value, g.const(np.float64(member.weight), "weight")], "weighted")
    return value
