"""Runs several systems over the same examples: identical item prompts, identical decoding.

A `System` is the base model (optionally with few-shot demonstrations) or the base plus one adapter.
Every system gets the same prompt for an item, rendered by the grounding format; few-shot systems
see demonstrations before it as earlier exchanges of the conversation, rendered by that same format.
Every request carries the same `GenerationConfig` and the format's constraint over the item's
documents (so `config.constrained` decodes every system within the grounding grammar), and, when
calibrated, each system its own abstention threshold. Scoring is `eval.metrics`; this module only orchestrates.
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
from groundtune.grounding.abstention import abstain, answer_uncertainty
from groundtune.grounding.citations import renumber_citations
from groundtune.infer.request import Backend, GenerationConfig, GenerationRequest


class System(BaseModel):
    """One compared model: `adapter` None is the base model; `shots` > 0 adds demonstrations."""

    model_config = ConfigDict(extra="forbid")

    name: str
    adapter: str | None = None
    shots: int = Field(default=0, ge=0, le=8)


def default_systems(
    adapters: Sequence[str] = (), shots: int = 2, include_zero_shot: bool = True
) -> list[System]:
    """Base zero-shot (unless left out), base few-shot (when shots > 0) and each adapter."""
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
    thresholds: Mapping[str, float | None] | None = None,
) -> list[SystemResult]:
    """Generate, parse and score every item for every system (and grade them when a judge is given).
    `thresholds` (per system name) turn replies the model was too unsure of into refusals."""
    requests = build_requests(items, systems, fmt, config, demonstrations)
    results = []
    for system in systems:
        advance = progress(system.name, len(items)) if progress else None
        outputs = backend.generate(requests[system.name], progress=advance)
        threshold = (thresholds or {}).get(system.name)
        records, scored = [], []
        for ex, req, out in zip(items, requests[system.name], outputs, strict=True):
            parsed = fmt.parse(out.text, ex.documents)
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
        results.append(SystemResult(system=system, records=records, metrics=agg))
    return results
