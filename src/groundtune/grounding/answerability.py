"""Answerability: how well the prompt's documents could hold an answer to the question, as one number.

A small model's own refusal decision can be a habit rather than a reading: on the sample KB the
quickstart adapter's `Relevant: none` margin ranks refusal items at chance (AUROC 0.47,
benchmarks/refusal_signal.py), while how closely the best sentence of the shown documents matches
the question ranks the held-out public suites' refusal items well (AUROC 0.94 NQ-open, 0.77 ClapNQ;
benchmarks/quality.py, docs/eval.md). `answerability` is that match: for every
sentence of every document, the share of the question's content words it holds, blended with the
cosine of their embeddings (the retriever's embedder), maximised over sentences. A refusal item
whose relevant document was not retrieved scores low; a near-miss paragraph (SQuAD 2.0's
unanswerable questions, asked of their own paragraph) does not, and there only the model's
reading can refuse.

`grounding.abstention` calibrates a gate on it (`Abstention.gate`). Pure text and numbers: the
caller passes the embedding function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from groundtune.grounding.quotes import normalize_answer, sentence_spans

if TYPE_CHECKING:
    import numpy as np

# numpy is imported where scores are computed: abstention (and through it the CLI) reads `best_score`
# and must stay light enough for `groundtune --help`
Embed = Callable[[list[str]], "np.ndarray"]
"""Texts -> one embedding row per text (an embedder's `encode`)."""

DENSE_WEIGHT = 0.5
"""Share of a sentence's score from meaning (cosine) rather than words."""

_STOP = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this that "
    "these those there their they them he she his her we our you your i not no do does did has have had "
    "which who whom what when where why how than then so if into about over after before also can could "
    "would should may might will shall just only very more most such any all each other some".split()
)
_WORD = re.compile(r"\w+")


def content_words(text: str) -> set[str]:
    """Normalised words that carry meaning (stop words dropped, a plural 's' folded)."""
    words = _WORD.findall(normalize_answer(text))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOP}


def answerability(question: str, texts: Sequence[str], embed: Embed | None = None) -> float:
    """0..1: how well the best sentence of `texts` matches `question` (0.0 with no text at all)."""
    return answerability_scores([(question, texts)], embed)[0]


def answerability_scores(
    items: Sequence[tuple[str, Sequence[str]]], embed: Embed | None = None
) -> list[float]:
    """`answerability` of each (question, document texts), with one embedding call for them all."""
    return [best_score(scores) for scores in document_scores(items, embed)]


def best_score(scores: Sequence[float]) -> float:
    """The answerability of documents with these own scores (`document_scores`): the best one's (0.0
    with no document)."""
    return max(scores, default=0.0)


def document_scores(
    items: Sequence[tuple[str, Sequence[str]]], embed: Embed | None = None
) -> list[list[float]]:
    """For each (question, document texts), every document's own score: how well its best sentence
    matches the question (0.0 for a document without text). The item's `answerability` is their
    maximum; how far a document falls below it says how likely it is to be one of the relevant ones
    (`abstention.listable_documents`)."""
    import numpy as np

    per_doc = [[[text[a:b] for a, b in sentence_spans(text)] for text in texts] for _, texts in items]
    per_item = [[s for doc in docs for s in doc] for docs in per_doc]
    dense: list[np.ndarray] = [np.zeros(len(s)) for s in per_item]
    if embed is not None:
        flat = [
            text for (question, _), sents in zip(items, per_item, strict=True) for text in (question, *sents)
        ]
        if flat:
            vectors = np.asarray(embed(flat), dtype=np.float64)
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
            at = 0
            for i, sents in enumerate(per_item):
                q, rows = vectors[at], vectors[at + 1 : at + 1 + len(sents)]
                dense[i] = np.clip(rows @ q, 0.0, 1.0)
                at += 1 + len(sents)
    weight = DENSE_WEIGHT if embed is not None else 0.0
    out = []
    for (question, _), docs, sents, cos in zip(items, per_doc, per_item, dense, strict=True):
        asked = content_words(question)
        lexical = np.asarray(
            [len(asked & content_words(s)) / len(asked) if asked else 0.0 for s in sents], dtype=np.float64
        )
        blended = (1 - weight) * lexical + weight * cos
        scores, at = [], 0
        for doc in docs:
            scores.append(float(blended[at : at + len(doc)].max()) if doc else 0.0)
            at += len(doc)
        out.append(scores)
    return out


def auroc(refusal_scores: Sequence[float], answerable_scores: Sequence[float]) -> float | None:
    """Probability that a refusal item scores above an answerable one (ties count half); None
    without both kinds. Scores must rise with "refuse"."""
    import numpy as np

    if not refusal_scores or not answerable_scores:
        return None
    neg = np.sort(np.asarray(answerable_scores, dtype=np.float64))
    pos = np.asarray(refusal_scores, dtype=np.float64)
    below = np.searchsorted(neg, pos, side="left")
    not_above = np.searchsorted(neg, pos, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (len(pos) * len(neg)))
