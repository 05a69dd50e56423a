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

Which measure tells refusal items apart depends on the source: on NQ-open and ClapNQ the best whole
document's closeness in meaning does, on SQuAD 2.0 and the sample KB a sentence's words do.
`score_items` measures an item's `FEATURES`; `fit_gate_weights` weighs them for a dataset (a
logistic fit kept only when held-out folds rank better with it), and `gate_score` reads an item
under those weights.

`grounding.abstention` calibrates a gate on it (`Abstention.gate`). Pure text and numbers: the
caller passes the embedding function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

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
    return [s.documents for s in score_items([(q, [("", t) for t in texts]) for q, texts in items], embed)]


class Scored(NamedTuple):
    """One item's answerability evidence: each document's own score (`document_scores`) and the
    item's `FEATURES`, which a fitted gate weighs (`gate_score`)."""

    documents: list[float]
    features: list[float]


FEATURES = ("best sentence", "best sentence's words", "best sentence's meaning", "best document's meaning")
"""What `score_items` measures of an item, each the maximum over its documents: the blended sentence
score (`document_scores`), its lexical and its dense part alone, and the cosine of a whole document
(title and text) with the question."""


def score_items(
    items: Sequence[tuple[str, Sequence[tuple[str, str]]]], embed: Embed | None = None
) -> list[Scored]:
    """For each (question, documents as (title, text)), the documents' own scores and the item's
    `FEATURES` (without `embed` the dense ones are 0.0), with one embedding call for them all."""
    import numpy as np

    per_doc = [[[text[a:b] for a, b in sentence_spans(text)] for _, text in docs] for _, docs in items]
    per_item = [[s for doc in docs for s in doc] for docs in per_doc]
    dense: list[np.ndarray] = [np.zeros(len(s)) for s in per_item]
    whole: list[np.ndarray] = [np.zeros(len(docs)) for _, docs in items]
    if embed is not None:
        flat = [
            text
            for (question, docs), sents in zip(items, per_item, strict=True)
            for text in (question, *sents, *(f"{title}\n{body}".strip() for title, body in docs))
        ]
        if flat:
            vectors = _embed_unique(flat, embed)
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
            at = 0
            for i, ((_, docs), sents) in enumerate(zip(items, per_item, strict=True)):
                q = vectors[at]
                rows = vectors[at + 1 : at + 1 + len(sents) + len(docs)] @ q
                dense[i] = np.clip(rows[: len(sents)], 0.0, 1.0)
                whole[i] = np.clip(rows[len(sents) :], 0.0, 1.0)
                at += 1 + len(sents) + len(docs)
    weight = DENSE_WEIGHT if embed is not None else 0.0
    out = []
    for (question, _), doc_sents, sents, cos, doc_cos in zip(
        items, per_doc, per_item, dense, whole, strict=True
    ):
        asked = content_words(question)
        lexical = np.asarray(
            [len(asked & content_words(s)) / len(asked) if asked else 0.0 for s in sents], dtype=np.float64
        )
        blended = (1 - weight) * lexical + weight * cos
        scores, at = [], 0
        for doc in doc_sents:
            scores.append(float(blended[at : at + len(doc)].max()) if doc else 0.0)
            at += len(doc)
        top = [float(v.max()) if len(v) else 0.0 for v in (blended, lexical, cos, doc_cos)]
        out.append(Scored(scores, top))
    return out


def _embed_unique(texts: list[str], embed: Embed) -> np.ndarray:
    """`embed(texts)` as float64 rows, each distinct text embedded once. Items drawn from one knowledge
    base share most of their documents and sentences: the quickstart's 296 training items hold 7,946
    texts, 1,049 of them distinct (an eighth of the characters)."""
    import numpy as np

    at: dict[str, int] = {}
    for text in texts:
        at.setdefault(text, len(at))
    vectors = np.asarray(embed(list(at)), dtype=np.float64)
    return vectors[[at[text] for text in texts]]


GATE_FOLDS = 5
"""Folds of the cross-validation that decides whether weighed features beat the best sentence alone."""


def fit_gate_weights(
    features: Sequence[Sequence[float]], refusal_targets: Sequence[bool]
) -> list[float] | None:
    """Weights (one per feature, then a bias) of a logistic regression of "answerable" on items'
    `FEATURES` (L2-regularised, on standardised features, folded back to raw ones): which of them tell
    a dataset's answerable items from its refusal ones, and by how much. A gate on `gate_score` then
    cuts within the false-refusal budget. None (the best sentence's score alone) unless the weights,
    fitted on all but a fold and scored on it (`GATE_FOLDS`), rank the refusal items better than the
    first feature does: on a few dozen items a fit can learn noise (RGB's 62 training questions did)."""
    import numpy as np

    if not features:
        return None
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray([not t for t in refusal_targets], dtype=bool)
    k = len(FEATURES)
    if x.ndim != 2 or x.shape[1] != k or len(y) != len(x):
        raise ValueError(f"expected one row of {k} features and one target per item")
    fold = np.arange(len(y)) % GATE_FOLDS
    held = np.empty(len(y))
    for f in range(GATE_FOLDS):
        rest = fold != f
        if y[rest].all() or not y[rest].any():
            return None  # too few of one kind to learn from
        w = logistic_fit(x[rest], y[rest])
        held[~rest] = x[~rest] @ w[:k] + w[k]
    refuse = list(~y)
    if (refusal_auroc(list(held), refuse) or 0.0) <= (refusal_auroc(list(x[:, 0]), refuse) or 0.0):
        return None
    return [float(v) for v in logistic_fit(x, y)]


def logistic_fit(x: np.ndarray, y: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """Raw-feature weights and bias of an L2-regularised (`ridge` = 1/C on standardised features)
    logistic regression of `y` on `x`, by Newton's method."""
    import numpy as np

    k = x.shape[1]
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    target = y.astype(np.float64)
    w = np.zeros(k + 1)
    penalty = np.diag([ridge] * k + [0.0])  # none on the bias
    for _ in range(50):  # a convex loss: a few steps converge
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        step = np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + penalty, z.T @ (p - target) + penalty @ w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    raw = w[:k] / scale
    return np.append(raw, w[k] - raw @ mean)


def gate_score(scored: Scored, weights: Sequence[float] | None) -> float:
    """An item's answerability as a gate reads it: its best document's score, or under fitted
    `weights` (`fit_gate_weights`) the log-odds that it is answerable."""
    if weights is None:
        return best_score(scored.documents)
    *w, bias = weights
    return float(sum(a * b for a, b in zip(w, scored.features, strict=True)) + bias)


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


def refusal_auroc(scores: Sequence[float], refusal_targets: Sequence[bool]) -> float | None:
    """How well low answerability `scores` rank the refusal items above the answerable ones (`auroc`)."""
    pairs = list(zip(scores, refusal_targets, strict=True))
    return auroc([-s for s, t in pairs if t], [-s for s, t in pairs if not t])
