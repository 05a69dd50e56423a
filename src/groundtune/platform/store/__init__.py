"""The platform's SQL registry (SQLite in the workspace by default, PostgreSQL by URL, same code)."""

from groundtune.platform.store.store import DB_ENV, SCHEMA_VERSION, Store

__all__ = ["DB_ENV", "SCHEMA_VERSION", "Store"]
