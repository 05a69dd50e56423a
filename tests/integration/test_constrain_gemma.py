"""Constrained decoding on the real Gemma 3 270M: on grounded prompts (2-shot, as the base model is
evaluated) every quote verifies against the document it names, and the Relevant line, quotes and
citations name only documents of the prompt, where the same model decoding freely need not."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.core.schemas import ContextDocument, Example, GroundedAnswer, Quote
from groundtune.grounding import get_format, verify_quotes
from groundtune.infer import Engine, GenerationConfig, GenerationRequest

pytestmark = pytest.mark.integration

DOCS = [
    ContextDocument(
        title="Warranty",
        text="Every Larkspur frame is covered for 24 months from the date of purchase. The warranty does not "
        "cover wear parts such as tyres, brake pads and chains.",
    ),
    ContextDocument(
        title="Charging",
        text="A full charge of the battery takes about four and a half hours with the standard charger,\n"
        "and about two and a half hours with the optional fast charger.",
    ),
    ContextDocument(
        title="History",
        text="Larkspur Cycles was founded in 1987 by Marta Veldhuis in a garage in Utrecht.",
    ),
]
QUESTIONS = [
    "How long is the frame warranty?",
    "How long does a full charge take with the fast charger?",
    "Who founded Larkspur?",
    "What colour is the logo?",
]


def _demonstrations() -> list[Example]:
    docs = DOCS[::-1][:2]
    target = GroundedAnswer(
        relevant=[1],
        quotes=[Quote(doc=1, text="Larkspur Cycles was founded in 1987")],
        answer="In 1987 [1].",
        citations=[1],
    )
    refusal = get_format("cited").refusal_target()
    return [
        Example(id="d1", question="When was Larkspur founded?", documents=docs, answer="1987", target=target),
        Example(
            id="d2", question="Who designs the frames?", documents=docs, answerable=False, target=refusal
        ),
    ]


def test_every_quote_verifies_and_only_prompt_documents_are_named(model_home: Path) -> None:
    fmt = get_format("cited")
    engine = Engine.load("gemma-3-270m", home=model_home, batch_size=4)
    history = fmt.few_shot_turns(_demonstrations())
    config = GenerationConfig(max_new_tokens=64, stop=list(fmt.few_shot_stop))
    requests = [
        GenerationRequest(
            prompt=fmt.render_prompt(q, DOCS), history=history, config=config, constraint=fmt.constraint(DOCS)
        )
        for q in QUESTIONS
    ]
    results = engine.generate(requests)
    quotes = 0
    for result in results:
        assert result.constrained
        parsed = fmt.parse(result.text, DOCS)
        assert "document_out_of_range" not in parsed.violations, result.text
        assert set(parsed.relevant) | set(parsed.citations) | {q.doc for q in parsed.quotes} <= {1, 2, 3}
        assert all(verify_quotes(parsed, DOCS)), result.text
        assert parsed.relevant == [] or parsed.quotes, result.text  # listed documents are quoted
        quotes += len(parsed.quotes)
    assert quotes >= 2  # the model did quote, so the checks above are not vacuous
