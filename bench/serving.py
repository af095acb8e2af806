"""Serving throughput and latency: `modelloop serve` against the tutorial's Flask app.

Trains a LightGBM classifier and a decision tree (modelloop pipelines: schema check,
preprocessing, estimator) on Titanic from ../shared/datasets, then serves each in turn by

  (a) the tutorial app: Flask, `joblib.load('model.pkl')`, `model.predict([features])`,
      under Flask's development server;
  (b) the same app under gunicorn with 2 workers;
  (c) `modelloop serve --workers 2` (the tutorial route `POST /predict {"features": [...]}`).

A load generator on the loopback interface drives each at concurrency 1, 8 and 64 for a
fixed time: wrk (`make bench-env-serving` installs Debian's wrk 4.1.0), with a Lua script
that cycles through the request bodies, else (wrk missing, or `--client httpx`) an asyncio
httpx client. The script prints requests/s, p50/p99 latency, errors, the ratios of (c) to
(a) and (b), and checks (before the timed runs, with a plain client) that all three return
the same predictions.

    make bench-env-serving
    .venv/bin/python bench/serving.py [--seconds 5] [--concurrency 1,8,64]
        [--client wrk|httpx] [--client-cpus 0] [--server-cpus 1]
    .venv/bin/python bench/serving.py --case own [--seconds 10] [--concurrency 1,8,64]

Two comparisons, measuring different things:

* ``--case pipeline`` (the default, above): modelloop's own full pipeline (schema check,
  pandas preprocessing, estimator) served by the tutorial's Flask app through
  ``model.predict``, about 20 ms a row, against ``modelloop serve``: what the server adds
  on top of a modelloop model (validation, micro-batching, the compiled fast path).
* ``--case own``: what a user who switches to modelloop sees with the model file they
  already have. The same raw model file (``model.pkl``: a LightGBM classifier, and a
  scikit-learn ``StandardScaler`` + ``LogisticRegression`` pipeline, fitted on the raw
  numeric columns of wine_quality_red) served by the tutorial Flask app on its development
  server, and by ``modelloop serve --model model.pkl --trust`` with its defaults (no
  other flag), both on ``POST /predict {"features": [...]}``.

``--client-cpus`` / ``--server-cpus`` pin the load generator and every server process
(all three servers alike) to CPU lists with ``taskset``; by default nothing is pinned and
the client shares the machine's cores with the servers, as on any single box.
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


def train_own(home: Path) -> dict[str, list[str]]:
    """The user's own model files: raw estimators on wine_quality_red's numeric columns."""
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline as sk_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(DATASETS / "wine_quality_red.csv", sep=";")
    X, y = frame.drop(columns=["quality"]), frame["quality"]
    home.mkdir(parents=True, exist_ok=True)
    models = {
        "lightgbm": LGBMClassifier(verbose=-1),
        "sklearn_logistic": sk_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    }
    for name, est in models.items():
        joblib.dump(est.fit(X, y), home / f"{name}.pkl")
    return {"features": list(X.columns), "rows": X}


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


def wait_listeners(port: int, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``n`` sockets listen on ``port`` (one per worker, with SO_REUSEPORT).

    Outside Linux (no /proc/net/tcp), wait 2 s instead.
    """
    table = Path("/proc/net/tcp")
    deadline = time.monotonic() + timeout
    while table.exists() and time.monotonic() < deadline:
        listening = sum(
            1
            for line in table.read_text().splitlines()[1:]
            if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port
        )
        if listening >= n:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        time.sleep(0.2)
    time.sleep(2)


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    """``cmd`` run by ``taskset -c CPUS`` (children inherit the CPU list), or unchanged."""
    return ["taskset", "-c", cpus, *cmd] if cpus else cmd


def start(
    kind: str,
    model: str,
    home: Path,
    workdir: Path,
    cpus: str | None = None,
    workers: int | None = 2,
) -> tuple[subprocess.Popen, str]:
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
    elif workers is None:  # a user's own file with the server's defaults: no other flag
        cmd = [sys.executable, "-m", "modelloop", "serve", "--model", str(home / f"{model}.pkl"),
               "--trust", "--port", str(port)]  # fmt: skip
        cwd = workdir
        health = f"http://127.0.0.1:{port}/health"
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
            str(workers),
            "--default-model",
            model,
        ]
        cwd = workdir
        health = f"http://127.0.0.1:{port}/health"
    errlog = workdir / f"{kind}_{model}.log"
    proc = subprocess.Popen(
        pinned(cmd, cpus),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errlog.open("wb"),
        start_new_session=True,
    )
    try:
        wait_up(health, proc)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; its log ends:\n{errlog.read_text()[-3000:]}") from None
    if kind == "modelloop":  # every worker up: wrk opens its connections once, at the start
        wait_listeners(port, workers or Settings().resolved_workers(), proc)
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


