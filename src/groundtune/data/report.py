"""The build report: counts, refusal share, documents per example, token lengths, truncations, drops
by reason, label reasons and the verified-quote rate. Pure arithmetic over what the builder records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from groundtune.core.schemas import Example
from groundtune.data.injection import META_KEY as INJECTION_KEY


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return float(ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))])

    return {
        "mean": round(sum(ordered) / len(ordered), 1),
        "p50": pct(0.5),
        "p95": pct(0.95),
        "max": float(ordered[-1]),
    }


@dataclass
class BuildReport:
    """Accumulates what happened to every question during a build."""

    questions: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    prompt_tokens: list[int] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    dropped_distractors: int = 0
    shortened_examples: int = 0
    leakage: list[str] = field(default_factory=list)
    split_by: str = "document"
    evidence_from_support: int = 0
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.drops[reason] += 1

    def record(self, prompt_tokens: int, completion_tokens: int, dropped: int, shortened: int) -> None:
        self.prompt_tokens.append(prompt_tokens)
        self.completion_tokens.append(completion_tokens)
        self.dropped_distractors += dropped
        self.shortened_examples += int(shortened > 0)

    def to_dict(self, splits: dict[str, list[Example]], verified: dict[str, bool]) -> dict[str, Any]:
        """The report as JSON-ready data; `verified[example_id]` says whether its quotes verified."""
        examples = [ex for exs in splits.values() for ex in exs]
        n = len(examples)
        answerable = [ex for ex in examples if not ex.target.refusal]
        with_quote = sum(1 for ex in answerable if verified.get(ex.id))
        n_docs = [len(ex.documents) for ex in examples]
        return {
            "questions": self.questions,
            "examples": n,
            "splits": {name: len(exs) for name, exs in splits.items()},
            "split_by": self.split_by,
            "split_kinds": {
                name: {
                    "answerable": sum(1 for ex in exs if not ex.target.refusal),
                    "refusal": sum(1 for ex in exs if ex.target.refusal),
                }
                for name, exs in splits.items()
            },
            "refusal_share": round(1 - len(answerable) / n, 4) if n else 0.0,
            "answerable_examples": len(answerable),
            "answerable_with_verified_quote": with_quote,
            "verified_quote_share": round(with_quote / len(answerable), 4) if answerable else 0.0,
            "multi_document_targets": sum(1 for ex in answerable if len(ex.target.relevant) > 1),
            "planted_instructions": sum(1 for ex in examples if INJECTION_KEY in ex.meta),
            "documents_per_example": {
                **_summary(n_docs),
                "histogram": {str(k): v for k, v in sorted(Counter(n_docs).items())},
            },
            "tokens": {
                "prompt": _summary(self.prompt_tokens),
                "completion": _summary(self.completion_tokens),
                "total": _summary(
                    [p + c for p, c in zip(self.prompt_tokens, self.completion_tokens, strict=True)]
                ),
            },
            "truncations": {
                "examples_with_shortened_relevant_document": self.shortened_examples,
                "distractors_dropped_for_budget": self.dropped_distractors,
            },
            "drops": dict(self.drops.most_common()),
            "label_reasons": dict(self.labels.most_common()),
            "sources": dict(self.sources),
            "evidence_from_support": self.evidence_from_support,
            "leakage": self.leakage,
            "warnings": self.warnings,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
        }


# Fewer training examples than this make an adapter that learns the format at best (see docs/data.md).
MIN_TRAIN_EXAMPLES = 50


def split_warnings(
    splits: dict[str, list[Example]], questions: int, fractions: dict[str, float]
) -> list[str]:
    """What a user must hear before training on these splits: too little left to train on, or a
    validation split that cannot calibrate abstention (it needs answerable and refusal items)."""
    out: list[str] = []
    train = len(splits.get("train", []))
    if train < MIN_TRAIN_EXAMPLES:
        out.append(
            f"only {train} training examples: fine-tuning needs at least {MIN_TRAIN_EXAMPLES}; add questions, "
            "or hold out fewer (with --qa-test, a split by question keeps their documents trainable: "
            "--split-by question)"
        )
    elif questions and train < 0.5 * questions:
        out.append(
            f"only {train} training examples from {questions} questions: most questions went to held-out "
            "splits (a split by document moves every question about a held-out document; --split-by "
            "question does not)"
        )
    if fractions.get("validation", 0) > 0:
        val = splits.get("validation", [])
        if not any(not ex.target.refusal for ex in val) or not any(ex.target.refusal for ex in val):
            out.append(
                f"the validation split ({len(val)} examples) lacks answerable or refusal items: abstention "
                "cannot be calibrated on it; add questions or raise the validation share"
            )
    return out
