"""The worker supervisor: refuses a busy port or no workers before starting anything."""

from __future__ import annotations

import socket

import pytest

from modelloop.exceptions import ConfigurationError
from modelloop.serving import run_workers


def test_run_workers_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigurationError, match=rf"127\.0\.0\.1:{port}.*another --port"):
            run_workers("127.0.0.1", port, 2)


def test_run_workers_needs_at_least_one_worker() -> None:
    with pytest.raises(ConfigurationError, match=r"workers must be >= 1\. Got 0"):
        run_workers("127.0.0.1", 0, 0)
