"""What `groundtune data preview` (and the UI's dataset page) shows for one example: its documents
marked relevant or distractor with the labelling reason, and the example's tokens split into
prompt (not trained) and completion (trained). Returns plain data; printing is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from groundtune.core.schemas import Example
from groundtune.data.tokens import TokenCounter


@dataclass
class PreviewDocument:
    number: int
    title: str
    text: str
    relevant: bool
    reason: str
    doc_id: str | None
    chunk_id: str | None


@dataclass
class Preview:
    example_id: str
    split: str | None
    question: str
    refusal: bool
    documents: list[PreviewDocument]
    completion: str
    pieces: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def trained_tokens(self) -> int:
        return sum(1 for _, trained in self.pieces if trained)

    @property
    def prompt_tokens(self) -> int:
        return sum(1 for _, trained in self.pieces if not trained)

    def to_dict(self) -> dict[str, Any]:
        return {
            "example_id": self.example_id,
            "split": self.split,
            "question": self.question,
            "refusal": self.refusal,
            "documents": [d.__dict__ for d in self.documents],
            "completion": self.completion,
            "prompt_tokens": self.prompt_tokens,
            "trained_tokens": self.trained_tokens,
            "pieces": [{"text": t, "trained": tr} for t, tr in self.pieces],
        }


def preview_example(example: Example, counter: TokenCounter | None = None) -> Preview:
    """The preview of one example; token pieces only when a counter (tokenizer) is given."""
    docs = [
        PreviewDocument(
            number=n,
            title=d.title,
            text=d.text,
            relevant=bool(d.relevant),
            reason=d.label_reason or "",
            doc_id=d.doc_id,
            chunk_id=d.chunk_id,
        )
        for n, d in enumerate(example.documents, start=1)
    ]
    pieces = counter.trained_pieces(example.prompt, example.completion) if counter else []
    return Preview(
        example.id, example.split, example.question, example.target.refusal, docs, example.completion, pieces
    )
