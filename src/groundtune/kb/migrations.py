"""Named, append-only schema migrations of the catalog (m001_…); applied in order, recorded in a table.

A migration is never edited once released: a schema change is a new function appended to
`MIGRATIONS`. Each defines its own tables, so an old migration does not drift with the current
schema in catalog.py. Works on SQLite and PostgreSQL (SQLAlchemy Core only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa


def m001_initial(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "documents",
        md,
        sa.Column("doc_id", sa.String(512), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("is_latest", sa.Boolean, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_documents_latest", "is_latest", "doc_id"),
        sa.Index("ix_documents_source", "source"),
    )
    sa.Table(
        "chunks",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("doc_id", sa.String(512), nullable=False),
        sa.Column("doc_version", sa.Integer, nullable=False),
        sa.Column("ord", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("heading_path", sa.JSON, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("start_char", sa.Integer, nullable=False),
        sa.Column("end_char", sa.Integer, nullable=False),
        sa.Column("n_tokens", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("sparse_len", sa.Integer, nullable=False),
        sa.Index("ix_chunks_doc", "doc_id", "doc_version", "ord"),
    )
    sa.Table(
        "term_stats",
        md,
        sa.Column("term", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("df", sa.Integer, nullable=False),
    )
    state = sa.Table(
        "kb_state",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("n_chunks", sa.BigInteger, nullable=False),
        sa.Column("avgdl", sa.Float, nullable=True),
    )
    md.create_all(conn)
    conn.execute(state.insert().values(id=1, generation=0, n_chunks=0, avgdl=None))


MIGRATIONS: list[tuple[str, Callable[[sa.Connection], None]]] = [
    ("m001_initial", m001_initial),
]


def migrate(engine: sa.Engine) -> list[str]:
    """Apply the migrations this catalog has not seen yet; returns their names."""
    md = sa.MetaData()
    applied_t = sa.Table(
        "schema_migrations",
        md,
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    md.create_all(engine)
    done: list[str] = []
    with engine.begin() as conn:
        applied = {r[0] for r in conn.execute(sa.select(applied_t.c.name))}
        for name, fn in MIGRATIONS:
            if name in applied:
                continue
            fn(conn)
            conn.execute(applied_t.insert().values(name=name, applied_at=datetime.now(UTC)))
            done.append(name)
    return done
