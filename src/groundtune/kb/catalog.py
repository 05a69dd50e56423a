"""The catalog: documents (every version), chunks, BM25 term statistics and the KB generation.

It is the source of truth (the vector index can be rebuilt from it). SQLite file by default,
PostgreSQL by URL, through SQLAlchemy Core. A write commits one generation atomically: new
versions, retired versions, removed documents, term statistics and the generation number move
together. It knows nothing about Qdrant, embeddings or parsing.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from groundtune.core.errors import UnavailableError
from groundtune.core.schemas import Chunk, Document
from groundtune.kb.migrations import migrate

md = sa.MetaData()
documents = sa.Table(
    "documents",
    md,
    sa.Column("doc_id", sa.String(512), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text),
    sa.Column("title", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("tags", sa.JSON),
    sa.Column("meta", sa.JSON),
    sa.Column("is_latest", sa.Boolean),
    sa.Column("generation", sa.BigInteger),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
chunks = sa.Table(
    "chunks",
    md,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("doc_id", sa.String(512)),
    sa.Column("doc_version", sa.Integer),
    sa.Column("ord", sa.Integer),
    sa.Column("title", sa.Text),
    sa.Column("heading_path", sa.JSON),
    sa.Column("text", sa.Text),
    sa.Column("start_char", sa.Integer),
    sa.Column("end_char", sa.Integer),
    sa.Column("n_tokens", sa.Integer),
    sa.Column("source", sa.Text),
    sa.Column("tags", sa.JSON),
    sa.Column("sparse_len", sa.Integer),
)
term_stats = sa.Table(
    "term_stats",
    md,
    sa.Column("term", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("df", sa.Integer),
)
kb_state = sa.Table(
    "kb_state",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger),
    sa.Column("n_chunks", sa.BigInteger),
    sa.Column("avgdl", sa.Float),
)


@dataclass(frozen=True)
class State:
    generation: int
    n_chunks: int
    avgdl: float | None


@dataclass
class NewVersion:
    """A document version to commit, with its chunks and each chunk's BM25 length."""

    document: Document
    chunks: list[Chunk]
    sparse_lens: list[int]


def _chunk(row: Any) -> Chunk:
    return Chunk(
        id=row.id,
        doc_id=row.doc_id,
        doc_version=row.doc_version,
        title=row.title,
        heading_path=list(row.heading_path),
        text=row.text,
        start=row.start_char,
        end=row.end_char,
        n_tokens=row.n_tokens,
        source=row.source,
        tags=list(row.tags),
    )


