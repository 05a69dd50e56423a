"""Integration: the real all-MiniLM-L6-v2 embedder behind THE retriever ranks the right passage first,
including a paraphrase with no word in common, and an updated fact replaces the old one."""

from __future__ import annotations

import pytest

from groundtune.kb import RetrieverConfig

pytestmark = pytest.mark.integration

PASSAGES = [
    ("cats", "Cats", "Domestic cats sleep between twelve and sixteen hours a day and hunt at dusk."),
    ("volcano", "Volcanoes", "Mount Etna in Sicily is one of the most active volcanoes in the world."),
    (
        "bread",
        "Baking",
        "Sourdough bread rises thanks to wild yeast and lactic acid bacteria in the starter.",
    ),
    ("tides", "Tides", "Ocean tides are caused mainly by the gravitational pull of the Moon."),
    ("chess", "Chess", "In chess, castling moves the king two squares toward a rook."),
]


def test_minilm_hybrid_retrieval_and_update(make_kb) -> None:
    kb = make_kb("mini", embedder="minilm-l6")
    kb.add([{"id": i, "title": t, "text": x} for i, t, x in PASSAGES])
    dense = kb.retriever(RetrieverConfig(mode="dense", k=3))
    hybrid = kb.retriever(RetrieverConfig(mode="hybrid", k=3))
    assert dense.search("why does the sea rise and fall twice a day")[0].chunk.doc_id == "tides"
    assert dense.search("how long do felines nap")[0].chunk.doc_id == "cats"
    got = [
        h[0].chunk.doc_id
        for h in hybrid.search_batch(
            ["which Italian mountain erupts often", "what makes sourdough rise", "castling king rook"]
        )
    ]
    assert got == ["volcano", "bread", "chess"]
    kb.add(
        [{"id": "volcano", "title": "Volcanoes", "text": "Stromboli erupts every few minutes off Sicily."}]
    )
    top = hybrid.search("which volcano near Sicily erupts")[0]
    assert top.chunk.doc_id == "volcano" and top.chunk.doc_version == 2 and "Stromboli" in top.chunk.text
