"""The HTTP surface: FastAPI routes over a `Deployment`, OpenAI-style errors, API keys, request ids.

Routes: `GET /v1/models`, `POST /v1/chat/completions` (JSON or server-sent events),
`POST /v1/adapters` and `DELETE /v1/adapters/{name}` (load/unload at run time), `GET /health`.
"""

from __future__ import annotations

import math
import secrets
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from groundtune import __version__
from groundtune.core.errors import GroundtuneError, RateLimitError
from groundtune.serve.deployment import Deployment
from groundtune.serve.schemas import AdapterLoad, ChatCompletion, ChatCompletionRequest, ModelCard, error_body
from groundtune.serve.streaming import sse_events


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def create_app(deployment: Deployment, *, api_key: str | None = None) -> FastAPI:
    """The ASGI app; every /v1 route requires `Authorization: Bearer <api_key>` when a key is set."""
    app = FastAPI(title="groundtune grounded serving", version=__version__)
    app.state.deployment = deployment

    @app.middleware("http")
    async def request_id_and_auth(request: Request, call_next: Any) -> Any:
        rid = request.headers.get("x-request-id") or f"req_{uuid.uuid4().hex[:16]}"
        if api_key and request.url.path.startswith("/v1"):
            given = request.headers.get("authorization", "")
            token = given[7:] if given.lower().startswith("bearer ") else ""
            if not secrets.compare_digest(token.encode(), api_key.encode()):
                body = error_body(
                    "missing or invalid API key: send 'Authorization: Bearer <key>'",
                    "authentication_error",
                    "invalid_api_key",
                )
                return _error(401, body, {"x-request-id": rid})
        response = await call_next(request)
        response.headers["x-request-id"] = rid
        return response

    @app.exception_handler(GroundtuneError)
    async def groundtune_error(request: Request, exc: GroundtuneError) -> JSONResponse:
        headers = (
            {"Retry-After": str(math.ceil(exc.retry_after))} if isinstance(exc, RateLimitError) else None
        )
        return _error(exc.status, error_body(str(exc), exc.type, exc.code), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
        return _error(400, error_body(message, "invalid_request_error", "invalid_value", param))

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

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [c.model_dump() for c in deployment.models()]}

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(body: ChatCompletionRequest) -> ChatCompletion | StreamingResponse:
        if body.stream:
            prepared = deployment.prepare(body)  # bad input fails as a plain 400, before the stream opens
            return StreamingResponse(sse_events(deployment, prepared), media_type="text/event-stream")
        return deployment.complete(body)

    @app.post("/v1/adapters")
    def load_adapter(body: AdapterLoad) -> ModelCard:
        return deployment.load_adapter(body.name, body.path)

    @app.delete("/v1/adapters/{name}")
    def unload_adapter(name: str) -> dict[str, Any]:
        deployment.unload_adapter(name)
        return {"id": name, "object": "model", "deleted": True}

    return app
