"""Explanation speed and agreement: modelloop's explanations against shap, in the same run.

For each dev dataset in ../shared/datasets (see its MANIFEST.md), on the split
``bench/quality.py`` uses (seed 0):

1. **Single boosted models** (LightGBM, XGBoost, and CatBoost for binary and regression
   tasks; the catalog's defaults, fitted once on the training rows). Batch explanations of
   1,000 test rows (resampled) by ``modelloop.explain.Explainer`` against
   ``shap.TreeExplainer`` on the same fitted model: the same job for both (the pipeline's
   preprocessing, TreeSHAP, and the encoded features' values summed into their input
   columns), rows per second and their ratio, and the largest absolute difference between
   the two (the same quantity: path-dependent TreeSHAP on the log-odds / class margins /
   value).
2. **The default final model**: ``modelloop train`` with its defaults (``--time-budget``,
   120 s by default), explained by modelloop (rows per second on 200 test rows) and by
   ``shap.Explainer`` with a permutation algorithm over the same input columns (shap's
   model-agnostic way to explain a whole pipeline; 100 background rows, its default
   ``max_evals``), timed on 5 rows.
3. **One row through the server**: ``modelloop serve`` as a real process (one worker)
   holding every model above; ``POST /v1/models/NAME/explain`` with one row, 100 times in a row (median
   and 95th percentile), beside ``POST /v1/models/NAME/predict`` of the same row (the
   baseline; the ratio is explain / predict).

Targets (the issue): one row through the server in <= 20 ms for a single boosted model and
<= 100 ms for the default final model; >= 1,000 rows/s in batch for single boosted models.

    .venv/bin/python bench/explain.py [--datasets titanic,penguins] [--time-budget 120]
        [--requests 100] [--no-write]

The machine's load average is printed at the start and the end and written with the table
to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section
from quality import CASES, DATASETS, split

import modelloop as ml
from modelloop.config import Settings
from modelloop.data import load
from modelloop.explain import Explainer, feature_groups, group_matrix
from modelloop.features import make_pipeline
from modelloop.models import get_spec
from modelloop.store import Store

ROOT = Path(__file__).resolve().parents[1]
BATCH_ROWS = 1_000
FINAL_ROWS = 200
SHAP_FINAL_ROWS = 5


def _load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


def _boosters(task: str) -> list[str]:
    return ["lightgbm", "xgboost"] + ([] if task == "multiclass" else ["catboost"])


def _fit_single(name: str, train: pd.DataFrame, case: Any, schema: Any) -> Any:
    spec = get_spec(name, case.task)
    pipe = make_pipeline(schema, spec.family, spec.make(case.task, n_jobs=1), task=case.task)
    X, y = train[schema.feature_columns()], train[case.target]
    if name == "xgboost" and case.task != "regression":  # XGBoost learns label codes
        y = pd.Series(np.unique(y, return_inverse=True)[1], index=y.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipe.fit(X, y)


def _raw_output(task: str) -> str | None:
    return {"binary": "log-odds", "regression": "value"}.get(task)


def _shap_grouped(pipe: Any, X: pd.DataFrame, columns: list[str], explainer: Any) -> np.ndarray:
    """shap.TreeExplainer's values for rows X, encoded features summed per input column:
    (rows, columns, outputs)."""
    Xt = pipe[:-1].transform(X)
    values = np.asarray(explainer.shap_values(np.asarray(Xt, dtype=float), check_additivity=False))
    if values.ndim == 2:
        values = values[:, :, None]
    groups = group_matrix(feature_groups(pipe.steps[-2][1]), columns)
    n, f, k = values.shape
    flat = values.transpose(0, 2, 1).reshape(n * k, f) @ groups
    return np.asarray(flat).reshape(n, k, -1).transpose(0, 2, 1)


def _ours_raw(explainer: Explainer, X: pd.DataFrame) -> np.ndarray:
    """modelloop's TreeSHAP values before any link: (rows, columns, outputs)."""
    return explainer.attribution(X).values


