"""Verbatim-span checks and answer normalisation shared by data validation and evaluation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.core.schemas import ContextDocument, GroundedAnswer, Quote
from groundtune.grounding.citations import find_citations, strip_citations
from groundtune.grounding.quotes import (
    contains_answer,
    find_answer,
    find_verbatim,
    normalize_answer,
    verify_quotes,
)

TEXT = "The Eiffel Tower, built in 1889,\nstands in  Paris. It is \u201cthe iron lady\u201d \u2013 famous."


def test_exact_and_whitespace_tolerant_spans() -> None:
    assert find_verbatim("built in 1889", TEXT) == (TEXT.index("built"), TEXT.index("built") + 13)
    span = find_verbatim("built in 1889, stands in Paris.", TEXT)
    assert span is not None and TEXT[span[0] : span[1]] == "built in 1889,\nstands in  Paris."


def test_typographic_variants_count_as_verbatim() -> None:
    span = find_verbatim('It is "the iron lady" - famous.', TEXT)
    assert span is not None and TEXT[span[1] - 7 : span[1]] == "famous."


def test_changed_words_case_or_punctuation_are_not_verbatim() -> None:
    assert find_verbatim("built in 1890", TEXT) is None
    assert find_verbatim("the eiffel tower", TEXT) is None
    assert find_verbatim("built in 1889 stands", TEXT) is None
    assert find_verbatim("   ", TEXT) is None


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80), st.data())
def test_every_substring_is_verbatim(text: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text) - 1))
    j = data.draw(st.integers(i + 1, len(text)))
    piece = text[i:j]
    if piece.strip():
        assert find_verbatim(piece, text) is not None


def test_answer_location_ignores_case_punctuation_and_articles() -> None:
    span = find_answer("the eiffel tower", TEXT)
    assert span is not None and TEXT[span[0] : span[1]] == "The Eiffel Tower"
    other = "Visit Eiffel-tower today."
    span = find_answer("The Eiffel Tower", other)
    assert span is not None and other[span[0] : span[1]] == "Eiffel-tower"
    assert find_answer("iron", "The environment") is None  # word boundaries
    assert find_answer("1889", TEXT) is not None


def test_normalize_and_contains() -> None:
    assert normalize_answer("The  Eiffel-Tower!") == "eiffel tower"
    assert contains_answer(TEXT, "Paris")
    assert not contains_answer(TEXT, "Par")
    assert not contains_answer(TEXT, "")


def test_verify_quotes_checks_the_named_document() -> None:
    docs = [ContextDocument(title="a", text="alpha beta"), ContextDocument(title="b", text="gamma delta")]
    answer = GroundedAnswer(
        quotes=[Quote(doc=1, text="alpha beta"), Quote(doc=1, text="gamma"), Quote(doc=3, text="alpha")]
    )
    assert verify_quotes(answer, docs) == [True, False, False]


def test_citation_helpers() -> None:
    assert find_citations("a [2] b [1, 2] c [3][2]") == [2, 1, 3]
    assert strip_citations("Paris [1], in France [2].") == "Paris, in France."
