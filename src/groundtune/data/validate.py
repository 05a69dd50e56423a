"""Validation of built examples: verbatim quotes, supervised tokens, answerability re-checked on the
actual context, duplicates. Returns the reason an example is rejected (or None); counting is the
report's job (report.py).
"""

from __future__ import annotations

from groundtune.core.schemas import Example
from groundtune.data.labelling import evidence_in
from groundtune.data.sources import QAPair
from groundtune.grounding.quotes import normalize_answer, verify_quotes


def check_example(example: Example, pair: QAPair, completion_tokens: int) -> str | None:
    """Why `example` must be rejected, or None when it is sound."""
    if not example.completion.strip() or completion_tokens <= 0:
        return "no_supervised_tokens"
    if not all(verify_quotes(example.target, example.documents)):
        return "quote_not_verbatim"
    docs = example.documents
    if example.target.refusal:
        # A refusal is only right if nothing shown answers the question.
        if pair.answerable and any(evidence_in(d.text, pair) for d in docs):
            return "refusal_but_context_has_answer"
        return None
    relevant = [docs[n - 1] for n in example.target.relevant if 1 <= n <= len(docs)]
    if not relevant:
        return "answerable_without_relevant_document"
    has_evidence_fields = bool(pair.answers or pair.gold_evidence)
    if has_evidence_fields and not any(evidence_in(d.text, pair) for d in relevant):
        return "answerable_but_context_lacks_evidence"
    return None


def has_verified_quote(example: Example) -> bool:
    """An answerable example whose target holds at least one quote, all verbatim in their documents."""
    checks = verify_quotes(example.target, example.documents)
    return bool(checks) and all(checks)


def duplicate_key(example: Example) -> tuple[str, tuple[str, ...], str]:
    """Examples with the same question, the same documents in the same order and the same target
    are duplicates."""
    doc_keys = tuple(d.chunk_id or normalize_answer(d.text)[:200] for d in example.documents)
    return normalize_answer(example.question), doc_keys, example.completion
