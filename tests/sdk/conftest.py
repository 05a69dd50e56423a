"""SDK fixtures: the real platform app over a real store (SQLite in the test's workspace), reached
in-process through httpx.ASGITransport (for the sync `Client`, run on an anyio portal thread);
tests/platform/api/live.py serves it under uvicorn for the end-to-end and dropped-connection tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from groundtune.platform.api import create_platform_app
from groundtune.platform.api.context import Limits
from groundtune.platform.store import Store
from groundtune.sdk import Client

URL = "http://testserver"


class SyncASGITransport(httpx.BaseTransport):
    """httpx.ASGITransport for a sync httpx.Client: each request runs on a portal's event loop and
    its whole body is read there (an SSE stream arrives once it has ended)."""

    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.portal = portal

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        sent = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        response = await self.inner.handle_async_request(sent)
        content = await response.aread()
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.portal.call(self._handle, request)


class InProcess:
    """The app with no runner (jobs stay queued, a cancel is immediate) and the SDK on it."""

    def __init__(self, home: Path, limits: Limits | None = None, keys: bool = False) -> None:
        self.home = home
        self.store = Store(None, home=home)
        self.app = create_platform_app(self.store, None, home=home, api_keys_required=keys, limits=limits)
        self._portal = start_blocking_portal()
        self.portal = self._portal.__enter__()
        self.http = httpx.Client(transport=SyncASGITransport(self.app, self.portal))

    def client(self, api_key: str | None = None, **options: Any) -> Client:
        return Client(URL, api_key, http_client=self.http, **options)

    def close(self) -> None:
        self.http.close()
        self._portal.__exit__(None, None, None)
        self.store.close()


@pytest.fixture()
def platform(tmp_path: Path) -> Iterator[InProcess]:
    p = InProcess(tmp_path / "gt-home")
    yield p
    p.close()


@pytest.fixture()
def client(platform: InProcess) -> Client:
    return platform.client(max_retries=0)


def queue_evaluation(client: Client, suite: str = "dataset:nothing:test") -> Any:
    """A queued job that needs no stored input (an evaluation with no adapter)."""
    return client.evaluations.create(suites=[suite], model="tiny-random-gemma3")


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """A tiny grounded dataset folder (train and validation) for the tiny random Gemma 3."""
    from tests.train.helpers import write_dataset

    return write_dataset(tmp_path / "ds", n_train=16, n_val=4)
