"""The catalog on a real PostgreSQL server started by the test (same code as SQLite): migrations,
a full KB lifecycle, and two KBs sharing one database in separate schemas."""

from __future__ import annotations

from pathlib import Path

from groundtune import kb as kbmod
from groundtune.kb import RetrieverConfig
from groundtune.kb.catalog import Catalog


def test_migrations_are_recorded_once(postgres_url: str) -> None:
    cat = Catalog(postgres_url, schema="mig_test")
    again = Catalog(postgres_url, schema="mig_test")  # re-opening applies nothing twice
    assert cat.state().generation == 0 and again.state().n_chunks == 0
    with cat.engine.connect() as conn:
        import sqlalchemy as sa

        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM schema_migrations"))]
    assert names == ["m001_initial"]
    cat.close()
    again.close()


def test_kb_lifecycle_on_postgres(make_kb, docs_dir: Path, postgres_url: str) -> None:
    a = make_kb("pg-a", catalog_url=postgres_url, chunk_tokens=48, chunk_overlap=8)
    b = make_kb("pg-b", catalog_url=postgres_url)
    s = a.add(docs_dir)
    assert len(s.added) == 5
    b.add([{"id": "only-b", "text": "Bees make honey in the hive."}])
    assert a.info()["documents"] == 5 and b.info()["documents"] == 1  # separate schemas
    assert len(a.add(docs_dir).unchanged) == 5
    a.add(
        [{"id": "ship-1", "title": "Shipping", "text": "Shipping now takes 2 days.", "tags": ["logistics"]}]
    )
    assert a.get_document("ship-1").version == 2
    hits = a.retriever(RetrieverConfig(k=10)).search("shipping days")
    assert {h.chunk.doc_version for h in hits if h.chunk.doc_id == "ship-1"} == {2}
    a.remove(["ship-2"])
    assert a.info()["documents"] == 4 and a.info()["latest_chunks"] == a.index.count()
    out = a.reindex()
    assert out["chunks"] == a.index.count()
    b.close()
    kbmod.delete("pg-b")
    assert [s.name for s in kbmod.list_kbs()] == ["pg-a"]
    with Catalog(postgres_url).engine.connect() as conn:
        import sqlalchemy as sa

        schemas = {r[0] for r in conn.execute(sa.text("SELECT schema_name FROM information_schema.schemata"))}
    assert a.settings.id in schemas and b.settings.id not in schemas
