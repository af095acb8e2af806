"""A real HTTP server on 127.0.0.1 for the HTTP and HTML source tests (never a mock client)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

USERS = [
    {
        "id": i,
        "name": f"user{i}",
        "address": {"city": ["Oslo", "Rome"][i % 2], "zip": 1000 + i},
        "tags": ["a", "b"][: i % 3],
    }
    for i in range(1, 8)
]

PAGE = """<html><body>
<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>x</td></tr></table>
<div class="main"><table id="prices">
<thead><tr><th>item</th><th>price</th><th>stock</th><th>change</th></tr></thead>
<tbody>
<tr><td>Widget</td><td>$1,234.50</td><td>12,000</td><td>12.5%</td></tr>
<tr><td>Gadget</td><td>$5.00</td><td>7</td><td>-3%</td></tr>
<tr><td>Doohickey</td><td>$0.99</td><td>n/a</td><td>0%</td></tr>
</tbody></table></div>
</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: object, ctype: str = "application/json", headers=None):
        data = (
            body
            if isinstance(body, bytes)
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        server = self.server
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with server.lock:
            server.log.append((parts.path, q, dict(self.headers), time.monotonic()))
            server.hits[parts.path] = server.hits.get(parts.path, 0) + 1
            hits = server.hits[parts.path]
        path = parts.path
        if path == "/users":  # page numbers, records nested in data.items
            page, size = int(q.get("page", 1)), int(q.get("per_page", 3))
            items = USERS[(page - 1) * size : page * size]
            self._send(200, {"data": {"items": items}, "meta": {"page": page}})
        elif path == "/offset":
            offset, limit = int(q.get("offset", 0)), int(q.get("limit", 3))
            self._send(200, USERS[offset : offset + limit])
        elif path == "/cursor":  # next link in the body
            after = int(q.get("after", 0))
            items = USERS[after : after + 3]
            nxt = f"/cursor?after={after + 3}" if after + 3 < len(USERS) else None
            self._send(200, {"results": items, "links": {"next": nxt}})
        elif path == "/linked":  # next link in a Link header
            after = int(q.get("after", 0))
            items = USERS[after : after + 4]
            headers = {}
            if after + 4 < len(USERS):
                headers["Link"] = (
                    f'<http://{self.headers["Host"]}/linked?after={after + 4}>; rel="next"'
                )
            self._send(200, items, headers=headers)
        elif path == "/flaky":  # fails twice, then recovers
            if hits <= 2:
                self._send(503, {"error": "busy"})
            else:
                self._send(200, [{"x": 1}, {"x": 2}])
        elif path == "/ratelimited":
            if hits == 1:
                self._send(429, {"error": "slow down"}, headers={"Retry-After": "0"})
            else:
                self._send(200, [{"x": 1}])
        elif path == "/broken":
            self._send(500, {"error": "always"})
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, [{"x": 1}])
        elif path == "/auth":
            if self.headers.get("Authorization") != "Bearer s3cret":
                self._send(401, {"error": "no"})
            else:
                self._send(200, [{"secret_ok": 1}, {"secret_ok": 2}])
        elif path == "/notjson":
            self._send(200, "<html><body>hello</body></html>", "text/html")
        elif path == "/scalar":
            self._send(200, 42)
        elif path == "/mixed":
            self._send(200, [{"v": 1, "when": "2024-01-01"}, {"v": "n/a", "when": None}])
        elif path in ("/page.html", "/prices"):
            self._send(200, PAGE, "text/html")
        elif path == "/empty.html":
            self._send(200, "<html><body><p>no tables here</p></body></html>", "text/html")
        else:
            self._send(404, {"error": "not found"})


class LocalServer:
    """The running server: ``url(path)``, the request ``log`` and per-path ``hits``."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        # a client that timed out leaves a broken pipe behind: not worth a traceback
        self.httpd.handle_error = lambda request, client_address: None
        self.httpd.lock = threading.Lock()
        self.httpd.log = []
        self.httpd.hits = {}
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    @property
    def log(self) -> list:
        return self.httpd.log

    def reset(self) -> None:
        with self.httpd.lock:
            self.httpd.log.clear()
            self.httpd.hits.clear()


@pytest.fixture(scope="session")
def _server() -> Iterator[LocalServer]:
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def http_server(_server: LocalServer) -> LocalServer:
    """The local test server, with its request log and hit counters cleared."""
    _server.reset()
    return _server


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/users"
