"""The `answer-only` style: just the answer with `[n]` citations, or the refusal sentence.

The shortest target (an ablation and a cheap baseline); relevance is read off the citations and no
quotes are produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from groundtune.core.schemas import ContextDocument, GroundedAnswer
from groundtune.grounding.citations import find_citations, out_of_range
from groundtune.grounding.cited import REFUSAL, append_missing_citations
from groundtune.grounding.format import GroundingFormat
from groundtune.grounding.quotes import normalize_whitespace

if TYPE_CHECKING:
    from groundtune.grounding.constraint import ReplyGrammar


class AnswerOnlyFormat(GroundingFormat):
    id = "answer-only"
    version = "1"
    refusal = REFUSAL
    instruction = (
        "Answer from the documents below only, citing them as [n]. "
        f'If no document answers it, reply "{REFUSAL}"'
    )

    def render_target(self, target: GroundedAnswer, documents: Sequence[ContextDocument] = ()) -> str:
        if target.refusal:
            return self.refusal
        return append_missing_citations(normalize_whitespace(target.answer), target.citations)

    def grammar(
        self,
        documents: Sequence[str],
        *,
        must_answer: bool = False,
        listable: Sequence[int] | None = None,
        list_all: bool = False,
    ) -> ReplyGrammar:
        """Free answer text whose `[n]` markers name prompt documents (`must_answer`, `listable` and
        `list_all` have no hold on free text)."""
        from groundtune.grounding.constraint import ReplyGrammar

        return ReplyGrammar(documents, fields=False)

    def parse(self, text: str, documents: Sequence[ContextDocument] | None = None) -> GroundedAnswer:
        answer = (text or "").strip()
        if not answer:
            return GroundedAnswer(format_ok=False, violations=["empty"])
        citations = find_citations(answer)
        refusal = self.is_refusal(answer)
        violations = []
        if out_of_range(citations, None if documents is None else len(documents)):
            violations.append("document_out_of_range")
        if not refusal and not citations:
            violations.append("missing_citation")
        return GroundedAnswer(
            relevant=[] if refusal else list(citations),
            answer=answer,
            citations=citations,
            refusal=refusal,
            format_ok=not violations,
            violations=violations,
        )
