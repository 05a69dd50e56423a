"""The platform's SQL registry (SQLite in the workspace by default, PostgreSQL by URL, same code)."""

from groundtune.platform.store.store import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Store"]
