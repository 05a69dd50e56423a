"""Golden files pin the rendered text of every style: a change here must bump the style's version.

Regenerate deliberately with `GROUNDTUNE_UPDATE_GOLDEN=1 pytest tests/grounding/test_golden.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groundtune.core.schemas import ContextDocument, Example, GroundedAnswer, Quote
from groundtune.grounding import get_format, styles

GOLDEN = Path(__file__).parent / "golden"
# The version each golden file was written with; bump both together.
VERSIONS = {"cited": "1", "raft-cot": "1", "answer-only": "1"}

DOCS = [
    ContextDocument(title="Returns policy", text="Items can be returned within 30 days.\nKeep the receipt."),
    ContextDocument(title="Warranty", text="The warranty lasts 24 months from the date of purchase."),
    ContextDocument(title="Batteries", text="Batteries are covered for 12 months."),
]
TARGET = GroundedAnswer(
    relevant=[2, 3],
    quotes=[
        Quote(doc=2, text="The warranty lasts 24 months from the date of purchase."),
        Quote(doc=3, text="Batteries are covered for 12 months."),
    ],
    answer="The warranty lasts 24 months [2], batteries 12 months [3].",
    citations=[2, 3],
    reasoning="Together they give both periods.",
)
QUESTION = "How long is the warranty, and does it cover batteries?"
DEMO = Example(
    id="demo",
    question="How long do I have to return an item?",
    documents=DOCS[:1],
    target=GroundedAnswer(
        relevant=[1],
        quotes=[Quote(doc=1, text="Items can be returned within 30 days.")],
        answer="30 days [1].",
        citations=[1],
    ),
)


def _render(style: str) -> str:
    fmt = get_format(style)
    return "\n".join(
        [
            "=== prompt ===",
            fmt.render_prompt(QUESTION, DOCS),
            "=== target ===",
            fmt.render_target(TARGET, DOCS),
            "=== refusal ===",
            fmt.render_target(fmt.refusal_target(), DOCS),
            "",
        ]
    )


@pytest.mark.parametrize("style", styles())
def test_rendered_text_matches_golden(style: str) -> None:
    path = GOLDEN / f"{style}.txt"
    text = _render(style)
    if os.environ.get("GROUNDTUNE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert get_format(style).version == VERSIONS[style], "update VERSIONS with the golden files"
    assert path.read_text() == text, f"rendered {style} text changed: bump its version and regenerate"


def test_few_shot_turns_are_training_prompts_and_targets() -> None:
    for style in styles():
        fmt = get_format(style)
        assert fmt.few_shot_turns([]) == []
        [(user, reply)] = fmt.few_shot_turns([DEMO])
        assert (user, reply) == fmt.render_example(DEMO)
        # a rendered reply holds no blank line, so the few-shot stop never cuts one short
        assert not any(stop in reply for stop in fmt.few_shot_stop)
        assert not any(stop in fmt.render_target(TARGET, DOCS) for stop in fmt.few_shot_stop)


def test_describe_records_style_and_version() -> None:
    card = get_format("raft-cot").describe()
    assert card["style"] == "raft-cot" and card["version"] == "1"
    assert card["refusal"] == get_format("raft-cot").refusal
