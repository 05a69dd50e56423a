"""One owner per local-mode knowledge base: the process that opened it, until it closes it.

Qdrant local mode locks its folder for a single client (qdrant-client issues #765, #1018), and a
second process used to meet a raw lock error (or a SQLite lock timeout) deep inside the libraries.
So opening a local-mode KB first claims `<kb>/owner.lock`, which holds the owner's pid and command:
a second process gets a ConflictError that names the KB, that process and the fix. A KB on a Qdrant
server (`index_url`) has no owner; any number of processes may open it. What owns a KB in practice
is documented in docs/kb.md ("Who owns a knowledge base").
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO

from groundtune.core.errors import ConflictError

OWNER_FILE = "owner.lock"


class Ownership:
    """The claim of this process on one local-mode KB; `release` (or closing the KB) gives it up."""

    def __init__(self, name: str, folder: Path) -> None:
        # portalocker is what qdrant-client's local mode locks with, so it is there whenever local
        # mode is; it locks the same way on POSIX and Windows.
        import portalocker

        path = folder / OWNER_FILE
        path.touch(exist_ok=True)
        handle: IO[str] = path.open("r+", encoding="utf-8")
        try:
            portalocker.lock(handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException:
            handle.close()
            raise _taken(name, path) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:200]}))
        handle.flush()
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        if self._handle is None:
            return
        import portalocker

        portalocker.unlock(self._handle)
        self._handle.close()
        self._handle = None


def _taken(name: str, path: Path) -> ConflictError:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        owner = {}
    pid = owner.get("pid")
    if pid == os.getpid():
        return ConflictError(
            f"knowledge base '{name}' is already open in this process",
            hint="reuse the open KnowledgeBase (or close it before opening it again)",
        )
    who = f"pid {pid}: {owner.get('command') or 'unknown command'}" if pid else "pid unknown"
    return ConflictError(
        f"knowledge base '{name}' is open in another process ({who}); a local-mode index has one owner",
        hint="stop that process (or send the work to it), or move the KB to a Qdrant server: "
        f"groundtune kb reindex {name} --index-url http://HOST:6333",
    )