def _timed(fn: Any, repeats: int = 2) -> tuple[float, float]:
    """The best wall-clock and CPU seconds of ``repeats`` calls. The CPU time (this
    process's, every thread) is what a machine to itself would take; on a shared machine
    the wall clock also counts waiting for a core."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def bench_single(name: str, pipe: Any, X: pd.DataFrame, case: Any, columns: list[str]) -> dict:
    import shap

    rows = X.sample(BATCH_ROWS, replace=True, random_state=0)
    ours = Explainer(pipe, case.task, columns, name=name)
    output = _raw_output(case.task) or "probability"
    ours.explain(rows.head(5), output=output)  # build once (both sides are timed warm)
    tree = shap.TreeExplainer(pipe[-1])
    ours_s, ours_cpu = _timed(lambda: ours.explain(rows, output=output))
    shap_s, shap_cpu = _timed(lambda: _shap_grouped(pipe, rows, columns, tree))
    diff = float(np.abs(_ours_raw(ours, rows) - _shap_grouped(pipe, rows, columns, tree)).max())
    return {
        "ours_rows_s": BATCH_ROWS / ours_s,
        "shap_rows_s": BATCH_ROWS / shap_s,
        "ours_cpu_rows_s": BATCH_ROWS / ours_cpu,
        "shap_cpu_rows_s": BATCH_ROWS / shap_cpu,
        "max_diff": diff,
        "method": ours.explain(rows.head(1), output=output).detail,
    }


def _codes(frame: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each column as integer codes (missing as its own code), and the values per code."""
    codes, levels = [], []
    for col in frame.columns:
        c, u = pd.factorize(frame[col], use_na_sentinel=False)
        codes.append(c)
        levels.append(np.asarray(u, dtype=object))
    return np.column_stack(codes).astype(float), levels