WRK_SCRIPT = """
-- bench/serving.py: POST the request bodies (one JSON document a line) in turn, and print
-- the run's figures as one JSON line when done. Latencies are in microseconds.
local bodies = {}
local requests = {}
local k = 0

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  local headers = {["Content-Type"] = "application/json"}
  for i, body in ipairs(bodies) do
    requests[i] = wrk.format("POST", nil, headers, body)
  end
  k = math.random(#requests) - 1
end

function request()
  k = k % #requests + 1
  return requests[k]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def drive_wrk(
    wrk: str, url: str, workdir: Path, concurrency: int, seconds: float, cpus: str | None
) -> dict:
    """One wrk run: ``concurrency`` keep-alive connections for ``seconds``."""
    script = workdir / "bench.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    threads = 1 if concurrency < 8 else 2
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
        "--",
        str(workdir / "bodies.jsonl"),
    ]
    out = subprocess.run(pinned(cmd, cpus), capture_output=True, text=True, check=True).stdout
    line = next(x for x in reversed(out.splitlines()) if x.startswith("{"))
    r = json.loads(line)
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50": r["p50_us"] / 1000,
        "p99": r["p99_us"] / 1000,
        "errors": errors,
        "n": r["requests"],
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
    parser.add_argument(
        "--models",
        default=None,
        help="default: lightgbm,decision_tree (pipeline); lightgbm,sklearn_logistic (own)",
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default=None,
        help="Load generator (default: wrk when installed, else the asyncio httpx client).",
    )
    parser.add_argument("--client-cpus", default=None, help="taskset CPU list of the client.")
    parser.add_argument("--server-cpus", default=None, help="taskset CPU list of every server.")
    parser.add_argument(
        "--servers",
        default="flask,gunicorn,modelloop",
        help="Servers to run (a quick look at one; the table needs all three for ratios).",
    )
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/benchmarks.md.")
    parser.add_argument(
        "--case",
        choices=("pipeline", "own"),
        default="pipeline",
        help="pipeline: modelloop pipelines (Flask, gunicorn, modelloop serve --workers 2); "
        "own: a user's raw model file (Flask dev server vs modelloop serve --model, defaults).",
    )
    args = parser.parse_args()
    if args.case == "own":
        args.models = args.models or "lightgbm,sklearn_logistic"
        own_case(args)
        return
    args.models = args.models or "lightgbm,decision_tree"
    wrk = shutil.which("wrk")
    client = args.client or ("wrk" if wrk else "httpx")
    if client == "wrk" and wrk is None:
        parser.error("wrk is not installed: run `make bench-env-serving`, or pass --client httpx")
    if client == "httpx" and args.client_cpus:
        parser.error("--client-cpus pins wrk only (the httpx client runs in this process)")
    if (args.client_cpus or args.server_cpus) and shutil.which("taskset") is None:
        parser.error("--client-cpus / --server-cpus need taskset (util-linux)")
    print(f"load generator: {client}", flush=True)
    levels = [int(c) for c in args.concurrency.split(",")]
    servers = [k for k in ("flask", "gunicorn", "modelloop") if k in args.servers.split(",")]
    load_before = os.getloadavg()[0]
    frame = pd.read_csv(DATASETS / "titanic.csv")
    workdir = Path(tempfile.mkdtemp(prefix="ml-bench-serving-"))
    home = workdir / "home"
    info = train(home, frame)
    rows = frame.drop(columns=[TARGET]).sample(200, random_state=0)[info["features"]]
    records = json.loads(rows.to_json(orient="records"))
    bodies = [json.dumps({"features": [r[c] for c in info["features"]]}).encode() for r in records]
    (workdir / "bodies.jsonl").write_bytes(b"\n".join(bodies) + b"\n")
    results: list[dict] = []
    try:
        for model in args.models.split(","):
            answers = {}
            for kind in servers:
                proc, url = start(kind, model, home, workdir, args.server_cpus)
                try:
                    answers[kind] = predictions(url, bodies[:50])  # untimed; warms up too
                    for c in levels:
                        if client == "wrk":
                            res = drive_wrk(wrk, url, workdir, c, args.seconds, args.client_cpus)  # type: ignore[arg-type]
                        else:
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
            same = len({json.dumps(a) for a in answers.values()}) == 1
            print(f"{model}: same predictions from all three servers: {same}")
            results.append({"model": model, "same": same})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    how = {
        "client": client,
        "client_cpus": args.client_cpus,
        "server_cpus": args.server_cpus,
        "command": " ".join(["bench/serving.py", *sys.argv[1:]]),
    }
    table = report(results, levels, how, load_before, os.getloadavg()[0])
    print(table)
    if not args.no_write:  # a pinned run has its own section, beside the default one
        pinned_run = bool(args.client_cpus or args.server_cpus)
        write_section("serving-pinned" if pinned_run else "serving", table)


def own_case(args: argparse.Namespace) -> None:
    """A user's own model file: the tutorial's Flask app against modelloop serve --model."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: run `make bench-env-serving`")
    levels = [int(c) for c in args.concurrency.split(",")]
    load_before = os.getloadavg()[0]
    print(f"load average before: {load_before:.1f}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="ml-bench-own-"))
    home = workdir / "files"
    info = train_own(home)
    rows = info["rows"].sample(200, random_state=0)
    bodies = [json.dumps({"features": r}).encode() for r in rows.to_numpy().tolist()]
    (workdir / "bodies.jsonl").write_bytes(b"\n".join(bodies) + b"\n")
    results: list[dict] = []
    try:
        for model in args.models.split(","):
            answers = {}
            for kind in ("flask", "modelloop"):
                proc, url = start(kind, model, home, workdir, workers=None)
                try:
                    answers[kind] = predictions(url, bodies[:50])
                    for c in levels:
                        res = drive_wrk(wrk, url, workdir, c, args.seconds, None)
                        res.update(model=model, server=kind, concurrency=c)
                        results.append(res)
                        print(f"{model:18s} {kind:10s} c={c:<3d} {res['rps']:8.1f} req/s  "
                              f"p50 {res['p50']:7.2f} ms  p99 {res['p99']:8.2f} ms  "
                              f"errors {res['errors']}  load {os.getloadavg()[0]:.1f}",
                              flush=True)  # fmt: skip
                finally:
                    stop(proc)
            same = answers["flask"] == answers["modelloop"]
            print(f"{model}: same predictions: {same}")
            results.append({"model": model, "same": same})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[1]).stdout.strip()  # fmt: skip
    by = {(r["model"], r["server"], r["concurrency"]): r for r in results if "server" in r}
    lines = [
        "## Serving a user's own model file: `bench/serving.py --case own`",
        "",
        f"`.venv/bin/python bench/serving.py --case own --seconds {args.seconds:g} "
        f"--concurrency {args.concurrency} --models {args.models}` at commit {commit}; 2 cores, "
        f"shared with other jobs: load average {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end. The same `model.pkl` (raw estimators fitted "
        "on wine_quality_red's 11 numeric columns, 6 classes) served by (a) the tutorial's "
        "Flask app on its development server (`joblib.load`, `model.predict([features])`) "
        "and (m) `modelloop serve --model model.pkl --trust` with its defaults; wrk, one row "
        'per request (`POST /predict {"features": [...]}`), keep-alive connections.',
        "",
        "| model | concurrency | server | req/s | p50 ms | p99 ms | errors | (m)/(a) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for model in args.models.split(","):
        for c in levels:
            a, m = by.get((model, "flask", c)), by.get((model, "modelloop", c))
            for kind, r in (("flask (a)", a), ("modelloop (m)", m)):
                if r is None:
                    continue
                ratio = f"{m['rps'] / a['rps']:.1f}x" if kind[0] == "m" and a and m else ""
                lines.append(f"| {model} | {c} | {kind} | {r['rps']:.0f} | {r['p50']:.1f} | "
                             f"{r['p99']:.1f} | {r['errors']} | {ratio} |")  # fmt: skip
    same = {r["model"]: r["same"] for r in results if "same" in r}
    lines.append("")
    lines.append("Same predictions from both: "
                 + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in same.items()) + ".")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        write_section("serving-own", table)