def _document(row: Any) -> Document:
    return Document(
        id=row.doc_id,
        source=row.source,
        title=row.title,
        text=row.text,
        content_hash=row.content_hash,
        version=row.version,
        tags=list(row.tags),
        metadata=dict(row.meta),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class Catalog:
    """One KB's catalog at `url` (`sqlite:///…` or `postgresql+psycopg://…`), migrated on open.

    On PostgreSQL each KB keeps its tables in its own schema (`schema`), so many KBs share one database.
    """

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url, self.schema = url, schema
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        try:
            self.engine = sa.create_engine(url, **kwargs)
            if url.startswith("sqlite"):
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            elif schema and self.engine.dialect.name == "postgresql":
                sa.event.listen(self.engine, "connect", lambda c, _r: _search_path(c, schema))
            migrate(self.engine)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, ModuleNotFoundError) as exc:
            raise UnavailableError(
                f"cannot open the catalog at {url}: {str(exc).splitlines()[0]}",
                hint="check the catalog URL and that the database server is running"
                " (PostgreSQL needs `pip install groundtune[postgres]`)",
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    def drop(self) -> None:
        """Delete this catalog's tables (and its schema on PostgreSQL); used when a KB is deleted."""
        with self.engine.begin() as conn:
            if self.schema and conn.dialect.name == "postgresql":
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            else:
                md.drop_all(conn)
                conn.execute(sa.text("DROP TABLE IF EXISTS schema_migrations"))
        self.engine.dispose()

    # ---- reads -------------------------------------------------------------------------------
    def state(self, conn: sa.Connection | None = None) -> State:
        if conn is None:
            with self.engine.connect() as c:
                return self.state(c)
        row = conn.execute(sa.select(kb_state).where(kb_state.c.id == 1)).one()
        return State(int(row.generation), int(row.n_chunks), row.avgdl)

    def snapshot(self, terms: Iterable[int]) -> tuple[State, dict[int, int]]:
        """The state and the document frequencies of `terms`, read in one transaction."""
        wanted = sorted(set(terms))
        with self.engine.connect() as conn, conn.begin():
            state = self.state(conn)
            df: dict[int, int] = {}
            for i in range(0, len(wanted), 5000):
                part = wanted[i : i + 5000]
                rows = conn.execute(sa.select(term_stats).where(term_stats.c.term.in_(part)))
                df.update({int(r.term): int(r.df) for r in rows})
        return state, df

    def latest_versions(self, doc_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """doc id -> (latest version, content hash) for the ids that exist."""
        ids = list(set(doc_ids))
        out: dict[str, tuple[int, str]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(documents.c.doc_id, documents.c.version, documents.c.content_hash).where(
                    documents.c.is_latest, documents.c.doc_id.in_(ids[i : i + 500])
                )
                out.update({r.doc_id: (r.version, r.content_hash) for r in conn.execute(q)})
        return out

    def doc_ids_for_sources(self, sources: Iterable[str]) -> list[str]:
        with self.engine.connect() as conn:
            q = sa.select(documents.c.doc_id).where(documents.c.source.in_(list(sources))).distinct()
            return [r.doc_id for r in conn.execute(q)]

    def document(self, doc_id: str, version: int | None = None) -> Document | None:
        q = sa.select(documents).where(documents.c.doc_id == doc_id)
        q = q.where(documents.c.version == version) if version is not None else q.where(documents.c.is_latest)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return _document(row) if row else None

    def documents(self, latest_only: bool = True) -> list[Document]:
        q = sa.select(documents).order_by(documents.c.doc_id, documents.c.version)
        if latest_only:
            q = q.where(documents.c.is_latest)
        with self.engine.connect() as conn:
            return [_document(r) for r in conn.execute(q)]

    def chunk(self, chunk_id: str) -> Chunk | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(chunks).where(chunks.c.id == chunk_id)).first()
        return _chunk(row) if row else None

    def _chunk_query(self, latest_only: bool, doc_ids: list[str] | None = None) -> sa.Select[Any]:
        q = sa.select(chunks)
        if latest_only:
            q = q.join(
                documents,
                sa.and_(
                    documents.c.doc_id == chunks.c.doc_id,
                    documents.c.version == chunks.c.doc_version,
                    documents.c.is_latest,
                ),
            )
        if doc_ids is not None:
            q = q.where(chunks.c.doc_id.in_(doc_ids))
        return q.order_by(chunks.c.doc_id, chunks.c.doc_version, chunks.c.ord)

    def iter_chunks(self, latest_only: bool = True, batch: int = 2000) -> Iterator[Chunk]:
        """Chunks in (document, version, order) order, read in pages so memory stays flat."""
        offset = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(self._chunk_query(latest_only).limit(batch).offset(offset)).all()
            yield from (_chunk(r) for r in rows)
            if len(rows) < batch:
                return
            offset += batch

    def chunks_of(self, doc_ids: list[str], latest_only: bool = True) -> list[tuple[Chunk, int]]:
        """(chunk, BM25 length) of the given documents."""
        out = []
        with self.engine.connect() as conn:
            for i in range(0, len(doc_ids), 500):
                rows = conn.execute(self._chunk_query(latest_only, doc_ids[i : i + 500])).all()
                out += [(_chunk(r), int(r.sparse_len)) for r in rows]
        return out

    def chunk_ids(self, latest_only: bool = True) -> list[str]:
        q = self._chunk_query(latest_only).with_only_columns(chunks.c.id).order_by(chunks.c.id)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    def random_chunks(self, n: int, seed: int, exclude_ids: Iterable[str] = ()) -> list[Chunk]:
        """`n` latest chunks sampled reproducibly (same seed and catalog -> same chunks)."""
        excluded = set(exclude_ids)
        pool = [c for c in self.chunk_ids(True) if c not in excluded]
        picked = random.Random(seed).sample(pool, min(n, len(pool)))
        out = []
        with self.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(chunks).where(chunks.c.id.in_(picked)))}
        for cid in picked:
            out.append(_chunk(rows[cid]))
        return out

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:

            def one(q: Any) -> int:
                return int(conn.execute(q).scalar() or 0)

            return {
                "documents": one(
                    sa.select(sa.func.count()).select_from(documents).where(documents.c.is_latest)
                ),
                "versions": one(sa.select(sa.func.count()).select_from(documents)),
                "chunks": one(sa.select(sa.func.count()).select_from(chunks)),
                "latest_chunks": one(
                    sa.select(sa.func.count()).select_from(self._chunk_query(True).subquery())
                ),
                "terms": one(sa.select(sa.func.count()).select_from(term_stats).where(term_stats.c.df > 0)),
            }

    # ---- writes ------------------------------------------------------------------------------
    def commit(
        self,
        generation: int,
        versions: list[NewVersion],
        retired: Mapping[str, int],
        removed: Iterable[str],
        term_delta: Mapping[int, int],
        chunk_delta: int,
        avgdl: float | None,
    ) -> None:
        """Make `generation` current: add versions, un-latest `retired` {doc id: version}, delete
        `removed` documents (all versions), apply term/chunk deltas; all in one transaction."""
        now = datetime.now(UTC)
        removed = list(removed)
        with self.engine.begin() as conn:
            state = self.state(conn)
            if generation <= state.generation:
                raise RuntimeError(f"generation {generation} is not after {state.generation}")
            for doc_id, version in retired.items():
                conn.execute(
                    documents.update()
                    .where(documents.c.doc_id == doc_id, documents.c.version == version)
                    .values(is_latest=False, updated_at=now)
                )
            for i in range(0, len(removed), 500):
                part = removed[i : i + 500]
                conn.execute(chunks.delete().where(chunks.c.doc_id.in_(part)))
                conn.execute(documents.delete().where(documents.c.doc_id.in_(part)))
            if versions:
                conn.execute(documents.insert(), [_doc_row(v.document, generation, now) for v in versions])
                rows = [
                    _chunk_row(c, i, n)
                    for v in versions
                    for i, (c, n) in enumerate(zip(v.chunks, v.sparse_lens, strict=True))
                ]
                for i in range(0, len(rows), 2000):
                    conn.execute(chunks.insert(), rows[i : i + 2000])
            self._apply_terms(conn, term_delta)
            conn.execute(
                kb_state.update()
                .where(kb_state.c.id == 1)
                .values(
                    generation=generation,
                    n_chunks=kb_state.c.n_chunks + chunk_delta,
                    avgdl=avgdl if avgdl is not None else kb_state.c.avgdl,
                )
            )

    def _apply_terms(self, conn: sa.Connection, delta: Mapping[int, int]) -> None:
        items = [{"term": t, "df": d} for t, d in delta.items() if d]
        if not items:
            return
        dialect = conn.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        else:
            raise UnavailableError(
                f"catalog dialect {dialect} is not supported", hint="use SQLite or PostgreSQL"
            )
        stmt = insert(term_stats)
        stmt = stmt.on_conflict_do_update(
            index_elements=["term"], set_={"df": term_stats.c.df + stmt.excluded.df}
        )
        for i in range(0, len(items), 5000):
            conn.execute(stmt, items[i : i + 5000])

    def reset_stats(self, term_df: Mapping[int, int], n_chunks: int, avgdl: float | None) -> None:
        """Replace the term statistics with ones recounted from the chunks (used by reindex)."""
        with self.engine.begin() as conn:
            conn.execute(term_stats.delete())
            self._apply_terms(conn, term_df)
            conn.execute(kb_state.update().where(kb_state.c.id == 1).values(n_chunks=n_chunks, avgdl=avgdl))


def _doc_row(d: Document, generation: int, now: datetime) -> dict[str, Any]:
    return {
        "doc_id": d.id,
        "version": d.version,
        "source": d.source,
        "title": d.title,
        "text": d.text,
        "content_hash": d.content_hash,
        "tags": list(d.tags),
        "meta": dict(d.metadata),
        "is_latest": True,
        "generation": generation,
        "created_at": d.created_at or now,
        "updated_at": now,
    }


def _chunk_row(c: Chunk, order: int, sparse_len: int) -> dict[str, Any]:
    return {
        "id": c.id,
        "doc_id": c.doc_id,
        "doc_version": c.doc_version,
        "ord": order,
        "title": c.title,
        "heading_path": list(c.heading_path),
        "text": c.text,
        "start_char": c.start,
        "end_char": c.end,
        "n_tokens": c.n_tokens,
        "source": c.source,
        "tags": list(c.tags),
        "sparse_len": sparse_len,
    }


def _search_path(dbapi_conn: Any, schema: str) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    cur.execute(f'SET search_path TO "{schema}"')
    cur.close()
    dbapi_conn.commit()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
