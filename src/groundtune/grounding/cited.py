"""The default `cited` style: `Relevant:` / `Quote [n]:` / `Answer:` lines, `[n]` citations.

    Relevant: [2], [4]
    Quote [2]: "verbatim span from document 2"
    Answer: The warranty lasts 24 months [2].

One line per field keeps the target easy for a small model to learn and to parse back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from groundtune.core.schemas import ContextDocument, GroundedAnswer, Quote
from groundtune.grounding.citations import cite, cite_list, find_citations, out_of_range, parse_number_list
from groundtune.grounding.format import GroundingFormat
from groundtune.grounding.quotes import normalize_whitespace

if TYPE_CHECKING:
    from groundtune.grounding.constraint import ReplyGrammar

REFUSAL = "The documents do not contain the answer."
# The written form of each field (the parser below reads looser variants; constraint.py writes these).
RELEVANT = "Relevant: "
NONE = "none"
QUOTE_MARK = '"'
ANSWER = "Answer: "


def quote_opening(n: int) -> str:
    """How a quote from document n opens: `Quote [n]: "`."""
    return f"Quote {cite(n)}: {QUOTE_MARK}"


# A field label at the start of a line, tolerating markdown decoration (`**Answer:**`, `- Quote 2:`).
_LABEL = re.compile(r"^[\s*#>_-]*(relevant|quotes?|answer)\b[\s*_:]*(.*)$", re.IGNORECASE)
_QUOTE_HEAD = re.compile(r"^(?:\[\s*(\d+)\s*\]|(\d+))?[\s*_]*:?[\s*_]*(.*)$")
_RELEVANT_VALUE = re.compile(r"^Relevant: (.+)$", re.MULTILINE)
_NONE = re.compile(r"^\W*(none|no|n/a|nothing)\b", re.IGNORECASE)


def append_missing_citations(answer: str, citations: Sequence[int]) -> str:
    """The answer text with any citation not already written in it appended as `[n]` markers."""
    missing = [n for n in citations if n not in find_citations(answer)]
    if not missing:
        return answer
    return f"{answer} {''.join(cite(n) for n in missing)}".strip()


class CitedFormat(GroundingFormat):
    id = "cited"
    version = "1"
    refusal = REFUSAL
    instruction = (
        'Answer from the documents below only. Reply "Relevant:" with the numbers of the documents '
        'that answer the question, "Quote [n]:" with exact words from document n, then "Answer:" '
        f'citing [n]. If no document answers it, reply "Relevant: none" and "Answer: {REFUSAL}"'
    )

    def render_target(self, target: GroundedAnswer, documents: Sequence[ContextDocument] = ()) -> str:
        if target.refusal:
            return f"{RELEVANT}{NONE}\n{ANSWER}{self.refusal}"
        lines = [f"{RELEVANT}{cite_list(target.relevant) if target.relevant else NONE}"]
        lines += [f"{quote_opening(q.doc)}{normalize_whitespace(q.text)}{QUOTE_MARK}" for q in target.quotes]
        answer = append_missing_citations(target.answer.strip(), target.citations)
        lines.append(f"{ANSWER}{answer}")
        return "\n".join(lines)

    def grammar(
        self,
        documents: Sequence[str],
        *,
        must_answer: bool = False,
        listable: Sequence[int] | None = None,
        list_all: bool = False,
    ) -> ReplyGrammar:
        """Relevant line naming `listable` documents (None: any), one or more verbatim quotes of listed
        documents, answer citing listed ones; `must_answer` leaves `Relevant: none` out; `list_all`
        names every listable document."""
        from groundtune.grounding.constraint import ReplyGrammar

        return ReplyGrammar(documents, must_answer=must_answer, listable=listable, list_all=list_all)

    def decision_spans(self, completion: str) -> list[tuple[int, int]]:
        """The shared spans plus the whole `Relevant:` value, where `none` is the refusal decision."""
        spans = super().decision_spans(completion)
        relevant = _RELEVANT_VALUE.search(completion)
        if relevant:
            spans.append(relevant.span(1))
        return sorted(spans)

    def parse(self, text: str, documents: Sequence[ContextDocument] | None = None) -> GroundedAnswer:
        violations: list[str] = []
        relevant: list[int] | None = None
        quotes: list[Quote] = []
        answer_lines: list[str] | None = None
        open_quote: list[str] | None = None  # a quote whose closing mark has not come yet
        stray = False

        for line in (text or "").strip().splitlines():
            label = _LABEL.match(line)
            if label:
                field, rest = label.group(1).lower(), label.group(2).strip()
                if open_quote is not None:
                    violations.append("unterminated_quote")
                open_quote = None
                if field == "relevant":
                    if relevant is not None:
                        violations.append("repeated_relevant")
                    relevant = [] if _NONE.match(rest) else parse_number_list(rest)
                elif field.startswith("quote"):
                    quote, open_quote = self._read_quote(rest, violations)
                    quotes.append(quote)
                elif answer_lines is None:
                    answer_lines = [rest]
                else:
                    violations.append("repeated_answer")
                    answer_lines.append(rest)
            elif answer_lines is not None:
                answer_lines.append(line)
            elif open_quote is not None:
                open_quote.append(line.strip())
                body = " ".join(open_quote)
                closed = body.endswith('"')
                quotes[-1] = Quote(doc=quotes[-1].doc, text=body[:-1].strip() if closed else body)
                if closed:
                    open_quote = None
            elif line.strip():
                stray = True

        if stray:
            violations.append("unexpected_text")
        if open_quote is not None:
            violations.append("unterminated_quote")
        if relevant is None and answer_lines is None and not quotes:
            # Nothing structured at all: keep the whole reply as the answer so metrics can still read it.
            violations = ["no_structure"]
            answer = normalize_whitespace(text or "")
            relevant = []
        else:
            if relevant is None:
                violations.append("missing_relevant")
                relevant = []
            if answer_lines is None:
                violations.append("missing_answer")
            answer = "\n".join(answer_lines or []).strip()
        if not (text or "").strip():
            violations = ["empty"]

        citations = find_citations(answer)
        n_docs = None if documents is None else len(documents)
        referenced = relevant + [q.doc for q in quotes] + citations
        if out_of_range(referenced, n_docs) or any(q.doc == 0 for q in quotes):
            violations.append("document_out_of_range")
        refusal = bool(answer) and self.is_refusal(answer)
        return GroundedAnswer(
            relevant=relevant,
            quotes=quotes,
            answer=answer,
            citations=citations,
            refusal=refusal,
            format_ok=not violations,
            violations=violations,
        )

    @staticmethod
    def _read_quote(rest: str, violations: list[str]) -> tuple[Quote, list[str] | None]:
        """One `Quote [n]: "..."` line; returns the quote and, if its closing mark is missing, the
        open buffer that following lines continue."""
        head = _QUOTE_HEAD.match(rest)
        assert head is not None  # the pattern accepts any string
        number = head.group(1) or head.group(2)
        body = head.group(3).strip()
        if number is None:
            violations.append("quote_without_document")
        doc = int(number) if number else 0
        if body.startswith('"'):
            inner = body[1:]
            if inner.endswith('"'):
                return Quote(doc=doc, text=inner[:-1].strip()), None
            return Quote(doc=doc, text=inner.strip()), [inner.strip()]
        violations.append("unquoted_quote")
        return Quote(doc=doc, text=body), None
