"""The HTTP surface: FastAPI routes over a `Deployment`, OpenAI-style errors, API keys, request ids.

Routes: `GET /v1/models`, `POST /v1/chat/completions` (JSON or server-sent events),
`POST /v1/adapters` and `DELETE /v1/adapters/{name}` (load/unload at run time), `GET /health`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse

from groundtune import __version__
from groundtune.core.errors import AuthenticationError, GroundtuneError
from groundtune.serve import http
from groundtune.serve.deployment import Deployment
from groundtune.serve.schemas import AdapterLoad, ChatCompletion, ChatCompletionRequest, ModelCard
from groundtune.serve.streaming import sse_events


def inference_router(
    resolve: Callable[[str], Deployment], models: Callable[[], list[ModelCard]]
) -> APIRouter:
    """`GET /v1/models` and `POST /v1/chat/completions`; `resolve` finds the deployment serving a
    model name (NotFoundError when none does), so one server or many deployments answer alike."""
    router = APIRouter(prefix="/v1", tags=["inference"])

    @router.get("/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [c.model_dump() for c in models()]}

    @router.post("/chat/completions", response_model=None)
    def chat_completions(body: ChatCompletionRequest) -> ChatCompletion | StreamingResponse:
        deployment = resolve(body.model)
        if body.stream:
            prepared = deployment.prepare(body)  # bad input fails as a plain 400, before the stream opens
            return StreamingResponse(sse_events(deployment, prepared), media_type="text/event-stream")
        return deployment.complete(body)

    return router


def create_app(deployment: Deployment, *, api_key: str | None = None) -> FastAPI:
    """The ASGI app; every /v1 route requires `Authorization: Bearer <api_key>` when a key is set."""
    app = FastAPI(title="groundtune grounded serving", version=__version__)
    app.state.deployment = deployment

    async def authenticate(request: Request) -> GroundtuneError | None:
        if not api_key or not request.url.path.startswith("/v1"):
            return None
        if secrets.compare_digest(http.bearer_token(request).encode(), api_key.encode()):
            return None
        return AuthenticationError(
            "missing or invalid API key: send 'Authorization: Bearer <key>'", code="invalid_api_key"
        )

    http.install(app, authenticate)

    @app.get("/health")
    def health() -> dict[str, Any]:
        scheduler = deployment.scheduler
        return {
            "status": "ok",
            "models": [deployment.base_name, *deployment.adapters],
            "knowledge_base": getattr(deployment.kb, "name", None),
            "abstention": {m: deployment.abstention(m) for m in [deployment.base_name, *deployment.adapters]},
            "queue": scheduler.pending if scheduler else 0,
        }

    app.include_router(inference_router(lambda model: deployment, deployment.models))

    @app.post("/v1/adapters")
    def load_adapter(body: AdapterLoad) -> ModelCard:
        return deployment.load_adapter(body.name, body.path)

    @app.delete("/v1/adapters/{name}")
    def unload_adapter(name: str) -> dict[str, Any]:
        deployment.unload_adapter(name)
        return {"id": name, "object": "model", "deleted": True}

    return app