def bench_final(
    result: Any, X: pd.DataFrame, train: pd.DataFrame, case: Any, columns: list[str]
) -> dict:
    """modelloop's explanations of the final model against shap.Explainer (permutation over
    the same input columns, through a function that decodes integer codes to raw values;
    its background: raw training rows, as read from the file)."""
    import shap

    rows = X.sample(FINAL_ROWS, replace=True, random_state=1)
    explainer = result._explainer or Explainer(
        result.model, case.task, columns, background=result.dataset.frame
    )
    explainer.explain(rows.head(2))  # build
    ours_s, ours_cpu = _timed(lambda: explainer.explain(rows), repeats=1)
    detail = explainer.explain(rows.head(1))
    everything = pd.concat([X, train[columns]], ignore_index=True)[columns]
    coded, levels = _codes(everything)
    n_x = len(X)

    def predict(codes: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame({c: levels[j][codes[:, j].astype(int)] for j, c in enumerate(columns)})
        if case.task == "regression":
            return np.asarray(result.model.predict(frame), dtype=float)
        proba = np.asarray(result.model.predict_proba(frame), dtype=float)
        return proba[:, 1] if case.task == "binary" else proba.max(axis=1)

    background = coded[n_x:][np.random.default_rng(0).choice(len(coded) - n_x, 100)]
    shap_explainer = shap.Explainer(
        predict, shap.maskers.Independent(background, max_samples=100), algorithm="permutation"
    )
    sample = coded[:n_x][np.random.default_rng(2).choice(n_x, SHAP_FINAL_ROWS)]
    try:
        shap_s, shap_cpu = _timed(lambda: shap_explainer(sample, silent=True), repeats=1)
    except Exception as exc:  # the peer failing on one dataset does not end the run
        print(f"shap.Explainer failed: {type(exc).__name__}: {exc}", flush=True)
        shap_s = shap_cpu = float("nan")
    return {
        "final_model": f"{result.best_model} ({result.final_fit})",
        "method": detail.method,
        "ours_rows_s": FINAL_ROWS / ours_s,
        "shap_rows_s": SHAP_FINAL_ROWS / shap_s,
        "ours_cpu_rows_s": FINAL_ROWS / ours_cpu,
        "shap_cpu_rows_s": SHAP_FINAL_ROWS / shap_cpu,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    # one worker: every request meets the same warmed-up explainer
    cmd = [sys.executable, "-m", "modelloop", "serve", "--home", str(home), "--port", str(port),
           "--no-log", "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok":
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("modelloop serve did not come up")


def latency(base: str, name: str, row: dict[str, Any], route: str, n: int) -> tuple[float, float]:
    """Median and 95th percentile milliseconds of ``n`` one-row requests (after 5 warm-ups)."""
    import httpx

    body = {"instances": [row]}
    times = []
    with httpx.Client(timeout=60) as client:
        for i in range(n + 5):
            t = time.perf_counter()
            answer = client.post(f"{base}/v1/models/{name}/{route}", json=body)
            elapsed = time.perf_counter() - t
            if answer.status_code != 200:
                raise RuntimeError(f"{route} of {name}: {answer.status_code} {answer.text[:300]}")
            if i >= 5:
                times.append(elapsed * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def _record(frame: pd.DataFrame) -> dict[str, Any]:
    import json

    return json.loads(frame.head(1).to_json(orient="records"))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="all")
    parser.add_argument("--time-budget", type=float, default=120.0)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not DATASETS.exists():
        sys.exit(f"datasets not found at {DATASETS}")
    names = list(CASES) if args.datasets == "all" else args.datasets.split(",")
    load_start = _load_average()
    commit = _commit()  # the code measured, even if the tree moves on during the run
    print(f"commit {commit}; load average at the start: {load_start}")
    single_rows, final_rows = [], []
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home)
        requests: list[tuple[str, str, dict[str, Any], dict]] = []
        for name in names:
            case = CASES[name]
            frame = pd.read_csv(DATASETS / case.file, **dict(case.read))
            frame = frame.drop(columns=[c for c in (*case.ids, *case.drop) if c in frame])
            train, test = split(frame, case, seed=0)
            schema = load(train, target=case.target, name=name).schema
            columns = schema.feature_columns()
            X = test[columns]
            for model in _boosters(case.task):
                pipe = _fit_single(model, train, case, schema)
                row = bench_single(model, pipe, X, case, columns)
                print(f"{name:18s} {model:9s} ours {row['ours_rows_s']:8.0f} rows/s "
                      f"({row['ours_cpu_rows_s']:.0f} CPU), shap {row['shap_rows_s']:8.0f} rows/s "
                      f"({row['shap_cpu_rows_s']:.0f} CPU), max |diff| {row['max_diff']:.2e}",
                      flush=True)  # fmt: skip
                single_rows.append({"dataset": name, "model": model, **row})
                reg = f"{name}_{model}"
                bundle = {"pipeline": pipe, "schema": schema.to_dict(), "task": case.task,
                          "target": case.target,
                          "classes": None if case.task == "regression" else
                          np.asarray(pipe.classes_).tolist()}  # fmt: skip
                with Store.from_settings(settings) as store:
                    store.register_model(reg, bundle, run_id=None, schema=schema.to_dict(),
                                         task=case.task, metrics={}, reference=train)  # fmt: skip
                requests.append((reg, name, _record(X), single_rows[-1]))
            started = time.perf_counter()
            result = ml.train(
                train, target=case.target, task=case.task, metric=case.metric,
                time_budget=args.time_budget, name=f"{name}_final", settings=settings,
            )  # fmt: skip
            row = bench_final(result, X, train, case, columns)
            print(f"{name:18s} final {row['final_model']} (trained in "
                  f"{time.perf_counter() - started:.0f} s): ours {row['ours_rows_s']:.0f} rows/s, "
                  f"shap.Explainer {row['shap_rows_s']:.2f} rows/s", flush=True)  # fmt: skip
            final_rows.append({"dataset": name, **row})
            requests.append((f"{name}_final", name, _record(X), final_rows[-1]))
        proc, base = serve(home)
        try:
            for reg, _, record, target in requests:
                try:
                    target["explain_ms"], target["explain_p95_ms"] = latency(
                        base, reg, record, "explain", args.requests
                    )
                    target["predict_ms"], _ = latency(base, reg, record, "predict", args.requests)
                except RuntimeError as exc:  # printed; the other models are still measured
                    print(f"{reg}: {exc}", flush=True)
                    continue
                print(f"{reg:32s} server explain {target['explain_ms']:6.1f} ms (p95 "
                      f"{target['explain_p95_ms']:.1f}), predict {target['predict_ms']:.1f} ms",
                      flush=True)  # fmt: skip
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    load_end = _load_average()
    print(f"load average at the end: {load_end}")
    report(single_rows, final_rows, args, commit, load_start, load_end)


def report(
    single: list[dict], final: list[dict], args: Any, commit: str, load_start: str, load_end: str
) -> None:
    s = pd.DataFrame(single)
    f = pd.DataFrame(final)
    lines = [
        "## Explanations: modelloop against shap",
        "",
        f"`.venv/bin/python bench/explain.py --datasets {args.datasets} --time-budget "
        f"{args.time_budget:g} --requests {args.requests}` at commit {commit}, "
        f"{time.strftime('%Y-%m-%d')}; load average {load_start} at the start, {load_end} at "
        "the end (2 cores, shared).",
        "",
        "Single boosted models (the catalog's defaults): batch explanations of 1,000 test rows "
        "(raw rows in, contributions per input column out, for both; rows/s by the wall clock, "
        "and in brackets by this process's CPU time, which waiting for a busy core does not "
        "count), the largest absolute "
        "difference from shap.TreeExplainer's values (same quantity: TreeSHAP on the log-odds, "
        "class margins or value, encoded features summed per input column), and one row "
        "through `modelloop serve` (median and p95 of 100 requests; predict of the same row "
        "as the baseline). Targets: >= 1,000 rows/s, <= 20 ms.",
        "",
        "| dataset | model | modelloop rows/s (CPU) | shap rows/s (CPU) | ratio | max abs diff | server explain ms (p95) | server predict ms | explain / predict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in s.to_dict(orient="records"):
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['ours_rows_s']:,.0f} ({r['ours_cpu_rows_s']:,.0f}) "
            f"| {r['shap_rows_s']:,.0f} ({r['shap_cpu_rows_s']:,.0f}) "
            f"| {r['ours_rows_s'] / r['shap_rows_s']:.2f} | {r['max_diff']:.1e} | "
            f"{r.get('explain_ms', float('nan')):.1f} ({r.get('explain_p95_ms', float('nan')):.1f}) | "
            f"{r.get('predict_ms', float('nan')):.1f} | "
            f"{r.get('explain_ms', float('nan')) / r.get('predict_ms', float('nan')):.1f} |"
        )
    if len(s):
        lines += [
            "",
            f"- batch >= 1,000 rows/s: {int((s['ours_rows_s'] >= 1000).sum())} of {len(s)} by "
            f"the wall clock, {int((s['ours_cpu_rows_s'] >= 1000).sum())} of {len(s)} by CPU "
            "time; "
            f"one row <= 20 ms: {int((s['explain_ms'] <= 20).sum())} of {len(s)}; "
            f"largest difference from shap: {s['max_diff'].max():.1e}.",
        ]
    lines += [
        "",
        f"The default final model (`modelloop train`, time budget {args.time_budget:g} s): "
        "modelloop's explanations (200 test rows) against `shap.Explainer` with the "
        "permutation algorithm over the same input columns (5 rows), and one row through the "
        "server. Target: <= 100 ms.",
        "",
        "| dataset | final model | method | modelloop rows/s (CPU) | shap.Explainer rows/s (CPU) | ratio | server explain ms (p95) | server predict ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in f.to_dict(orient="records"):
        lines.append(
            f"| {r['dataset']} | {r['final_model']} | {r['method']} | {r['ours_rows_s']:,.1f} "
            f"({r['ours_cpu_rows_s']:,.1f}) | {r['shap_rows_s']:,.2f} ({r['shap_cpu_rows_s']:,.2f}) "
            f"| {r['ours_rows_s'] / r['shap_rows_s']:,.0f} | "
            f"{r.get('explain_ms', float('nan')):.1f} ({r.get('explain_p95_ms', float('nan')):.1f}) | "
            f"{r.get('predict_ms', float('nan')):.1f} |"
        )
    if len(f):
        lines += [
            "",
            f"- one row <= 100 ms: {int((f['explain_ms'] <= 100).sum())} of {len(f)}.",
        ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("explain", text)


if __name__ == "__main__":
    main()
