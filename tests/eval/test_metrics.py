"""Each metric on hand-made cases whose right answer is worked out by hand."""

from __future__ import annotations

import pytest

from groundtune.core.schemas import ContextDocument, Example, GroundedAnswer, Quote
from groundtune.eval.metrics import aggregate, item_metrics, token_f1, unsupported_words

DOCS = [
    ContextDocument(title="Returns", text="Items can be returned within 30 days.", relevant=False),
    ContextDocument(title="Warranty", text="The warranty lasts 24 months from purchase.", relevant=True),
    ContextDocument(title="Batteries", text="Batteries are covered for 12 months.", relevant=False),
]


def example(answerable: bool = True, **kw) -> Example:
    docs = DOCS if answerable else [d.model_copy(update={"relevant": False}) for d in DOCS]
    return Example(
        id="e1",
        question="How long is the warranty?",
        documents=docs,
        answer="24 months" if answerable else "",
        answerable=answerable,
        gold_evidence=["The warranty lasts 24 months"] if answerable else [],
        **kw,
    )


def test_perfect_answer_scores_one_everywhere() -> None:
    pred = GroundedAnswer(
        relevant=[2],
        quotes=[Quote(doc=2, text="The warranty lasts 24 months")],
        answer="24 months [2]",
        citations=[2],
    )
    m = item_metrics(example(), pred)
    for key in (
        "relevance_precision",
        "relevance_recall",
        "relevance_f1",
        "relevance_exact",
        "relevance_gold_named",
        "quote_validity",
        "quote_precision",
        "evidence_recall",
        "exact_match",
        "answer_f1",
        "answer_containment",
        "citation_precision",
        "citation_recall",
        "format_ok",
    ):
        assert m[key] == 1.0, key
    assert m["false_refusal"] == 0.0 and m["unsupported"] == 0.0 and m["missed_refusal"] is None


def test_partial_relevance_invalid_quote_and_wrong_citation() -> None:
    pred = GroundedAnswer(
        relevant=[1, 2],
        quotes=[Quote(doc=2, text="The warranty lasts 24 months"), Quote(doc=1, text="lasts 24 months")],
        answer="It lasts 24 months [1].",
        citations=[1],
    )
    m = item_metrics(example(), pred)
    assert m["relevance_precision"] == 0.5 and m["relevance_recall"] == 1.0
    assert m["relevance_f1"] == pytest.approx(2 / 3)
    assert m["relevance_exact"] == 0.0 and m["relevance_gold_named"] == 1.0
    assert m["quote_precision"] == 0.5  # the second quote is not in document 1
    assert m["quote_validity"] == 0.0  # so the reply's extraction is not valid
    assert m["citation_precision"] == 0.0 and m["citation_recall"] == 0.0
    assert m["answer_containment"] == 1.0 and m["exact_match"] == 0.0
    # "it lasts 24 months" vs "24 months": precision 2/4, recall 2/2
    assert m["answer_f1"] == pytest.approx(2 * 0.5 * 1 / 1.5)
    # "lasts", "24", "months" do not all appear in the cited document 1
    assert m["unsupported"] == 1.0


def test_a_reply_without_quotes_extracted_nothing() -> None:
    """Every system is scored on extraction alike: no quotes is invalid extraction (0) on answerable
    items, not a missing figure; quote precision, over quotes written, has none to measure."""
    bare = GroundedAnswer(relevant=[2], answer="24 months [2]", citations=[2])
    m = item_metrics(example(), bare)
    assert m["quote_validity"] == 0.0 and m["has_valid_quote"] == 0.0
    assert m["quote_precision"] is None
    assert item_metrics(example(answerable=False), GroundedAnswer(refusal=True))["quote_validity"] is None


def test_a_refused_answerable_item_is_a_false_refusal_not_an_extraction() -> None:
    """Refusing an answerable question is scored once, as a false refusal: quote validity, like
    citation precision, is measured over the answers written; has_valid_quote still counts it 0."""
    m = item_metrics(example(), GroundedAnswer(refusal=True))
    assert m["false_refusal"] == 1.0
    assert m["quote_validity"] is None and m["citation_precision"] is None
    assert m["has_valid_quote"] == 0.0


