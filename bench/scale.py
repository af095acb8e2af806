"""Scaling out: Dask search throughput, streaming batch scoring, and a store with many runs.

(a) search throughput: trials per minute of the same search on a Dask LocalCluster of 1
    and of 2 worker processes (one thread each), and the ratio;
(b) batch scoring: rows/s and peak memory of ``modelloop predict`` (streamed in batches)
    on a generated CSV of ``--rows`` rows, against the plain script
    ``pandas.read_csv`` + ``model.predict_proba``, run in a subprocess capped at
    ``--mem-cap-gb`` of address space (RLIMIT_AS) so it cannot take the machine down:
    "out of memory" when it dies;
(c) store: time to log ``--runs`` runs (create, params and a cv metric, finish) and the
    reads a run list needs: newest 50, 50 after the first 50,000 (keyset ``after=`` against
    MLflow's offset ``page_token``), newest 50 of one name and status, runs with cv
    roc_auc > 0.99 sorted by it, 6 runs compared by id, and counting them; in modelloop's
    SQLite store against MLflow's SQLite tracking store through ``MlflowClient`` doing the
    same (same runs, same results checked). MLflow logs ``--client-runs`` runs through its
    client, timed; its remaining runs are bulk-written with MLflow's own ORM models (copies
    of the rows its client wrote), untimed, and its time for all runs is extrapolated from
    its client rate (its client logs about 10 runs/s here: 100,000 would take hours).
    Then a prediction log of ``--predictions`` rows over 30 days is bulk-inserted into
    modelloop's store: the newest 100 predictions of a common and of a rare model (with and
    without migration 0007's index) and ``store prune`` of the oldest day; MLflow has no
    prediction log, so no baseline there. MLflow runs in the bench virtualenv
    (``make bench-env-mlflow``), never in ``.venv``.

    .venv/bin/python bench/scale.py [--rows 20000000] [--runs 100000] [--budget 60]
                                    [--client-runs 5000] [--predictions 2000000]
                                    [--only a,b,c] [--no-write]

Other people share these cores: the defaults are the issue's sizes; smaller flags give a
quick run. The tables go to docs/benchmarks.md with the sizes used: (a) and (b) to section
"scale", (c) to section "scale-store" (so running one part keeps the other's table).
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

# Both stores get the same runs: run i is named model{i % 10}, has params cv=5 and i, a cv
# roc_auc spread over [0.5, 1) (each value 10 times per 100,000 runs) and ends "finished",
# or "failed" when i % 3 == 0.
DEEP = 50_000  # the deep page starts after this many runs (at most half of --runs)
THRESHOLD = 0.99  # "roc_auc > 0.99": 2 % of the runs


def _auc(i: int) -> float:
    return 0.5 + (i * 7919 % 10_000) / 20_000


_MLFLOW = textwrap.dedent(
    r"""
    import json, sys, time, logging
    logging.disable(logging.WARNING)
    from mlflow.tracking import MlflowClient
    from mlflow.entities import Metric, Param

    path, n, through_client = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    deep = int(sys.argv[4])
    auc = lambda i: 0.5 + (i * 7919 % 10_000) / 20_000
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("scale")
    t = time.perf_counter()
    for i in range(through_client):
        run = client.create_run(exp, run_name=f"model{i % 10}")
        client.log_batch(run.info.run_id, metrics=[Metric("roc_auc", auc(i), 0, 0)],
                         params=[Param("cv", "5"), Param("i", str(i))])
        client.set_terminated(run.info.run_id, "FINISHED" if i % 3 else "FAILED")
    client_s = time.perf_counter() - t

    # The rest: the same rows, written by MLflow's own ORM models in bulk (copies of the
    # rows the client wrote for the last run, with this run's id, name, values and times).
    # Not timed: the time to log n runs is the client's measured rate times n.
    bulk_s = 0.0
    if n > through_client:
        import uuid
        from sqlalchemy.orm import sessionmaker
        from mlflow.store.tracking.dbmodels.models import (
            SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag)
        from mlflow.utils.uri import append_to_uri_path
        t = time.perf_counter()
        engine = client._tracking_client.store.engine
        Session = sessionmaker(bind=engine)
        cols = lambda model, obj: {c.key: getattr(obj, c.key) for c in model.__table__.c}
        with Session() as session:
            last = session.query(SqlRun).filter(SqlRun.run_uuid == run.info.run_id).one()
            template = cols(SqlRun, last)
            tags = [cols(SqlTag, x) for x in session.query(SqlTag).filter_by(run_uuid=last.run_uuid)]
            metric = cols(SqlMetric, session.query(SqlMetric).filter_by(run_uuid=last.run_uuid).one())
            latest = cols(SqlLatestMetric,
                          session.query(SqlLatestMetric).filter_by(run_uuid=last.run_uuid).one())
            location = client.get_experiment(exp).artifact_location
            clock = max(template["start_time"], template["end_time"]) + 1
            for lo in range(through_client, n, 5000):
                runs, tag_rows, params, metrics, latests = [], [], [], [], []
                for i in range(lo, min(n, lo + 5000)):
                    rid = uuid.uuid4().hex
                    name = f"model{i % 10}"
                    start = clock + 2 * (i - through_client)
                    runs.append({**template, "run_uuid": rid, "name": name,
                                 "status": "FINISHED" if i % 3 else "FAILED",
                                 "start_time": start, "end_time": start + 1,
                                 "artifact_uri": append_to_uri_path(location, rid, "artifacts")})
                    for tag in tags:
                        value = name if tag["key"] == "mlflow.runName" else tag["value"]
                        tag_rows.append({**tag, "run_uuid": rid, "value": value})
                    params += [{"key": "cv", "value": "5", "run_uuid": rid},
                               {"key": "i", "value": str(i), "run_uuid": rid}]
                    metrics.append({**metric, "run_uuid": rid, "value": auc(i)})
                    latests.append({**latest, "run_uuid": rid, "value": auc(i)})
                for model, rows in ((SqlRun, runs), (SqlTag, tag_rows), (SqlParam, params),
                                    (SqlMetric, metrics), (SqlLatestMetric, latests)):
                    session.execute(model.__table__.insert(), rows)
                session.commit()
        bulk_s = time.perf_counter() - t
        # the bulk rows read back exactly as the client's do
        a, b = client.get_run(run.info.run_id), client.search_runs([exp], max_results=1)[0]
        assert a.info.user_id == b.info.user_id and a.info.lifecycle_stage == b.info.lifecycle_stage
        assert set(a.data.tags) == set(b.data.tags) and set(a.data.params) == set(b.data.params)
        assert set(a.data.metrics) == set(b.data.metrics)

    def timed(fn, k=5):
        out = fn(); t = time.perf_counter()
        for _ in range(k): out = fn()
        return (time.perf_counter() - t) / k, out
    newest = ["attributes.start_time DESC"]
    out = {"client_runs": through_client, "client_s": client_s, "bulk_s": bulk_s}
    out["list_s"], page = timed(lambda: client.search_runs([exp], max_results=50, order_by=newest))
    # MLflow pages by offset (page_token): the token after `deep` runs comes from a search
    token = client.search_runs([exp], max_results=deep, order_by=newest).token
    out["deep_s"], deep_page = timed(lambda: client.search_runs(
        [exp], max_results=50, order_by=newest, page_token=token))
    out["filter_s"], filtered = timed(lambda: client.search_runs(
        [exp], "attributes.run_name = 'model3' and attributes.status = 'FINISHED'",
        max_results=50, order_by=newest))
    out["metric_s"], best = timed(lambda: client.search_runs(
        [exp], "metrics.roc_auc > %s" % sys.argv[5], max_results=50,
        order_by=["metrics.roc_auc DESC"]))
    ids = [r.info.run_id for r in page[:6]]
    get_s, _ = timed(lambda: [client.get_run(i) for i in ids])
    quoted = ", ".join(f"'{i}'" for i in ids)
    search_s, _ = timed(lambda: client.search_runs([exp], f"attributes.run_id IN ({quoted})"))
    out["compare_s"] = min(get_s, search_s)  # the faster of MLflow's two ways

    def count():  # MLflow has no count: page through every run, 50,000 at a time
        total, token = 0, None
        while True:
            got = client.search_runs([exp], max_results=50_000, page_token=token)
            total += len(got)
            token = got.token
            if not token:
                return total
    out["count_s"], out["count"] = timed(count, k=1)
    out["check"] = {
        "newest": [r.data.params["i"] for r in page[:3]],
        "deep": [r.data.params["i"] for r in deep_page[:3]],
        "filter": [r.data.params["i"] for r in filtered[:3]],
        "metric": [round(r.data.metrics["roc_auc"], 5) for r in best[:5]],
    }
    print(json.dumps(out))
    """
)


def _timed(fn, k: int = 5):
    """Mean seconds of ``k`` calls after one warm-up call, and the last result."""
    out = fn()
    t = time.perf_counter()
    for _ in range(k):
        out = fn()
    return (time.perf_counter() - t) / k, out


def bench_store(n: int, work: Path, client_runs: int) -> dict:
    """Log ``n`` runs in modelloop's SQLite store and time the reads a run list needs."""
    from modelloop.store import Store

    deep = min(DEEP, n // 2)
    out: dict = {"runs": n, "deep": deep}
    with Store(f"sqlite:///{work / 'ml.db'}", work / "artifacts") as store:
        t = time.perf_counter()
        for i in range(n):
            if i == min(n, client_runs):
                out["ours_first_s"] = time.perf_counter() - t
            run = store.create_run(
                name=f"model{i % 10}",
                dataset_hash=None,
                target="y",
                task="binary",
                metric="roc_auc",
                params={"cv": 5, "i": i},
            )
            store.finish_run(
                run.id, status="finished" if i % 3 else "failed", cv_metrics={"roc_auc": _auc(i)}
            )
        out["ours_log_s"] = time.perf_counter() - t
        out.setdefault("ours_first_s", out["ours_log_s"])

        out["ours_list_s"], page = _timed(lambda: store.list_runs(limit=50))
        mark = store.list_runs(limit=1, offset=deep - 1)[0].id  # the last run of page deep/50
        out["ours_deep_s"], deep_page = _timed(lambda: store.list_runs(limit=50, after=mark))
        out["ours_offset_s"], _ = _timed(lambda: store.list_runs(limit=50, offset=deep))
        out["ours_filter_s"], filtered = _timed(
            lambda: store.list_runs(name="model3", status="finished", limit=50)
        )
        out["ours_metric_s"], best = _timed(
            lambda: store.list_runs(
                metric_filter=("roc_auc", ">", THRESHOLD), sort_metric="roc_auc", limit=50
            )
        )
        ids = [r.id for r in page[:6]]
        out["ours_compare_s"], _ = _timed(lambda: store.get_runs(ids))
        out["ours_count_s"], out["ours_count"] = _timed(store.count_runs)
        out["ours_check"] = {
            "newest": [str(r.params["i"]) for r in page[:3]],
            "deep": [str(r.params["i"]) for r in deep_page[:3]],
            "filter": [str(r.params["i"]) for r in filtered[:3]],
            "metric": [round(r.cv_metrics["roc_auc"], 5) for r in best[:5]],
        }
    print(f"(c) modelloop: {out}", flush=True)
    if not BENCH_PY.exists():
        out["mlflow"] = {"error": "no bench venv: run `make bench-env-mlflow`"}
        return out
    proc = subprocess.run(
        [
            str(BENCH_PY),
            "-c",
            _MLFLOW,
            str(work / "mlflow.db"),
            str(n),
            str(min(n, client_runs)),
            str(deep),
            str(THRESHOLD),
        ],
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


def bench_predictions(rows: int, work: Path) -> dict:
    """A prediction log of ``rows`` rows over 30 days: read the newest, prune the oldest day.

    The rows are bulk-inserted straight into the table (as if the server had logged them
    for a month); three models share it, 'churn' 80 %, 'price' 19 %, 'fraud' 1 %.
    """
    from datetime import timedelta

    import sqlalchemy as sa

    from modelloop.store import Store
    from modelloop.store._db import now
    from modelloop.store._tables import predictions

    out: dict = {"rows": rows}
    rng = np.random.default_rng(0)
    with Store(f"sqlite:///{work / 'log.db'}", work / "log-artifacts") as store:
        end = now()
        t = time.perf_counter()
        chunk = 50_000
        with store._write_engine.begin() as conn:
            for lo in range(0, rows, chunk):
                size = min(chunk, rows - lo)
                # oldest first, as a server logs them: row k is (rows - k) / rows * 30 days old
                ages = (rows - lo - np.arange(size)) / rows * 30 * 86400
                names = rng.choice(["churn", "price", "fraud"], size=size, p=[0.8, 0.19, 0.01])
                x = rng.normal(size=size).round(4)
                conn.execute(
                    predictions.insert(),
                    [
                        {
                            "request_id": f"r{lo + j}",
                            "model_name": str(names[j]),
                            "model_version": 1 + (lo + j) * 3 // rows,
                            "created_at": end - timedelta(seconds=float(ages[j])),
                            "latency_ms": 1.5,
                            "inputs": {"x1": float(x[j]), "cat": "a"},
                            "prediction": int(x[j] > 0),
                            "probabilities": {"0": 0.4, "1": 0.6},
                        }
                        for j in range(size)
                    ],
                )
        out["insert_s"] = time.perf_counter() - t
        print(f"(c) logged {rows:,} predictions in {out['insert_s']:.0f} s", flush=True)
        for model in ("churn", "fraud"):
            out[f"newest_{model}_s"], got = _timed(
                lambda m=model: store.prediction_activity(m, limit=100)
            )
            assert len(got) == 100
        # what the same read cost before 0007's (model_name, created_at, id) index
        index = "ix_predictions_model_name_created_at_id"
        with store._write_engine.begin() as conn:
            conn.execute(sa.text(f"DROP INDEX {index}"))
        for model in ("churn", "fraud"):
            out[f"before_{model}_s"], _ = _timed(
                lambda m=model: store.prediction_activity(m, limit=100), k=1
            )
        with store._write_engine.begin() as conn:
            conn.execute(
                sa.text(f"CREATE INDEX {index} ON predictions (model_name, created_at, id)")
            )
        t = time.perf_counter()
        out["pruned"] = store.apply_retention(29)
        out["prune_s"] = time.perf_counter() - t
    print(f"(c) prediction log: {out}", flush=True)
    return out


# ------------------------------------------------------------------ report


def _gb(value: float) -> str:
    return f"{value / 1e9:.2f} GB"


def report(a: dict | None, b: dict | None, args) -> str:
    lines = [
        "## Scaling out (`bench/scale.py`)",
        "",
        f"`.venv/bin/python bench/scale.py --rows {args.rows} "
        f"--budget {args.budget:g} --only {args.only}` on {os.cpu_count()} shared cores "
        "(part (c), the store, has its own table below).",
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
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds >= 1 else f"{seconds * 1000:,.1f} ms"


def report_store(c: dict | None, p: dict | None, args) -> str:
    """Part (c)'s table: modelloop's store against MLflow's SQLite tracking store."""
    lines = [
        "## Scaling out: the store (`bench/scale.py`, part (c))",
        "",
        f"`.venv/bin/python bench/scale.py --only c --runs {args.runs} "
        f"--client-runs {args.client_runs} --predictions {args.predictions}` on "
        f"{os.cpu_count()} shared cores (load average at the end "
        + " / ".join(f"{v:.1f}" for v in (c or {}).get("load", os.getloadavg()))
        + "). Both stores are SQLite files holding the same runs (10 names, 2 params, a cv "
        "roc_auc, one third failed); MLflow 3 (`MlflowClient`, in `.bench-venv`) is the "
        "baseline. Reads are the mean of 5 calls after a warm-up.",
        "",
        "| measure | modelloop | MLflow | ratio |",
        "|---|---|---|---|",
    ]
    if c:
        ml, n = c.get("mlflow", {}), c["runs"]
        if "error" in ml:
            lines.append(
                f"| (c) log {n:,} runs | {_ms(c['ours_log_s'])} | MLflow: {ml['error']} | |"
            )
        else:
            k = ml["client_runs"]
            ours_rate, their_rate = k / c["ours_first_s"], k / ml["client_s"]
            lines.append(
                f"| log the first {k:,} runs (create, log params + metric, finish), runs/s "
                f"| {ours_rate:,.0f} | {their_rate:,.0f} | {ours_rate / their_rate:.1f}x faster |"
            )
            if n > k:
                lines.append(
                    f"| log {n:,} runs | {_ms(c['ours_log_s'])} (measured) "
                    f"| ≈ {_ms(n / their_rate)} (the rate above x {n:,}: past the first "
                    f"{k:,}, MLflow's rows were bulk-written with its own ORM models, "
                    f"{ml['bulk_s']:.0f} s, not timed) "
                    f"| ≈ {n / their_rate / c['ours_log_s']:.1f}x faster |"
                )
            deep = c["deep"]
            for label, ours, theirs in (
                (f"list newest 50 of {n:,} runs", c["ours_list_s"], ml["list_s"]),
                (
                    f"list 50 runs after the first {deep:,} (modelloop: keyset `after=`; "
                    f"MLflow: its `page_token`, offset {deep:,}; modelloop with `offset=` "
                    f"{_ms(c['ours_offset_s'])})",
                    c["ours_deep_s"],
                    ml["deep_s"],
                ),
                ("filter name + status, newest 50", c["ours_filter_s"], ml["filter_s"]),
                (
                    f"filter cv roc_auc > {THRESHOLD}, sorted by it, best 50",
                    c["ours_metric_s"],
                    ml["metric_s"],
                ),
                (
                    "compare 6 runs by id (MLflow: the faster of 6 `get_run` and one "
                    "`search_runs` with `run_id IN`)",
                    c["ours_compare_s"],
                    ml["compare_s"],
                ),
                (
                    f"count the runs (MLflow has no count: paging `search_runs` 50,000 at a "
                    f"time; both found {c['ours_count']:,})",
                    c["ours_count_s"],
                    ml["count_s"],
                ),
            ):
                lines.append(
                    f"| {label} | {_ms(ours)} | {_ms(theirs)} | {theirs / ours:,.1f}x faster |"
                )
            same = c["ours_check"] == ml["check"] and c["ours_count"] == ml["count"]
            lines.append(
                "| same runs found on both sides (first runs of each list, best metrics, "
                f"count) | {'yes' if same else 'NO'} | | |"
            )
    if p:
        rows = f"{p['rows']:,}"
        lines += [
            "",
            f"Prediction log: {rows} rows over 30 days bulk-inserted into modelloop's "
            f"`predictions` table ({p['insert_s']:.0f} s); 3 models: 'churn' 80 %, 'fraud' 1 %. "
            "No MLflow baseline: MLflow has no prediction log.",
            "",
            "| measure | modelloop | before 0007's index | ratio |",
            "|---|---|---|---|",
        ]
        for model, share in (("churn", "80 %"), ("fraud", "1 %")):
            ours, before = p[f"newest_{model}_s"], p[f"before_{model}_s"]
            lines.append(
                f"| newest 100 predictions of '{model}' ({share} of {rows}) | {_ms(ours)} "
                f"| {_ms(before)} | {before / ours:,.1f}x faster |"
            )
        lines.append(
            f"| `store prune --older-than-days 29` (deletes {p['pruned']:,} rows, one day) "
            f"| {_ms(p['prune_s'])} | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--mem-cap-gb", type=float, default=6.0)
    parser.add_argument("--client-runs", type=int, default=5_000)
    parser.add_argument("--predictions", type=int, default=2_000_000)
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="ml-scale-") as tmp:
        work = Path(tmp)
        a = bench_search(args.budget) if "a" in parts else None
        b = bench_scoring(args.rows, args.mem_cap_gb, work) if "b" in parts else None
        c = bench_store(args.runs, work, args.client_runs) if "c" in parts else None
        p = bench_predictions(args.predictions, work) if "c" in parts and args.predictions else None
    if a or b:
        table = report(a, b, args)
        print(table)
        if not args.no_write:
            write_section("scale", table)
    if c or p:
        if c:
            c["load"] = os.getloadavg()
        table = report_store(c, p, args)
        print(table)
        if not args.no_write:
            write_section("scale-store", table)


if __name__ == "__main__":
    main()
