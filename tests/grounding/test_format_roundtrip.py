"""Render then parse gives back the structure, for every style (property tests)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.core.schemas import ContextDocument, GroundedAnswer, Quote
from groundtune.grounding import get_format, styles
from groundtune.grounding.citations import find_citations

WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'-", min_size=1, max_size=10
)
# Quote text may hold quote marks, commas, colons and brackets: the parser must not trip on them.
QUOTE_WORD = st.one_of(WORD, st.sampled_from(['"so"', "a,", "b:", "(c)", "[x]", "it's", "--", "$5"]))


@st.composite
def targets(draw: st.DrawFn) -> tuple[GroundedAnswer, list[ContextDocument]]:
    k = draw(st.integers(min_value=1, max_value=6))
    docs = [ContextDocument(title=f"Doc {i}", text=f"text {i}") for i in range(1, k + 1)]
    relevant = draw(st.lists(st.integers(1, k), min_size=1, max_size=k, unique=True))
    quotes = [
        Quote(
            doc=draw(st.sampled_from(relevant)),
            text=" ".join(draw(st.lists(QUOTE_WORD, min_size=1, max_size=8))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    words = draw(st.lists(WORD, min_size=1, max_size=10))
    cited = draw(st.lists(st.sampled_from(relevant), min_size=0, max_size=3))
    for n in cited:
        words.insert(draw(st.integers(0, len(words))), f"[{n}]")
    answer = " ".join(words) + "."
    target = GroundedAnswer(relevant=relevant, quotes=quotes, answer=answer, citations=find_citations(answer))
    return target, docs


@settings(max_examples=150, deadline=None)
@given(targets())
def test_cited_roundtrip(case: tuple[GroundedAnswer, list[ContextDocument]]) -> None:
    target, docs = case
    fmt = get_format("cited")
    parsed = fmt.parse(fmt.render_target(target, docs), docs)
    assert parsed.format_ok, parsed.violations
    assert parsed.relevant == target.relevant
    assert parsed.quotes == target.quotes
    assert parsed.answer == target.answer
    assert parsed.citations == target.citations
    assert parsed.refusal is False


@settings(max_examples=150, deadline=None)
@given(targets(), st.one_of(st.none(), st.lists(WORD, min_size=1, max_size=6).map(" ".join)))
def test_raft_cot_roundtrip(
    case: tuple[GroundedAnswer, list[ContextDocument]], reasoning: str | None
) -> None:
    target, docs = case
    target = target.model_copy(update={"reasoning": reasoning})
    fmt = get_format("raft-cot")
    parsed = fmt.parse(fmt.render_target(target, docs), docs)
    assert parsed.format_ok, parsed.violations
    assert parsed.relevant == target.relevant
    assert parsed.quotes == target.quotes
    assert parsed.answer == target.answer
    assert parsed.citations == target.citations
    assert parsed.reasoning == reasoning
    assert parsed.refusal is False


@settings(max_examples=100, deadline=None)
@given(targets())
def test_answer_only_roundtrip(case: tuple[GroundedAnswer, list[ContextDocument]]) -> None:
    target, docs = case
    fmt = get_format("answer-only")
    parsed = fmt.parse(fmt.render_target(target, docs), docs)
    assert parsed.answer == target.answer
    assert parsed.citations == target.citations
    assert parsed.relevant == target.citations
    assert parsed.format_ok == bool(target.citations)


def test_refusal_roundtrips_in_every_style() -> None:
    docs = [ContextDocument(title="A", text="nothing useful")]
    for style in styles():
        fmt = get_format(style)
        rendered = fmt.render_target(fmt.refusal_target(), docs)
        parsed = fmt.parse(rendered, docs)
        assert parsed.refusal, (style, rendered)
        assert parsed.relevant == [] and parsed.quotes == [] and parsed.citations == []
        assert parsed.format_ok, (style, parsed.violations)
        assert parsed.answer == fmt.refusal


def test_render_example_matches_prompt_and_target() -> None:
    from groundtune.core.schemas import Example

    docs = [ContextDocument(title="A", text="Paris is the capital of France.")]
    target = GroundedAnswer(
        relevant=[1], quotes=[Quote(doc=1, text="Paris is the capital")], answer="Paris [1]."
    )
    ex = Example(id="e1", question="Capital of France?", documents=docs, target=target)
    fmt = get_format()
    prompt, completion = fmt.render_example(ex)
    assert prompt == fmt.render_prompt(ex.question, docs)
    assert completion == fmt.render_target(target, docs)
    assert prompt.endswith("Question: Capital of France?")
