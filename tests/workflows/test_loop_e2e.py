"""The whole loop, end to end: train, serve, drift, delayed labels, monitor, retrain, hot swap.

The data are generated so that the world changes half-way: before the change the target
follows ``x1``; after it ``x1`` moves by one standard deviation, the mix of ``plan``
changes, and the target follows ``x2``. A model trained before the change is then little
better than a coin on new traffic; a challenger trained with the labeled new rows is not.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

MODEL = "loop"


def _world(n: int, changed: bool, seed: int, first_id: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(1.0 if changed else 0.0, 1.0, n)
    x2 = rng.normal(size=n)
    plan = rng.choice(
        ["basic", "pro", "team"], n, p=[0.2, 0.2, 0.6] if changed else [0.5, 0.3, 0.2]
    )
    signal = x2 if changed else x1
    y = np.where(signal + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    return pd.DataFrame(
        {"cid": np.arange(first_id, first_id + n), "x1": x1, "x2": x2, "plan": plan, "churn": y}
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.drop(columns=["churn"]).to_json(orient="records"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Traffic(threading.Thread):
    """Sends one-row requests without pause until stopped; keeps every status and version."""

    def __init__(self, url: str, row: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.url, self.row = url, row
        self.stop = threading.Event()
        self.seen: list[tuple[int, int | None]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        import httpx

        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    r = client.post(self.url, json={"instances": [self.row]})
                    version = r.json().get("version") if r.status_code == 200 else None
                    self.seen.append((r.status_code, version))
                except Exception as exc:  # a refused or dropped connection is a failure too
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.005)


def _wait_logged(store: Any, ids: set[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ids <= {p.request_id for p in store.get_predictions(MODEL)}:
            return
        time.sleep(0.1)
    raise AssertionError("the server did not log the predictions")


def test_the_loop_closes_with_no_failed_request(tmp_path: Path) -> None:
    import httpx
    import uvicorn

    from modelloop.cli import main
    from modelloop.config import Settings
    from modelloop.serving import create_app
    from modelloop.store import Store

    home = tmp_path / "home"
    data = tmp_path / "before.csv"
    _world(400, False, 0, 0).to_csv(data, index=False)
    # 1. train v1 on data from before the change, as users do
    code = main(
        ["train", str(data), "--target", "churn", "--name", MODEL, "--alias", "production",
         "--id-column", "cid", "--models", "logistic_regression", "--max-trials", "1",
         "--cv", "2", "--time-budget", "60", "--home", str(home), "--json"]
    )  # fmt: skip
    assert code == 0

    # 2. serve it (uvicorn, in a thread) while a client sends requests without pause
    settings = Settings(home=home, serve_poll_seconds=0.2)
    store = Store.from_settings(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store), host="127.0.0.1", port=_free_port(), log_level="warning"
        )
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    base = f"http://127.0.0.1:{server.config.port}"
    after = _world(200, True, 1, 10_000)
    traffic = _Traffic(f"{base}/v1/models/{MODEL}/predict", _records(after.head(1))[0])
    traffic.start()
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            # 3. traffic after the change, then its labels, late (by request id, or by key)
            ids: list[str] = []
            rows = _records(after)
            for start in range(0, len(rows), 25):
                r = client.post(
                    f"/v1/models/{MODEL}/predict", json={"instances": rows[start : start + 25]}
                )
                assert r.status_code == 200 and r.json()["version"] == 1
                ids.extend(r.json()["request_ids"])
            _wait_logged(store, set(ids))
            truth = after["churn"].tolist()
            by_id = [
                {"request_id": i, "label": y} for i, y in zip(ids[:100], truth[:100], strict=True)
            ]
            by_key = [
                {"key": int(c), "label": y}
                for c, y in zip(after["cid"].iloc[100:], truth[100:], strict=True)
            ]
            r = client.post(f"/v1/models/{MODEL}/feedback", json={"feedback": by_id + by_key})
            assert r.status_code == 200, r.text
            assert r.json()["labeled"] == 200 and r.json()["rejected"] == []

            # 4. the monitor raises the alert (exit status 1)
            assert main(["monitor", MODEL, "--home", str(home)]) == 1

            # 5. retrain: the challenger wins on the most recent labeled rows and is promoted
            assert main(["retrain", MODEL, "--home", str(home), "--recent-weight", "2",
                         "--json"]) == 0  # fmt: skip
            v2 = store.get_model_version(MODEL, alias="production")
            assert v2.version == 2 and v2.lineage["trigger"] == "retrain"
            assert v2.lineage["evaluation"]["promoted"] is True
            assert v2.lineage["evaluation"]["challenger"] > v2.lineage["evaluation"]["champion"]

            # 6. the running server switches to v2 by itself
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if traffic.seen and traffic.seen[-1][1] == 2:
                    break
                time.sleep(0.05)
            answer = client.post(f"/v1/models/{MODEL}/predict", json={"instances": rows[:1]})
            assert answer.json()["version"] == 2
            time.sleep(0.2)  # a few more requests on v2
    finally:
        traffic.stop.set()
        traffic.join(30)
        server.should_exit = True
        serving.join(30)
        store.close()
    # ... and not one request failed while it did
    assert traffic.errors == []
    statuses = {status for status, _ in traffic.seen}
    assert statuses == {200}, statuses
    versions = [v for _, v in traffic.seen]
    assert versions[0] == 1 and versions[-1] == 2
    assert versions == sorted(versions)  # once swapped, never back
    assert len(versions) > 20


def test_a_challenger_that_is_not_better_is_not_promoted(settings: Any) -> None:
    from fastapi.testclient import TestClient
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.serving import create_app
    from modelloop.store import Store
    from modelloop.workflows import retrain

    settings = settings.with_overrides(serve_poll_seconds=0.1)
    before = _world(400, False, 0, 0)
    frame = before.drop(columns=["cid"])
    schema = infer_schema(frame, target="churn")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame.drop(columns=["churn"]), frame["churn"])
    params = {"candidates": ["logistic_regression"], "search": "auto", "max_trials": 1,
              "cv": 2, "time_budget": 60, "seed": 0}  # fmt: skip
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
              "target": "churn", "classes": ["no", "yes"]}  # fmt: skip
    with Store.from_settings(settings) as store:
        run = store.create_run(name=MODEL, dataset_hash=None, target="churn", task="binary",
                               metric="roc_auc", params=params)  # fmt: skip
        store.finish_run(run.id, status="finished")
        store.register_model(MODEL, bundle, run_id=run.id, schema=schema.to_dict(),
                             task="binary", metrics={}, aliases=["production"],
                             reference=frame)  # fmt: skip
        # the world has not changed: new rows follow the old relationship
        same = _world(150, False, 7, 5000)
        rows = _records(same.drop(columns=["cid"]))  # the model was fitted without the id
        with TestClient(create_app(settings, store)) as client:
            ids = client.post(
                f"/v1/models/{MODEL}/predict", json={"instances": rows}
            ).json()["request_ids"]
            _wait_logged(store, set(ids))
            items = [{"request_id": i, "label": y} for i, y in zip(ids, same["churn"], strict=True)]
            assert client.post(f"/v1/models/{MODEL}/feedback", json={"feedback": items}).json()[
                "labeled"
            ] == len(items)
            result = retrain(MODEL, min_improvement=0.02, settings=settings, store=store)
            assert not result.promoted
            assert "the champion is kept" in result.reason
            assert result.improvement < 0.02
            time.sleep(0.5)  # several alias polls
            r = client.post(f"/v1/models/{MODEL}/predict", json={"instances": rows[:1]})
            assert r.json()["version"] == 1
        assert store.get_model_version(MODEL, alias="production").version == 1
        challenger = store.get_model_version(MODEL, alias="challenger")
        assert challenger.version == 2 and challenger.lineage["evaluation"]["promoted"] is False


def test_the_loop_closes_on_yes_no_dates_text_and_missing_values(
    tmp_path: Path, data_dir: Path
) -> None:
    """train -> serve -> predict over HTTP -> feedback -> monitor -> retrain -> v2 answers.

    ``tests/data/files/accounts.csv`` (900 rows, generated with a fixed seed) has a yes/no
    column (``default``), a date (``signup``), free text (``note``), a category (``plan``),
    a number (``balance``), missing values in each of them and a key (``account``). Its
    first 500 rows follow one relation to ``churn``, the last 400 another. The logged
    requests hold ``"default": "no"`` as sent; the retrain must read them the way the
    model's schema does (as the reference rows are), not as a third and fourth value.
    """
    import httpx
    import uvicorn

    from modelloop.cli import main
    from modelloop.config import Settings
    from modelloop.serving import create_app
    from modelloop.store import Store

    table = pd.read_csv(data_dir / "files" / "accounts.csv")
    assert set(table["default"].dropna()) == {"no", "yes"} and table.isna().any().sum() >= 4
    home = tmp_path / "home"
    before = tmp_path / "before.csv"
    table.iloc[:500].to_csv(before, index=False)
    code = main(
        ["train", str(before), "--target", "churn", "--name", "accounts", "--alias",
         "production", "--id-column", "account", "--models", "logistic_regression",
         "--max-trials", "1", "--cv", "2", "--time-budget", "60", "--home", str(home)]
    )  # fmt: skip
    assert code == 0
    settings = Settings(home=home, serve_poll_seconds=0.2)
    store = Store.from_settings(settings)
    schema = store.get_model_version("accounts").schema
    roles = {c["name"]: c["role"] for c in schema["columns"]}
    assert roles["default"] == "boolean" and roles["signup"] == "datetime"
    assert roles["note"] == "text"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store), host="127.0.0.1", port=_free_port(), log_level="warning"
        )
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    base = f"http://127.0.0.1:{server.config.port}"
    after = table.iloc[500:]
    rows = json.loads(after.drop(columns=["churn"]).to_json(orient="records"))
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            ids: list[str] = []
            for start in range(0, len(rows), 50):
                r = client.post(
                    "/v1/models/accounts/predict", json={"instances": rows[start : start + 50]}
                )
                assert r.status_code == 200, r.text
                assert r.json()["version"] == 1
                ids.extend(r.json()["request_ids"])
            deadline = time.monotonic() + 30
            while {p.request_id for p in store.get_predictions("accounts")} < set(ids):
                assert time.monotonic() < deadline, "the server did not log the predictions"
                time.sleep(0.1)
            logged = store.get_predictions("accounts")[0].inputs
            assert logged["default"] in ("no", "yes")  # the log keeps what was sent

            labels = tmp_path / "labels.csv"
            pd.DataFrame({"request_id": ids, "label": after["churn"].tolist()}).to_csv(
                labels, index=False
            )
            assert main(["feedback", "accounts", str(labels), "--home", str(home)]) == 0
            assert main(["monitor", "accounts", "--home", str(home)]) == 1  # it alerts
            assert main(["retrain", "accounts", "--home", str(home)]) == 0
            v2 = store.get_model_version("accounts", alias="production")
            assert v2.version == 2 and v2.lineage["evaluation"]["promoted"] is True
            v2_roles = {c["name"]: c for c in v2.schema["columns"]}
            assert v2_roles["default"]["role"] == "boolean"
            assert v2_roles["default"]["categories"] == ["no", "yes"]

            deadline = time.monotonic() + 30
            while True:  # the running server switches to v2 by itself
                answer = client.post("/v1/models/accounts/predict", json={"instances": rows[:3]})
                assert answer.status_code == 200, answer.text
                if answer.json()["version"] == 2:
                    break
                assert time.monotonic() < deadline, "the server did not switch to version 2"
                time.sleep(0.1)
            assert answer.json()["predictions"][0] in ("no", "yes")
    finally:
        server.should_exit = True
        serving.join(30)
        store.close()
