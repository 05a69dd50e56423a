"""Runs several systems over the same examples: identical item prompts, identical decoding.

A `System` is the base model (optionally with few-shot demonstrations) or the base plus one adapter.
Every system gets the same prompt for an item, rendered by the grounding format; few-shot systems
see demonstrations before it as earlier exchanges of the conversation, rendered by that same format.
Every request carries the same `GenerationConfig` and the format's constraint over the item's
documents (so `config.constrained` decodes every system within the grounding grammar), and, when
calibrated, each system its own abstention: an uncertainty threshold applied to its replies, or an
answerability gate over the item's documents (scored with `embed`, the retriever's embedder) that
refuses below it without generating and makes the model answer above it. Scoring is `eval.metrics`;
this module only orchestrates.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groundtune.core.errors import InvalidInputError
from groundtune.core.schemas import EvalRecord, Example
from groundtune.eval.metrics import aggregate, item_metrics
from groundtune.grounding import GroundingFormat
from groundtune.grounding.abstention import Abstention, abstain, answer_uncertainty, gated_score, steer
from groundtune.grounding.answerability import Embed, Scored, auroc, score_items
from groundtune.grounding.citations import renumber_citations
from groundtune.infer.request import Backend, GenerationConfig, GenerationRequest, gated_refusal


class System(BaseModel):
    """One compared model: `adapter` None is the base model; `shots` > 0 adds demonstrations."""

    model_config = ConfigDict(extra="forbid")

    name: str
    adapter: str | None = None
    shots: int = Field(default=0, ge=0, le=8)


def default_systems(
    adapters: Sequence[str] = (), shots: int = 2, include_zero_shot: bool = True, include_base: bool = True
) -> list[System]:
    """Base zero-shot (unless left out), base few-shot (when shots > 0) and each adapter;
    `include_base=False` leaves the adapters alone (another seed of an adapter already compared)."""
    if not include_base and adapters:
        return [System(name=name, adapter=name) for name in adapters]
    systems = [System(name="base")] if include_zero_shot or not shots else []
    if shots:
        systems.append(System(name=f"base-{shots}shot", shots=shots))
    systems += [System(name=name, adapter=name) for name in adapters]
    return systems


def pick_demonstrations(
    pool: Sequence[Example], n: int, seed: int = 0, max_documents: int = 2
) -> list[Example]:
    """`n` demonstrations from `pool`, alternating answerable and unanswerable when both exist.

    Each keeps at most `max_documents` documents (relevant ones first) so that few-shot prompts stay
    short enough for a small model; their targets are re-rendered against the kept documents.
    """
    if n == 0:
        return []
    rng = random.Random(seed)
    answerable = [e for e in pool if e.answerable and any(d.relevant for d in e.documents)]
    unanswerable = [e for e in pool if not e.answerable]
    rng.shuffle(answerable)
    rng.shuffle(unanswerable)
    chosen: list[Example] = []
    while len(chosen) < n and (answerable or unanswerable):
        source = answerable if (len(chosen) % 2 == 0 and answerable) or not unanswerable else unanswerable
        chosen.append(_shorten(source.pop(), max_documents))
    if len(chosen) < n:
        raise InvalidInputError(
            f"{n} demonstrations were asked for but the pool holds only {len(chosen)} usable examples",
            hint="lower --shots or give a larger demonstration pool (the dataset's train split)",
        )
    return chosen


def _shorten(example: Example, max_documents: int) -> Example:
    """Keep relevant documents first, then distractors, up to `max_documents`; renumber the target."""
    order = sorted(range(len(example.documents)), key=lambda i: not example.documents[i].relevant)
    keep = sorted(order[:max_documents])
    renumber = {old + 1: new + 1 for new, old in enumerate(keep)}
    target = example.target
    quotes = [q.model_copy(update={"doc": renumber[q.doc]}) for q in target.quotes if q.doc in renumber]
    # Citation markers inside the answer text are rewritten too, so the demonstration stays consistent.
    answer = renumber_citations(target.answer, renumber)
    new_target = target.model_copy(
        update={
            "relevant": [renumber[n] for n in target.relevant if n in renumber],
            "citations": [renumber[n] for n in target.citations if n in renumber],
            "quotes": quotes,
            "answer": answer,
        }
    )
    return example.model_copy(
        update={"documents": [example.documents[i] for i in keep], "target": new_target}
    )


def build_requests(
    items: Sequence[Example],
    systems: Sequence[System],
    fmt: GroundingFormat,
    config: GenerationConfig,
    demonstrations: Sequence[Example] = (),
) -> dict[str, list[GenerationRequest]]:
    """Requests per system, item by item; the only difference between systems is adapter and shots."""
    shots_needed = max((s.shots for s in systems), default=0)
    if shots_needed > len(demonstrations):
        raise InvalidInputError(
            f"a system asks for {shots_needed} shots but {len(demonstrations)} demonstrations were given",
            hint="pass more demonstrations or fewer shots",
        )
    if shots_needed:
        # Every system decodes alike, so all stop where a few-shot reply ends (a tuned model ends its
        # turn before; a base model continuing the pattern would write the next task).
        stop = [*config.stop, *(s for s in fmt.few_shot_stop if s not in config.stop)]
        config = config.model_copy(update={"stop": stop})
    out: dict[str, list[GenerationRequest]] = {}
    for system in systems:
        history = fmt.few_shot_turns(demonstrations[: system.shots])
        out[system.name] = [
            GenerationRequest(
                prompt=fmt.render_prompt(ex.question, ex.documents),
                history=history,
                adapter=system.adapter,
                config=config,
                constraint=fmt.constraint(ex.documents),
            )
            for ex in items
        ]
    return out


ProgressFactory = Callable[[str, int], Callable[[int], Any]]
"""Called with (label, total) before a batch of work; returns the callback that advances it."""


class SystemResult(BaseModel):
    """One system's records and aggregate metrics on one suite."""

    system: System
    records: list[EvalRecord]
    metrics: dict[str, float | None]


