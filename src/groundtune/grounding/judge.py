"""Prompts for optional LLM-judge metrics (faithfulness to the documents, correctness against the
gold answer) and reading the judge's score back. They live here because every prompt groundtune
sends is rendered by the grounding module; evaluation decides when to use them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from groundtune.core.schemas import ContextDocument

JUDGE_KINDS = ("faithfulness", "correctness")
_SCORE = re.compile(r"score\s*[:=]?\s*([1-5])\b", re.IGNORECASE)

_FAITHFULNESS = """You are grading an answer for faithfulness to the documents it was given.
Score 5 if every claim in the answer is stated in the documents, 1 if the answer is unsupported or contradicts them.
A correct refusal ("the documents do not contain the answer") scores 5 when the documents indeed lack the answer.

Documents:
{documents}

Question: {question}
Answer: {answer}

Reply with one line: Score: <1-5>"""

_CORRECTNESS = """You are grading an answer against a reference answer.
Score 5 if the answer states the same fact as the reference, 1 if it is wrong or missing.

Question: {question}
Reference answer: {gold}
Answer: {answer}

Reply with one line: Score: <1-5>"""


def render_judge_prompt(
    kind: str, question: str, answer: str, documents: Sequence[ContextDocument] = (), gold: str = ""
) -> str:
    """The user turn sent to a judge model for one metric."""
    if kind == "faithfulness":
        docs = "\n\n".join(f"[{n}] {d.title}\n{d.text}" for n, d in enumerate(documents, start=1)) or "(none)"
        return _FAITHFULNESS.format(documents=docs, question=question, answer=answer)
    if kind == "correctness":
        return _CORRECTNESS.format(question=question, gold=gold, answer=answer)
    raise ValueError(f"unknown judge metric {kind!r}; use one of {JUDGE_KINDS}")


def parse_judge_score(text: str) -> float | None:
    """The judge's 1-5 score mapped to 0..1, or None when the reply holds no score."""
    match = _SCORE.search(text or "")
    return None if match is None else (int(match.group(1)) - 1) / 4
