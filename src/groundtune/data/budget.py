"""Fit one planned example into the token budget: drop distractors first (random ones, then the
lowest-ranked hard negatives), then shorten relevant documents around their quotes, and never cut
the target. An example that still does not fit is dropped.

Works on rendered text through the grounding format and counts with the LM tokenizer; it does not
choose documents or write targets itself (it is handed a target builder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from groundtune.core.schemas import ContextDocument, GroundedAnswer
from groundtune.data.planning import RANDOM, Candidate
from groundtune.data.tokens import TokenCounter
from groundtune.grounding.format import GroundingFormat
from groundtune.grounding.quotes import find_verbatim

TargetBuilder = Callable[[list[ContextDocument]], GroundedAnswer]


@dataclass
class Fitted:
    """A rendered example that fits, with what fitting cost."""

    documents: list[ContextDocument]
    target: GroundedAnswer
    prompt: str
    completion: str
    prompt_tokens: int
    completion_tokens: int
    dropped_distractors: int = 0
    shortened: int = 0


def _drop_order(candidates: list[Candidate]) -> list[int]:
    """Indices of distractors in the order they are given up: random first, then worst-ranked hits."""
    distractors = [i for i, c in enumerate(candidates) if not c.label.relevant]
    return sorted(
        distractors,
        key=lambda i: (candidates[i].kind != RANDOM, -(candidates[i].rank or 10**9)),
    )


def _shorten(doc: ContextDocument, quotes: list[str], keep_chars: int) -> ContextDocument:
    """The document cut to its quoted spans plus up to `keep_chars` of context on each side."""
    spans = [s for s in (find_verbatim(q, doc.text) for q in quotes) if s]
    if not spans:
        return doc
    lo = max(0, min(s[0] for s in spans) - keep_chars)
    hi = min(len(doc.text), max(s[1] for s in spans) + keep_chars)
    # Snap to word boundaries so no word is cut in half.
    while lo > 0 and not doc.text[lo - 1].isspace() and lo < min(s[0] for s in spans):
        lo += 1
    while hi < len(doc.text) and not doc.text[hi].isspace() and hi > max(s[1] for s in spans):
        hi -= 1
    text = ("… " if lo > 0 else "") + doc.text[lo:hi].strip() + (" …" if hi < len(doc.text) else "")
    return doc.model_copy(update={"text": text, "label_reason": f"{doc.label_reason}+shortened"})


def fit_example(
    question: str,
    candidates: list[Candidate],
    build_target: TargetBuilder,
    fmt: GroundingFormat,
    counter: TokenCounter,
    max_tokens: int,
) -> Fitted | None:
    """Render the example within `max_tokens` (prompt + completion), or None when it cannot fit."""
    kept = list(range(len(candidates)))
    docs = [c.to_document() for c in candidates]
    dropped = shortened = 0

    def render(documents: list[ContextDocument]) -> Fitted:
        target = build_target(documents)
        prompt = fmt.render_prompt(question, documents)
        completion = fmt.render_target(target, documents)
        n_prompt, n_completion = counter.example(prompt, completion)
        return Fitted(documents, target, prompt, completion, n_prompt, n_completion)

    current = render(docs)
    for index in _drop_order(candidates):
        if current.prompt_tokens + current.completion_tokens <= max_tokens:
            break
        kept.remove(index)
        dropped += 1
        current = render([docs[i] for i in kept])
    keep_chars = 400
    while current.prompt_tokens + current.completion_tokens > max_tokens and keep_chars >= 0:
        documents = list(current.documents)
        quotes_by_doc: dict[int, list[str]] = {}
        for q in current.target.quotes:
            quotes_by_doc.setdefault(q.doc, []).append(q.text)
        changed = False
        for n, doc in enumerate(documents, start=1):
            if doc.relevant and quotes_by_doc.get(n):
                cut = _shorten(docs[kept[n - 1]], quotes_by_doc[n], keep_chars)
                changed |= cut.text != doc.text
                documents[n - 1] = cut
        if not changed and keep_chars == 0:
            break
        shortened = sum(1 for d in documents if d.label_reason and d.label_reason.endswith("+shortened"))
        current = render(documents)
        keep_chars = keep_chars // 2 if keep_chars > 25 else (0 if keep_chars > 0 else -1)
    if current.prompt_tokens + current.completion_tokens > max_tokens:
        return None
    current.dropped_distractors = dropped
    current.shortened = shortened
    return current
