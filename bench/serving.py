"""Serving throughput and latency: `modelloop serve` against the tutorial's Flask app.

Trains a LightGBM classifier and a decision tree (modelloop pipelines: schema check,
preprocessing, estimator) on Titanic from ../shared/datasets, then serves each in turn by

  (a) the tutorial app: Flask, `joblib.load('model.pkl')`, `model.predict([features])`,
      under Flask's development server;
  (b) the same app under gunicorn with 2 workers;
  (c) `modelloop serve --workers 2` (the tutorial route `POST /predict {"features": [...]}`).

An asyncio httpx load generator on the loopback interface drives each at concurrency 1, 8
and 64 for a fixed time, and the script prints requests/s, p50/p99 latency, errors, the
ratios of (c) to (a) and (b), and checks that all three return the same predictions.

    .venv/bin/python bench/serving.py [--seconds 5] [--concurrency 1,8,64]

The load generator shares the machine's cores with the servers, as on any single box.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

from modelloop.config import Settings
from modelloop.data import infer_schema
from modelloop.features import make_pipeline
from modelloop.store import Store

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
BIN = Path(sys.executable).parent
TARGET = "Survived"

FLASK_APP = """
import joblib
from flask import Flask, jsonify, request

model = joblib.load({model!r})
app = Flask(__name__)


@app.route("/predict", methods=["POST"])
def predict():
    features = request.get_json()["features"]
    return jsonify({{"prediction": model.predict([features]).tolist()[0]}})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port={port})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(home: Path, frame: pd.DataFrame) -> dict[str, list[str]]:
    from lightgbm import LGBMClassifier
    from sklearn.tree import DecisionTreeClassifier

    schema = infer_schema(frame, target=TARGET)
    X, y = frame.drop(columns=[TARGET]), frame[TARGET]
    models = {
        "lightgbm": LGBMClassifier(n_estimators=200, learning_rate=0.05, verbose=-1),
        "decision_tree": DecisionTreeClassifier(max_depth=6, random_state=0),
    }
    with Store.from_settings(Settings(home=home)) as store:
        for name, est in models.items():
            pipe = make_pipeline(schema, "tree", est, task="binary").fit(X, y)
            bundle = {
                "pipeline": pipe,
                "schema": schema.to_dict(),
                "task": "binary",
                "target": TARGET,
                "classes": pipe.classes_.tolist(),
            }
            store.register_model(
                name,
                bundle,
                run_id=None,
                schema=schema.to_dict(),
                task="binary",
                metrics={},
                aliases=["production"],
            )
            joblib.dump(pipe, home / f"{name}.pkl")
    return {"features": schema.feature_columns()}


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


