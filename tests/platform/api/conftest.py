"""API fixtures: the platform app over a real store (SQLite in the test's workspace) in-process for
route tests; tests/platform/api/live.py starts it under uvicorn for the end-to-end ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from groundtune.platform.api import create_platform_app
from groundtune.platform.api.context import Limits
from groundtune.platform.store import Store

TINY_EMBEDDER = "tiny-random-minilm"
TINY_LM = "tiny-random-gemma3"
SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample_kb"


@pytest.fixture()
def api_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(None, home=tmp_path / "gt-home")
    yield s
    s.close()


@pytest.fixture()
def client(api_store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """The app with no runner (jobs stay queued) and a 4 kB upload limit."""
    app = create_platform_app(
        api_store,
        None,
        home=tmp_path / "gt-home",
        api_keys_required=False,
        limits=Limits(max_upload_bytes=4096),
    )
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def kb(client: TestClient) -> str:
    r = client.post("/v1/knowledge_bases", json={"name": "docs", "embedder": TINY_EMBEDDER})
    assert r.status_code == 200, r.text
    return "docs"
