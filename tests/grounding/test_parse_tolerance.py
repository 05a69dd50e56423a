"""The parser reads drifting model output, reports violations, and never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.core.errors import InvalidInputError
from groundtune.core.schemas import ContextDocument
from groundtune.grounding import get_format, styles

DOCS = [ContextDocument(title=f"T{i}", text=f"body {i}") for i in range(1, 4)]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["cited", "raft-cot", "answer-only"]))
def test_parse_never_raises(text: str, style: str) -> None:
    parsed = get_format(style).parse(text, DOCS)
    assert parsed.format_ok == (not parsed.violations)


@pytest.mark.parametrize(
    ("text", "violation"),
    [
        ("", "empty"),
        ("Paris is the capital [1].", "no_structure"),
        ('Relevant: [1]\nQuote [1]: "Paris is', "unterminated_quote"),
        ("Relevant: [1]\nQuote [1]: Paris\nAnswer: Paris [1]", "unquoted_quote"),
        ("Relevant: [1]\nAnswer: Paris [9]", "document_out_of_range"),
        ('Quote [1]: "x"\nAnswer: Paris [1]', "missing_relevant"),
        ("Relevant: [1]", "missing_answer"),
        ('Relevant: [1]\nQuote: "x"\nAnswer: Paris [1]', "quote_without_document"),
    ],
)
def test_cited_violations(text: str, violation: str) -> None:
    parsed = get_format("cited").parse(text, DOCS)
    assert violation in parsed.violations
    assert not parsed.format_ok


def test_cited_tolerates_markdown_and_bare_numbers() -> None:
    text = '**Relevant:** 1, 3\n- **Quote 3:** "body 3"\n**Answer:** It is body [3].'
    parsed = get_format("cited").parse(text, DOCS)
    assert parsed.relevant == [1, 3]
    assert [(q.doc, q.text) for q in parsed.quotes] == [(3, "body 3")]
    assert parsed.answer == "It is body [3]."
    assert parsed.citations == [3]
    assert parsed.format_ok, parsed.violations


def test_refusal_detected_case_and_punctuation_insensitively() -> None:
    parsed = get_format("cited").parse(
        "Relevant: none\nAnswer: the documents do not contain the answer", DOCS
    )
    assert parsed.refusal and parsed.relevant == []


def test_multiline_answer_and_grouped_citations() -> None:
    parsed = get_format("cited").parse("Relevant: [1], [2]\nAnswer: first [1, 2]\nsecond [2]", DOCS)
    assert parsed.answer == "first [1, 2]\nsecond [2]"
    assert parsed.citations == [1, 2]


def test_raft_cot_reads_original_raft_markers() -> None:
    text = (
        "##Reason: Document [2] is relevant. It says ##begin_quote##body 2##end_quote## so.\n"
        "<ANSWER>: body [2]"
    )
    parsed = get_format("raft-cot").parse(text, DOCS)
    assert parsed.relevant == [2]
    assert [(q.doc, q.text) for q in parsed.quotes] == [(2, "body 2")]
    assert parsed.answer == "body [2]"


def test_unknown_style_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError) as err:
        get_format("chatty")
    assert "cited" in (err.value.hint or "")


def test_styles_listed() -> None:
    assert styles() == ["cited", "raft-cot", "answer-only"]


@pytest.mark.parametrize("style", styles())
def test_echoing_the_instruction_is_not_a_refusal(style: str) -> None:
    fmt = get_format(style)
    assert fmt.is_refusal(fmt.refusal) and fmt.is_refusal(f"Sorry: {fmt.refusal.lower()} [2]")
    assert not fmt.is_refusal(fmt.instruction)  # it quotes the refusal sentence as an instruction
    assert not fmt.parse(fmt.instruction).refusal
    assert not fmt.parse(f"Answer: {fmt.instruction}").refusal
    assert fmt.is_refusal(f"{fmt.instruction}\n{fmt.refusal}")  # echo, then a refusal of its own
