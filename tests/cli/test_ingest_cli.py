"""modelloop ingest / data / datasets from the command line, including bad input (exit 2)."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest


class _Api(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/items"):
            if self.headers.get("Authorization") != "Bearer tok123":
                body, status = b'{"error": "no"}', 401
            else:
                page = int(self.path.rsplit("page=", 1)[-1]) if "page=" in self.path else 1
                rows = [{"id": i, "v": {"n": i * 1.5}} for i in range(1, 6)][
                    (page - 1) * 2 : page * 2
                ]
                body, status = json.dumps({"data": rows}).encode(), 200
        else:
            body, status = b"<html><p>nothing</p></html>", 200 if self.path == "/page.html" else 404
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def api():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "customers.csv"
    pd.DataFrame(
        {"id": range(60), "plan": ["basic", "pro", "team"] * 20, "churn": ["no", "yes"] * 30}
    ).to_csv(path, index=False)
    return path


def test_ingest_api_with_env_header_and_pages(cli, api, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("API_TOKEN", "tok123")
    home = tmp_path / "home"
    r = cli(
        "ingest",
        f"{api}/items",
        "--name",
        "items",
        "--records",
        "data",
        "--page-param",
        "page",
        "--page-size",
        "2",
        "-H",
        "Authorization: Bearer ${API_TOKEN}",
        "--home",
        home,
    )
    assert r.code == 0, r.err
    assert "Stored snapshot items@1: 5 rows × 2 columns" in r.out
    db = (home / "modelloop.db").read_bytes()
    assert b"tok123" not in db and b"API_TOKEN" not in db
    shown = cli("data", "show", "items@1", "--home", home)
    assert shown.code == 0 and "v.n" in shown.out and "tok123" not in shown.out


def test_ingest_then_list_show_diff_rules(cli, csv, tmp_path) -> None:
    home = tmp_path / "home"
    assert cli("ingest", csv, "--name", "customers", "--home", home).code == 0
    frame = pd.read_csv(csv)
    frame = pd.concat([frame, frame.head(3).assign(id=[100, 101, 102])]).assign(extra=1)
    frame.to_csv(csv, index=False)
    assert cli("ingest", csv, "--name", "customers", "--home", home).code == 0
    listed = cli("data", "list", "--home", home)
    assert "customers@2" in listed.out and "63" in listed.out
    diff = cli("data", "diff", "customers", "--home", home, "--json")
    payload = json.loads(diff.out)
    assert payload["old"] == "customers@1" and payload["new"] == "customers@2"
    assert payload["columns_added"] == ["extra"] and payload["n_rows_new"] == 63
    text = cli("data", "diff", "customers@1", "customers@2", "--home", home)
    assert "60 → 63 rows" in text.out and "columns added: extra" in text.out
    rules_file = tmp_path / "rules.yaml"
    suggested = cli("data", "rules", "customers@1", "--suggest", "-o", rules_file, "--home", home)
    assert suggested.code == 0 and "plan:" in rules_file.read_text()
    checked = cli("data", "rules", "customers@1", "--check", rules_file, "--home", home)
    assert checked.code == 0 and "passes every rule" in checked.out


def test_train_accepts_data_source(cli, csv, tmp_path) -> None:
    home = tmp_path / "home"
    cli("ingest", csv, "--name", "customers", "--home", home)
    r = cli(
        "train",
        "data:customers@1",
        "--target",
        "churn",
        "--models",
        "logistic_regression",
        "--cv",
        "2",
        "--max-trials",  # the data source is tested, not the budget: one quick trial
        "1",
        "--home",
        home,
        "--json",
    )
    assert r.code == 0, r.err
    assert json.loads(r.out)["dataset"]["source"].startswith("data:customers@1")


def test_ingest_sqlite_incremental(cli, tmp_path) -> None:
    db = tmp_path / "shop.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (id INTEGER, ts INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(1, 1), (2, 2)])
    con.commit()
    home = tmp_path / "home"
    args = (
        "ingest",
        f"sqlite:///{db}",
        "--table",
        "t",
        "--name",
        "t",
        "--since-column",
        "ts",
        "--home",
        home,
    )
    assert "2 rows read" in cli(*args).out
    con.execute("INSERT INTO t VALUES (3, 3)")
    con.commit()
    con.close()
    second = cli(*args)
    assert "Stored snapshot t@2: 3 rows" in second.out and "1 rows read" in second.out


def test_datasets_list_and_get(cli, tmp_path) -> None:
    listed = cli("datasets", "list")
    assert listed.code == 0 and "iris" in listed.out and "titanic" in listed.out
    out = tmp_path / "wine.parquet"
    got = cli("datasets", "get", "wine", "-o", out)
    assert got.code == 0 and pd.read_parquet(out).shape == (178, 14)
    assert cli("datasets", "get", "wine", "-o", out).code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{api}/nope",), "answered HTTP 404"),
        (("{api}/items", "--retries", "0"), "answered HTTP 401"),
        (("{api}/page.html",), "has no HTML tables"),
        (("{api}/items", "--records", "rows", "-H", "Authorization: Bearer tok123"), "no 'rows'"),
        (("{closed}/x", "--retries", "0"), "cannot be reached"),
        (("{csv}", "--rules", "{bad_rules}"), "unknown rule 'maximum'"),
        (("{csv}", "--rules", "{strict_rules}"), "column 'plan' must be one of 'basic'"),
        (
            ("{api}/items", "-H", "Authorization: ${NOT_SET_ANYWHERE_42}"),
            "NOT_SET_ANYWHERE_42, which is not set",
        ),
        (("{csv}", "-H", "Authorization: x"), "--header applies to http(s) sources only"),
        (("{csv}", "--since-column", "id"), "works with database sources only"),
    ],
)
def test_ingest_bad_input_is_one_line_exit_2_nothing_stored(
    cli, api, csv, tmp_path, snapshot, args, message
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  plan: {maximum: 3}\n")
    strict = tmp_path / "strict.yaml"
    strict.write_text("columns:\n  plan: {allowed: [basic]}\n")
    home = tmp_path / "home"
    values = {"api": api, "closed": closed, "csv": csv, "bad_rules": bad, "strict_rules": strict}
    before = snapshot(home)
    filled = []
    for arg in args:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", str(value))
        filled.append(arg)
    r = cli("ingest", *filled, "--name", "x", "--home", home)
    assert r.code == 2 and "Traceback" not in r.err
    assert r.err.startswith("error:") and message in " ".join(r.err.split())
    after = snapshot(home)
    assert not [f for f in after["files"] if "snapshots" in f or "tmp" in f]
    assert (after["db"] or {}).get("data_snapshots", 0) == 0
    assert before["db"] is None or before == after


def test_data_commands_unknown_snapshot(cli, tmp_path) -> None:
    r = cli("data", "show", "ghost", "--home", tmp_path / "home")
    assert r.code == 2 and "No snapshot named 'ghost'" in r.err
    r = cli("train", "data:ghost@2", "--target", "y", "--home", tmp_path / "home")
    assert r.code == 2 and "No snapshot named 'ghost'" in r.err
