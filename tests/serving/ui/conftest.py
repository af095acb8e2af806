"""Fixtures of the dashboard tests: a store with a trained model and two runs, a live server,
and (for the browser tests) headless Chromium driven by Selenium.

Both runs are real ``modelloop.train`` runs on the bundled Titanic data, bounded by
``max_trials`` so that they take seconds: run 1 registers version 1 as 'production', run 2
registers version 2 (decision trees).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

API_KEY = "ui-secret"


@pytest.fixture(scope="session")
def ui_trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store home holding model 'titanic' (v1 production, v2) from two training runs."""
    import modelloop as ml
    from modelloop.config import Settings
    from modelloop.store import Store
    from modelloop.workflows import demo_data_path

    home = tmp_path_factory.mktemp("ui") / "home"
    settings = Settings(home=home)
    common = {"target": "Survived", "name": "titanic", "cv": 2, "time_budget": 40, "seed": 0}
    with Store.from_settings(settings) as store:
        ml.train(
            demo_data_path(),
            models=["logistic_regression"],
            max_trials=1,
            aliases=["production"],
            settings=settings,
            store=store,
            **common,
        )
        ml.train(
            demo_data_path(),
            models=["decision_tree"],
            max_trials=2,
            settings=settings,
            store=store,
            **common,
        )
    return home


@pytest.fixture
def ui_home(ui_trained_home: Path, tmp_path: Path) -> Path:
    """A private copy of the trained store, so a test may move aliases."""
    target = tmp_path / "home"
    shutil.copytree(ui_trained_home, target)
    return target


@pytest.fixture
def ui_settings(ui_home: Path) -> Any:
    return _settings(ui_home)


@pytest.fixture
def ui_store(ui_settings: Any) -> Iterator[Any]:
    from modelloop.store import Store

    with Store.from_settings(ui_settings) as store:
        yield store


@pytest.fixture
def ui_client(ui_settings: Any, ui_store: Any) -> Iterator[Any]:
    """A test client of the whole server (``create_app``), the dashboard at /ui."""
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app

    with TestClient(create_app(ui_settings, ui_store)) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_home(ui_trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the trained store for ``live_server``, shared by one module's tests."""
    home = tmp_path_factory.mktemp("ui-live") / "home"
    shutil.copytree(ui_trained_home, home)
    return home


@pytest.fixture(scope="module")
def live_store(live_home: Path) -> Iterator[Any]:
    """The store ``live_server`` serves."""
    from modelloop.store import Store

    with Store.from_settings(_settings(live_home)) as store:
        yield store


def _settings(home: Path) -> Any:
    from modelloop.config import Settings

    return Settings(home=home, api_key=API_KEY, serve_poll_seconds=0)


@pytest.fixture(scope="module")
def live_server(live_home: Path, live_store: Any) -> Iterator[str]:
    """``modelloop serve``'s app on a free port in a thread; yields its base URL.

    One server per module, so a report made for one test is in its cache for the next.
    """
    import uvicorn

    from modelloop.serving import create_app

    settings = _settings(live_home)
    config = uvicorn.Config(
        create_app(settings, live_store), host="127.0.0.1", port=_free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ui-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _chromium() -> tuple[str, str] | None:
    """Chromium (as scripts/browser-up.sh reported it, else on PATH) and chromedriver."""
    binary = (
        os.environ.get("MODELLOOP_TEST_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        return None
    return binary, driver


@pytest.fixture(scope="session")
def browser(service_missing) -> Iterator[Any]:
    """Headless Chromium driven through chromedriver (skips when Chromium is not installed;
    fails in CI)."""
    found = _chromium()
    if found is None:
        service_missing(
            "no Chromium and chromedriver on this machine: run scripts/browser-up.sh "
            "(installs Debian's chromium and chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


# -- drift: models registered directly (no search), predictions logged directly ------------


def _drift_frame(n: int, seed: int, shift: float = 0.0) -> Any:
    """Rows of features ``a`` (numeric) and ``b`` (categorical) and a binary ``label``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1.0, n)
    b = rng.choice(["x", "y", "z"], n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * a + (b == "x"))))).astype(int)
    return pd.DataFrame({"a": a, "b": b, "label": y})


@pytest.fixture
def drift_data() -> Any:
    """``drift_data(n, seed, shift=0.0)``: rows like the ones 'churn' was trained on."""
    return _drift_frame


@pytest.fixture
def drift_settings(tmp_path: Path) -> Any:
    """A store with 'churn' v1 (registered with its training rows) and 'bare' v1 (without)."""
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store

    settings = Settings(home=tmp_path / "drift-home", api_key=API_KEY, serve_poll_seconds=0)
    frame = _drift_frame(600, 0)
    schema = infer_schema(frame, target="label")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["a", "b"]], frame["label"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary", "classes": [0, 1]}
    bare = {**bundle, "pipeline": LogisticRegression().fit(frame[["a"]], frame["label"])}
    with Store.from_settings(settings) as store:
        for name, model, reference in (("churn", bundle, frame), ("bare", bare, None)):
            store.register_model(
                name,
                model,
                run_id=None,
                schema=schema.to_dict(),
                task="binary",
                metrics={"test": {"roc_auc": 0.8, "accuracy": 0.75}},
                aliases=["production"],
                reference=reference,
            )
    return settings


@pytest.fixture
def log_rows() -> Any:
    """``log_rows(store, name, frame, start=None)``: log ``frame``'s rows as predictions."""
    from datetime import UTC, datetime, timedelta

    def log(store: Any, name: str, frame: Any, start: Any = None) -> list[str]:
        start = start or datetime.now(UTC) - timedelta(minutes=30)
        ids = [f"{name}-{i}" for i in range(len(frame))]
        store.log_predictions(
            [
                {
                    "request_id": rid,
                    "model_name": name,
                    "model_version": 1,
                    "inputs": {"a": float(row.a), "b": row.b},
                    "prediction": str(int(row.a > 0)),
                    "latency_ms": 1.5,
                    "created_at": start + timedelta(seconds=i),
                }
                for i, (rid, row) in enumerate(zip(ids, frame.itertuples(), strict=True))
            ]
        )
        return ids

    return log


@pytest.fixture
def passenger(titanic_frame: Any) -> dict[str, Any]:
    """One raw row of every column but the target: the models here learned from them all."""
    row = titanic_frame.drop(columns=["Survived"]).iloc[0]
    return {
        k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in row.items()
    }
