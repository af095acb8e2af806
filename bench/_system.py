"""Run one AutoML system on a train/test split, measured the same way for every system.

``bench/automl.py`` starts this script once per system and dataset, as a fresh process:
modelloop with the project's interpreter (.venv), FLAML and AutoGluon with the peers' own
virtualenv (``make bench-env`` -> .bench-venv). Each system therefore pays its own imports,
and every figure below is taken by the same code for every system:

- ``used_s``: seconds from the start of this process (imports included) to the end of the
  fit: what a user waits for the command that trains. Each system is given the budget in
  its own terms (``ml.train(time_budget=)``, FLAML's ``time_budget``, AutoGluon's
  ``time_limit``), which each counts from the call.
- the test predictions (the first, cold call);
- ``rows_per_s``: a warm batch of 10,000 rows drawn from the test rows (seed 0), the faster
  of two timed calls, after the cold call;
- ``row_ms``: the median of 20 one-row calls, after the cold call;
- ``size_mb``: what the system writes to keep its final model (modelloop: the model file
  the store keeps; AutoGluon: its predictor folder; FLAML: the pickled model);
- ``serve_ms`` (modelloop only): the median of 50 one-row requests to the registered model
  through ``modelloop serve``, over loopback.

    PYTHON bench/_system.py SYSTEM TRAIN.parquet TEST.parquet TARGET TASK METRIC BUDGET WORKDIR OUT.json
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FIT_ENDED: list[float] = []  # when a system's fit ended, where more work follows it
CALLED: list[float] = []  # when modelloop's train was called (its imports done)
TIMINGS: dict = {}  # modelloop's own timings of the run

# AutoGluon's names for the benchmark's metrics and tasks.
_AG_METRIC = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error"}


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# modelloop's variants: its default, and the final model made each way (--final-fit).
MODELLOOP = {
    "modelloop": {},
    "modelloop_refit": {"final_fit": "refit"},
    "modelloop_bag": {"final_fit": "bag", "min_rows_per_second": 0},
}


def fit_modelloop(train, target, task, metric, budget, workdir, options):
    import modelloop as ml
    from modelloop.config import Settings

    # train() scores its final model on a test table; the benchmark scores every system
    # itself, so it gets a token table of training rows (no system sees a test row), and
    # trains on every row it is given, as the peers do. It is registered (after the fit's
    # time is taken) so that its one-row latency through `modelloop serve` can be measured.
    settings = Settings(home=workdir / "home")
    CALLED.append(time.perf_counter())
    result = ml.train(
        train, target=target, task=task, metric=metric, time_budget=budget,
        register=False, settings=settings, test=train.head(50), **options,
    )  # fmt: skip
    FIT_ENDED.append(time.perf_counter())
    TIMINGS.update(result.timings, imports_s=round(CALLED[0] - STARTED, 3))
    with ml.registry(settings) as store:
        size = store.register(result, name="bench").size_bytes  # the model file on disk
    predict = result.model.predict if task == "regression" else result.model.predict_proba
    classes = None if task == "regression" else list(result.model.classes_)
    detail = f"{result.best_model}, {result.final_fit}"
    return predict, classes, size, detail


def fit_flaml(train, target, task, metric, budget, workdir):
    from flaml import AutoML

    automl = AutoML()
    automl.fit(
        train.drop(columns=[target]), train[target],
        task="classification" if task != "regression" else "regression",
        metric=metric, time_budget=budget,
        n_jobs=2, seed=0, verbose=0,
    )  # fmt: skip
    size = len(pickle.dumps(automl.model))
    predict = automl.predict if task == "regression" else automl.predict_proba
    classes = None if task == "regression" else list(automl.classes_)
    return predict, classes, size, str(automl.best_estimator)


def fit_autogluon(train, target, task, metric, budget, workdir, preset):
    from autogluon.tabular import TabularPredictor

    path = workdir / "autogluon"
    predictor = TabularPredictor(
        label=target, eval_metric=_AG_METRIC[metric], problem_type=task, path=str(path),
        verbosity=0,
    )  # fmt: skip
    predictor.fit(train, time_limit=budget, presets=preset, num_cpus=2)

    def predict(X):
        if task == "regression":
            return predictor.predict(X)
        return predictor.predict_proba(X)

    classes = None if task == "regression" else list(predictor.class_labels)
    return predict, classes, _dir_size(path), str(predictor.model_best)


def main() -> None:
    system, train_path, test_path, target, task, metric, budget, workdir, out = sys.argv[1:10]
    budget, workdir = float(budget), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    train = pd.read_parquet(train_path)
    X_test = pd.read_parquet(test_path).drop(columns=[target])
    if system in MODELLOOP:
        fitted = fit_modelloop(train, target, task, metric, budget, workdir, MODELLOOP[system])
    elif system == "flaml":
        fitted = fit_flaml(train, target, task, metric, budget, workdir)
    elif system in ("autogluon", "autogluon_best"):
        preset = "best_quality" if system == "autogluon_best" else "medium_quality"
        fitted = fit_autogluon(train, target, task, metric, budget, workdir, preset)
    else:
        sys.exit(f"unknown system {system!r}")
    used = (FIT_ENDED[0] if FIT_ENDED else time.perf_counter()) - STARTED
    predict, classes, size, detail = fitted

    output = np.asarray(predict(X_test), dtype=float)  # the cold call
    batch = X_test.sample(10_000, replace=True, random_state=0)
    fastest = min(_timed(predict, batch) for _ in range(2))
    rows = [_timed(predict, X_test.iloc[[i % len(X_test)]]) for i in range(20)]
    served = serve_ms(workdir, X_test) if system in MODELLOOP else None
    result = {
        "timings": TIMINGS,
        "serve_ms": served,
        "used_s": used,
        "rows_per_s": len(batch) / max(fastest, 1e-9),
        "row_ms": float(np.median(rows) * 1000),
        "size_mb": size / 1e6,
        "detail": detail,
        "classes": None if classes is None else [_plain(c) for c in classes],
        "output": output.tolist(),
        "pid_cpu_s": sum(os.times()[:4]),
    }
    Path(out).write_text(json.dumps(result, default=str))


def serve_ms(workdir: Path, X_test: pd.DataFrame, n: int = 50) -> float | None:
    """Median milliseconds of one-row requests to the registered model through
    `modelloop serve` (one worker, prediction log on, as a user starts it), from this
    process over loopback; None when the server did not come up."""
    import socket
    import subprocess

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    modelloop = Path(sys.executable).parent / "modelloop"
    server = subprocess.Popen(
        [str(modelloop), "serve", "--home", str(workdir / "home"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30) as client:
            for _ in range(600):  # up to a minute to start
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                return None
            rows = json.loads(X_test.head(n).to_json(orient="records"))
            times = []
            for i in range(n + 5):
                body = {"instances": [rows[i % len(rows)]]}
                t = time.perf_counter()
                answer = client.post(f"{url}/v1/models/bench/predict", json=body)
                elapsed = time.perf_counter() - t
                if answer.status_code != 200:
                    return None
                if i >= 5:  # the first requests warm the server up
                    times.append(elapsed)
            return float(np.median(times) * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _timed(call, X) -> float:
    t = time.perf_counter()
    call(X)
    return time.perf_counter() - t


def _plain(value):
    return value.item() if hasattr(value, "item") else value


if __name__ == "__main__":
    main()
