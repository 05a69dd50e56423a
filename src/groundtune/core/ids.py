"""Opaque prefixed ids (`kb_…`, `ds_…`, `run_…`, `ad_…`) and content hashes.

Content hashes make re-ingesting idempotent: the same bytes always give the same id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any


def new_id(prefix: str) -> str:
    """A sortable, unique id: prefix, millisecond time, random suffix (e.g. `run_01kx3…`)."""
    stamp = format(int(time.time() * 1000), "x")
    return f"{prefix}_{stamp}{secrets.token_hex(4)}"


def content_hash(*parts: str | bytes, length: int = 16) -> str:
    """Hex sha256 of the parts, separated so that ("ab", "c") and ("a", "bc") differ."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:length]


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of key order and of the process."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return content_hash(text, length=length)
