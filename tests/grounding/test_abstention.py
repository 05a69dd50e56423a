"""Abstention: answer uncertainty over the answer's own tokens, calibration within a false-refusal
budget, and the refusal reply that replaces an unsure answer."""

from __future__ import annotations

import pytest

from groundtune.grounding import get_format
from groundtune.grounding.abstention import abstain, answer_span, answer_uncertainty, calibrate

REPLY = 'Relevant: [1]\nQuote [1]: "The warranty lasts 24 months."\nAnswer: 24 months [1].'


def _per_char(
    text: str, inside: float, outside: float, span: tuple[int, int]
) -> tuple[list[float], list[int]]:
    """One token per character: `inside` entropy within `span`, `outside` elsewhere."""
    return [inside if span[0] <= i < span[1] else outside for i in range(len(text))], list(
        range(1, len(text) + 1)
    )


@pytest.mark.parametrize("style", ["cited", "raft-cot", "answer-only"])
def test_uncertainty_reads_only_the_answer_tokens(style: str) -> None:
    fmt = get_format(style)
    from groundtune.core.schemas import GroundedAnswer

    reply = fmt.render_target(
        GroundedAnswer(
            relevant=[1], answer="24 months [1].", citations=[1], reasoning="The warranty is 24 months."
        )
    )
    answer = fmt.parse(reply).answer
    lo, hi = answer_span(reply, answer)
    assert reply[lo:hi].startswith("24 months")
    entropies, ends = _per_char(reply, 2.0, 0.1, (lo, hi))
    assert answer_uncertainty(reply, answer, entropies, ends) == pytest.approx(2.0)
    assert answer_uncertainty(reply, answer, [], []) is None  # a backend without distributions


def test_a_reply_off_the_format_is_judged_as_a_whole() -> None:
    fmt = get_format("cited")
    text = "I think it is probably two years or so"
    assert answer_span(text, fmt.parse(text).answer) == (0, len(text))
    no_words = "Relevant: [1]\nAnswer: [1]"
    assert answer_span(no_words, fmt.parse(no_words).answer) == (
        0,
        len("Relevant: [1]\nAnswer: [1]"),
    )  # no words
    entropies, ends = [1.0, 3.0], [5, len(text)]
    assert answer_uncertainty(text, fmt.parse(text).answer, entropies, ends) == pytest.approx(2.0)


def test_abstain_replaces_only_unsure_answers_with_the_refusal() -> None:
    fmt = get_format("cited")
    refusal = fmt.render_target(fmt.refusal_target())
    parsed = fmt.parse(REPLY)
    text, replaced = abstain(fmt, REPLY, parsed, 0.9, 0.5)
    assert replaced.refusal and replaced == fmt.parse(refusal)
    assert text == refusal
    assert abstain(fmt, REPLY, parsed, 0.4, 0.5) == (REPLY, parsed)
    assert abstain(fmt, REPLY, parsed, 0.9, None) == (REPLY, parsed)  # uncalibrated: never
    assert abstain(fmt, REPLY, parsed, None, 0.5) == (REPLY, parsed)  # unknown uncertainty: never


def test_calibration_refuses_as_much_as_the_false_refusal_budget_allows() -> None:
    """k answerable refusals of n are allowed when (k + 1) / (n + 1) is within the budget (the
    conformal correction: k / n within it would be optimistic for new items)."""
    # 10 answerable items (uncertainty 0.1..1.0) and 4 refusal items (0.55, 0.85, 1.5, 2.0)
    answerable = [0.1 * i for i in range(1, 11)]
    refusal = [0.55, 0.85, 1.5, 2.0]
    u = answerable + refusal
    targets = [False] * 10 + [True] * 4
    own = [False] * 14
    assert calibrate(u, own, targets, max_false_refusal=0.0).threshold is None  # nothing guarantees 0
    small = calibrate(u, own, targets, max_false_refusal=0.05)  # (0 + 1) / 11 > 0.05
    assert small.threshold is None and "needs at least 19 answerable validation items" in small.summary()
    strict = calibrate(u, own, targets, max_false_refusal=0.1)  # (0 + 1) / 11 <= 0.1: no answerable refused
    assert (
        strict.threshold == pytest.approx(1.5) and strict.false_refusal == 0 and strict.refusal_recall == 0.5
    )
    one = calibrate(u, own, targets, max_false_refusal=0.2)  # (1 + 1) / 11 <= 0.2 < (2 + 1) / 11
    assert one.threshold == pytest.approx(1.0) and one.false_refusal == pytest.approx(0.1)
    loose = calibrate(u, own, targets, max_false_refusal=0.3)  # two answerable refusals: >= 0.85
    assert loose.threshold == pytest.approx(0.85) and loose.false_refusal == pytest.approx(0.2)
    assert loose.refusal_recall == 0.75 and loose.items == 14 and loose.answerable == 10
    # the model's own refusals of answerable items use up the budget first
    spent = calibrate(u, [True, True] + [False] * 12, targets, max_false_refusal=0.3)
    assert spent.threshold == pytest.approx(1.5) and spent.false_refusal == pytest.approx(0.2)
    over = calibrate(u, [True, True, True] + [False] * 11, targets, max_false_refusal=0.3)
    assert over.threshold is None  # already over budget: never abstain
    assert "own refusals use up the 30% budget" in over.summary()
    assert "use up" not in spent.summary() and "abstains at uncertainty >= 1.500" in spent.summary()
    with pytest.raises(ValueError):
        calibrate(u, own, targets[:-1])
