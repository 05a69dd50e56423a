"""Relevance labelling: does a chunk answer a QA pair? Every label records its reason.

Gold chunk ids decide when given; gold document ids decide together with evidence (a long gold
document may be split into chunks that do not all hold the answer); otherwise normalised
containment of gold evidence or of an answer. A non-gold chunk that nevertheless contains the
answer is *ambiguous*: it is used neither as relevant nor as a distractor, because training the
model to ignore a document that answers the question would teach it the wrong thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundtune.core.schemas import Chunk
from groundtune.data.sources import QAPair
from groundtune.grounding.quotes import contains_answer

RELEVANT, IRRELEVANT, AMBIGUOUS = "relevant", "irrelevant", "ambiguous"

# Evidence shorter than this many characters is too generic to mark a chunk relevant on its own.
MIN_EVIDENCE_CHARS = 3


@dataclass(frozen=True)
class Label:
    """The label of one chunk for one question, with the reason it was given."""

    verdict: str  # RELEVANT, IRRELEVANT or AMBIGUOUS
    reason: str

    @property
    def relevant(self) -> bool:
        return self.verdict == RELEVANT


def evidence_in(text: str, pair: QAPair) -> str | None:
    """Which kind of evidence `text` holds for the pair ("gold_evidence", "answer"), or None."""
    for ev in pair.gold_evidence:
        if len(ev.strip()) >= MIN_EVIDENCE_CHARS and contains_answer(text, ev):
            return "gold_evidence"
    for ans in pair.answers:
        if len(ans.strip()) >= 1 and contains_answer(text, ans):
            return "answer"
    return None


def label_chunk(chunk: Chunk, pair: QAPair) -> Label:
    """Label `chunk` for `pair` (see the module docstring for the rules and their order)."""
    if not pair.answerable:
        return Label(IRRELEVANT, "question_unanswerable")
    found = evidence_in(chunk.text, pair)
    if pair.gold_chunk_ids:
        if chunk.id in pair.gold_chunk_ids:
            return Label(RELEVANT, "gold_chunk_id" + (f"+{found}" if found else ""))
        return Label(AMBIGUOUS, f"non_gold_chunk_with_{found}") if found else Label(IRRELEVANT, "not_gold")
    if pair.gold_doc_ids:
        if chunk.doc_id in pair.gold_doc_ids:
            if found:
                return Label(RELEVANT, f"gold_doc_id+{found}")
            if not pair.answers and not pair.gold_evidence:
                return Label(RELEVANT, "gold_doc_id")
            return Label(IRRELEVANT, "gold_doc_chunk_without_evidence")
        return Label(AMBIGUOUS, f"non_gold_doc_with_{found}") if found else Label(IRRELEVANT, "not_gold")
    if found:
        return Label(RELEVANT, f"{found}_match")
    return Label(IRRELEVANT, "no_evidence")
