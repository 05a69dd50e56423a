"""The figures people see first: which metrics, in what order, under which label, and which way is
better. The CLI's evaluation tables, the HTML report's headline chart and the quickstart's
base-vs-tuned table all read them from here; `eval.metrics` computes the numbers.
"""

from __future__ import annotations

from typing import NamedTuple


class Figure(NamedTuple):
    key: str
    label: str
    higher_is_better: bool
    headline: bool
    """One of the six figures that compare base and tuned (report chart, quickstart table)."""


FIGURES: tuple[Figure, ...] = (
    Figure("relevance_f1", "relevance F1", True, True),
    Figure("relevance_gold_named", "gold doc named", True, False),
    Figure("quote_validity", "quote validity", True, True),
    Figure("answer_f1", "answer F1", True, True),
    Figure("answer_containment", "answer containment", True, False),
    Figure("citation_precision", "citation precision", True, True),
    Figure("refusal_f1", "refusal F1", True, True),
    Figure("false_refusal_rate", "false refusals", False, True),
    Figure("format_ok", "format ok", True, False),
)
HEADLINE: tuple[Figure, ...] = tuple(f for f in FIGURES if f.headline)
HEADLINE_KEYS: list[str] = [f.key for f in HEADLINE]
