"""A KB on real Qdrant local mode and SQLite: ingest, idempotent re-ingest, versions, removal,
reindex from the catalog, and a concurrent search during updates that never sees two versions or none."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from groundtune import kb as kbmod
from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError
from groundtune.kb import RetrieverConfig, SearchFilters
from groundtune.kb.parsers import file_doc_id


def test_add_summary_reingest_is_noop_and_update_makes_new_version(make_kb, docs_dir: Path) -> None:
    kb = make_kb()
    s = kb.add(docs_dir)
    assert len(s.added) == 5 and not s.errors and s.chunks >= 6
    n_points = kb.index.count()
    assert n_points == s.chunks
    again = kb.add(docs_dir)
    assert len(again.unchanged) == 5 and not again.added and not again.updated and again.generation is None
    assert kb.index.count() == n_points

    path = docs_dir / "office.txt"
    doc_id = file_doc_id(path)
    old_chunks = [c for c in kb.chunks() if c.doc_id == doc_id]
    path.write_text("The office now opens at 8 am. Parking is free for visitors.\n")
    up = kb.add(path)
    assert up.updated == [doc_id]
    assert kb.get_document(doc_id).version == 2 and kb.get_document(doc_id, version=1).version == 1
    latest = [c for c in kb.chunks() if c.doc_id == doc_id]
    assert {c.doc_version for c in latest} == {2}
    assert kb.get_chunk(old_chunks[0].id).doc_version == 1  # history stays in the catalog
    assert kb.index.count() == n_points - len(old_chunks) + len(latest)  # old points purged
    hits = kb.retriever(RetrieverConfig(k=20)).search("office opens parking")
    versions = {h.chunk.doc_version for h in hits if h.chunk.doc_id == doc_id}
    assert versions == {2}


def test_remove_by_id_and_path_and_missing(make_kb, docs_dir: Path) -> None:
    kb = make_kb()
    kb.add(docs_dir)
    before = kb.index.count()
    out = kb.remove(["ship-1", str(docs_dir / "warranty.md"), "no-such-doc"])
    assert sorted(out.removed) == sorted(["ship-1", file_doc_id(docs_dir / "warranty.md")])
    assert out.missing == ["no-such-doc"]
    assert kb.index.count() < before
    assert not [c for c in kb.chunks(latest_only=False) if c.doc_id == "ship-1"]
    with pytest.raises(NotFoundError):
        kb.get_document("ship-1")
    hits = kb.retriever(RetrieverConfig(k=50)).search("warranty batteries shipping")
    assert not {h.chunk.doc_id for h in hits} & set(out.removed)
    assert kb.info()["latest_chunks"] == kb.index.count()


def test_bad_input_keeps_what_was_stored(make_kb, docs_dir: Path, tmp_path: Path) -> None:
    kb = make_kb()
    kb.add(docs_dir)
    stored = kb.info()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.txt").write_bytes(b"\xff\xff")
    (bad / "y.pdf").write_bytes(b"not a pdf")
    s = kb.add(bad)
    assert len(s.errors) == 2 and not s.added
    after = kb.info()
    assert {k: after[k] for k in ("documents", "chunks", "generation")} == {
        k: stored[k] for k in ("documents", "chunks", "generation")
    }
    with pytest.raises(InvalidInputError):
        kb.retriever().search("   ")


def test_create_errors_and_list(make_kb) -> None:
    make_kb("alpha")
    with pytest.raises(ConflictError, match="already exists"):
        kbmod.create("alpha", embedder="tiny-random-minilm")
    with pytest.raises(InvalidInputError, match="not a valid"):
        kbmod.create("../evil", embedder="tiny-random-minilm")
    with pytest.raises(NotFoundError, match="does not exist"):
        kbmod.open_kb("missing")
    assert [s.name for s in kbmod.list_kbs()] == ["alpha"]


def test_local_index_is_exclusive(make_kb) -> None:
    make_kb("solo")  # another process is tested in test_owner.py
    with pytest.raises(ConflictError, match="already open in this process"):
        kbmod.open_kb("solo")


def test_reindex_rebuilds_from_catalog(make_kb, docs_dir: Path) -> None:
    kb = make_kb()
    kb.add(docs_dir)
    queries = ["warranty batteries", "return refunds card", "express shipping"]
    r = kb.retriever(RetrieverConfig(k=4))
    before = [[h.chunk.id for h in hits] for hits in r.search_batch(queries)]
    old_collection = kb.settings.collection
    out = kb.reindex()
    assert out["chunks"] == kb.index.count() and kb.settings.collection != old_collection
    assert not kb.index.client.collection_exists(old_collection)
    after = [[h.chunk.id for h in hits] for hits in kb.retriever(RetrieverConfig(k=4)).search_batch(queries)]
    assert after == before


@pytest.mark.parametrize("local_search", ["mirror", "qdrant"])
def test_concurrent_search_sees_exactly_one_version(make_kb, tmp_path: Path, local_search: str) -> None:
    kb = make_kb(f"c-{local_search}", chunk_tokens=64, chunk_overlap=8)
    if local_search == "qdrant":
        kb.close()
        from groundtune.kb.settings import load_settings, save_settings

        path, settings = load_settings(kb.name)
        save_settings(path, settings.model_copy(update={"local_search": "qdrant"}))
        kb = kbmod.open_kb(kb.name)
        assert not kb.index.mirrored
    para = " ".join(f"Fact {i} about the flip document and its marker." for i in range(12))
    others = [
        {"id": f"o{i}", "text": f"Unrelated note {i} about gardening and marker pens."} for i in range(5)
    ]
    kb.add(others)

    def version(v: int) -> list[dict]:
        return [{"id": "flip", "title": "Flip", "text": f"Version {v}. {para}\n\n{para}\n\n{para}"}]

    kb.add(version(0))
    n_flip = len([c for c in kb.chunks() if c.doc_id == "flip"])
    assert n_flip >= 3
    retriever = kb.retriever(RetrieverConfig(k=40, depth=40))
    stop = threading.Event()
    problems: list[str] = []
    searches = [0]

    def search_loop() -> None:
        while not stop.is_set():
            for hits in retriever.search_batch(["flip document marker", "fact about marker"]):
                flip = [h.chunk for h in hits if h.chunk.doc_id == "flip"]
                versions = {c.doc_version for c in flip}
                if len(versions) != 1 or len(flip) != n_flip:
                    problems.append(f"versions={versions} chunks={len(flip)}")
                searches[0] += 1

    threads = [threading.Thread(target=search_loop) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for v in range(1, 9):
            kb.add(version(v))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not problems, problems[:5]
    assert searches[0] > 4
    assert kb.get_document("flip").version == 9
    assert kb.index.count() == kb.info()["latest_chunks"]


def test_keep_versions_latest_only_filter(make_kb) -> None:
    kb = make_kb("hist", keep_versions=True)
    kb.add([{"id": "p", "text": "The price is 10 euros."}])
    kb.add([{"id": "p", "text": "The price is 12 euros."}])
    r = kb.retriever(RetrieverConfig(k=10))
    assert {h.chunk.doc_version for h in r.search("price euros")} == {2}
    every = r.search("price euros", filters=SearchFilters(latest_only=False))
    assert {h.chunk.doc_version for h in every} == {1, 2}
    kb.remove(["p"])
    assert r.search("price euros", filters=SearchFilters(latest_only=False)) == []
    assert kb.index.count() == 0


def test_random_chunks_reproducible(make_kb, docs_dir: Path) -> None:
    kb = make_kb()
    kb.add(docs_dir)
    a = kb.random_chunks(3, seed=7)
    assert [c.id for c in a] == [c.id for c in kb.random_chunks(3, seed=7)]
    rest = kb.random_chunks(100, seed=1, exclude_ids=[c.id for c in a])
    assert not {c.id for c in rest} & {c.id for c in a}
    assert len(rest) == len(list(kb.chunks())) - 3


def test_lost_index_is_rebuilt_from_the_catalog(make_kb, docs_dir: Path) -> None:
    import shutil

    kb = make_kb("src")
    kb.add(docs_dir)
    queries = ["warranty batteries", "office hours"]
    before = [[h.chunk.id for h in hits] for hits in kb.retriever().search_batch(queries)]
    kb.close()
    shutil.rmtree(kb.path / "qdrant")  # the index is gone; the catalog is the source of truth
    kb = kbmod.open_kb("src")
    try:
        assert not kb.index.exists()
        kb.reindex()
        after = [[h.chunk.id for h in hits] for hits in kb.retriever().search_batch(queries)]
        assert after == before
    finally:
        kb.close()


def test_a_write_that_fails_before_commit_stays_invisible_and_is_cleaned_up(make_kb, monkeypatch) -> None:
    kb = make_kb("crash")
    kb.add([{"id": "a", "text": "Apples are red or green."}])
    r = kb.retriever(RetrieverConfig(k=10))

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(kb.catalog, "commit", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        kb.add([{"id": "b", "text": "Bananas are yellow."}, {"id": "a", "text": "Apples are sweet."}])
    monkeypatch.undo()
    assert kb.index.count() == 3  # the uncommitted points are in the index ...
    hits = r.search("apples bananas")
    assert [(h.chunk.doc_id, h.chunk.doc_version) for h in hits] == [("a", 1)]  # ... but never seen
    kb.add([{"id": "c", "text": "Cherries are small."}])
    assert kb.index.count() == 2 and kb.get_document("a").version == 1
    hits = r.search("apples cherries")  # the failed write's retirement of a v1 was undone
    assert sorted((h.chunk.doc_id, h.chunk.doc_version) for h in hits) == [("a", 1), ("c", 1)]
    mirror, kb.index._mirror = kb.index._mirror, None
    try:
        assert [h.chunk.id for h in r.search("apples cherries")] == [h.chunk.id for h in hits]
    finally:
        kb.index._mirror = mirror
