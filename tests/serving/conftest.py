"""Fixtures of the serving tests: a small store with two versions of a Titanic model.

Models are fitted directly (``make_pipeline`` + ``Store.register_model``, the same artifact
``modelloop.train`` registers) so the suite stays fast; the end-to-end test trains through
the CLI.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

TARGET = "Survived"


def _register(
    store: Any,
    name: str,
    frame: pd.DataFrame,
    target: str,
    task: str,
    estimator: Any,
    family: str,
    aliases: tuple[str, ...] = (),
) -> Any:
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline

    schema = infer_schema(frame, target=target)
    pipeline = make_pipeline(schema, family, estimator, task=task)
    y = frame[target]
    pipeline.fit(frame.drop(columns=[target]), y)
    classes = None if task == "regression" else pipeline.classes_.tolist()
    bundle = {
        "pipeline": pipeline,
        "schema": schema.to_dict(),
        "task": task,
        "target": target,
        "classes": classes,
    }
    return store.register_model(
        name,
        bundle,
        run_id=None,
        schema=schema.to_dict(),
        task=task,
        metrics={"test": {}},
        aliases=aliases,
    )


@pytest.fixture(scope="session")
def titanic_frame() -> pd.DataFrame:
    from modelloop.workflows import demo_data_path

    return pd.read_csv(demo_data_path())


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory, titanic_frame: pd.DataFrame) -> Path:
    """A store home with 'titanic' versions 1 (production) and 2, and 'fares' (regression)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    from modelloop.config import Settings
    from modelloop.store import Store

    home = tmp_path_factory.mktemp("serving") / "home"
    frame = titanic_frame.drop(columns=["Name", "Ticket", "Cabin"])
    with Store.from_settings(Settings(home=home)) as store:
        _register(
            store,
            "titanic",
            frame,
            TARGET,
            "binary",
            LogisticRegression(C=1.0),
            "linear",
            ("production",),
        )
        _register(store, "titanic", frame, TARGET, "binary", LogisticRegression(C=0.001), "linear")
        fares = titanic_frame[["Pclass", "Sex", "Age", "Embarked", "Fare"]]
        _register(store, "fares", fares, "Fare", "regression", Ridge(), "linear")
    return home


@pytest.fixture
def home(trained_home: Path, tmp_path: Path) -> Path:
    """A private copy of the trained store, so tests may move aliases and log predictions."""
    target = tmp_path / "home"
    shutil.copytree(trained_home, target)
    return target


@pytest.fixture
def serve_settings(home: Path) -> Any:
    from modelloop.config import Settings

    return Settings(
        home=home,
        api_key="secret",
        serve_poll_seconds=0.2,
        serve_max_rows=50,
        serve_max_body_bytes=20_000,
    )


@pytest.fixture
def store(serve_settings: Any) -> Iterator[Any]:
    from modelloop.store import Store

    with Store.from_settings(serve_settings) as s:
        yield s


@pytest.fixture
def client(serve_settings: Any, store: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app

    with TestClient(create_app(serve_settings, store)) as c:
        yield c


@pytest.fixture
def passenger(titanic_frame: pd.DataFrame) -> dict[str, Any]:
    """One raw row as a JSON-ready record: the columns of the 'titanic' model (all but the
    target and the three it was trained without); missing as None."""
    row = titanic_frame.drop(columns=[TARGET, "Name", "Ticket", "Cabin"]).iloc[0]
    return {
        k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in row.items()
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServedProcess:
    """A running ``modelloop serve`` process; ``output`` is filled in once it has stopped."""

    base: str
    proc: subprocess.Popen
    output: str = ""


@pytest.fixture
def serve_process() -> Any:
    """``with serve_process(home, *flags) as served:``: ``modelloop serve`` as a real process.

    The block starts once ``/health`` answers ok (the process must not exit first); on
    leaving it the server gets SIGINT, as from Ctrl-C, and its output is collected.
    """
    import httpx

    @contextmanager
    def run(
        home: Path, *flags: str, start_timeout: float = 240.0, **popen: Any
    ) -> Iterator[ServedProcess]:
        port = _free_port()
        cmd = [sys.executable, "-m", "modelloop", "serve", "--home", str(home), "--port", str(port)]
        proc = subprocess.Popen(
            [*cmd, *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
        )
        served = ServedProcess(f"http://127.0.0.1:{port}", proc)
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                try:
                    if httpx.get(f"{served.base}/health", timeout=2).json().get("status") == "ok":
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
            yield served
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                served.output, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                served.output, _ = proc.communicate()

    return run