def test_unsupported_words_ignore_stopwords_and_markers() -> None:
    pred = GroundedAnswer(answer="The warranty lasts 24 months [2].", citations=[2])
    assert unsupported_words(pred, example()) == []
    pred = GroundedAnswer(answer="The warranty lasts 36 months [2].", citations=[2])
    assert unsupported_words(pred, example()) == ["36"]
    assert unsupported_words(GroundedAnswer(answer="24 months"), example()) == ["24", "months"]


def test_refusals_on_answerable_and_unanswerable_items() -> None:
    refusal = GroundedAnswer(answer="The documents do not contain the answer.", refusal=True)
    m = item_metrics(example(), refusal)
    assert m["false_refusal"] == 1.0 and m["answer_f1"] == 0.0 and m["citation_recall"] == 0.0
    assert m["citation_precision"] is None  # nothing cited, nothing claimed
    m = item_metrics(example(answerable=False), refusal)
    assert m["missed_refusal"] == 0.0 and m["false_refusal"] is None and m["answer_f1"] is None
    assert m["relevance_exact"] == 1.0  # "Relevant: none" on an unanswerable item is exactly right


def test_aggregate_refusal_scores_are_set_level() -> None:
    ans, unans = example(), example(answerable=False)
    refusal = GroundedAnswer(answer="The documents do not contain the answer.", refusal=True)
    answer = GroundedAnswer(relevant=[2], answer="24 months [2]", citations=[2])
    rows = [
        (ans, item_metrics(ans, answer)),  # correct answer
        (ans, item_metrics(ans, refusal)),  # false refusal
        (unans, item_metrics(unans, refusal)),  # correct refusal
        (unans, item_metrics(unans, answer)),  # missed refusal
    ]
    agg = aggregate(rows, latencies=[1.0, 2.0, 3.0, 4.0], completion_tokens=[10, 20, 30, 40])
    assert agg["refusal_precision"] == 0.5 and agg["refusal_recall"] == 0.5 and agg["refusal_f1"] == 0.5
    assert agg["false_refusal_rate"] == 0.5
    assert agg["answer_f1"] == 0.5  # mean over the two answerable items only
    assert agg["n_items"] == 4 and agg["n_unanswerable"] == 2
    assert agg["tokens_per_item"] == 25 and agg["latency_p95_s"] == 4.0


def test_never_refusing_scores_zero_refusal_f1() -> None:
    unans = example(answerable=False)
    answer = GroundedAnswer(relevant=[2], answer="24 months [2]", citations=[2])
    agg = aggregate([(unans, item_metrics(unans, answer))])
    assert agg["refusal_recall"] == 0.0 and agg["refusal_f1"] == 0.0 and agg["refusal_precision"] is None


def test_multiple_gold_answers_take_the_best() -> None:
    ex = example(meta={"gold_answers": ["two years", "24 months"]})
    m = item_metrics(ex, GroundedAnswer(relevant=[2], answer="two years [2]", citations=[2]))
    assert m["exact_match"] == 1.0
    assert token_f1("two years", "24 months") == 0.0


def test_a_reply_that_judges_nothing_earns_no_relevance_credit() -> None:
    from groundtune.grounding import get_format

    fmt = get_format("cited")
    unans = example(answerable=False)
    stated = fmt.parse("Relevant: none\nAnswer: It is not said.", unans.documents)
    assert item_metrics(unans, stated)["relevance_f1"] == 1.0  # "none" stated, and right
    # A base model echoing its instruction (which quotes the refusal sentence) neither refuses nor
    # says which documents are relevant.
    echo = fmt.parse(fmt.instruction, unans.documents)
    assert not echo.refusal and "no_structure" not in echo.violations
    m = item_metrics(unans, echo)
    assert m["relevance_f1"] == 0.0 and m["relevance_exact"] == 0.0 and m["missed_refusal"] == 1.0
    free = fmt.parse("I think it is 24 months.", unans.documents)
    assert item_metrics(unans, free)["relevance_f1"] == 0.0
    refusal = fmt.parse(f"Answer: {fmt.refusal}", unans.documents)  # no Relevant line, but it refuses
    assert refusal.refusal and item_metrics(unans, refusal)["relevance_f1"] == 1.0
