"""What callers hand to any generation backend and what they get back.

`GenerationRequest.prompt` is the user-turn content the grounding format rendered, after any earlier
exchanges in `history`; backends wrap them (the in-process engine with the model's `PromptLayout`,
an OpenAI-compatible server with its chat template). A request may carry the grounding format's
`ReplyConstraint` (style and document texts), which the in-process engine decodes within; nothing
here knows torch, HTTP or how the format writes a reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from groundtune.grounding.constraint import ReplyConstraint


class GenerationConfig(BaseModel):
    """Decoding settings for one request (the same names the OpenAI API uses, where it has them)."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int = Field(default=256, ge=1, le=8192, description="Most tokens to generate.")
    temperature: float = Field(default=0.0, ge=0.0, le=5.0, description="0 means greedy decoding.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass (sampling only).")
    stop: list[str] = Field(
        default_factory=list, description="Strings that end generation; excluded from the text."
    )
    seed: int | None = Field(default=None, description="Seed for sampling; same seed, same text.")
    constrained: bool = Field(
        default=True,
        description="Decode within the request's `constraint` when it has one (quotes verbatim, only "
        "prompt documents named); False decodes freely.",
    )

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: list[str]) -> list[str]:
        if any(s == "" for s in value):
            raise ValueError("stop strings must be non-empty")
        return value

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


class GenerationRequest(BaseModel):
    """One prompt to complete, optionally through a named LoRA adapter (None = the base model)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(description="User-turn content (rendered by the grounding format).")
    history: list[tuple[str, str]] = Field(
        default_factory=list,
        description="Earlier (user turn, model turn) exchanges before `prompt`, oldest first: few-shot "
        "demonstrations (the grounding format's `few_shot_turns`).",
    )
    adapter: str | None = Field(default=None, description="Adapter name; None uses the base model.")
    config: GenerationConfig = Field(default_factory=GenerationConfig)
    constraint: ReplyConstraint | None = Field(
        default=None,
        description="The grounding grammar of the reply (`fmt.constraint(documents)`); used when "
        "`config.constrained`, by backends that can (the in-process engine).",
    )


FinishReason = Literal["stop", "length"]


class GenerationResult(BaseModel):
    """The completion of one request. `latency_s` runs from the start of its batch to its last token.
    Backends that cannot see the model's distribution leave `token_entropy` and `token_ends` empty."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    token_entropy: list[float] = Field(
        default_factory=list,
        description="Entropy (nats) of the model's distribution at each generated token.",
    )
    token_ends: list[int] = Field(
        default_factory=list, description="Where each generated token's text ends in `text` (characters)."
    )
    constrained: bool = Field(
        default=False, description="Whether the text was decoded within the request's constraint throughout."
    )


def gated_refusal(text: str) -> GenerationResult:
    """The result standing for a refusal an answerability gate gave instead of generating (`text`:
    the format's refusal reply); nothing was computed, so no tokens and no time."""
    return GenerationResult(
        text=text, finish_reason="stop", prompt_tokens=0, completion_tokens=0, latency_s=0.0
    )


Progress = Callable[[int], None]
"""Called with the number of requests that just finished (as the embedder's `progress` is)."""


class Backend(Protocol):
    """Anything that completes a list of requests in order: the in-process Engine, OpenAIBackend."""

    def generate(
        self, requests: list[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]: ...
