"""The grammar of a grounded reply: every rendered target is legal; quotes must be verbatim spans of a
listed prompt document, numbers must name prompt documents; and any reply the grammar lets end
parses cleanly with every quote verified (a random walk through it, tricky characters included)."""

from __future__ import annotations

import random

import pytest

from groundtune.core.schemas import ContextDocument, GroundedAnswer, Quote
from groundtune.grounding import get_format, is_verbatim, verify_quotes
from groundtune.grounding.citations import cite
from groundtune.grounding.cited import ANSWER, NONE, RELEVANT, quote_opening
from groundtune.grounding.constraint import ReplyGrammar
from groundtune.grounding.quotes import normalize_whitespace

DOCS = [
    ContextDocument(
        title="Frame", text='The frame has a 24-month\n  warranty.\tBatteries: "12 months" only.'
    ),
    ContextDocument(title="Tyres", text="Tyre pressure should be 3 bar [approx.]\n\nQuote: none."),
    ContextDocument(
        title="Odd", text="Caf\u00e9 \u201ccurly\u201d \u00a0spaces \u2014 dash; e\u0301 combining; \u00a8x."
    ),
]


def _grammar(style: str = "cited", docs: list[ContextDocument] = DOCS) -> ReplyGrammar:
    constraint = get_format(style).constraint(docs)
    assert constraint is not None and constraint.documents == [d.text for d in docs]
    grammar = constraint.grammar()
    assert grammar is not None
    return grammar


def _accepts(grammar: ReplyGrammar, text: str) -> bool:
    return grammar.can_end(grammar.feed(grammar.start, text))


@pytest.mark.parametrize(
    "target",
    [
        GroundedAnswer(
            relevant=[1],
            quotes=[Quote(doc=1, text="24-month warranty.")],
            answer="24 months [1].",
            citations=[1],
        ),
        GroundedAnswer(
            relevant=[2, 1],
            quotes=[Quote(doc=2, text="3 bar [approx.]"), Quote(doc=1, text='Batteries: "12 months"')],
            answer="3 bar [2], batteries 12 months [1].",
            citations=[2, 1],
        ),
        GroundedAnswer(relevant=[3], quotes=[Quote(doc=3, text="\u201ccurly\u201d")], answer="Yes [3]."),
        get_format("cited").refusal_target(),
    ],
)
def test_rendered_targets_are_legal(target: GroundedAnswer) -> None:
    assert _accepts(_grammar(), get_format("cited").render_target(target, DOCS))


@pytest.mark.parametrize(
    "text",
    [
        "Relevant: [4]",  # not a prompt document
        "Relevant: [1], [1]",  # named twice
        "Relevant: [0]",
        "Relevant: 1",  # the written form is [n]
        "relevant: [1]",
        " Relevant: [1]",
        "Relevant: [1]\nAnswer:",  # a listed document must be quoted first
        "Relevant: [1]\nQuote [2]",  # quotes only documents listed as relevant
        'Relevant: [1]\nQuote [1]: "24 month',  # not verbatim ("24-month")
        'Relevant: [1]\nQuote [1]: "warranty.\tBatteries',  # spans are of the whitespace-normalised text
        'Relevant: [2]\nQuote [2]: ""',  # blank span (document 2 holds no quote mark)
        'Relevant: [1]\nQuote [1]: "frame" and',  # the closing mark ends the line
        "Relevant: none\nQuote",  # nothing relevant, nothing to quote
        'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes [4]',  # cites a document not in the prompt
        'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes [1, 2]',
        'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes.\nQuote [1]: "x"',  # a later line reads as a field
        'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes.\n**Answer:** no',
        'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes.\nAnswer\n',  # a bare label line
        'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes.\n- relevant\r',
        'Relevant: [1]\nQuote [1]: "frame"\nQuote [1]: "frame"\n',  # the same span of a document twice
    ],
)
def test_illegal_continuations_are_refused(text: str) -> None:
    grammar = _grammar()
    assert grammar.feed(grammar.start, text) is None


def test_replies_end_only_in_a_finished_answer() -> None:
    grammar = _grammar()
    for partial in ["", "Relevant: [1]", 'Relevant: [1]\nQuote [1]: "frame"', "Relevant: none\nAnswer: "]:
        assert not _accepts(grammar, partial)
    assert not _accepts(grammar, 'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes [1')
    assert not _accepts(grammar, 'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes\nAnswer')
    # The answer is one line: its line break completes the reply, and only stopping is legal after it.
    done = grammar.feed(grammar.start, 'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes [1].\n')
    assert grammar.is_done(done) and grammar.can_end(done)
    assert grammar.feed(done, "Relevant") is None and grammar.feed(done, " ") is None
    assert not _accepts(grammar, 'Relevant: [1]\nQuote [1]: "frame"\nAnswer: yes\nAnswers vary')


def test_a_document_may_be_quoted_again_only_in_other_words() -> None:
    grammar = _grammar()
    twice = 'Relevant: [1], [2]\nQuote [1]: "frame"\nQuote [2]: "3 bar"\nQuote [1]: "frame has"\n'
    assert grammar.feed(grammar.start, twice) is not None
    # the repeated span may still grow into a longer one; it may not close where the first did
    again = grammar.feed(grammar.start, 'Relevant: [1]\nQuote [1]: "frame"\nQuote [1]: "frame')
    assert again is not None and not grammar.closable(again)  # type: ignore[arg-type]
    assert grammar.feed(again, '"\n') is None and grammar.feed(again, ' has"\n') is not None
    assert '"\n' not in grammar.prospects(again, 8) and " has a 2" in grammar.prospects(again, 8)


