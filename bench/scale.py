"""Scaling out: Dask search throughput, streaming batch scoring, and a store with many runs.

(a) search throughput: trials per minute of the same search on a Dask LocalCluster of 1
    and of 2 worker processes (one thread each), and the ratio;
(b) batch scoring: rows/s and peak memory of ``modelloop predict`` (streamed in batches)
    on a generated CSV of ``--rows`` rows, against the plain script
    ``pandas.read_csv`` + ``model.predict_proba``, run in a subprocess capped at
    ``--mem-cap-gb`` of address space (RLIMIT_AS) so it cannot take the machine down:
    "out of memory" when it dies;
(c) store: time to log ``--runs`` runs (create + finish, with params and metrics) and to
    list / filter them (newest 50; 50 of one name and status) in modelloop's SQLite store,
    against MLflow's SQLite tracking store doing the same through ``MlflowClient``.
    MLflow runs in the bench virtualenv (``make bench-env-mlflow``), never in ``.venv``.

    .venv/bin/python bench/scale.py [--rows 20000000] [--runs 100000] [--budget 60]
                                    [--only a,b,c] [--no-write]

Other people share these cores: the defaults are the issue's sizes; smaller flags give a
quick run. The table goes to docs/benchmarks.md (section "scale") with the sizes used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section

ROOT = Path(__file__).resolve().parents[1]
BENCH_PY = ROOT / ".bench-venv" / "bin" / "python"


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n).round(4),
            "x2": rng.normal(size=n).round(4),
            "x3": rng.integers(0, 100, size=n),
            "cat": rng.choice(np.array(["a", "b", "c", "d"]), size=n),
        }
    )
    logit = df.x1 - 0.5 * df.x2 + (df.cat == "a") + 0.01 * df.x3 - 0.5
    df["y"] = (logit + rng.logistic(size=n) > 0).astype(int)
    return df


# ------------------------------------------------------------------ (a) search throughput


SHARED = ROOT.parent / "shared" / "datasets"
SEARCH_ROWS = 15_000


def _search_data():
    """bank_marketing (a real, mid-size table) when ../shared is there, else a generated one."""
    from modelloop.data import load

    path = SHARED / "bank_marketing.csv"
    if path.is_file():
        ds = load(path, target="subscribe")
        label = f"bank_marketing, {SEARCH_ROWS:,} rows"
    else:
        ds = load(_frame(SEARCH_ROWS), target="y")
        label = f"generated, {SEARCH_ROWS:,} rows"
    X, y = ds.features(), ds.target_series()
    keep = np.random.default_rng(0).permutation(len(y))[:SEARCH_ROWS]
    return X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True), ds, label


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _CpuSampler:
    """Each Dask worker's CPU seconds, sampled every second while the search runs.

    A worker restarted after a cancelled trial comes back as a new process with a new
    address; sampling keeps what the old one had used until its last sample.
    """

    def __init__(self, client) -> None:
        import threading

        self.client, self.first, self.last = client, {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        try:
            now = self.client.run(_cpu_seconds)
        except Exception:  # a worker restarting: the next sample will do
            return
        for worker, value in now.items():
            self.first.setdefault(worker, value)
            self.last[worker] = value

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def __enter__(self) -> _CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def seconds(self) -> float:
        return sum(self.last[w] - self.first[w] for w in self.last)


def bench_search(budget: float) -> dict:
    """Trials/min of one LightGBM grid: one local worker process, Dask 1 and 2 workers.

    Each trial is a 3-fold CV of LightGBM on 15,000 rows with one thread (about a second
    of CPU or more), so the measure is the trials, not the scheduling. Dask clusters start
    before the clock (as a user's cluster would be running); the local worker process is
    spawned inside it, as ``train`` does. Whether both workers were kept busy: the share of
    slot-seconds spent in trials, and each worker's CPU seconds per wall second (below
    100 % when other processes share the cores).
    """
    from modelloop.tuning import connect_cluster, search

    X, y, ds, label = _search_data()
    grid = {  # 54 configurations, cheapest and dearest mixed: the budget ends first
        "num_leaves": [15, 63, 31],
        "n_estimators": [150, 300],
        "learning_rate": [0.05, 0.1, 0.2],
        "min_child_samples": [10, 40, 20],
    }
    out: dict = {"data": label}
    for where in ("process", 1, 2):
        client = cluster = None
        if where != "process":
            client, cluster = connect_cluster(f"local:{where}")
            client.run(lambda: __import__("modelloop.tuning"))  # imports are not trials
        sampler = _CpuSampler(client) if client is not None else contextlib.nullcontext()
        try:
            t = time.monotonic()
            with sampler:
                res = search(
                    X,
                    y,
                    schema=ds.schema,
                    task="binary",
                    metric="roc_auc",
                    candidates=["lightgbm"],
                    strategy="grid",
                    param_grid=grid,
                    cv=3,
                    time_budget=budget,
                    cluster=client,
                    refit=False,
                    ensemble=False,
                )
            elapsed = time.monotonic() - t
            cpu = None if client is None else sampler.seconds() / elapsed / where
        finally:
            if client is not None:
                client.close()
                cluster.close()
        done = [tr for tr in res.trials if tr["status"] in ("ok", "pruned")]
        key = "local" if where == "process" else where
        slots = 1 if where == "process" else where
        out[key] = {
            "trials": len(done),
            "seconds": elapsed,
            "per_min": 60 * len(done) / elapsed,
            # the share of slot-seconds spent in trials: 100 % = every worker always busy
            "occupancy": sum(tr["duration"] for tr in res.trials) / (elapsed * slots),
            "cpu": cpu,  # CPU seconds per worker per wall second: < 100 % = cores shared
        }
        shown = f" (slots busy {out[key]['occupancy']:.0%}" + (
            "" if cpu is None else f", worker CPU/wall {cpu:.0%}"
        )
        print(f"(a) {key}: {len(done)} trials in {elapsed:.1f} s{shown})", flush=True)
    out["ratio"] = out[2]["per_min"] / max(out[1]["per_min"], 1e-9)
    out["ratio_local"] = out[2]["per_min"] / max(out["local"]["per_min"], 1e-9)
    out["load"] = os.getloadavg()
    return out


# ------------------------------------------------------------------ (b) batch scoring

_BASELINE = textwrap.dedent(
    """
    import resource, sys, time, json
    def hwm():  # this process's peak RSS (ru_maxrss would include the parent's before exec)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    cap = int(float(sys.argv[3]) * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import joblib, pandas as pd
    import sklearn.pipeline, modelloop.features  # imports are not scoring: both time after them
    t = time.perf_counter()
    model = joblib.load(sys.argv[1])
    frame = pd.read_csv(sys.argv[2])
    proba = model.predict_proba(frame.drop(columns=["y"]))
    pd.DataFrame({"proba": proba[:, 1]}).to_csv(sys.argv[2] + ".baseline.csv", index=False)
    rss = hwm()
    print(json.dumps({"seconds": time.perf_counter() - t, "rows": len(frame), "rss": rss}))
    """
)

_MODELLOOP = textwrap.dedent(
    """
    import sys, time, json
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import modelloop as ml
    import modelloop.workflows  # modelloop imports lazily: import before the clock starts
    from modelloop.config import Settings
    t = time.perf_counter()
    s = ml.predict_file("scale", sys.argv[2], sys.argv[2] + ".scored.parquet",
                        ignore_extra=True, settings=Settings(home=sys.argv[1]))
    rss = hwm()
    print(json.dumps({"seconds": time.perf_counter() - t, "rows": s.n_rows, "rss": rss}))
    """
)


def _write_csv(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    chunk = 1_000_000
    with pacsv.CSVWriter(path, pa.Table.from_pandas(_frame(1)).schema) as writer:
        for i in range(0, rows, chunk):
            part = _frame(min(chunk, rows - i), seed=i)
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False))


def _run(code: str, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=7200
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        died = "MemoryError" in proc.stderr or proc.returncode < 0 or "bad_alloc" in proc.stderr
        return {"error": "out of memory" if died else tail[0][:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_scoring(rows: int, mem_cap_gb: float, work: Path) -> dict:
    import joblib

    import modelloop as ml
    from modelloop.config import Settings

    home = work / "home"
    result = ml.train(
        _frame(20_000),
        target="y",
        name="scale",
        models=["logistic_regression"],
        max_trials=1,
        time_budget=None,
        cv=2,
        settings=Settings(home=home),
    )
    joblib.dump(result.model, work / "model.joblib")
    data = work / "big.csv"
    t = time.monotonic()
    _write_csv(data, rows)
    size = data.stat().st_size
    print(
        f"(b) wrote {rows:,} rows ({size / 1e9:.2f} GB) in {time.monotonic() - t:.0f} s", flush=True
    )
    ours = _run(_MODELLOOP, str(home), str(data))
    print(f"(b) modelloop predict: {ours}", flush=True)
    plain = _run(_BASELINE, str(work / "model.joblib"), str(data), str(mem_cap_gb))
    print(f"(b) pandas.read_csv + predict: {plain}", flush=True)
    return {"rows": rows, "bytes": size, "ours": ours, "plain": plain, "cap": mem_cap_gb}


# ------------------------------------------------------------------ (c) store with many runs

_MLFLOW = textwrap.dedent(
    """
    import json, sys, time, logging
    logging.disable(logging.WARNING)
    from mlflow.tracking import MlflowClient
    from mlflow.entities import Metric, Param
    n = int(sys.argv[2])
    client = MlflowClient(tracking_uri=f"sqlite:///{sys.argv[1]}")
    exp = client.create_experiment("scale")
    t = time.perf_counter()
    for i in range(n):
        run = client.create_run(exp, run_name=f"model{i % 10}")
        client.log_batch(run.info.run_id, metrics=[Metric("roc_auc", 0.8, 0, 0)],
                         params=[Param("cv", "5"), Param("i", str(i))])
        client.set_terminated(run.info.run_id, "FINISHED" if i % 3 else "FAILED")
    log_s = time.perf_counter() - t
    def timed(fn, k=5):
        fn(); t = time.perf_counter()
        for _ in range(k): out = fn()
        return (time.perf_counter() - t) / k, len(out)
    list_s, a = timed(lambda: client.search_runs([exp], max_results=50,
                                                 order_by=["attributes.start_time DESC"]))
    filt_s, b = timed(lambda: client.search_runs(
        [exp], "attributes.run_name = 'model3' and attributes.status = 'FINISHED'",
        max_results=50, order_by=["attributes.start_time DESC"]))
    print(json.dumps({"log_s": log_s, "list_s": list_s, "filter_s": filt_s, "n": [a, b]}))
    """
)


def bench_store(n: int, work: Path) -> dict:
    from modelloop.store import Store

    out: dict = {"runs": n}
    with Store(f"sqlite:///{work / 'ml.db'}", work / "artifacts") as store:
        t = time.perf_counter()
        for i in range(n):
            run = store.create_run(
                name=f"model{i % 10}",
                dataset_hash=None,
                target="y",
                task="binary",
                metric="roc_auc",
                params={"cv": 5, "i": i},
            )
            store.finish_run(
                run.id, status="finished" if i % 3 else "failed", cv_metrics={"roc_auc": 0.8}
            )
        out["ours_log_s"] = time.perf_counter() - t

        def timed(fn, k=5):
            fn()
            t = time.perf_counter()
            for _ in range(k):
                fn()
            return (time.perf_counter() - t) / k

        out["ours_list_s"] = timed(lambda: store.list_runs(limit=50))
        out["ours_filter_s"] = timed(
            lambda: store.list_runs(name="model3", status="finished", limit=50)
        )
    print(f"(c) modelloop: {out}", flush=True)
    if not BENCH_PY.exists():
        out["mlflow"] = {"error": "no bench venv: run `make bench-env-mlflow`"}
        return out
    proc = subprocess.run(
        [str(BENCH_PY), "-c", _MLFLOW, str(work / "mlflow.db"), str(n)],
        capture_output=True,
        text=True,
        timeout=36000,
    )
    if proc.returncode != 0:
        out["mlflow"] = {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    else:
        out["mlflow"] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"(c) MLflow: {out['mlflow']}", flush=True)
    return out


# ------------------------------------------------------------------ report


def _gb(value: float) -> str:
    return f"{value / 1e9:.2f} GB"


def report(a: dict | None, b: dict | None, c: dict | None, args) -> str:
    lines = [
        "## Scaling out (`bench/scale.py`)",
        "",
        f"`.venv/bin/python bench/scale.py --rows {args.rows} --runs {args.runs} "
        f"--budget {args.budget:g} --only {args.only}` on {os.cpu_count()} shared cores.",
        "",
        "| measure | modelloop | baseline | ratio |",
        "|---|---|---|---|",
    ]
    if a:
        busy = f"slots busy {a[2]['occupancy']:.0%}, worker CPU/wall {a[2]['cpu']:.0%}"
        lines.append(
            f"| (a) search trials/min, Dask 2 workers vs 1 (LightGBM grid, 3-fold CV, "
            f"{a['data']}, {args.budget:g} s) "
            f"| {a[2]['per_min']:.1f} ({a[2]['trials']} trials; {busy}) "
            f"| {a[1]['per_min']:.1f} ({a[1]['trials']} trials; slots busy "
            f"{a[1]['occupancy']:.0%}, worker CPU/wall {a[1]['cpu']:.0%}) | {a['ratio']:.2f}x |"
        )
        lines.append(
            f"| (a) same, Dask 2 workers vs one local worker process "
            f"| {a[2]['per_min']:.1f} | {a['local']['per_min']:.1f} "
            f"({a['local']['trials']} trials) | {a['ratio_local']:.2f}x |"
        )
        per_cpu = [a[k]["trials"] / (a[k]["seconds"] * a[k]["cpu"] * k) for k in (2, 1)]
        lines.append(  # what the cores could give: per CPU-second, parallel wastes nothing
            f"| (a) trials per worker CPU-second, Dask 2 workers vs 1 | {per_cpu[0]:.2f} "
            f"| {per_cpu[1]:.2f} | {per_cpu[0] / per_cpu[1]:.2f}x |"
        )
        lines.append(
            "| (a) load average during (a) (1/5/15 min) | "
            + " / ".join(f"{v:.1f}" for v in a["load"])
            + " | | |"
        )
    if b:
        ours, plain = b["ours"], b["plain"]
        rows = f"{b['rows']:,} rows, {_gb(b['bytes'])} CSV"
        if "error" in ours:
            lines.append(f"| (b) batch scoring, {rows} | {ours['error']} | | |")
        else:
            ours_rs = ours["rows"] / ours["seconds"]
            if "error" in plain:
                lines.append(
                    f"| (b) batch scoring rows/s, {rows} | {ours_rs:,.0f} "
                    f"| {plain['error']} (capped at {b['cap']:g} GB) | — |"
                )
            else:
                plain_rs = plain["rows"] / plain["seconds"]
                lines.append(
                    f"| (b) batch scoring rows/s, {rows} | {ours_rs:,.0f} | {plain_rs:,.0f} "
                    f"| {ours_rs / plain_rs:.2f}x |"
                )
            plain_mem = "—" if "error" in plain else _gb(plain["rss"])
            lines.append(
                f"| (b) peak memory (RSS) | {_gb(ours['rss'])} | {plain_mem} | "
                + (
                    "—"
                    if "error" in plain
                    else f"{plain['rss'] / ours['rss']:.2f}x (baseline / modelloop)"
                )
                + " |"
            )
    if c:
        ml = c.get("mlflow", {})
        n = f"{c['runs']:,}"
        if "error" in ml:
            lines.append(
                f"| (c) log {n} runs | {c['ours_log_s']:.1f} s | MLflow: {ml['error']} | |"
            )
        else:
            for label, ours, theirs in (
                (f"(c) log {n} runs", c["ours_log_s"], ml["log_s"]),
                (f"(c) list newest 50 of {n} runs", c["ours_list_s"], ml["list_s"]),
                ("(c) filter name + status, 50", c["ours_filter_s"], ml["filter_s"]),
            ):
                unit = "s" if ours > 1 else "ms"
                k = 1 if ours > 1 else 1000
                lines.append(
                    f"| {label} (vs MLflow SQLite) | {ours * k:.1f} {unit} | {theirs * k:.1f} {unit} "
                    f"| {theirs / ours:.1f}x faster |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--mem-cap-gb", type=float, default=6.0)
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="ml-scale-") as tmp:
        work = Path(tmp)
        a = bench_search(args.budget) if "a" in parts else None
        b = bench_scoring(args.rows, args.mem_cap_gb, work) if "b" in parts else None
        c = bench_store(args.runs, work) if "c" in parts else None
    table = report(a, b, c, args)
    print(table)
    if not args.no_write:
        write_section("scale", table)


if __name__ == "__main__":
    main()
