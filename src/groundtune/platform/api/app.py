"""The platform app: one router per resource under `/v1`, the grounded `/v1/chat/completions` and
`/v1/models` of running deployments (serve/app.inference_router), API keys with scopes, request
ids, OpenAI-shaped errors (serve/http.py) and the job runner's lifetime tied to the server's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from groundtune import __version__
from groundtune.platform.api import (
    adapters,
    api_keys,
    datasets,
    deployments,
    evaluations,
    files,
    fine_tuning,
    jobs,
    knowledge_bases,
)
from groundtune.platform.api.auth import authenticator
from groundtune.platform.api.context import Limits, Platform
from groundtune.serve import http
from groundtune.serve.app import inference_router

ROUTERS = (
    knowledge_bases.router,
    files.router,
    datasets.router,
    fine_tuning.router,
    adapters.router,
    evaluations.router,
    deployments.router,
    jobs.router,
    api_keys.router,
)
DESCRIPTION = """Every groundtune stage as a job, and the grounded chat endpoint of its deployments.

Errors are `{"error": {"message", "type", "param", "code"}}`; every response carries `x-request-id`;
lists take `after` and `limit` and answer `{"object": "list", "data", "has_more", "first_id", "last_id"}`;
every POST that creates takes an `Idempotency-Key` header. Beyond loopback, send
`Authorization: Bearer <key>` (scopes: read for GET, write for POST/DELETE, admin for /v1/api_keys)."""


def create_platform_app(
    store: Any,
    runner: Any,
    *,
    home: str | Path,
    api_keys_required: bool,
    limits: Limits | None = None,
) -> FastAPI:
    """The ASGI app over `store` (platform.store.Store) and `runner` (platform.jobs LocalRunner, or
    None to queue jobs without running them here). The runner starts and stops with the server;
    deployments that were running start again."""
    platform = Platform(store, runner, home, limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            await run_in_threadpool(runner.start)
        await run_in_threadpool(deployments.restore, platform)
        try:
            yield
        finally:
            await run_in_threadpool(platform.serving.close_all)
            if runner is not None:
                await run_in_threadpool(runner.stop)

    app = FastAPI(
        title="groundtune platform", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.platform = platform
    http.install(app, authenticator(store, required=api_keys_required))
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(inference_router(platform.serving.resolve, platform.serving.models))

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "deployments": sorted(platform.serving.running)}

    return app