def report(
    results: list[dict], levels: list[int], how: dict, load_before: float, load_after: float
) -> str:
    by = {(r["model"], r["server"], r["concurrency"]): r for r in results if "server" in r}
    same = {r["model"]: r["same"] for r in results if "same" in r}
    title = "## Serving: `bench/serving.py`"
    if how["client_cpus"] or how["server_cpus"]:
        title += " (pinned CPUs)"
    lines = [
        title,
        "",
        f"`.venv/bin/python {how['command']}` — Titanic, one row per request "
        '(`POST /predict {"features": [...]}`), loopback, keep-alive connections. '
        f"Load generator: {_client_text(how)}. Servers: {_cpus_text(how['server_cpus'])}, "
        "the same for all three. (a) Flask dev server, (b) gunicorn 2 workers, (c) "
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


def _cpus_text(cpus: str | None) -> str:
    if cpus:
        return f"pinned with `taskset -c {cpus}`"
    return f"not pinned (all {os.cpu_count()} cores, shared with the client)"


def _client_text(how: dict) -> str:
    if how["client"] == "wrk":
        return f"wrk 4.1 with a Lua script for the POST bodies, {_cpus_text(how['client_cpus'])}"
    return "the asyncio httpx client in the bench process (wrk was not used), not pinned"


if __name__ == "__main__":
    main()
