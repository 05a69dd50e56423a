"""Named, append-only schema migrations of the platform store (m001_…), applied in order on open and
recorded in `schema_migrations`; the schema version is the number applied. A migration is never edited
once released: a change is a new function appended to `MIGRATIONS`, defining its own tables so it does
not drift with `tables.py`. On PostgreSQL an advisory lock makes concurrent openers apply each once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

# Event ids must autoincrement on SQLite, which only does so for an INTEGER primary key.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def m001_initial(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "jobs",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger),
        sa.Column("finished_at", sa.BigInteger),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.JSON),
        sa.Column("result", sa.JSON),
        sa.Column("resource", sa.Text),
        sa.Column("idempotency_key", sa.String(255), unique=True),
        sa.Column("worker_id", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("heartbeat_at", sa.BigInteger),
        sa.Index("ix_jobs_state", "state", "id"),
        sa.Index("ix_jobs_kind", "kind", "id"),
    )
    sa.Table(
        "job_events",
        md,
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Index("ix_job_events_job", "job_id", "id"),
    )
    sa.Table(
        "api_keys",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_used_at", sa.BigInteger),
        sa.Column("revoked_at", sa.BigInteger),
    )
    sa.Table(
        "idempotency",
        md,
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("method_path", sa.String(512), primary_key=True),
        sa.Column("body_hash", sa.String(128), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.JSON),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "deployments",
        md,
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    md.create_all(conn)


MIGRATIONS: list[tuple[str, Callable[[sa.Connection], None]]] = [
    ("m001_initial", m001_initial),
]

_LOCK_ID = 0x67745F706C6174  # "gt_plat": the advisory lock concurrent openers on PostgreSQL take


def migrate(engine: sa.Engine) -> list[str]:
    """Apply the migrations this store has not seen yet; returns their names."""
    md = sa.MetaData()
    applied_t = sa.Table(
        "schema_migrations",
        md,
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("applied_at", sa.BigInteger, nullable=False),
    )
    done: list[str] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        md.create_all(conn)
        applied = {r[0] for r in conn.execute(sa.select(applied_t.c.name))}
        for name, fn in MIGRATIONS:
            if name in applied:
                continue
            fn(conn)
            conn.execute(applied_t.insert().values(name=name, applied_at=int(time.time())))
            done.append(name)
    return done


def applied(engine: sa.Engine) -> list[str]:
    """Names of the migrations recorded in this store, in the order they were written."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name FROM schema_migrations ORDER BY name"))
        return [r[0] for r in rows]
