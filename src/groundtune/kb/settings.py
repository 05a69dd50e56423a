"""A knowledge base's settings (`<workspace>/kbs/<name>/kb.json`): embedder, chunking, where the
catalog and index live, and the sparse scheme. Only settings and paths; no I/O beyond kb.json.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.workspace import get_workspace
from groundtune.kb.sparse import SparseScheme

SETTINGS_FILE = "kb.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KBSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    embedder: str = Field(description="Embedder registry name or path; fixed until `kb reindex --embedder`.")
    dim: int
    chunk_tokens: int = Field(default=256, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(default=32, description="Overlap between consecutive chunks, in tokens.")
    catalog_url: str | None = Field(default=None, description="SQLAlchemy URL; None = catalog.sqlite here.")
    index_url: str | None = Field(default=None, description="Qdrant server URL; None = local mode here.")
    collection: str
    sparse: SparseScheme = Field(default_factory=SparseScheme)
    local_search: Literal["mirror", "qdrant"] = Field(
        default="mirror",
        description="Local mode: search an in-memory mirror (fast) or Qdrant's local scorer.",
    )
    keep_versions: bool = Field(
        default=False, description="Keep superseded versions searchable with latest_only=False."
    )
    purge_lag: int = Field(
        default=0,
        ge=0,
        description="Generations a retired point outlives its retirement (other processes' "
        "searches on a server); 0 is exact in local mode, where one process owns the index.",
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInputError(
            f"'{name}' is not a valid knowledge base name",
            hint="use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        )
    return name


def kb_dir(name: str, home: str | Path | None = None) -> Path:
    return get_workspace(home).kbs / check_name(name)


def load_settings(name: str, home: str | Path | None = None) -> tuple[Path, KBSettings]:
    path = kb_dir(name, home)
    file = path / SETTINGS_FILE
    if not file.exists():
        raise NotFoundError(
            f"knowledge base '{name}' does not exist", hint=f"create it: groundtune kb create {name}"
        )
    return path, KBSettings.model_validate_json(file.read_text())


def save_settings(path: Path, settings: KBSettings) -> None:
    tmp = path / (SETTINGS_FILE + ".tmp")
    tmp.write_text(settings.model_dump_json(indent=2))
    tmp.replace(path / SETTINGS_FILE)  # atomic: readers never see a half-written file
