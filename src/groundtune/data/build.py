"""`build_dataset`: QA sources -> THE retriever -> labels -> splits (by document or question) -> context plans ->
targets -> token budget -> rendering -> validation -> stored dataset with card and report.

The steps live in their own modules; this one sequences them and records what happened. It never
formats text itself (the grounding format does) and never searches except through the KB's
retriever.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from groundtune import __version__
from groundtune.core.artifacts import DatasetCard, GroundingRecord, RetrieverRecord, SourceSummary
from groundtune.core.errors import ConflictError, GroundtuneError, InvalidInputError
from groundtune.core.ids import new_id
from groundtune.core.progress import Progress, event
from groundtune.core.schemas import Chunk, ContextDocument, Example, GroundedAnswer
from groundtune.data import planning
from groundtune.data.budget import Fitted, fit_example
from groundtune.data.config import BuildConfig, SourceSpec
from groundtune.data.injection import META_KEY as INJECTION_KEY
from groundtune.data.injection import planted_document
from groundtune.data.public import HELDOUT_KEY, VALIDATION_KEY
from groundtune.data.report import BuildReport, split_warnings
from groundtune.data.sources import QAPair, load_qa_file
from groundtune.data.splits import assign_splits, forbidden_docs, leaks, question_leaks
from groundtune.data.store import save_dataset
from groundtune.data.targets import build_target
from groundtune.data.tokens import TokenCounter, load_counter
from groundtune.data.validate import check_example, duplicate_key, has_verified_quote
from groundtune.grounding import GroundingFormat, get_format
from groundtune.grounding.quotes import normalize_answer


@dataclass
class BuildResult:
    path: Path
    card: DatasetCard
    report: dict[str, Any]
    splits: dict[str, list[Example]]


def report_progress(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(event(stage, done, total))


class RandomPool:
    """Random chunks for distractors, drawn once from the KB and sampled per example."""

    def __init__(self, kb: Any, seed: int, size: int = 5000) -> None:
        self.kb, self.seed, self.size = kb, seed, size
        self._pool: list[Chunk] | None = None

    def __call__(self, n: int, exclude: set[str], rng: random.Random) -> list[Chunk]:
        if self._pool is None:
            self._pool = list(self.kb.random_chunks(self.size, seed=self.seed))
        if not self._pool:
            return []
        picks = rng.sample(self._pool, min(len(self._pool), n + len(exclude)))
        return [c for c in picks if c.id not in exclude][:n]


def load_source(spec: SourceSpec, kb: Any, seed: int) -> tuple[list[QAPair], set[str]]:
    """The QA pairs of one source (a public source's: of the part `spec.part` asks for) and the
    documents of a public source's held-out part (empty for other sources)."""
    from groundtune.data import public

    if spec.kind in public.LOADERS:
        every = public.load_public(
            spec.kind, spec.path or "", split=spec.split, unanswerable=spec.unanswerable
        )
        held = [p for p in every.pairs if p.meta[public.HELDOUT_KEY]]
        heldout_docs = {d for p in held for d in (*p.gold_doc_ids, *p.near_miss_doc_ids)}
        pairs = (
            every.pairs if spec.part == "all" else [p for p in every.pairs if public.part_of(p) == spec.part]
        )
        if spec.limit:
            pairs = public.fixed_sample(pairs, spec.kind, spec.limit)
        return pairs, heldout_docs
    if spec.kind == "qa":
        pairs = load_qa_file(spec.path or "")
    else:
        from groundtune.data.teacher import generate_qa

        assert spec.teacher is not None
        chunks = kb.random_chunks(spec.chunks, seed=seed)
        pairs = generate_qa(chunks, spec.teacher).pairs
    return (pairs[: spec.limit] if spec.limit else pairs), set()


def _render(
    pair: QAPair,
    plan: planning.Plan,
    example_id: str,
    split: str,
    source_docs: list[str],
    config: BuildConfig,
    fmt: GroundingFormat,
    counter: TokenCounter,
) -> tuple[Example, Fitted] | str:
    """One planned question as a validated, rendered example, or the reason it is dropped."""

    def target_for(docs: list[ContextDocument]) -> GroundedAnswer:
        if not any(d.relevant for d in docs):
            return fmt.refusal_target()
        return build_target(
            pair, docs, max_quotes_per_doc=config.max_quotes_per_doc, max_quote_chars=config.max_quote_chars
        )

    fitted = fit_example(pair.question, plan.candidates, target_for, fmt, counter, config.max_tokens)
    if fitted is None:
        return "over_token_budget"
    meta: dict[str, Any] = {
        "oracle": plan.oracle,
        "contrast_of": pair.id if example_id != pair.id else None,
        "source": pair.source,
        "gold_answers": pair.answers,
        "question_answerable": pair.answerable,
        "prompt_tokens": fitted.prompt_tokens,
        "completion_tokens": fitted.completion_tokens,
        "dropped_distractors": fitted.dropped_distractors,
        "shortened_documents": fitted.shortened,
    }
    planted = planted_document(fitted.documents, plan.injection["canary"]) if plan.injection else None
    if plan.injection and planted:  # the budget may have dropped the planted distractor
        meta[INJECTION_KEY] = {"doc": planted, **plan.injection}
    target = fitted.target
    ex = Example(
        id=example_id,
        question=pair.question,
        documents=fitted.documents,
        answer="" if target.refusal else pair.answer,
        answerable=not target.refusal,
        target=target,
        prompt=fitted.prompt,
        completion=fitted.completion,
        style=fmt.id,
        gold_evidence=pair.gold_evidence,
        source_doc_ids=source_docs,
        split=split,
        meta=meta,
    )
    problem = check_example(ex, pair, fitted.completion_tokens)
    return problem if problem else (ex, fitted)


def _load_pairs(
    config: BuildConfig, kb: Any, report: BuildReport
) -> tuple[list[QAPair], dict[str, str], set[str]]:
    """Every source's pairs (first of each id kept), the split each pinned pair must go to, and the
    documents of public sources' held-out parts (never shown outside the test split, even when the
    build leaves their questions out)."""
    pairs: list[QAPair] = []
    pinned: dict[str, str] = {}
    heldout_docs: set[str] = set()
    seen: set[str] = set()
    questions: set[str] = set()
    for spec in config.sources:
        got, held = load_source(spec, kb, config.seed)
        heldout_docs |= held
        report.sources[spec.kind] += len(got)
        for pair in got:
            if pair.id in seen:
                report.drop("duplicate_question_id")
                continue
            seen.add(pair.id)
            asked = normalize_answer(pair.question)
            if config.split_by == "question" and asked in questions:
                report.drop("duplicate_question")  # one question in two splits would leak its answer
                continue
            questions.add(asked)
            pairs.append(pair)
            if spec.assign != "auto":
                pinned[pair.id] = spec.assign
            elif pair.meta.get(HELDOUT_KEY):
                pinned[pair.id] = "test"
            elif pair.meta.get(VALIDATION_KEY):
                pinned[pair.id] = "validation"
    if not pairs:
        raise InvalidInputError("the sources hold no questions", hint="check the source paths and limits")
    return pairs, pinned, heldout_docs


def build_dataset(
    config: BuildConfig,
    *,
    counter: TokenCounter | None = None,
    progress: Progress | None = None,
    home: str | Path | None = None,
) -> BuildResult:
    """Build and store the dataset described by `config` (see docs/data.md) in the workspace at
    `home` (default: GROUNDTUNE_HOME), from its knowledge base `config.kb`."""
    from groundtune.core.workspace import get_workspace
    from groundtune.kb import open_kb

    if (get_workspace(home).datasets / config.name).exists() and not config.overwrite:
        raise ConflictError(  # checked first so a long build is not wasted
            f"dataset '{config.name}' already exists", hint="choose another --name or pass --overwrite"
        )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    fmt = get_format(config.style)
    counter = counter or load_counter(config.lm, home)
    report = BuildReport(split_by=config.split_by)
    with open_kb(config.kb, home) as kb:
        retriever = kb.retriever(config.retriever)
        # The resolved config (embedder and sparse scheme filled in from the KB) is what serving compares.
        retriever_record = RetrieverRecord.of(retriever.config)
        embedder = kb.embedder_name
        kb_generation = kb.catalog.state().generation
        pairs, pinned, heldout_docs = _load_pairs(config, kb, report)
        report.questions = len(pairs)
        timings["load"] = time.perf_counter() - t0

        t = time.perf_counter()
        # Gold file names become document ids before labelling, so labels use them.
        lookup = planning.ChunkLookup(kb)
        pairs, unresolved = planning.resolve_gold_sources(pairs, lookup)
        if unresolved:
            report.labels["gold_source_not_in_kb"] += unresolved
        # Free-form answers (not verbatim in their named gold documents) take the best-supporting sentence.
        pairs, report.evidence_from_support, _ = planning.derive_evidence(pairs, lookup, kb.embedder.encode)
        report_progress(progress, "retrieve", 0, len(pairs))
        hits = planning.retrieve_candidates(retriever, pairs, config.candidates)
        report_progress(progress, "retrieve", len(pairs), len(pairs))
        timings["retrieve"] = time.perf_counter() - t

        t = time.perf_counter()
        relevant = {p.id: planning.gold_candidates(p, hits[p.id], lookup) for p in pairs}
        for p in pairs:
            for c in hits[p.id]:
                report.labels[c.label.reason] += 1
        sources = {p.id: planning.source_docs(p, relevant[p.id]) for p in pairs}
        # Strata: answerable or not, and public or not (a public source's test split is its fixed part).
        strata = {p.id: f"{HELDOUT_KEY in p.meta}:{p.answerable}" for p in pairs}
        fixed = {f"True:{answerable}" for answerable in (True, False)}
        q_split, d_split = assign_splits(
            sources, config.splits, config.seed, pinned, by=config.split_by, strata=strata, fixed_test=fixed
        )
        for p in pairs:
            if p.id not in q_split:
                report.drop("pinned_split_conflict")
        pairs = [p for p in pairs if p.id in q_split]
        for doc in heldout_docs:  # a public source's held-out documents: test only, whatever was built
            d_split.setdefault(doc, "test")
        banned = forbidden_docs(d_split)
        pool = RandomPool(kb, config.seed)
        draws = planning.oracle_draws(pairs, q_split, config.oracle_fraction, config.seed)

        def plan(p: QAPair, twin: bool = False) -> planning.Plan:
            return planning.plan_context(
                p,
                hits[p.id],
                relevant[p.id],
                k=config.documents_per_prompt,
                oracle_fraction=config.oracle_fraction,
                random_share=config.random_distractors,
                max_relevant=config.max_relevant,
                seed=config.seed,
                forbidden_docs=banned[q_split[p.id]],
                random_pool=pool,
                oracle=False if twin else draws.get(p.id, False),
                twin=twin,
                near_miss=planning.near_miss_candidates(p, lookup),
            )

        def with_instruction(planned: planning.Plan, example_id: str) -> planning.Plan:
            if not config.injection_fraction or q_split[planned.pair.id] != "train":
                return planned
            return planning.plant_instruction(
                planned, example_id, fraction=config.injection_fraction, seed=config.seed
            )

        # (question, plan, example id): each question once, then its contrast twin when drawn.
        plans: list[tuple[QAPair, planning.Plan, str]] = []
        for p in pairs:
            first = plan(p)
            plans.append((p, with_instruction(first, p.id), p.id))
            if planning.wants_contrast(p, first, q_split[p.id], config.contrast_fraction, config.seed):
                twin_id = p.id + planning.CONTRAST_SUFFIX
                plans.append((p, with_instruction(plan(p, twin=True), twin_id), twin_id))
        timings["plan"] = time.perf_counter() - t

    t = time.perf_counter()
    splits: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
    verified: dict[str, bool] = {}
    dupes: set[Any] = set()
    for i, (pair, planned, example_id) in enumerate(plans):
        if planned.dropped:
            report.drop(planned.dropped)
            continue
        made = _render(pair, planned, example_id, q_split[pair.id], sources[pair.id], config, fmt, counter)
        if isinstance(made, str):
            report.drop(made)
            continue
        ex, fitted = made
        key = duplicate_key(ex)
        if key in dupes:
            report.drop("duplicate")
            continue
        dupes.add(key)
        report.record(
            fitted.prompt_tokens, fitted.completion_tokens, fitted.dropped_distractors, fitted.shortened
        )
        verified[ex.id] = has_verified_quote(ex)
        splits[ex.split or "train"].append(ex)
        if i % 200 == 0:
            report_progress(progress, "render", i, len(plans))
    report_progress(progress, "render", len(plans), len(plans))
    timings["render_validate"] = time.perf_counter() - t

    shown = {
        s: {d.doc_id for ex in exs for d in ex.documents if d.doc_id}
        | {doc for ex in exs for doc in ex.source_doc_ids}
        for s, exs in splits.items()
    }
    report.leakage = leaks(d_split, shown)
    if config.split_by == "question":
        asked = {s: {normalize_answer(ex.question) for ex in exs} for s, exs in splits.items()}
        report.leakage += question_leaks(asked)
    if report.leakage:
        raise GroundtuneError(  # a bug, not a user error; refuse to store a leaking dataset
            f"split leakage detected: {report.leakage[:3]}", hint="report this; the dataset was not stored"
        )
    report.warnings = split_warnings(splits, report.questions, config.splits)
    timings["total"] = time.perf_counter() - t0
    report.timings = timings
    report_dict = report.to_dict(splits, verified)
    card = DatasetCard(
        id=new_id("ds"),
        name=config.name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        groundtune_version=__version__,
        kb=config.kb,
        kb_generation=kb_generation,
        embedder=embedder,
        retriever=retriever_record,
        grounding=GroundingRecord.model_validate(fmt.describe()),
        oracle_fraction=config.oracle_fraction,
        documents_per_prompt=config.documents_per_prompt,
        seed=config.seed,
        lm=config.lm,
        max_tokens=config.max_tokens,
        sources=[  # question counts per kind are in stats["sources"]
            SourceSummary(kind=s.kind, path=s.path, assign=s.assign, limit=s.limit) for s in config.sources
        ],
        splits={s: len(exs) for s, exs in splits.items()},
        stats=report_dict,
        config=config.model_copy(update={"overwrite": False}),
    )
    path = save_dataset(config.name, splits, card, report_dict, overwrite=config.overwrite, home=home)
    return BuildResult(path, card, report_dict, splits)
