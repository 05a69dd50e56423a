"""The platform store's tables as the current migrations leave them (SQLAlchemy Core). Reads and
writes go through these; the schema itself is made by `migrations`."""

from __future__ import annotations

import sqlalchemy as sa

from groundtune.platform.store.migrations import BigId

md = sa.MetaData()

jobs = sa.Table(
    "jobs",
    md,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32)),
    sa.Column("state", sa.String(32)),
    sa.Column("config", sa.JSON),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("updated_at", sa.BigInteger),
    sa.Column("started_at", sa.BigInteger),
    sa.Column("finished_at", sa.BigInteger),
    sa.Column("attempts", sa.Integer),
    sa.Column("error", sa.JSON),
    sa.Column("result", sa.JSON),
    sa.Column("resource", sa.Text),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("worker_id", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat_at", sa.BigInteger),
)
job_events = sa.Table(
    "job_events",
    md,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64)),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("level", sa.String(16)),
    sa.Column("type", sa.String(16)),
    sa.Column("message", sa.Text),
    sa.Column("data", sa.JSON),
)
api_keys = sa.Table(
    "api_keys",
    md,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("scopes", sa.JSON),
    sa.Column("prefix", sa.String(32)),
    sa.Column("salt", sa.String(64)),
    sa.Column("hash", sa.String(128)),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("last_used_at", sa.BigInteger),
    sa.Column("revoked_at", sa.BigInteger),
)
idempotency = sa.Table(
    "idempotency",
    md,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("method_path", sa.String(512), primary_key=True),
    sa.Column("body_hash", sa.String(128)),
    sa.Column("status", sa.Integer),
    sa.Column("body", sa.JSON),
    sa.Column("created_at", sa.BigInteger),
)
deployments = sa.Table(
    "deployments",
    md,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("config", sa.JSON),
    sa.Column("status", sa.String(16)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("updated_at", sa.BigInteger),
)
