"""Context planning with THE retriever: which k chunks a question is shown, in which order.

For each question the retriever's own hits are labelled (labelling.py). A fraction P of answerable
questions get an *oracle* context (the relevant chunk(s) plus hard negatives: the retriever's top
non-relevant hits, optionally mixed with random chunks); the rest get distractors only and a refusal
target. Positions are shuffled. Chunks of documents held out for other splits are never used.
Optionally a share of training contexts gets an instruction planted in one distractor
(`plant_instruction`, wording from data/injection.py), the target unchanged. Token budgets are not
handled here (budget.py); neither is rendering.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from groundtune.core.schemas import Chunk, ContextDocument, RetrievedChunk
from groundtune.data.injection import TRAINING_CANARY_PREFIX, TRAINING_TEMPLATES, insert_sentence, instruction
from groundtune.data.labelling import IRRELEVANT, Label, evidence_in, label_chunk
from groundtune.data.sources import QAPair
from groundtune.data.support import MIN_SUPPORT, Embed, best_support
from groundtune.data.targets import sentence_spans

HARD, RANDOM, GOLD = "hard_negative", "random", "gold"


@dataclass
class Candidate:
    """A chunk considered for one question's context, with its label and where it came from."""

    chunk: Chunk
    label: Label
    kind: str  # GOLD (relevant), HARD (retriever hit) or RANDOM
    rank: int | None = None
    score: float | None = None

    def to_document(self) -> ContextDocument:
        # "Doc title > Section": the heading path often starts with the title itself; say it once.
        parts: list[str] = []
        for part in [self.chunk.title, *self.chunk.heading_path]:
            if part and part not in parts:
                parts.append(part)
        title = " > ".join(parts)
        return ContextDocument(
            title=title,
            text=self.chunk.text,
            doc_id=self.chunk.doc_id,
            chunk_id=self.chunk.id,
            source=self.chunk.source or None,
            score=self.score,
            relevant=self.label.relevant,
            label_reason=f"{self.kind}:{self.label.reason}",
        )


@dataclass
class Plan:
    """One question's planned context (documents in prompt order) or the reason it was dropped."""

    pair: QAPair
    candidates: list[Candidate] = field(default_factory=list)
    oracle: bool = False
    dropped: str | None = None
    injection: dict[str, str] | None = None
    """`template` and `canary` of an instruction planted in one distractor (`plant_instruction`)."""

    @property
    def documents(self) -> list[ContextDocument]:
        return [c.to_document() for c in self.candidates]


CONTRAST_SUFFIX = "~contrast"
"""Appended to a question id for its contrast twin (the same question without its evidence)."""


def wants_contrast(pair: QAPair, plan: Plan, split: str, fraction: float, seed: int) -> bool:
    """Whether this question also gets a contrast twin: answerable, shown its evidence, in training,
    and drawn with probability `fraction`."""
    if not fraction or split != "train" or plan.dropped or not plan.oracle:
        return False
    # Its own stream: the twin's plan draws from `<id>~contrast`, whose first number would otherwise
    # be known to be below `fraction` for every twin.
    return example_rng(seed, f"{pair.id}{CONTRAST_SUFFIX}:draw").random() < fraction


def plant_instruction(plan: Plan, key: str, *, fraction: float, seed: int) -> Plan:
    """`plan` with, drawn with probability `fraction` from the example's own stream (`key`: its id), an
    instruction planted in one of its distractors: a training template of data/injection.py with its
    own canary, at a sentence boundary. The target is built as usual, so the model learns to leave
    the instruction unanswered. Plans without a distractor are returned as they are."""
    rng = example_rng(seed, f"{key}~injection")
    distractors = [i for i, c in enumerate(plan.candidates) if not c.label.relevant]
    if plan.dropped or not distractors or rng.random() >= fraction:
        return plan
    index = rng.choice(distractors)
    shown = " ".join([plan.pair.question, *(c.chunk.text for c in plan.candidates)])
    template, code, sentence = instruction(
        key, rng, templates=TRAINING_TEMPLATES, prefix=TRAINING_CANARY_PREFIX, seen=shown
    )
    chosen = plan.candidates[index]
    text = insert_sentence(chosen.chunk.text, sentence, rng)
    candidates = list(plan.candidates)
    candidates[index] = replace(chosen, chunk=chosen.chunk.model_copy(update={"text": text}))
    return replace(plan, candidates=candidates, injection={"template": template, "canary": code})


def example_rng(seed: int, key: str) -> random.Random:
    """A generator private to one example: results do not depend on processing order."""
    return random.Random(f"{seed}:{key}")


