"""ONNX export of the models `modelloop train` makes, on every dev dataset.

For each dataset in ../shared/datasets the default search trains a model (``--time-budget``,
``--exportable onnx`` unless ``--any-model``), registers it with its training rows, and
``modelloop export --format onnx`` writes it. The export itself checks the graph against the
model on 200 training rows; this script then runs it with onnxruntime on the whole held-out
test split and reports, per dataset: the final model, whether it converted (or the step that
did not), the rows compared, labels that differ (outside exact ties), the largest probability
/ value difference, and the time of one 1,000-row batch in onnxruntime and in process.

    .venv/bin/python bench/export_onnx.py [--time-budget 60] [--datasets a,b] [--no-write]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TARGETS = {
    "titanic": ("Survived", ["PassengerId"]),
    "ames_house_prices": ("SalePrice", ["Id"]),
    "penguins": ("species", []),
    "diamonds": ("price", []),
    "bank_marketing": ("subscribe", []),
    "credit_g_german": ("default", []),
    "wine_quality_red": ("quality", []),
    "auto_mpg": ("mpg", []),
    "airbnb_amsterdam": ("price", ["id", "host_id"]),
}


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(name: str, budget: float, exportable: bool) -> dict[str, object]:
    import onnxruntime as ort

    import modelloop as ml
    from modelloop.config import Settings
    from modelloop.data import Role
    from modelloop.exceptions import ExportError
    from modelloop.export import export_model, onnx_inputs
    from modelloop.export._onnx_export import tied_rows
    from modelloop.models import decision_threshold, model_output
    from modelloop.store import Store

    target, drop = TARGETS[name]
    home = Path(tempfile.mkdtemp(prefix=f"onnx-{name}-"))
    settings = Settings(home=home)
    frame = pd.read_csv(DATASETS / f"{name}.csv", sep=None, engine="python")  # wine: ';'
    from modelloop.data import infer_schema

    schema = infer_schema(frame.drop(columns=drop), target=target)
    unusable = [c.name for c in schema.features().columns if c.role in (Role.TEXT, Role.DATETIME)]
    result = ml.train(
        frame.drop(columns=drop + unusable),
        target=target,
        time_budget=budget,
        name=name,
        settings=settings,
        exportable="onnx" if exportable else None,
    )
    row: dict[str, object] = {
        "dataset": name,
        "task": result.task,
        "model": f"{result.best_model} ({result.final_fit})",
        "dropped": ", ".join(unusable) or "-",
    }
    with Store.from_settings(settings) as store:
        try:
            exported = export_model(store, name, "onnx", home / "onnx")
        except ExportError as exc:
            row["converted"] = f"no: {exc}"
            return row
        _, bundle = store.load_model(name)
        try:  # the held-out test rows train keeps for the report
            data = store.read_run_file(result.run_id, "test_rows.parquet")
            rows = pd.read_parquet(io.BytesIO(data))
        except Exception:
            rows = frame
    model, task = bundle["pipeline"], bundle["task"]
    rows = rows.drop(columns=[c for c in [target, *drop, *unusable] if c in rows.columns])
    schema = ml.data.Schema.from_dict(bundle["schema"])
    session = ort.InferenceSession(str(exported.path / "model.onnx"))
    feeds = onnx_inputs(rows, schema)
    got = session.run(None, feeds)
    want = model_output(task, model, rows)
    if task == "regression":
        diff = np.abs(np.asarray(got[0]).ravel() - want["prediction"].to_numpy())
        rel = diff / np.maximum(np.abs(want["prediction"].to_numpy()), 1e-12)
        row.update(
            converted="yes",
            rows=len(rows),
            labels_differ="-",
            max_diff=f"{diff.max():.2g} (relative {rel.max():.1g})",
        )
    else:
        proba = want.filter(like="proba_").to_numpy()
        same = np.array([str(a) == str(b) for a, b in zip(got[0], want["prediction"], strict=True)])
        ties = tied_rows(proba, decision_threshold(model))
        row.update(
            converted="yes",
            rows=len(rows),
            labels_differ=f"{int((~same & ~ties).sum())} ({int(ties.sum())} ties)",
            max_diff=f"{np.abs(got[1] - proba).max():.2g}",
        )
    batch = rows.head(1000)
    batch_feeds = onnx_inputs(batch, schema)
    row["onnx_ms"] = round(1000 * _time(lambda: session.run(None, batch_feeds)), 1)
    row["inprocess_ms"] = round(1000 * _time(lambda: model_output(task, model, batch)), 1)
    return row


def _markdown(rows: list[dict[str, object]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [str(row.get(c, "-")).replace("|", "/").replace("\n", " ") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--datasets", default=",".join(TARGETS))
    parser.add_argument(
        "--any-model",
        action="store_true",
        help="search every model, not only those that convert (--exportable)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for name in args.datasets.split(","):
        if not (DATASETS / f"{name}.csv").exists():
            print(f"{name}: not in {DATASETS}, skipped")
            continue
        row = run(name, args.time_budget, not args.any_model)
        print(row, flush=True)
        rows.append(row)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    table = _markdown(rows)
    how = "--any-model" if args.any_model else "--exportable onnx"
    text = (
        "## ONNX export of trained models: `bench/export_onnx.py`\n\n"
        f"`.venv/bin/python bench/export_onnx.py --time-budget {args.time_budget:g} "
        f"--datasets {args.datasets}{' --any-model' if args.any_model else ''}` at commit "
        f"{commit}, load average "
        f"{load:.1f} before and {os.getloadavg()[0]:.1f} after (2 cores, shared). Each dataset: "
        f"`train` with the default search ({how}), text and date columns left out (ONNX graphs "
        "of modelloop take numbers, booleans and categories), `export --format onnx`, then "
        "onnxruntime against the model in process on the held-out test rows: labels that "
        "differ outside exact ties (the two most probable classes within 1e-5), the largest "
        "probability (or value) difference, and the best of 3 timings of one batch of up to "
        "1,000 rows.\n\n" + table
    )
    print(text)
    if not args.no_write:
        write_section("export-onnx", text)


if __name__ == "__main__":
    main()
