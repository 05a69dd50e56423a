"""Support for free-form answers: which chunk of a named gold document backs an answer that is not
written verbatim in it, and which of its sentences to quote.

Real QA pairs name their gold document but phrase the answer in their own words ("the fee is waived
for members", "Revenue grew because of cloud demand"), so verbatim matching finds nothing. A
sentence supports an answer by how much of the answer's content words it holds (lexical recall) and
by meaning (cosine of sentence embeddings, when an embedder is given); the question's words count a
little, to break ties between sentences that hold the same answer words. It knows nothing of
retrieval or prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from groundtune.data.sources import QAPair
from groundtune.grounding.answerability import Embed, content_words

# A chunk supports a free-form answer when its best sentence scores at least this much (0..1).
MIN_SUPPORT = 0.35
# Share of the score from meaning rather than words. On ClapNQ dev (300 answerable questions, evidence
# hidden) the chosen sentence is one the annotators selected for 89.7% with words alone and 89.3% with
# all-MiniLM-L6-v2 at this weight: its answers reuse the passage's words; paraphrased answers need it.
DENSE_WEIGHT = 0.35


def _recall(needle: set[str], hay: set[str]) -> float:
    return len(needle & hay) / len(needle) if needle else 0.0


@dataclass(frozen=True)
class Support:
    """How well a text backs an answer: its score and its best sentence's span."""

    score: float
    span: tuple[int, int]


def best_support(
    text: str, pair: QAPair, spans: Sequence[tuple[int, int]], embed: Embed | None = None
) -> Support | None:
    """The sentence of `text` (among `spans`) that best supports the pair's answers, or None."""
    answers = [a for a in pair.answers if a.strip()]
    if not spans or not answers:
        return None
    answer_words = [content_words(a) for a in answers]
    question_words = content_words(pair.question)
    sentences = [text[a:b] for a, b in spans]
    lexical = []
    for sentence in sentences:
        words = content_words(sentence)
        answer_recall = max(_recall(aw, words) for aw in answer_words)
        lexical.append(0.85 * answer_recall + 0.15 * _recall(question_words, words))
    scores = np.asarray(lexical)
    if embed is not None:
        vectors = embed([answers[0], *sentences])
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        dense = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        scores = (1 - DENSE_WEIGHT) * scores + DENSE_WEIGHT * dense
    best = int(scores.argmax())
    return Support(float(scores[best]), spans[best])
