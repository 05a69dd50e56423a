"""Relevance labels (with reasons) and targets whose quotes are verbatim spans of the labelled chunk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.core.schemas import Chunk, ContextDocument
from groundtune.data.labelling import AMBIGUOUS, IRRELEVANT, RELEVANT, label_chunk
from groundtune.data.sources import QAPair
from groundtune.data.targets import build_target, quote_for, sentence_spans
from groundtune.grounding import get_format, is_verbatim


def chunk(cid: str, doc: str, text: str) -> Chunk:
    return Chunk(id=cid, doc_id=doc, title=doc.title(), text=text, start=0, end=len(text))


TOWER = "The tower was designed by Gustave Eiffel. It was completed in 1889. It is 330 metres tall."


def test_gold_chunk_ids_decide_and_other_answer_holders_are_ambiguous() -> None:
    pair = QAPair(id="q", question="When?", answers=["1889"], gold_chunk_ids=["c1"])
    assert label_chunk(chunk("c1", "tower", TOWER), pair).verdict == RELEVANT
    assert label_chunk(chunk("c2", "expo", "The fair of 1889 was big."), pair).verdict == AMBIGUOUS
    assert label_chunk(chunk("c3", "bridge", "A bridge."), pair).verdict == IRRELEVANT


def test_gold_doc_needs_evidence_in_the_chunk() -> None:
    pair = QAPair(id="q", question="When?", answers=["1889"], gold_doc_ids=["tower"])
    yes = label_chunk(chunk("c1", "tower", TOWER), pair)
    no = label_chunk(chunk("c2", "tower", "Visitors climb the stairs."), pair)
    assert yes.relevant and yes.reason == "gold_doc_id+answer"
    assert no.verdict == IRRELEVANT and no.reason == "gold_doc_chunk_without_evidence"


def test_evidence_matching_without_gold_ids_records_the_reason() -> None:
    pair = QAPair(
        id="q", question="Who?", answers=["someone else"], gold_evidence=["designed by Gustave Eiffel"]
    )
    label = label_chunk(chunk("c1", "tower", TOWER), pair)
    assert label.relevant and label.reason == "gold_evidence_match"
    bare = QAPair(id="q", question="How tall?", answers=["330 metres"])
    assert label_chunk(chunk("c1", "tower", TOWER), bare).reason == "answer_match"
    assert label_chunk(chunk("c2", "x", "Nothing here."), bare).reason == "no_evidence"


def test_unanswerable_questions_have_no_relevant_chunks() -> None:
    pair = QAPair(id="q", question="?", answerable=False)
    assert label_chunk(chunk("c1", "tower", TOWER), pair).reason == "question_unanswerable"


def test_sentences() -> None:
    spans = sentence_spans(TOWER)
    assert [TOWER[a:b] for a, b in spans] == [
        "The tower was designed by Gustave Eiffel.",
        "It was completed in 1889.",
        "It is 330 metres tall.",
    ]


def test_quote_is_the_answer_sentence_or_the_gold_evidence() -> None:
    pair = QAPair(id="q", question="When?", answers=["1889"])
    assert quote_for(TOWER, pair) == ["It was completed in 1889."]
    ev = QAPair(
        id="q", question="?", answers=["x"], gold_evidence=["It  is 330 metres tall .", "designed by Gustave"]
    )
    assert quote_for(TOWER, ev) == ["designed by Gustave"]  # the first is not verbatim (" ." differs)


def test_long_sentence_quote_is_narrowed_around_the_answer() -> None:
    text = (
        "Intro. "
        + " ".join(f"word{i}" for i in range(200))
        + " the answer is Zanzibar "
        + "tail " * 50
        + "end."
    )
    (quote,) = quote_for(text, QAPair(id="q", question="?", answers=["Zanzibar"]), max_chars=120)
    assert "Zanzibar" in quote and len(quote) <= 130 and is_verbatim(quote, text)


def test_multi_document_target_cites_every_relevant_document() -> None:
    pair = QAPair(id="q", question="When?", answers=["1889"])
    docs = [
        ContextDocument(title="A", text="Unrelated text.", relevant=False),
        ContextDocument(title="B", text=TOWER, relevant=True),
        ContextDocument(title="C", text="The Paris expo opened in 1889 too.", relevant=True),
    ]
    target = build_target(pair, docs)
    assert target.relevant == [2, 3] and target.citations == [2, 3]
    assert [q.doc for q in target.quotes] == [2, 3]
    assert target.answer == "1889 [2][3]."
    fmt = get_format()
    parsed = fmt.parse(fmt.render_target(target, docs), docs)
    assert parsed.relevant == [2, 3] and parsed.citations == [2, 3]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(alphabet="abcdefgh ,", min_size=1, max_size=30).filter(lambda s: any(c.isalpha() for c in s)),
        min_size=1,
        max_size=6,
    ),
    st.data(),
)
def test_quotes_are_always_verbatim_spans(sentences: list[str], data: st.DataObject) -> None:
    text = ". ".join(s.strip() or "x" for s in sentences) + "."
    words = [w for w in text.replace(".", " ").replace(",", " ").split() if w]
    answer = data.draw(st.sampled_from(words))
    for q in quote_for(text, QAPair(id="q", question="?", answers=[answer]), max_chars=40):
        assert is_verbatim(q, text)
