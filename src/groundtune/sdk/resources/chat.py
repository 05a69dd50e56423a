"""`client.chat.completions.create` and `client.models.list`: the grounded chat endpoint of the
server's running deployments (OpenAI's shape; the assistant message carries `context` with the
citations, the relevant documents, the refusal flag and what was retrieved). Not streamed here: use
the `openai` package with `stream=True` for deltas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from groundtune.core.chat import ChatCompletion, ChatCompletionRequest, ModelCard
from groundtune.core.errors import InvalidInputError
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.resources._base import AsyncResource, SyncResource, body

COMPLETIONS = Route("POST", "/v1/chat/completions")
MODELS = Route("GET", "/v1/models")
HEALTH = Route("GET", "/health")


def _completion(
    model_name: str, messages: Sequence[Mapping[str, Any]], fields: dict[str, Any], timeout: Any
) -> Call[ChatCompletion]:
    if fields.get("stream"):
        raise InvalidInputError(
            "the SDK answers whole completions", hint="drop stream=True, or stream with the openai package"
        )
    request = body(ChatCompletionRequest, None, {"model": model_name, "messages": list(messages), **fields})
    return Call(
        COMPLETIONS,
        parse=model(ChatCompletion),
        json=request.model_dump(mode="json", exclude_none=True),
        timeout=timeout,
    )


def _models(response: httpx.Response) -> list[ModelCard]:
    return [ModelCard.model_validate(m) for m in response.json()["data"]]


def _health(response: httpx.Response) -> dict[str, Any]:
    data: dict[str, Any] = response.json()
    return data


class Completions(SyncResource):
    @COMPLETIONS
    def create(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], timeout: Any = DEFAULT, **fields: Any
    ) -> ChatCompletion:
        """A grounded answer: `documents=[{"title", "text"}]` brings its own context, otherwise the
        deployment retrieves from its KB. Other fields: max_tokens, temperature, seed, stop, ..."""
        return self._request(_completion(model, messages, fields, timeout))


class Chat(SyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.completions = Completions(client)


class Models(SyncResource):
    @MODELS
    def list(self, *, timeout: Any = DEFAULT) -> list[ModelCard]:
        """The models running deployments serve (base models and adapters)."""
        return self._request(Call(MODELS, parse=_models, timeout=timeout))


class AsyncCompletions(AsyncResource):
    @COMPLETIONS
    async def create(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], timeout: Any = DEFAULT, **fields: Any
    ) -> ChatCompletion:
        return await self._request(_completion(model, messages, fields, timeout))


class AsyncChat(AsyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.completions = AsyncCompletions(client)


class AsyncModels(AsyncResource):
    @MODELS
    async def list(self, *, timeout: Any = DEFAULT) -> list[ModelCard]:
        return await self._request(Call(MODELS, parse=_models, timeout=timeout))