def start(kind: str, model: str, home: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if kind in ("flask", "gunicorn"):
        app_dir = workdir / f"{kind}_{model}"
        app_dir.mkdir(exist_ok=True)
        (app_dir / "app.py").write_text(
            textwrap.dedent(FLASK_APP.format(model=str(home / f"{model}.pkl"), port=port))
        )
        if kind == "flask":
            cmd = [sys.executable, "app.py"]
        else:
            cmd = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"]
        cwd = app_dir
        health = f"http://127.0.0.1:{port}/"
    else:
        cmd = [
            sys.executable,
            "-m",
            "modelloop",
            "serve",
            "--home",
            str(home),
            "--port",
            str(port),
            "--workers",
            "2",
            "--default-model",
            model,
        ]
        cwd = workdir
        health = f"http://127.0.0.1:{port}/health"
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_up(health, proc)
    if kind == "modelloop":  # both workers up: /health answers from either
        time.sleep(2)
    return proc, f"http://127.0.0.1:{port}/predict"


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def drive(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for body in bodies[:3]:  # warm up
            await client.post(url, content=body, headers=headers)
        stop_at = time.perf_counter() + seconds

        async def worker(i: int) -> None:
            nonlocal errors
            k = i
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                try:
                    r = await client.post(url, content=bodies[k % len(bodies)], headers=headers)
                    if r.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t)
                k += concurrency

        start_t = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - start_t
    lat = np.array(latencies) * 1000
    return {
        "rps": len(latencies) / elapsed,
        "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "errors": errors,
        "n": len(latencies),
    }


def predictions(url: str, bodies: list[bytes]) -> list:
    return [
        httpx.post(url, content=b, headers={"content-type": "application/json"}).json()[
            "prediction"
        ]
        for b in bodies
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--models", default="lightgbm,decision_tree")
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md.")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    load_before = os.getloadavg()[0]
    frame = pd.read_csv(DATASETS / "titanic.csv")
    workdir = Path(tempfile.mkdtemp(prefix="ml-bench-serving-"))
    home = workdir / "home"
    info = train(home, frame)
    rows = frame.drop(columns=[TARGET]).sample(200, random_state=0)[info["features"]]
    records = json.loads(rows.to_json(orient="records"))
    bodies = [json.dumps({"features": [r[c] for c in info["features"]]}).encode() for r in records]
    results: list[dict] = []
    try:
        for model in args.models.split(","):
            answers = {}
            for kind in ("flask", "gunicorn", "modelloop"):
                proc, url = start(kind, model, home, workdir)
                try:
                    answers[kind] = predictions(url, bodies[:50])
                    for c in levels:
                        res = asyncio.run(drive(url, bodies, c, args.seconds))
                        res.update(model=model, server=kind, concurrency=c)
                        results.append(res)
                        print(
                            f"{model:14s} {kind:10s} c={c:<3d} {res['rps']:8.1f} req/s  "
                            f"p50 {res['p50']:7.2f} ms  p99 {res['p99']:8.2f} ms  errors {res['errors']}",
                            flush=True,
                        )
                finally:
                    stop(proc)
            same = answers["flask"] == answers["gunicorn"] == answers["modelloop"]
            print(f"{model}: same predictions from all three servers: {same}")
            results.append({"model": model, "same": same})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = report(results, levels, args.seconds, load_before, os.getloadavg()[0])
    print(table)
    if not args.no_write:
        write_section("serving", table)


def report(
    results: list[dict], levels: list[int], seconds: float, load_before: float, load_after: float
) -> str:
    by = {(r["model"], r["server"], r["concurrency"]): r for r in results if "server" in r}
    same = {r["model"]: r["same"] for r in results if "same" in r}
    lines = [
        "## Serving: `bench/serving.py`",
        "",
        f"`.venv/bin/python bench/serving.py --seconds {seconds:g}` — Titanic, one row per request "
        '(`POST /predict {"features": [...]}`), loopback, an asyncio httpx client on the same '
        f"{os.cpu_count()} cores. (a) Flask dev server, (b) gunicorn 2 workers, (c) "
        "`modelloop serve --workers 2` (validation, micro-batching, prediction log on).",
        "",
        "| model | concurrency | server | req/s | p50 ms | p99 ms | errors | (c)/(a) | (c)/(b) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for model in same:
        for c in levels:
            a, b, m = (by.get((model, k, c)) for k in ("flask", "gunicorn", "modelloop"))
            for kind, r in (("flask (a)", a), ("gunicorn (b)", b), ("modelloop (c)", m)):
                if r is None:
                    continue
                ra = (
                    f"{m['rps'] / a['rps']:.2f}x"
                    if kind.startswith("modelloop") and a and m
                    else ""
                )
                rb = (
                    f"{m['rps'] / b['rps']:.2f}x"
                    if kind.startswith("modelloop") and b and m
                    else ""
                )
                lines.append(
                    f"| {model} | {c} | {kind} | {r['rps']:.0f} | {r['p50']:.1f} | "
                    f"{r['p99']:.1f} | {r['errors']} | {ra} | {rb} |"
                )
    lines.append("")
    lines.append(
        "Same predictions from all three: "
        + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in same.items())
        + "."
    )
    lines.append(
        f"Load average of the machine (other jobs included): {load_before:.1f} at the start, "
        f"{load_after:.1f} at the end; ratios are the figures to compare between runs."
    )
    lines.append(
        "Targets (issue 4): at concurrency 64, ≥ 10× (a) and ≥ 5× (b) with p99 ≤ 25 ms; at concurrency 1, p50 ≤ 2 ms."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
