"""Executors: trials on a Dask LocalCluster of worker processes, limits, lost workers."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from modelloop.data import load
from modelloop.exceptions import ClusterError, ConfigurationError
from modelloop.tuning import make_folds, search
from modelloop.tuning._executors import DaskExecutor, connect, parse_cluster
from modelloop.tuning._worker import Job, Outcome, WorkerError, WorkerTimeout


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 300
    x1 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = np.where(x1 + (colour == "red") * 1.5 + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    return load(pd.DataFrame({"x1": x1, "colour": colour, "y": y}), target="y")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-threaded worker processes, shared by the module."""
    client, cluster = connect("local:2")
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def executor(client, data):
    y = data.target_series().to_numpy()
    payload = {
        "X": data.features(),
        "y": y,
        "schema": data.schema,
        "task": "binary",
        "metric": "roc_auc",
        "folds": make_folds(pd.Series(y), "binary", 3, seed=0),
        "seed": 0,
        "n_jobs": 1,
    }
    ex = DaskExecutor(payload, client)
    yield ex
    ex.close()


def test_parse_cluster_accepts_local_and_addresses_and_names_bad_ones():
    assert parse_cluster("local:3") == ("local", 3)
    assert parse_cluster(" tcp://sched.example:8786 ") == ("address", "tcp://sched.example:8786")
    with pytest.raises(ConfigurationError, match=r"--cluster must be .*Got 'http://x'"):
        parse_cluster("http://x")
    with pytest.raises(ConfigurationError, match="needs N >= 1"):
        parse_cluster("local:0")


def test_connect_unreachable_scheduler_fails_with_clear_error():
    with pytest.raises(
        ClusterError, match=r"Cannot reach the Dask scheduler at tcp://127\.0\.0\.1:1"
    ):
        connect("tcp://127.0.0.1:1", timeout=1)


def test_search_bad_cluster_spec_fails_before_any_work(data):
    with pytest.raises(ConfigurationError, match="--cluster must be"):
        search(
            data.features(),
            data.target_series(),
            schema=data.schema,
            task="binary",
            metric="roc_auc",
            cluster="nowhere",
            max_trials=1,
        )


@pytest.mark.slow
def test_search_on_local_cluster_gives_the_local_leaderboard_shape(client, data, tmp_path):
    journal = tmp_path / "studies" / "run1.journal"
    res = search(
        data.features(),
        data.target_series(),
        schema=data.schema,
        task="binary",
        metric="roc_auc",
        candidates=["logistic_regression", "decision_tree"],  # 2 portfolio + 3 Optuna trials
        cv=3,
        max_trials=5,
        cluster=client,
        study_journal=str(journal),
    )
    assert list(res.leaderboard.columns) == [
        "model",
        "family",
        "cv_roc_auc",
        "cv_std",
        "fit_time_s",
        "latency_ms",
        "rows_per_s",
        "size_mb",
        "status",
        "members",
        "final_fit",
        "error",
    ]
    assert res.final_fit in ("refit", "bagged")  # recorded on the cluster as well
    assert res.leaderboard["final_fit"].iloc[0] == res.final_fit
    trials = res.trials
    assert sorted(t["number"] for t in trials if t["stage"] != "ensemble") == [1, 2, 3, 4, 5]
    assert all(t["status"] in ("ok", "pruned") for t in trials)
    assert res.model.predict(data.features().head(3)).shape == (3,)
    # The model-based stage's study outlives the run in its journal file.
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(
        study_name="run1", storage=JournalStorage(JournalFileBackend(str(journal)))
    )
    optuna_trials = [t for t in trials if t["stage"] == "optuna"]
    assert optuna_trials and len(study.trials) >= len(optuna_trials)


def test_dask_executor_stops_a_trial_at_its_time_limit_and_goes_on(executor):
    slow = Job(1, "random_forest", {"n_estimators": 3000}, measure_latency=False)
    with pytest.raises(WorkerTimeout, match=r"time limit of 0\.5 s"):
        executor.run("trial", slow, 0.5)
    quick = executor.run("trial", Job(2, "logistic_regression", {}), 120)
    assert isinstance(quick, Outcome) and quick.status == "ok"


@pytest.mark.slow
def test_dask_executor_lost_worker_costs_only_its_trial(executor, client):
    slow = executor.submit("trial", Job(1, "random_forest", {"n_estimators": 2000}))
    deadline = time.monotonic() + 60
    address = None
    while address is None and time.monotonic() < deadline:
        address = client.run_on_scheduler(
            lambda dask_scheduler, key=slow.key: getattr(
                getattr(dask_scheduler.tasks.get(key), "processing_on", None), "address", None
            )
        )
        time.sleep(0.2)
    assert address is not None
    pid = client.run(os.getpid, workers=[address])[address]
    os.kill(pid, signal.SIGKILL)
    executor.wait([slow], 120)
    try:  # retried on the other worker, or reported as failed: either way, one trial
        assert executor.result(slow).status == "ok"
    except WorkerError as exc:
        assert "worker running it died" in str(exc)
    client.wait_for_workers(2, timeout=60)
    again = executor.run("trial", Job(2, "logistic_regression", {}), 120)
    assert again.status == "ok"


def test_a_failing_shutdown_step_is_logged_not_raised(caplog):
    from modelloop.tuning._executors import _logged

    def broken(**kwargs):
        raise OSError("the scheduler is gone")

    with caplog.at_level("WARNING", logger="modelloop.tuning"):
        _logged("close the Dask client", broken, timeout=10)
    assert "Could not close the Dask client: the scheduler is gone" in caplog.text
