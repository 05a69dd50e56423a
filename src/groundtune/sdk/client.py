"""`Client` and `AsyncClient`: the groundtune platform's REST API as Python, one attribute per
resource (openai-python's shape): knowledge_bases (.documents, .uploads), files, datasets,
fine_tuning.jobs (.checkpoints), adapters, calibrations, evaluations, deployments, jobs, api_keys,
chat.completions and models. Requests and answers are the core models the server uses.

The server is `base_url` or `$GROUNDTUNE_URL` (default http://127.0.0.1:8000), the key `api_key` or
`$GROUNDTUNE_API_KEY`; `timeout` and `max_retries` apply to every call unless a call passes its own
`timeout=`.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from groundtune.sdk._transport import DEFAULT, DEFAULT_TIMEOUT, AsyncTransport, Call, SyncTransport
from groundtune.sdk.resources.adapters import Adapters, AsyncAdapters, AsyncCalibrations, Calibrations
from groundtune.sdk.resources.api_keys import ApiKeys, AsyncApiKeys
from groundtune.sdk.resources.chat import HEALTH, AsyncChat, AsyncModels, Chat, Models, _health
from groundtune.sdk.resources.datasets import AsyncDatasets, Datasets
from groundtune.sdk.resources.deployments import AsyncDeployments, Deployments
from groundtune.sdk.resources.evaluations import AsyncEvaluations, Evaluations
from groundtune.sdk.resources.files import AsyncFiles, Files
from groundtune.sdk.resources.fine_tuning import AsyncFineTuning, FineTuning
from groundtune.sdk.resources.jobs import AsyncJobs, Jobs
from groundtune.sdk.resources.knowledge_bases import AsyncKnowledgeBases, KnowledgeBases

URL_ENV = "GROUNDTUNE_URL"
KEY_ENV = "GROUNDTUNE_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_MAX_RETRIES = 2


def _settings(base_url: str | None, api_key: str | None) -> tuple[str, str | None]:
    return base_url or os.environ.get(URL_ENV) or DEFAULT_URL, api_key or os.environ.get(KEY_ENV) or None


class Client:
    """The platform API, synchronously: `Client("http://127.0.0.1:8000", api_key="gt-…")`."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        url, key = _settings(base_url, api_key)
        self._transport = SyncTransport(
            url, key, timeout=timeout, max_retries=max_retries, http_client=http_client
        )
        self.base_url = self._transport.base_url
        self.knowledge_bases = KnowledgeBases(self)
        self.files = Files(self)
        self.datasets = Datasets(self)
        self.fine_tuning = FineTuning(self)
        self.adapters = Adapters(self)
        self.calibrations = Calibrations(self)
        self.evaluations = Evaluations(self)
        self.deployments = Deployments(self)
        self.jobs = Jobs(self)
        self.api_keys = ApiKeys(self)
        self.chat = Chat(self)
        self.models = Models(self)

    @HEALTH
    def health(self, *, timeout: Any = DEFAULT) -> dict[str, Any]:
        """The server's status, version and running deployments."""
        return self._transport.request(Call(HEALTH, parse=_health, timeout=timeout))

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"


class AsyncClient:
    """The platform API for asyncio: the same resources as `Client`, each method awaited."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        url, key = _settings(base_url, api_key)
        self._transport = AsyncTransport(
            url, key, timeout=timeout, max_retries=max_retries, http_client=http_client
        )
        self.base_url = self._transport.base_url
        self.knowledge_bases = AsyncKnowledgeBases(self)
        self.files = AsyncFiles(self)
        self.datasets = AsyncDatasets(self)
        self.fine_tuning = AsyncFineTuning(self)
        self.adapters = AsyncAdapters(self)
        self.calibrations = AsyncCalibrations(self)
        self.evaluations = AsyncEvaluations(self)
        self.deployments = AsyncDeployments(self)
        self.jobs = AsyncJobs(self)
        self.api_keys = AsyncApiKeys(self)
        self.chat = AsyncChat(self)
        self.models = AsyncModels(self)

    @HEALTH
    async def health(self, *, timeout: Any = DEFAULT) -> dict[str, Any]:
        return await self._transport.request(Call(HEALTH, parse=_health, timeout=timeout))

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self.base_url!r})"
