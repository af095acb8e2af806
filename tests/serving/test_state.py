"""Request ids: uuid4's format and randomness, many from one read of the kernel's pool."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest

from modelloop.serving._state import RequestIds


def test_request_ids_have_uuid4_hex_format_and_never_repeat() -> None:
    ids = RequestIds(block=8)
    taken = [*ids.take(1), *ids.take(13), *ids.take(8), *ids.take(0), *ids.take(40)]
    assert len(taken) == 62 and len(set(taken)) == 62  # across block boundaries too
    for rid in taken:
        parsed = uuid.UUID(hex=rid)
        assert parsed.hex == rid and len(rid) == 32
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_request_ids_of_a_forked_process_differ_from_its_parent() -> None:
    ids = RequestIds(block=64)
    ids.take(1)  # a block is read, with 63 ids left in it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, ",".join(ids.take(5)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode().split(",")
    os.close(read)
    assert len(child) == 5 and not set(child) & set(ids.take(5))


def test_logged_entries_keep_time_and_latency(serve_settings, store, passenger) -> None:
    from fastapi.testclient import TestClient

    from modelloop.serving import create_app

    before = datetime.now(UTC)
    with TestClient(create_app(serve_settings, store)) as client:
        body = client.post("/v1/models/titanic/predict", json={"instances": [passenger] * 2})
    logged = store.get_predictions("titanic")
    assert [p.request_id for p in logged] == body.json()["request_ids"]
    created = logged[0].created_at
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    assert before <= created <= datetime.now(UTC)
    assert logged[0].created_at == logged[1].created_at  # one request, one time
    assert logged[0].latency_ms == logged[1].latency_ms > 0
