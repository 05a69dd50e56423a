"""The `raft-cot` style (RAFT chain of thought): reasoning that names the relevant documents and quotes
them between `##begin_quote##` and `##end_quote##`, then a final `Answer:` line.

    Reasoning: Documents [2], [4] are relevant. Document [2] says ##begin_quote##...##end_quote##. <why>
    Answer: The warranty lasts 24 months [2].
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from groundtune.core.schemas import ContextDocument, GroundedAnswer, Quote
from groundtune.grounding.citations import MARKER, cite, cite_list, find_citations, out_of_range
from groundtune.grounding.cited import REFUSAL, append_missing_citations
from groundtune.grounding.format import GroundingFormat
from groundtune.grounding.quotes import normalize_whitespace

BEGIN, END = "##begin_quote##", "##end_quote##"
NONE_RELEVANT = "None of the documents is relevant."

_ANSWER = re.compile(r"^[\s*#<>_-]*(?:final\s+)?answer[\s*_>]*:(.*)$", re.IGNORECASE)
_REASON_LABEL = re.compile(r"^[\s*#_-]*reason(?:ing)?[\s*_]*:\s*", re.IGNORECASE)
_QUOTE = re.compile(re.escape(BEGIN) + r"(.*?)(" + re.escape(END) + r"|$)", re.DOTALL)
# The templated parts of the reasoning, removed to recover the free-text reasoning.
_RELEVANCE_SENTENCE = re.compile(
    r"^\s*(?:" + re.escape(NONE_RELEVANT) + r"|Documents?\s+(?:\[\d+\](?:,\s*)?)+\s+(?:is|are)\s+relevant\.)",
    re.IGNORECASE,
)
_QUOTE_SENTENCE = re.compile(
    r"\s*Document\s+\[\d+\]\s+says\s+" + re.escape(BEGIN) + r".*?" + re.escape(END) + r"\.", re.DOTALL
)
_NO_DOCUMENT = re.compile(r"\b(none of the documents|no document|no relevant)\b", re.IGNORECASE)


def _relevance_sentence(relevant: Sequence[int]) -> str:
    if not relevant:
        return NONE_RELEVANT
    if len(relevant) == 1:
        return f"Document {cite(relevant[0])} is relevant."
    return f"Documents {cite_list(relevant)} are relevant."


class RaftCotFormat(GroundingFormat):
    id = "raft-cot"
    version = "1"
    refusal = REFUSAL
    instruction = (
        "Answer from the documents below only. First reason: say which documents [n] answer the "
        f"question and copy their exact words between {BEGIN} and {END}. Then write "
        f'"Answer:" citing [n]. If no document answers it, write "Answer: {REFUSAL}"'
    )

    def render_target(self, target: GroundedAnswer, documents: Sequence[ContextDocument] = ()) -> str:
        relevant = [] if target.refusal else target.relevant
        parts = [_relevance_sentence(relevant)]
        if not target.refusal:
            parts += [
                f"Document {cite(q.doc)} says {BEGIN}{normalize_whitespace(q.text)}{END}."
                for q in target.quotes
            ]
        if target.reasoning and target.reasoning.strip():
            parts.append(normalize_whitespace(target.reasoning))
        if target.refusal:
            answer = self.refusal
        else:
            answer = append_missing_citations(normalize_whitespace(target.answer), target.citations)
        return f"Reasoning: {' '.join(parts)}\nAnswer: {answer}"

    def parse(self, text: str, documents: Sequence[ContextDocument] | None = None) -> GroundedAnswer:
        text = (text or "").strip()
        if not text:
            return GroundedAnswer(format_ok=False, violations=["empty"])
        violations: list[str] = []
        lines = text.splitlines()
        answer_at = max((i for i, line in enumerate(lines) if _ANSWER.match(line)), default=None)
        if answer_at is None:
            violations.append("missing_answer")
            reasoning_text, answer = text, ""
        else:
            match = _ANSWER.match(lines[answer_at])
            assert match is not None
            reasoning_text = "\n".join(lines[:answer_at])
            answer = "\n".join([match.group(1), *lines[answer_at + 1 :]]).strip()
        label = _REASON_LABEL.match(reasoning_text)
        reasoning_text = reasoning_text[label.end() :] if label else reasoning_text
        if not label and reasoning_text.strip():
            violations.append("missing_reasoning_label")

        quotes: list[Quote] = []
        for match in _QUOTE.finditer(reasoning_text):
            before = list(MARKER.finditer(reasoning_text, 0, match.start()))
            doc = int(re.split(r"[,;]", before[-1].group(1))[-1]) if before else 0
            if not before:
                violations.append("quote_without_document")
            if not match.group(2):
                violations.append("unterminated_quote")
            quotes.append(Quote(doc=doc, text=normalize_whitespace(match.group(1))))

        relevant = self._relevant(reasoning_text, quotes, violations)
        free = _QUOTE_SENTENCE.sub("", _RELEVANCE_SENTENCE.sub("", reasoning_text, count=1)).strip()
        citations = find_citations(answer)
        n_docs = None if documents is None else len(documents)
        if out_of_range(relevant + [q.doc for q in quotes] + citations, n_docs) or any(
            q.doc == 0 for q in quotes
        ):
            violations.append("document_out_of_range")
        return GroundedAnswer(
            relevant=relevant,
            quotes=quotes,
            answer=answer,
            citations=citations,
            refusal=bool(answer) and self.is_refusal(answer),
            reasoning=normalize_whitespace(free) or None,
            format_ok=not violations,
            violations=violations,
        )

    @staticmethod
    def _relevant(reasoning: str, quotes: list[Quote], violations: list[str]) -> list[int]:
        """Documents named in the first sentence that speaks of relevance, else the quoted ones."""
        outside_quotes = _QUOTE.sub(" ", reasoning)
        for sentence in re.split(r"(?<=[.!?])\s+", outside_quotes):
            if "relevant" in sentence.lower():
                if _NO_DOCUMENT.search(sentence):
                    return []
                return find_citations(sentence)
        violations.append("missing_relevant")
        seen: list[int] = []
        for q in quotes:
            if q.doc and q.doc not in seen:
                seen.append(q.doc)
        return seen
