"""The OpenAI chat-completions shapes groundtune's servers speak, plus its two extensions:
`documents` on the request (bring your own retrieval) and `context` on the assistant message (the
citations, the relevant documents, the refusal flag and what was retrieved). The servers (serve/,
platform/api) answer with them and the SDK reads them. Pydantic only.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class RequestDocument(BaseModel):
    """A document the caller retrieved itself."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    text: str
    id: str | None = None
    source: str | None = None


class ChatCompletionRequest(BaseModel):
    """What the server accepts (unknown OpenAI fields are tolerated and ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)
    documents: list[RequestDocument] | None = None


class Citation(BaseModel):
    """One cited document: where it came from and the evidence the model quoted from it."""

    index: int = Field(description="The document's number [n] in the prompt.")
    document_id: str | None = None
    chunk_id: str | None = None
    title: str
    source: str | None = None
    quote: str | None = None
    quote_verified: bool = False
    score: float | None = None


class RetrievedDoc(BaseModel):
    """A document the model saw, as numbered in its prompt."""

    index: int
    document_id: str | None = None
    chunk_id: str | None = None
    title: str
    source: str | None = None
    score: float | None = None
    text: str


class GroundingContext(BaseModel):
    citations: list[Citation] = Field(default_factory=list)
    relevant: list[int] = Field(default_factory=list)
    refusal: bool = False
    retrieved: list[RetrievedDoc] = Field(default_factory=list)
    grounding_format: str
    retriever_hash: str | None = None
    warnings: list[str] = Field(default_factory=list)
    uncertainty: float | None = Field(
        default=None,
        description="Mean entropy (nats) over the answer's tokens; None when the backend cannot tell.",
    )
    answerability: float | None = Field(
        default=None,
        description="How well the documents could answer the question, as the model's calibration reads "
        "it: the best sentence's match (0..1), or under a weighted gate the log-odds its features give "
        "that they answer it; None when the calibration reads no documents.",
    )
    constrained: bool = Field(
        default=False,
        description="Whether the reply was decoded within the grounding grammar (quotes verbatim from "
        "their document, only prompt documents named).",
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    context: GroundingContext


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "groundtune"
    kind: Literal["base", "adapter"]
    grounding_format: str
    retriever_hash: str | None = None
    calibration: str | None = Field(default=None, description="The calibration it abstains with, if any.")
    abstention: str = Field(default="", description="Whether and when it abstains, in one sentence.")
    warnings: list[str] = Field(default_factory=list)
