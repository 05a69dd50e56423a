"""Robustness sweeps: the same answerable items re-laid with 0..8 distractors, or with the relevant
document first, in the middle or last. Each variant is an ordinary `Example`, so systems run and
score it exactly like any suite item; this module only builds the variants and summarises them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from groundtune.core.schemas import ContextDocument, Example
from groundtune.grounding.citations import renumber_citations

DISTRACTOR_COUNTS = (0, 1, 2, 4, 6, 8)
POSITIONS = ("first", "middle", "last")


def _split(example: Example) -> tuple[list[ContextDocument], list[ContextDocument]]:
    relevant = [d for d in example.documents if d.relevant]
    others = [d for d in example.documents if not d.relevant]
    return relevant, others


def _pool_for(
    example: Example, pool: Sequence[ContextDocument], need: int, rng: random.Random
) -> list[ContextDocument]:
    """The item's own distractors first (they are the retriever's hard negatives), then random pool docs."""
    _, own = _split(example)
    texts = {d.text for d in example.documents}
    extra = [d for d in pool if d.text not in texts]
    rng.shuffle(extra)
    return (own + extra)[:need]


def usable(examples: Sequence[Example]) -> list[Example]:
    """Answerable items with exactly one relevant document (position is then well defined)."""
    return [e for e in examples if e.answerable and len(_split(e)[0]) == 1]


def _variant(example: Example, docs: list[ContextDocument], tag: str) -> Example:
    meta = {**example.meta, "sweep": tag, "base_id": example.id}
    target = example.target
    gold = next(i for i, d in enumerate(docs, start=1) if d.relevant)
    old = next(i for i, d in enumerate(example.documents, start=1) if d.relevant)
    quotes = [q.model_copy(update={"doc": gold}) for q in target.quotes if q.doc == old]
    new_target = target.model_copy(
        update={
            "relevant": [gold],
            "citations": [gold],
            "quotes": quotes,
            "answer": renumber_citations(target.answer, {old: gold}),
        }
    )
    return example.model_copy(
        update={"id": f"{example.id}::{tag}", "documents": docs, "target": new_target, "meta": meta}
    )


def distractor_sweep(
    examples: Sequence[Example],
    pool: Sequence[ContextDocument],
    counts: Sequence[int] = DISTRACTOR_COUNTS,
    seed: int = 0,
) -> list[Example]:
    """For each usable item and count n: the relevant document plus n distractors, at a random place."""
    out = []
    for example in usable(examples):
        rng = random.Random(f"{seed}:{example.id}")
        gold = _split(example)[0][0]
        distractors = _pool_for(example, pool, max(counts), rng)
        for n in counts:
            if n > len(distractors):
                continue
            docs = list(distractors[:n])
            docs.insert(rng.randint(0, n), gold)
            out.append(_variant(example, docs, f"distractors={n}"))
    return out


def position_sweep(
    examples: Sequence[Example],
    pool: Sequence[ContextDocument],
    n_documents: int = 5,
    seed: int = 0,
) -> list[Example]:
    """For each usable item: the same n-1 distractors with the relevant document first, middle, last."""
    out = []
    for example in usable(examples):
        rng = random.Random(f"{seed}:{example.id}")
        gold = _split(example)[0][0]
        distractors = _pool_for(example, pool, n_documents - 1, rng)
        if len(distractors) < n_documents - 1:
            continue
        for where, at in zip(POSITIONS, (0, (n_documents - 1) // 2, n_documents - 1), strict=True):
            docs = list(distractors)
            docs.insert(at, gold)
            out.append(_variant(example, docs, f"position={where}"))
    return out


def summarise(
    variants: Sequence[Example], metrics: Sequence[dict[str, float | None]], key: str = "answer_containment"
) -> dict[str, float]:
    """Mean of `key` per sweep setting (`distractors=4`, `position=last`, ...)."""
    sums: dict[str, list[float]] = {}
    for ex, m in zip(variants, metrics, strict=True):
        value = m.get(key)
        if value is not None:
            sums.setdefault(str(ex.meta["sweep"]), []).append(value)
    return {tag: sum(v) / len(v) for tag, v in sums.items()}
