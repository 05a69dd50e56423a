"""Target answers for a planned context: which documents are relevant, the verbatim quote taken from
each, and a short answer citing them.

Quotes are cut from the context document's own text (the gold evidence sentence, else the sentence
holding the answer), so they are verbatim by construction; validation still checks them. Refusal
targets come from the grounding format. This module does not render text.
"""

from __future__ import annotations

from collections.abc import Sequence

from groundtune.core.schemas import ContextDocument, GroundedAnswer, Quote
from groundtune.data.sources import QAPair
from groundtune.grounding.citations import cite
from groundtune.grounding.quotes import find_answer, find_verbatim, sentence_spans, strip_span

SHORT_ANSWER_WORDS = 12


def _window(text: str, span: tuple[int, int], max_chars: int) -> tuple[int, int]:
    """Shrink `span` (a sentence) to at most `max_chars` around its middle, on word boundaries."""
    start, end = span
    if end - start <= max_chars:
        return span
    mid = (start + end) // 2
    lo, hi = max(start, mid - max_chars // 2), min(end, mid + max_chars // 2)
    while lo > start and not text[lo - 1].isspace():
        lo += 1
    while hi < end and not text[hi].isspace():
        hi -= 1
    return strip_span(text, lo, hi) if hi > lo else span


def quote_for(text: str, pair: QAPair, *, max_quotes: int = 2, max_chars: int = 300) -> list[str]:
    """Verbatim quotes from `text` supporting the pair's answer: gold evidence spans first, else the
    sentence that holds an answer (narrowed around the answer when longer than `max_chars`)."""
    quotes: list[str] = []
    for ev in pair.gold_evidence:
        span = find_verbatim(ev, text)
        if span and text[span[0] : span[1]] not in quotes:
            quotes.append(text[span[0] : span[1]])
        if len(quotes) >= max_quotes:
            return quotes
    if quotes:
        return quotes
    for ans in pair.answers:
        hit = find_answer(ans, text)
        if hit is None:
            continue
        for sent in sentence_spans(text):
            if sent[0] <= hit[0] and hit[1] <= sent[1]:
                lo, hi = _window(text, sent, max_chars)
                if not (lo <= hit[0] and hit[1] <= hi):  # keep the answer inside the window
                    lo, hi = strip_span(
                        text, max(sent[0], hit[0] - max_chars // 2), min(sent[1], hit[1] + max_chars // 2)
                    )
                return [text[lo:hi]]
        return [text[hit[0] : hit[1]]]
    return []


def _answer_text(pair: QAPair, documents: Sequence[ContextDocument], relevant: Sequence[int]) -> str:
    """The answer as written in the target: a short answer takes the document's own surface form."""
    answer = pair.answer.strip()
    if len(answer.split()) <= SHORT_ANSWER_WORDS:
        for n in relevant:
            text = documents[n - 1].text
            hit = find_answer(answer, text)
            if hit:
                return text[hit[0] : hit[1]]
    return answer


def _with_citations(answer: str, citations: Sequence[int]) -> str:
    """`answer [2][4].`: markers before the final full stop, one full stop at the end."""
    marks = "".join(cite(n) for n in citations)
    body = answer.rstrip()
    if body.endswith("."):
        body = body[:-1].rstrip()
    return f"{body} {marks}." if marks else f"{body}."


def build_target(
    pair: QAPair,
    documents: Sequence[ContextDocument],
    *,
    max_quotes_per_doc: int = 2,
    max_quote_chars: int = 300,
) -> GroundedAnswer:
    """The target for an answerable context: documents flagged `relevant` are cited and quoted.

    With no relevant document the caller should use the format's refusal target instead.
    """
    relevant = [n for n, doc in enumerate(documents, start=1) if doc.relevant]
    quotes = [
        Quote(doc=n, text=q)
        for n in relevant
        for q in quote_for(
            documents[n - 1].text, pair, max_quotes=max_quotes_per_doc, max_chars=max_quote_chars
        )
    ]
    # Cite the documents that yielded a quote; fall back to all relevant ones (gold id, no evidence).
    citations = sorted({q.doc for q in quotes}) or relevant
    answer = _with_citations(_answer_text(pair, documents, relevant), citations)
    return GroundedAnswer(relevant=relevant, quotes=quotes, answer=answer, citations=citations)
