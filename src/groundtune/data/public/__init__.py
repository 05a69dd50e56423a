"""Loaders for the public QA benchmarks in `../shared/data/` (see docs/data.md): each returns the QA
pairs (with gold document ids and evidence) and the corpus records (`{"id", "title", "text"}`) to
ingest into a knowledge base, so gold ids match document ids and hard negatives come from THE
retriever over the benchmark's own passages.

`load_public` also marks each question's fixed parts: a fifth of each source's documents (grouped so
questions that share a document stay together, chosen by a hash of the group, not by a seed) are test
documents, and their questions are never trained or tuned on; a fifth of the other groups, chosen the
same way, is the validation part: what abstention is calibrated on, so a model trained on the source's
train part (`part: train` leaves both out, as the general stage's mix does) is calibrated on questions
it never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError
from groundtune.core.ids import content_hash
from groundtune.data.public.clapnq import load_clapnq
from groundtune.data.public.common import PublicQA
from groundtune.data.public.hotpotqa import load_hotpotqa
from groundtune.data.public.nq import load_nq_open_oracle
from groundtune.data.public.quotesum import load_quotesum
from groundtune.data.public.rgb import load_rgb_counterfactual
from groundtune.data.public.squad import load_squad2
from groundtune.data.sources import QAPair
from groundtune.data.splits import heldout_questions

HELDOUT_FRACTION = 0.2
HELDOUT_KEY = "heldout"
VALIDATION_FRACTION = 0.2
"""Share of the document groups outside the held-out part that form the validation part."""
VALIDATION_KEY = "validation_part"

LOADERS: dict[str, Callable[..., PublicQA]] = {
    "nq_open_oracle": load_nq_open_oracle,
    "clapnq": load_clapnq,
    "squad2": load_squad2,
    "quotesum": load_quotesum,
    "hotpotqa": load_hotpotqa,
    "rgb_counterfactual": load_rgb_counterfactual,
}
# Where each source lives inside ../shared/data (the folder name of its release).
SHARED_FOLDERS = {
    "nq_open_oracle": "nq_open_oracle",
    "clapnq": "clapnq",
    "squad2": "squad2_dev_half",
    "quotesum": "quotesum",
    "hotpotqa": "hotpotqa_reflexion100",
    "rgb_counterfactual": "rgb_en_fact",
}


def load_public(
    kind: str, path: str | Path, *, split: str = "dev", unanswerable: bool = True, limit: int | None = None
) -> PublicQA:
    """The pairs and corpus of public source `kind`, each pair's `meta["heldout"]` and
    `meta["validation_part"]` set (see above).

    The parts are computed over the whole release, so a `limit` (a fixed sample of the questions, the
    same for every call) keeps them.
    """
    if kind not in LOADERS:
        raise InvalidInputError(
            f"unknown public source {kind!r}", hint=f"choose one of {', '.join(sorted(LOADERS))}"
        )
    options: dict[str, Any] = {}
    if kind == "clapnq":
        options["split"] = split
    if kind in ("clapnq", "squad2"):
        options["unanswerable"] = unanswerable
    data = LOADERS[kind](path, **options)
    docs = {p.id: [*p.gold_doc_ids, *p.near_miss_doc_ids] for p in data.pairs}
    held = heldout_questions(docs, HELDOUT_FRACTION, salt=kind)
    rest = {q: d for q, d in docs.items() if q not in held}
    validation = heldout_questions(rest, VALIDATION_FRACTION, salt=f"{kind}:validation")
    for pair in data.pairs:
        pair.meta[HELDOUT_KEY] = pair.id in held
        pair.meta[VALIDATION_KEY] = pair.id in validation
    if limit:
        data.pairs = fixed_sample(data.pairs, kind, limit)
    return data


def part_of(pair: QAPair) -> str:
    """The fixed part a public source's pair is in: "test", "validation" or "train"."""
    if pair.meta.get(HELDOUT_KEY):
        return "test"
    return "validation" if pair.meta.get(VALIDATION_KEY) else "train"


def fixed_sample(pairs: list[QAPair], kind: str, limit: int) -> list[QAPair]:
    """`limit` pairs spread over a release (its first questions often share one article), the same in
    every call: the first in an order fixed by a hash of the source and the pair id."""
    return sorted(pairs, key=lambda p: content_hash(kind, p.id))[:limit]


__all__ = [
    "HELDOUT_KEY",
    "LOADERS",
    "SHARED_FOLDERS",
    "VALIDATION_KEY",
    "PublicQA",
    "fixed_sample",
    "load_clapnq",
    "load_hotpotqa",
    "load_nq_open_oracle",
    "load_public",
    "load_quotesum",
    "load_rgb_counterfactual",
    "load_squad2",
    "part_of",
]
