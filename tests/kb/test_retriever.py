"""THE retriever: modes, fusion, filters, batch = single search, the local mirror agrees with Qdrant's
own local scorer, and the config hash is stable across processes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from groundtune.core.errors import ConflictError
from groundtune.kb import RetrieverConfig, SearchFilters
from groundtune.kb.fusion import rrf
from groundtune.kb.index import Hit

QUERIES = [
    "warranty for batteries",
    "when does the office open",
    "refund to my card",
    "express shipping fee",
    "water damage covered",
    "zebra quantum",
]


@pytest.fixture()
def kb(make_kb, docs_dir: Path):
    kb = make_kb(chunk_tokens=32, chunk_overlap=4)
    kb.add(docs_dir, tags=["all"])
    kb.add(
        [
            {
                "id": "tagged",
                "title": "Tagged",
                "text": "Warranty claims need the receipt.",
                "tags": ["claims"],
            }
        ],
        fields=__import__("groundtune.kb", fromlist=["RecordFields"]).RecordFields(tags_field="tags"),
    )
    return kb


def test_modes_ranks_and_scores(kb) -> None:
    for mode in ("dense", "sparse", "hybrid"):
        hits = kb.retriever(RetrieverConfig(mode=mode, k=4)).search("warranty batteries months")
        assert 1 <= len(hits) <= 4 and [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
        if mode == "sparse":
            assert hits[0].chunk.doc_id.startswith("doc_") and "warranty" in hits[0].chunk.text.lower()
            assert all(h.dense_rank is None for h in hits)
        if mode == "hybrid":
            assert all(h.dense_rank or h.sparse_rank for h in hits)
    assert kb.retriever(RetrieverConfig(mode="sparse")).search("zebra quantum") == []


def test_rrf_formula_and_tie_break() -> None:
    a, b, c = (Hit(x, 0.0, {}) for x in "abc")
    fused = rrf([a, b], [b, c], rrf_k=10, k=3)
    assert [f.hit.chunk_id for f in fused] == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 12 + 1 / 11)
    assert (fused[0].dense_rank, fused[0].sparse_rank) == (2, 1) and fused[2].dense_rank is None
    # Equal scores and equal best ranks: the dense arm's order decides, not the ids.
    x, y, z = (Hit(i, 0.0, {}) for i in ("z9", "a1", "m5"))
    for first, second in ((x, y), (y, x)):
        tied = rrf([first, z, second], [second, z, first], rrf_k=10, k=3)
        assert [f.hit.chunk_id for f in tied] == [first.chunk_id, second.chunk_id, "m5"]


def test_hybrid_is_rrf_of_the_two_arms(kb) -> None:
    q = "office opens weekdays"
    dense = kb.retriever(RetrieverConfig(mode="dense", k=50)).search(q)
    sparse = kb.retriever(RetrieverConfig(mode="sparse", k=50)).search(q)
    hybrid = kb.retriever(RetrieverConfig(mode="hybrid", k=5, rrf_k=7)).search(q)
    dr = {h.chunk.id: h.rank for h in dense}
    sr = {h.chunk.id: h.rank for h in sparse}
    for h in hybrid:
        expect = sum(1 / (7 + r[h.chunk.id]) for r in (dr, sr) if h.chunk.id in r)
        assert h.score == pytest.approx(expect)
        assert h.dense_rank == dr.get(h.chunk.id) and h.sparse_rank == sr.get(h.chunk.id)


def test_filters(kb, docs_dir: Path) -> None:
    r = kb.retriever(RetrieverConfig(k=20))
    only = r.search("warranty", filters=SearchFilters(doc_ids=["tagged"]))
    assert {h.chunk.doc_id for h in only} == {"tagged"}
    src = str((docs_dir / "office.txt").resolve())
    assert {h.chunk.source for h in r.search("office", filters=SearchFilters(sources=[src]))} == {src}
    assert {h.chunk.doc_id for h in r.search("warranty", filters=SearchFilters(tags=["claims"]))} == {
        "tagged"
    }
    assert len(r.search("warranty", filters=SearchFilters(tags=["all"]))) >= 3
    narrowed = kb.retriever(RetrieverConfig(filters=SearchFilters(doc_ids=["tagged"])))
    assert narrowed.search("warranty", filters=SearchFilters(doc_ids=["ship-1"])) == []


def test_batch_equals_single_and_mirror_equals_qdrant_scorer(kb) -> None:
    for mode in ("dense", "sparse", "hybrid"):
        r = kb.retriever(RetrieverConfig(mode=mode, k=6, depth=8))
        batch = r.search_batch(QUERIES)
        assert [r.search(q) for q in QUERIES] == _approx(batch)  # padding changes the last float bits
        assert kb.index.mirrored
        mirror, kb.index._mirror = kb.index._mirror, None  # the same index through Qdrant's local scorer
        try:
            via_qdrant = r.search_batch(QUERIES)
            filtered = r.search_batch(QUERIES, filters=SearchFilters(tags=["all"]))
        finally:
            kb.index._mirror = mirror
        assert r.search_batch(QUERIES, filters=SearchFilters(tags=["all"])) == _approx(filtered)
        assert batch == _approx(via_qdrant)


def _approx(results):
    """Equal ids, ranks and arm ranks; scores within 1e-5 (float32 numpy vs Python sums, batch padding)."""

    class Same:
        def __eq__(self, other):
            if len(other) != len(results):
                return False
            for mine, theirs in zip(results, other, strict=True):
                if [(h.chunk.id, h.rank, h.dense_rank, h.sparse_rank) for h in mine] != [
                    (h.chunk.id, h.rank, h.dense_rank, h.sparse_rank) for h in theirs
                ]:
                    return False
                if any(abs(x.score - y.score) > 1e-5 for x, y in zip(mine, theirs, strict=True)):
                    return False
            return True

    return Same()


def test_config_conflicts(kb) -> None:
    with pytest.raises(ConflictError, match="embedder"):
        kb.retriever(RetrieverConfig(embedder="minilm-l6"))
    r = kb.retriever(RetrieverConfig())
    assert r.config.embedder == "tiny-random-minilm" and r.config.sparse == kb.settings.sparse


def test_hash_stable_across_processes_and_sensitive() -> None:
    cfg = RetrieverConfig(
        mode="hybrid",
        documents_per_prompt=7,
        rrf_k=30,
        filters=SearchFilters(tags=["b", "a"]),
        embedder="minilm-l6",
    )
    code = (
        "from groundtune.kb.retrieve import RetrieverConfig, SearchFilters;"
        "print(RetrieverConfig(embedder='minilm-l6', filters=SearchFilters(tags=['b','a']), rrf_k=30, k=7)"
        ".hash())"
    )  # `k`, the deprecated name, is the same setting
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        # PYTHONPATH passes through so a checkout other than the installed one is the one tested
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    ).stdout.strip()
    assert out == cfg.hash()
    assert cfg.model_copy(update={"rrf_k": 31.0}).hash() != cfg.hash()
    assert (
        RetrieverConfig().hash()
        == RetrieverConfig.model_validate_json(RetrieverConfig().model_dump_json()).hash()
    )
