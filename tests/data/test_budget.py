"""The token budget drops distractors before it shortens a relevant chunk, and never cuts the target."""

from __future__ import annotations

import pytest

from groundtune.core.schemas import Chunk, ContextDocument, GroundedAnswer
from groundtune.data.budget import fit_example
from groundtune.data.labelling import IRRELEVANT, RELEVANT, Label
from groundtune.data.planning import GOLD, HARD, RANDOM, Candidate
from groundtune.data.sources import QAPair
from groundtune.data.targets import build_target
from groundtune.data.tokens import TokenCounter, load_counter
from groundtune.grounding import get_format, is_verbatim

PAIR = QAPair(id="q", question="When was it completed?", answers=["1889"])
FILLER = " ".join(f"filler{i} words here." for i in range(60))
RELEVANT_TEXT = f"{FILLER} The tower was completed in 1889. {FILLER}"


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return load_counter("tiny-random-gemma3")


def cand(cid: str, text: str, relevant: bool, kind: str, rank: int | None) -> Candidate:
    c = Chunk(id=cid, doc_id=f"doc-{cid}", title=cid, text=text, start=0, end=len(text))
    return Candidate(c, Label(RELEVANT if relevant else IRRELEVANT, "test"), kind, rank=rank)


def target_for(docs: list[ContextDocument]) -> GroundedAnswer:
    if not any(d.relevant for d in docs):
        return get_format().refusal_target()
    return build_target(PAIR, docs)


def candidates() -> list[Candidate]:
    return [
        cand("hard1", FILLER, False, HARD, 1),
        cand("gold", RELEVANT_TEXT, True, GOLD, 2),
        cand("rand", FILLER, False, RANDOM, None),
        cand("hard9", FILLER, False, HARD, 9),
    ]


def total(counter: TokenCounter) -> int:
    fitted = fit_example(PAIR.question, candidates(), target_for, get_format(), counter, 10**6)
    assert fitted is not None
    return fitted.prompt_tokens + fitted.completion_tokens


def test_everything_fits_untouched(counter: TokenCounter) -> None:
    fitted = fit_example(PAIR.question, candidates(), target_for, get_format(), counter, 10**6)
    assert fitted and fitted.dropped_distractors == 0 and fitted.shortened == 0
    assert len(fitted.documents) == 4


def test_distractors_go_first_random_then_worst_ranked(counter: TokenCounter) -> None:
    full = total(counter)
    per_doc = counter.count(FILLER)
    fitted = fit_example(
        PAIR.question, candidates(), target_for, get_format(), counter, full - per_doc - per_doc // 2
    )
    assert fitted is not None
    kept = [d.chunk_id for d in fitted.documents]
    assert fitted.dropped_distractors == 2 and kept == ["hard1", "gold"]
    assert fitted.shortened == 0


def test_relevant_chunk_is_shortened_around_its_quote_only_after_distractors(counter: TokenCounter) -> None:
    fmt = get_format()
    budget = counter.count(RELEVANT_TEXT) // 2
    fitted = fit_example(PAIR.question, candidates(), target_for, fmt, counter, budget)
    assert fitted is not None
    assert fitted.dropped_distractors == 3 and fitted.shortened == 1
    (doc,) = fitted.documents
    assert doc.relevant and "completed in 1889" in doc.text and len(doc.text) < len(RELEVANT_TEXT)
    assert fitted.target.quotes and all(is_verbatim(q.text, doc.text) for q in fitted.target.quotes)
    assert fitted.completion == fmt.render_target(build_target(PAIR, [doc]), [doc])
    assert fitted.prompt_tokens + fitted.completion_tokens <= budget


def test_target_is_never_cut_the_example_is_dropped(counter: TokenCounter) -> None:
    assert fit_example(PAIR.question, candidates(), target_for, get_format(), counter, 40) is None


def test_counts_match_the_trainer_tokenization(counter: TokenCounter) -> None:
    p, c = counter.example("hello", "world")
    tok = counter.tokenizer
    assert p == len(tok(counter.layout.prompt("hello"))["input_ids"])
    assert c == len(tok(counter.layout.completion("world"), add_special_tokens=False)["input_ids"])
    pieces = counter.trained_pieces("hello", "world")
    assert sum(1 for _, trained in pieces if trained) == c
    assert "".join(t for t, trained in pieces if trained).startswith("world")
