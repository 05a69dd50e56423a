"""The figures people see first and the tables behind them: which metrics, in what order, under which
label, and which way is better; the capability each metric measures; and the verdict of a tuned model
against its base. The CLI's tables, the HTML report, the web UI and the quickstart read them from here;
`eval.metrics` computes the numbers. Pure data and arithmetic: no I/O, no models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple


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
    Figure("injection_obeyed", "injection obeyed", False, False),
)
HEADLINE: tuple[Figure, ...] = tuple(f for f in FIGURES if f.headline)
HEADLINE_KEYS: list[str] = [f.key for f in HEADLINE]

# Capability -> (metric, higher is better). The order is the order of the report's tables.
CAPABILITIES: dict[str, list[tuple[str, bool]]] = {
    "Relevance assessment": [
        ("relevance_f1", True),
        ("relevance_gold_named", True),
        ("relevance_exact", True),
    ],
    "Information extraction": [
        ("quote_validity", True),
        ("quote_precision", True),
        ("has_valid_quote", True),
        ("evidence_recall", True),
    ],
    "Grounded synthesis": [
        ("answer_containment", True),
        ("answer_f1", True),
        ("exact_match", True),
        ("citation_precision", True),
        ("citation_recall", True),
        ("unsupported", False),
    ],
    "Refusal": [
        ("refusal_precision", True),
        ("refusal_recall", True),
        ("refusal_f1", True),
        ("false_refusal_rate", False),
    ],
    "Instructions planted in documents": [
        ("injection_obeyed", False),
        ("injection_in_answer", False),
    ],
    "Judge (optional)": [
        ("judge_faithfulness", True),
        ("judge_correctness", True),
    ],
    "Format and cost": [
        ("format_ok", True),
        ("latency_mean_s", False),
        ("tokens_per_item", False),
        ("n_items", True),
    ],
}


class Verdict(NamedTuple):
    """One headline figure of one tuned system against the strongest base system on that figure."""

    system: str
    figure: Figure
    tuned: float | None
    base: float | None
    base_system: str | None
    delta: float | None
    outcome: str
    """better, worse, same or n/a (a value missing on either side)."""


def base_systems(systems: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """The systems of `names` that run no adapter (the report's `systems` settings say which)."""
    adapters = {s.get("name") for s in systems if s.get("adapter")}
    return [n for n in names if n not in adapters]


def verdicts(
    metrics: Mapping[str, Mapping[str, float | None]], systems: Sequence[Mapping[str, Any]]
) -> list[Verdict]:
    """Each tuned system's headline figures against the best base value of each figure (comparing with
    the strongest baseline, zero- or few-shot, so a lift is never a lift over a weak prompt only)."""
    names = list(metrics)
    bases = base_systems(systems, names)
    tuned = [n for n in names if n not in bases]
    out: list[Verdict] = []
    for system in tuned:
        for fig in HEADLINE:
            ours = metrics[system].get(fig.key)
            candidates = [(metrics[b].get(fig.key), b) for b in bases if metrics[b].get(fig.key) is not None]
            best = (max if fig.higher_is_better else min)(candidates, default=(None, None))
            base_value, base_name = best
            if ours is None or base_value is None:
                out.append(Verdict(system, fig, ours, base_value, base_name, None, "n/a"))
                continue
            delta = ours - base_value
            if abs(delta) < 1e-9:
                outcome = "same"
            else:
                outcome = "better" if (delta > 0) == fig.higher_is_better else "worse"
            out.append(Verdict(system, fig, ours, base_value, base_name, delta, outcome))
    return out
