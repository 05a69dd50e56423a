"""Chunking invariants (spans, budgets, headings, overlap) and the BM25 scheme against `bm25s`."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from groundtune.core.errors import InvalidInputError
from groundtune.kb import sparse as bm25
from groundtune.kb.chunker import ChunkTokenizer, chunk_document
from groundtune.kb.parsers import make_document
from groundtune.models import load_embedder


@pytest.fixture(scope="module")
def counter() -> ChunkTokenizer:
    return ChunkTokenizer(load_embedder("tiny-random-minilm").tokenizer)


def _doc(text: str, fmt: str = "markdown"):
    return make_document("d1", "s", "Title", text, fmt=fmt).model_copy(update={"version": 3})


def test_spans_budget_headings_and_version(counter: ChunkTokenizer) -> None:
    body = " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(60))
    text = f"# Guide\n\nIntro line.\n\n## Part A\n\n{body}\n\n## Part B\n\n### Deep\n\nShort tail."
    doc = _doc(text)
    chunks = chunk_document(doc, counter, chunk_tokens=64, chunk_overlap=16)
    assert len(chunks) > 5
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.n_tokens <= 64 and counter.count([c.text])[0] <= 64 + 2
        assert c.doc_id == "d1" and c.doc_version == 3 and c.title == "Title"
    paths = [tuple(c.heading_path) for c in chunks]
    assert (
        paths[0] == ("Guide",) and ("Guide", "Part A") in paths and paths[-1] == ("Guide", "Part B", "Deep")
    )
    assert chunks[-1].text.startswith("## Part B")  # heading-only section joins the one below it
    part_a = [c for c in chunks if c.heading_path == ["Guide", "Part A"]]
    assert any(b.start < a.end for a, b in itertools.pairwise(part_a)), "no overlap between chunks"
    assert all(b.start > a.start for a, b in itertools.pairwise(part_a))
    assert len({c.id for c in chunks}) == len(chunks)


def test_long_sentence_cut_at_token_boundaries(counter: ChunkTokenizer) -> None:
    doc = _doc("word " * 500, fmt="text")
    chunks = chunk_document(doc, counter, chunk_tokens=50, chunk_overlap=0)
    assert len(chunks) == 10 and all(c.n_tokens <= 50 for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunks) == "word" * 500


def test_chunk_ids_are_content_hashes(counter: ChunkTokenizer) -> None:
    a = chunk_document(_doc("Alpha. Beta."), counter)
    b = chunk_document(_doc("Alpha. Beta."), counter)
    c = chunk_document(_doc("Alpha. Gamma."), counter)
    assert [x.id for x in a] == [x.id for x in b] != [x.id for x in c]


@pytest.mark.parametrize(("size", "overlap"), [(4, 0), (64, 64), (64, -1)])
def test_bad_chunk_settings(counter: ChunkTokenizer, size: int, overlap: int) -> None:
    with pytest.raises(InvalidInputError, match="chunk size"):
        chunk_document(_doc("x"), counter, chunk_tokens=size, chunk_overlap=overlap)


def test_bm25_scores_match_bm25s() -> None:
    bm25s = pytest.importorskip("bm25s")
    corpus = [
        "the cat sat on the mat with another cat",
        "dogs and cats are common pets in many homes",
        "a quick brown fox jumps over the lazy dog",
        "the stock market fell sharply on monday morning",
        "cats chase mice; mice fear cats and dogs",
    ]
    scheme = bm25.SparseScheme()
    counted = [bm25.term_counts(t, scheme) for t in corpus]
    avgdl = sum(n for _, n in counted) / len(counted)
    vecs = [dict(zip(*bm25.document_vector(c, n, avgdl, scheme), strict=True)) for c, n in counted]
    df: dict[int, int] = {}
    for c, _ in counted:
        for t in c:
            df[t] = df.get(t, 0) + 1
    retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    for query in ("cat dogs", "market monday", "quick fox lazy"):
        idx, vals = bm25.query_vector(bm25.query_terms(query, scheme), df, len(corpus))
        ours = np.array([sum(v * d.get(i, 0.0) for i, v in zip(idx, vals, strict=True)) for d in vecs])
        toks = bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)
        theirs = retriever.get_scores(toks[0])
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_counts_unaffected_by_a_query_encoded_mid_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # A search embeds queries with padding and truncation on the tokenizer the chunker counts with.
    # Replay the interleaving that raced under load: the query's encode lands between the
    # counter's "no padding, no truncation" set-up and its encode, on the embedder's tokenizer.
    emb = load_embedder("tiny-random-minilm")
    text = "\n\n".join(" ".join(f"Fact {i} about the flip document." for i in range(40)) for _ in range(3))
    doc = _doc(f"Version 3. {text}", fmt="text")
    counter = ChunkTokenizer(emb.tokenizer)
    expected = chunk_document(doc, counter, chunk_tokens=64, chunk_overlap=8)
    shared = emb.tokenizer
    setup = shared.set_truncation_and_padding
    inside = [False]

    def set_then_query(*args, **kwargs):
        setup(*args, **kwargs)
        if not inside[0]:
            inside[0] = True
            try:
                emb.encode(["flip document marker", "a longer query about the flip document"])
            finally:
                inside[0] = False

    monkeypatch.setattr(shared, "set_truncation_and_padding", set_then_query)
    # The replay is real: the shared tokenizer now pads a plain call (1 token padded to 3).
    assert [len(x) for x in shared(["a", "a b c"], add_special_tokens=False)["input_ids"]] == [3, 3]
    got = chunk_document(doc, ChunkTokenizer(emb.tokenizer), chunk_tokens=64, chunk_overlap=8)
    assert [(c.start, c.end, c.n_tokens) for c in got] == [(c.start, c.end, c.n_tokens) for c in expected]