def run_systems(
    items: Sequence[Example],
    systems: Sequence[System],
    backend: Backend,
    fmt: GroundingFormat,
    config: GenerationConfig,
    demonstrations: Sequence[Example] = (),
    progress: ProgressFactory | None = None,
    judge: Backend | None = None,
    abstentions: Mapping[str, Abstention] | None = None,
    embed: Embed | None = None,
) -> list[SystemResult]:
    """Generate, parse and score every item for every system (and grade them when a judge is given).
    `abstentions` (per system name) refuse where that system's calibration says; `embed` scores each
    item's answerability (needed by gates, and reported as a refusal AUROC either way)."""
    requests = build_requests(items, systems, fmt, config, demonstrations)
    per_item: list[Scored | None] = (
        list(score_examples(items, embed)) if embed is not None else [None] * len(items)
    )
    refusal_reply = fmt.render_target(fmt.refusal_target())
    results = []
    for system in systems:
        abstention = (abstentions or {}).get(system.name)
        steered = [
            _steer(req, abstention, scored)
            for req, scored in zip(requests[system.name], per_item, strict=True)
        ]
        decisions = [decision for decision, _ in steered]
        asked = [req for decision, req in steered if decision != "refuse"]
        advance = progress(system.name, len(items)) if progress else None
        if advance is not None and len(asked) < len(items):
            advance(len(items) - len(asked))  # refused by the gate: nothing to generate
        generated = iter(backend.generate(asked, progress=advance))
        outputs = [
            gated_refusal(refusal_reply) if decision == "refuse" else next(generated)
            for decision in decisions
        ]
        threshold = abstention.threshold if abstention is not None else None
        records, scored = [], []
        own_refusals: list[bool] = []
        for ex, req, out, evidence in zip(items, requests[system.name], outputs, per_item, strict=True):
            parsed = fmt.parse(out.text, ex.documents)
            own_refusals.append(parsed.refusal)
            uncertainty = answer_uncertainty(out.text, parsed.answer, out.token_entropy, out.token_ends)
            text, parsed = abstain(fmt, out.text, parsed, uncertainty, threshold, ex.documents)
            metrics = item_metrics(ex, parsed)
            scored.append((ex, metrics))
            records.append(
                EvalRecord(
                    example_id=ex.id,
                    model=system.name,
                    prompt=req.prompt,
                    output=text,
                    parsed=parsed,
                    metrics=metrics,
                    latency_s=out.latency_s,
                    prompt_tokens=out.prompt_tokens,
                    completion_tokens=out.completion_tokens,
                    uncertainty=uncertainty,
                    answerability=gated_score(abstention, evidence),
                    document_scores=evidence.documents if evidence is not None else None,
                    raw_output=out.text if text != out.text else None,
                    constrained=out.constrained,
                )
            )
        if judge is not None:
            from groundtune.eval.judge import judge_records

            judge_records(records, items, judge)
            scored = [(ex, rec.metrics) for ex, rec in zip(items, records, strict=True)]
        agg = aggregate(
            scored,
            latencies=[r.latency_s for r in records],
            completion_tokens=[r.completion_tokens for r in records],
        )
        agg["constrained"] = sum(r.constrained for r in records) / len(records) if records else None
        agg.update(signal_aurocs(items, records, own_refusals))
        results.append(SystemResult(system=system, records=records, metrics=agg))
    return results


def score_examples(items: Sequence[Example], embed: Embed | None) -> list[Scored]:
    """Each example's answerability evidence (`answerability.score_items` over its documents)."""
    return score_items([(ex.question, [(d.title, d.text) for d in ex.documents]) for ex in items], embed)


def _steer(
    request: GenerationRequest, abstention: Abstention | None, scored: Scored | None
) -> tuple[str | None, GenerationRequest]:
    """The gate's decision for this request and the request constrained to carry it out."""
    decision, constraint = steer(request.constraint, abstention, scored)
    return decision, request if constraint is request.constraint else request.model_copy(
        update={"constraint": constraint}
    )


def signal_aurocs(
    items: Sequence[Example], records: Sequence[EvalRecord], own_refusals: Sequence[bool]
) -> dict[str, float | None]:
    """How well each refusal signal ranks refusal items above answerable ones (AUROC, 0.5 = chance):
    low answerability, and high answer uncertainty (a reply the model refused itself ranks highest;
    replies with no uncertainty are left out)."""
    targets = [not ex.answerable for ex in items]
    low = [
        (-r.answerability, t) for r, t in zip(records, targets, strict=True) if r.answerability is not None
    ]
    unsure = [
        (float("inf") if own else r.uncertainty, t)
        for r, own, t in zip(records, own_refusals, targets, strict=True)
        if own or r.uncertainty is not None
    ]

    def rank(pairs: list[tuple[float | None, bool]]) -> float | None:
        return auroc(
            [float(v) for v, t in pairs if t and v is not None],
            [float(v) for v, t in pairs if not t and v is not None],
        )

    return {"refusal_auroc_answerability": rank(low), "refusal_auroc_uncertainty": rank(unsure)}  # type: ignore[arg-type]