class ChunkLookup:
    """Chunks of the knowledge base by id and by document (read once, for gold ids and random draws)."""

    def __init__(self, kb: Any) -> None:
        self.kb = kb
        self._by_doc: dict[str, list[Chunk]] | None = None
        self._by_source: dict[str, set[str]] = defaultdict(set)

    def _load(self) -> dict[str, list[Chunk]]:
        if self._by_doc is None:
            self._by_doc = defaultdict(list)
            for chunk in self.kb.chunks():
                self._by_doc[chunk.doc_id].append(chunk)
                if chunk.source:
                    path = chunk.source.replace("\\", "/")
                    parts = path.split("/")
                    # Index every path suffix, so "overview.md" and "docs/overview.md" both match.
                    for i in range(len(parts)):
                        self._by_source["/".join(parts[i:])].add(chunk.doc_id)
        return self._by_doc

    def by_doc(self, doc_id: str) -> list[Chunk]:
        return self._load().get(doc_id, [])

    def docs_for_source(self, name: str) -> list[str]:
        """Ids of the documents whose source path is `name` or ends with `/name`."""
        self._load()
        return sorted(self._by_source.get(name.replace("\\", "/").lstrip("./"), set()))

    def get(self, chunk_id: str) -> Chunk | None:
        try:
            chunk: Chunk | None = self.kb.get_chunk(chunk_id)
        except Exception:  # an unknown gold id is reported by the planner, not raised
            return None
        return chunk


def resolve_gold_sources(pairs: Sequence[QAPair], lookup: ChunkLookup) -> tuple[list[QAPair], int]:
    """Pairs whose gold file names are turned into gold document ids; returns them and how many
    named files are not in the knowledge base (those pairs fall back to evidence matching)."""
    out, missing = [], 0
    for pair in pairs:
        if pair.gold_sources and not pair.gold_doc_ids:
            docs = [d for name in pair.gold_sources for d in lookup.docs_for_source(name)]
            missing += sum(1 for name in pair.gold_sources if not lookup.docs_for_source(name))
            if docs:
                pair = pair.model_copy(update={"gold_doc_ids": list(dict.fromkeys(docs))})
        out.append(pair)
    return out, missing


def derive_evidence(
    pairs: Sequence[QAPair], lookup: ChunkLookup, embed: Embed | None = None
) -> tuple[list[QAPair], int, int]:
    """Pairs whose free-form answers appear in none of their gold documents get, as gold evidence, the
    best-supporting sentence of each gold document (support.py), so labels, targets and quotes follow
    the verbatim path. Returns the pairs, how many gained evidence and how many found no support (those
    are marked `meta["unsupported"]` and dropped with that reason)."""
    out, supported, unsupported = [], 0, 0
    for pair in pairs:
        if not pair.answerable or pair.gold_evidence or not pair.answers or not pair.gold_doc_ids:
            out.append(pair)
            continue
        chunks = [c for d in pair.gold_doc_ids for c in lookup.by_doc(d)]
        if not chunks or any(evidence_in(c.text, pair) for c in chunks):
            out.append(pair)  # verbatim answers (or gold documents missing from the KB) label as before
            continue
        evidence: list[str] = []
        for doc in dict.fromkeys(pair.gold_doc_ids):
            best = None
            for chunk in lookup.by_doc(doc):
                found = best_support(chunk.text, pair, sentence_spans(chunk.text), embed)
                if found and (best is None or found.score > best[0].score):
                    best = (found, chunk.text)
            if best and best[0].score >= MIN_SUPPORT:
                a, b = best[0].span
                evidence.append(best[1][a:b])
        if evidence:
            supported += 1
            meta = {**pair.meta, "evidence_from": "support"}
            out.append(pair.model_copy(update={"gold_evidence": evidence, "meta": meta}))
        else:
            unsupported += 1
            out.append(pair.model_copy(update={"meta": {**pair.meta, "unsupported": True}}))
    return out, supported, unsupported


def retrieve_candidates(
    retriever: Any, pairs: Sequence[QAPair], n: int, batch_size: int = 256
) -> dict[str, list[Candidate]]:
    """Top-`n` retriever hits for every question, labelled, in rank order."""
    out: dict[str, list[Candidate]] = {}
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        results: list[list[RetrievedChunk]] = retriever.search_batch([p.question for p in batch], k=n)
        for pair, hits in zip(batch, results, strict=True):
            out[pair.id] = [
                Candidate(h.chunk, label_chunk(h.chunk, pair), HARD, rank=h.rank, score=h.score) for h in hits
            ]
    return out


def gold_candidates(pair: QAPair, hits: Sequence[Candidate], lookup: ChunkLookup) -> list[Candidate]:
    """Relevant chunks for a question: relevant retriever hits first (by rank), then gold chunks the
    retriever missed (looked up by gold chunk id or gold document id)."""
    found = [Candidate(c.chunk, c.label, GOLD, c.rank, c.score) for c in hits if c.label.relevant]
    seen = {c.chunk.id for c in found}
    extra: list[Chunk] = []
    for chunk_id in pair.gold_chunk_ids:
        chunk = lookup.get(chunk_id)
        if chunk is not None:
            extra.append(chunk)
    for doc_id in pair.gold_doc_ids if not pair.gold_chunk_ids else []:
        extra.extend(lookup.by_doc(doc_id))
    for chunk in extra:
        if chunk.id in seen:
            continue
        label = label_chunk(chunk, pair)
        if label.relevant:
            found.append(Candidate(chunk, label, GOLD))
            seen.add(chunk.id)
    return found


