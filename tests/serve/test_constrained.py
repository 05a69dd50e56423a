"""Served replies are decoded within the grounding grammar by default (quotes verbatim, only the
request's documents named), and say so; `constrained=False` serves free decoding."""

from __future__ import annotations

from groundtune.core.schemas import ContextDocument
from groundtune.grounding import get_format, verify_quotes
from groundtune.serve.schemas import ChatCompletionRequest
from tests.serve.live import deployment_for

DOCS = [
    {"title": "Warranty", "text": "The warranty lasts 24 months from purchase."},
    {"title": "Batteries", "text": "Batteries are covered for 12 months."},
]


def _request() -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {
            "model": "tiny-random-gemma3",
            "messages": [{"role": "user", "content": "How long is the warranty?"}],
            "max_tokens": 40,
            "temperature": 0,
            "documents": DOCS,
        }
    )


def test_served_replies_are_constrained_unless_switched_off() -> None:
    docs = [ContextDocument(title=d["title"], text=d["text"]) for d in DOCS]
    fmt = get_format("cited")
    on = deployment_for({})
    off = deployment_for({}, constrained=False)
    try:
        prepared = on.prepare(_request())
        assert (
            prepared.generation.constraint == fmt.constraint(docs) and prepared.generation.config.constrained
        )
        result = on.generate(prepared)
        message = on.message(prepared, result)
        assert message.context.constrained
        parsed = fmt.parse(result.text, docs)
        assert "document_out_of_range" not in parsed.violations, (
            result.text
        )  # (a length cut may end it early)
        assert all(verify_quotes(parsed, docs)) and set(parsed.relevant) <= {1, 2}
        assert all(c.quote is None or c.quote_verified for c in message.context.citations)

        free = off.complete(_request())
        assert not free.choices[0].message.context.constrained
    finally:
        on.scheduler.close()
        off.scheduler.close()