def test_a_span_that_could_only_repeat_a_quote_is_never_entered() -> None:
    # "only." ends document 1 and was quoted: writing it again would leave no legal next token (a tiny
    # random model on the CI machine walked into that and its reply broke off the grammar).
    grammar = _grammar()
    quoted = 'Relevant: [1], [2]\nQuote [1]: "only."\nQuote [1]: "'
    state = grammar.feed(grammar.start, quoted)
    assert state is not None
    assert grammar.feed(state, "only") is not None and grammar.feed(state, "only.") is None
    assert grammar.feed(state, "on") is not None and grammar.feed(state, '12 months" only.') is not None
    # a document with nothing left to quote is not offered again; the answer or another one is
    tiny = ReplyGrammar(["ok", "Tyre pressure"])
    after = tiny.feed(tiny.start, 'Relevant: [1], [2]\nQuote [1]: "ok"\nQuote [1]: "o"\nQuote [1]: "k"\n')
    assert after is not None and tiny.feed(after, quote_opening(1)) is None
    assert tiny.feed(after, quote_opening(2)) is not None and tiny.feed(after, ANSWER) is not None


def test_a_quote_mark_inside_the_document_may_continue_the_span() -> None:
    grammar = _grammar()
    text = 'Relevant: [1]\nQuote [1]: "Batteries: "12 months" only."\nAnswer: 12 months [1].'
    assert _accepts(grammar, text)
    assert get_format("cited").parse(text, DOCS).quotes[0].text == 'Batteries: "12 months" only.'


def test_every_normalised_substring_of_a_document_verifies() -> None:
    """The grammar's notion of verbatim (a substring of the whitespace-normalised text) is at least as
    strict as the verifier's, Unicode quotes, NBSPs and combining marks included."""
    rng = random.Random(0)
    grammar = _grammar()
    for n, doc in enumerate(DOCS, start=1):
        text = normalize_whitespace(doc.text)
        for _ in range(200):
            i = rng.randrange(len(text))
            j = rng.randrange(i + 1, len(text) + 1)
            span = text[i:j]
            if span.strip():
                assert is_verbatim(span, doc.text), span
                state = grammar.feed(grammar.start, f"{RELEVANT}{cite(n)}\n{quote_opening(n)}{span}")
                assert state is not None


def test_no_written_form_is_a_prefix_of_another() -> None:
    """The grammar decides an option once it is typed in full: `[1]` must not open `[10]` and so on."""
    forms = [RELEVANT, ANSWER, NONE + "\n", *(cite(n) for n in range(1, 30))]
    forms += [quote_opening(n) for n in range(1, 30)]
    assert not [(a, b) for a in forms for b in forms if a != b and b.startswith(a)]


def test_answer_only_constrains_citations_only() -> None:
    grammar = _grammar("answer-only")
    assert _accepts(grammar, "Quote: 24 months [1], see [3].\nRelevant: yes")
    assert grammar.feed(grammar.start, "24 months [4]") is None
    assert get_format("raft-cot").constraint(DOCS) is None


def test_no_documents_leaves_only_none() -> None:
    grammar = _grammar(docs=[])
    assert _accepts(grammar, f"{RELEVANT}{NONE}\n{ANSWER}The documents do not contain the answer.")
    assert grammar.feed(grammar.start, "Relevant: [") is None
    assert grammar.feed(grammar.start, "Relevant: none\nAnswer: see [") is None


ALPHABET = [
    *'abQuoteAnswrRlv [1234]:,."\n*#-\u2028',
    "Quote",
    "Answer",
    "Answer:",
    "Relevant",
    "Relevant:",
    "\n\n",
]


@pytest.mark.parametrize("seed", range(40))
def test_any_reply_the_grammar_ends_parses_cleanly_and_verifies(seed: int) -> None:
    """A random walk: at each step a random legal piece (a prospect prefix, or a tricky character in
    the answer); whenever the reply may end, it parses without violations, every quote verifies, and
    every document number names a prompt document."""
    rng = random.Random(seed)
    fmt = get_format("cited")
    grammar = _grammar()
    text, state = "", grammar.start
    for _ in range(120):
        if grammar.is_done(state):
            break  # the answer line ended: the reply is complete (checked below as it could end)
        pieces = [p[: rng.randint(1, len(p))] for p in grammar.prospects(state, 6)] or ALPHABET
        legal = [p for p in pieces + ALPHABET if grammar.feed(state, p) is not None]
        assert legal, f"stuck after {text!r}"
        piece = rng.choice(legal)
        text, state = text + piece, grammar.feed(state, piece)
        if grammar.can_end(state):
            parsed = fmt.parse(text, DOCS)
            assert parsed.format_ok, (text, parsed.violations)
            assert (parsed.quotes and all(verify_quotes(parsed, DOCS))) or parsed.relevant == []
            assert set(parsed.relevant) | set(parsed.citations) <= {1, 2, 3}
            if rng.random() < 0.1:
                break
