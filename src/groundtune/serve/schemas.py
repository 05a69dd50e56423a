"""The chat-completions shapes the server speaks (defined in core/chat.py, shared with the SDK), and
`AdapterLoad`, the body of the standalone server's `POST /v1/adapters`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from groundtune.core.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    Citation,
    ContentPart,
    GroundingContext,
    ModelCard,
    RequestDocument,
    RetrievedDoc,
    Usage,
)

__all__ = [
    "AdapterLoad",
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionRequest",
    "ChatMessage",
    "Choice",
    "Citation",
    "ContentPart",
    "GroundingContext",
    "ModelCard",
    "RequestDocument",
    "RetrievedDoc",
    "Usage",
]


class AdapterLoad(BaseModel):
    """Body of `POST /v1/adapters`: load an adapter at run time."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    path: str
