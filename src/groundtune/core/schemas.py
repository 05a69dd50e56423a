"""The data contracts stages exchange (as pydantic models, stored as JSONL).

`Document` and `Chunk` come out of the knowledge base, `RetrievedChunk` out of THE retriever,
`ContextDocument`/`Example` out of data building, `GroundedAnswer` out of the grounding parser and
`EvalRecord` out of evaluation. docs/data-formats.md shows one JSON example of each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(_Model):
    """One source document (a file or a record) at one version."""

    id: str = Field(description="Stable document id (from the record's id field or the file path).")
    source: str = Field(description="Where it came from: a file path, URL or `records.jsonl#17`.")
    title: str
    text: str = Field(description="Parsed plain text; chunk spans index into it.")
    content_hash: str
    version: int = 1
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Chunk(_Model):
    """A retrievable span of one document version."""

    id: str = Field(
        description="Content hash of (document id, version, text, span): re-ingesting is idempotent."
    )
    doc_id: str
    doc_version: int = 1
    title: str
    heading_path: list[str] = Field(default_factory=list)
    text: str
    start: int = Field(description="Character offset of the chunk in Document.text.")
    end: int
    n_tokens: int = 0
    source: str = ""
    tags: list[str] = Field(default_factory=list)


class RetrievedChunk(_Model):
    """What THE retriever returns: a chunk with its fused score and rank (1-based)."""

    chunk: Chunk
    score: float
    rank: int
    dense_rank: int | None = None
    sparse_rank: int | None = None


class Quote(_Model):
    """A verbatim span quoted from context document number `doc` (1-based)."""

    doc: int
    text: str


class ContextDocument(_Model):
    """One numbered document as the model sees it in a prompt."""

    title: str
    text: str
    doc_id: str | None = None
    chunk_id: str | None = None
    source: str | None = None
    score: float | None = None
    relevant: bool | None = Field(
        default=None, description="Label for training/eval; never shown to the model."
    )
    label_reason: str | None = None


class GroundedAnswer(_Model):
    """Parsed model output (or a target before rendering). Document numbers are 1-based."""

    relevant: list[int] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    answer: str = ""
    citations: list[int] = Field(default_factory=list)
    refusal: bool = False
    reasoning: str | None = None
    format_ok: bool = True
    violations: list[str] = Field(default_factory=list)


class Example(_Model):
    """One training or evaluation example: a question, the context the retriever gave, and the target."""

    id: str
    question: str
    documents: list[ContextDocument]
    answer: str = Field(default="", description="Gold short answer ('' when unanswerable).")
    answerable: bool = True
    target: GroundedAnswer = Field(default_factory=GroundedAnswer)
    prompt: str = Field(default="", description="Rendered by the grounding format (user turn content).")
    completion: str = Field(default="", description="Rendered target (assistant turn content).")
    style: str = "cited"
    gold_evidence: list[str] = Field(default_factory=list)
    source_doc_ids: list[str] = Field(
        default_factory=list, description="Documents the question is about (for splits)."
    )
    split: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class EvalRecord(_Model):
    """One model's output on one example, with its parsed form and per-item metrics."""

    example_id: str
    model: str
    prompt: str
    output: str
    parsed: GroundedAnswer
    metrics: dict[str, float | None] = Field(default_factory=dict)
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    uncertainty: float | None = None  # mean entropy (nats) over the answer's tokens, when known
    answerability: float | None = None  # what the gate read (`abstention.gated_score`)
    document_scores: list[float] | None = None  # each document's own answerability, in prompt order
    raw_output: str | None = None  # the model's own reply when abstention replaced it by a refusal
    constrained: bool = False  # decoded within the grounding grammar (verbatim quotes, prompt documents)