def source_docs(pair: QAPair, relevant: Iterable[Candidate]) -> list[str]:
    """The documents a question is about (what splits group by): its gold documents and every
    document a relevant chunk of it comes from, since any of them may be shown as its answer."""
    return list(
        dict.fromkeys([*pair.gold_doc_ids, *(c.chunk.doc_id for c in relevant), *pair.near_miss_doc_ids])
    )


def near_miss_candidates(pair: QAPair, lookup: ChunkLookup) -> list[Candidate]:
    """The chunks of a question's near-miss documents, as hard negatives to show before any other."""
    return [
        Candidate(chunk, label_chunk(chunk, pair), HARD)
        for doc in pair.near_miss_doc_ids
        for chunk in lookup.by_doc(doc)
    ]


def oracle_draws(
    pairs: Sequence[QAPair], split_of: dict[str, str], fraction: float, seed: int
) -> dict[str, bool]:
    """Which answerable questions are shown their evidence. Training questions each draw with
    probability P from their own stream; in a held-out split exactly round((1-P) n) of its n answerable
    questions see none (at least one when n >= 2 and P < 1), so a small validation split still holds
    refusal items. (An exact count in training, tried on the quickstart, made an adapter that refused
    16 of 22 answerable validation questions, against 0 of 25 with the per-question draw: which
    questions withhold their evidence matters more than how many.)"""
    by_split: dict[str, list[QAPair]] = defaultdict(list)
    for pair in pairs:
        if pair.answerable:
            by_split[split_of[pair.id]].append(pair)
    draws: dict[str, bool] = {}
    for split, members in by_split.items():
        if split == "train":
            draws.update({p.id: example_rng(seed, p.id).random() < fraction for p in members})
            continue
        members = sorted(members, key=lambda p: example_rng(seed, p.id).random())
        n_refuse = round((1.0 - fraction) * len(members))
        if 0.0 < fraction < 1.0 and len(members) >= 2:
            n_refuse = max(n_refuse, 1)
        for i, pair in enumerate(members):
            draws[pair.id] = i >= n_refuse
    return draws


def _allowed(c: Candidate, forbidden_docs: set[str], used: set[str]) -> bool:
    return c.label.verdict == IRRELEVANT and c.chunk.doc_id not in forbidden_docs and c.chunk.id not in used


def plan_context(
    pair: QAPair,
    hits: Sequence[Candidate],
    relevant: Sequence[Candidate],
    *,
    k: int,
    oracle_fraction: float,
    random_share: float,
    max_relevant: int,
    seed: int,
    forbidden_docs: set[str],
    random_pool: Any,
    oracle: bool | None = None,
    twin: bool = False,
    near_miss: Sequence[Candidate] = (),
) -> Plan:
    """Choose and order the k documents of one question's context (see the module docstring).

    `random_pool(n, exclude_ids, rng)` returns up to n random chunks of the knowledge base. `oracle`
    decides whether the relevant chunks are shown instead of the `oracle_fraction` draw (see
    `oracle_draws`); a contrast `twin` is planned with `oracle=False`, from its own random stream. `near_miss` chunks (on the
    question's topic, not answering it) take the first distractor slots.
    """
    rng = example_rng(seed, f"{pair.id}{CONTRAST_SUFFIX}" if twin else pair.id)
    if pair.answerable and not relevant:
        unsupported = pair.meta.get("unsupported")
        return Plan(pair, dropped="no_supporting_sentence" if unsupported else "no_relevant_chunk")
    if oracle is None:
        oracle = pair.answerable and rng.random() < oracle_fraction
    else:
        oracle = pair.answerable and oracle
    allowed_relevant = [c for c in relevant if c.chunk.doc_id not in forbidden_docs]
    oracle = oracle and bool(allowed_relevant)
    chosen: list[Candidate] = list(allowed_relevant[:max_relevant]) if oracle else []
    chosen = chosen[: max(k, 1)]
    used = {c.chunk.id for c in chosen}
    slots = max(k - len(chosen), 0)
    n_random = sum(rng.random() < random_share for _ in range(slots))
    hard: list[Candidate] = []
    for c in [*near_miss, *hits]:
        if len(hard) < slots - n_random and _allowed(c, forbidden_docs, used):
            hard.append(c)
            used.add(c.chunk.id)
    need = slots - len(hard)
    randoms: list[Candidate] = []
    if need:
        for chunk in random_pool(need * 4 + 4, used, rng):
            cand = Candidate(chunk, label_chunk(chunk, pair), RANDOM)
            if _allowed(cand, forbidden_docs, used):
                randoms.append(cand)
                used.add(chunk.id)
                if len(randoms) == need:
                    break
    context = chosen + hard + randoms
    if not context:
        return Plan(pair, dropped="no_context_chunks")
    rng.shuffle(context)
    return Plan(pair, candidates=context, oracle=oracle)
