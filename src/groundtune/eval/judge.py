"""Optional judge metrics (off by default): a model behind any OpenAI-compatible endpoint grades
each answer's faithfulness to its documents and its correctness against the gold answer.

Prompts come from `grounding.judge`; calls go through an `infer` backend (e.g. `OpenAIBackend`).
Scores are added to each record's metrics as `judge_faithfulness` / `judge_correctness` (0..1).
"""

from __future__ import annotations

from collections.abc import Sequence

from groundtune.core.schemas import EvalRecord, Example
from groundtune.grounding.judge import JUDGE_KINDS, parse_judge_score, render_judge_prompt
from groundtune.infer.request import Backend, GenerationConfig, GenerationRequest

JUDGE_DECODING = GenerationConfig(max_new_tokens=8, temperature=0.0)


def judge_records(
    records: Sequence[EvalRecord],
    examples: Sequence[Example],
    backend: Backend,
    kinds: Sequence[str] = JUDGE_KINDS,
) -> None:
    """Grade every record in place; correctness is asked only where a gold answer exists."""
    by_id = {ex.id: ex for ex in examples}
    jobs: list[tuple[EvalRecord, str]] = []
    requests: list[GenerationRequest] = []
    for record in records:
        ex = by_id[record.example_id]
        for kind in kinds:
            if kind == "correctness" and not (ex.answerable and ex.answer):
                continue
            prompt = render_judge_prompt(kind, ex.question, record.parsed.answer, ex.documents, ex.answer)
            jobs.append((record, kind))
            requests.append(GenerationRequest(prompt=prompt, config=JUDGE_DECODING))
    for (record, kind), result in zip(jobs, backend.generate(requests), strict=True):
        record.metrics[f"judge_{kind}"] = parse_judge_score(result.text)
