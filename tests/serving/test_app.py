"""create_app's lifespan: the heap is frozen while serving and unfrozen on shutdown."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from modelloop.serving import create_app


def test_create_app_freezes_the_heap_while_serving(serve_settings, store, passenger) -> None:
    gc.unfreeze()
    with TestClient(create_app(serve_settings, store)) as client:
        assert gc.get_freeze_count() > 0
        assert client.post("/predict", json=passenger).status_code == 200
    assert gc.get_freeze_count() == 0
