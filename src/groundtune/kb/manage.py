"""The library functions behind `groundtune kb create | add | remove | list | show | search | reindex`.

Each opens the knowledge base by name, does one thing and closes it again. A process that keeps a
KB open (the API server, a data build) calls the same operations as methods of `open_kb(...)`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from groundtune.core.errors import ConflictError
from groundtune.core.ids import new_id
from groundtune.core.progress import Progress
from groundtune.core.schemas import RetrievedChunk
from groundtune.kb.filters import SearchFilters
from groundtune.kb.ingest import AddSummary, Input, RemoveSummary
from groundtune.kb.knowledge_base import KnowledgeBase, open_index
from groundtune.kb.records import RecordFields
from groundtune.kb.retrieve import RetrieverConfig
from groundtune.kb.settings import SETTINGS_FILE, KBSettings, kb_dir, load_settings, save_settings
from groundtune.kb.sparse import SparseScheme
from groundtune.models.registry import DEFAULT_EMBEDDER


def create(
    name: str,
    *,
    embedder: str = DEFAULT_EMBEDDER,
    catalog_url: str | None = None,
    index_url: str | None = None,
    chunk_tokens: int = 256,
    chunk_overlap: int = 32,
    sparse: SparseScheme | None = None,
    keep_versions: bool = False,
    home: str | Path | None = None,
) -> KBSettings:
    """Create an empty knowledge base (catalog + index collection) and write its kb.json."""
    from groundtune.kb.catalog import Catalog
    from groundtune.kb.chunker import chunk_document  # noqa: F401  (fail early if chunking deps are broken)
    from groundtune.models import load_embedder

    path = kb_dir(name, home)
    if (path / SETTINGS_FILE).exists():
        raise ConflictError(
            f"knowledge base '{name}' already exists", hint="pick another name or `kb add` to it"
        )
    if chunk_tokens < 8 or not 0 <= chunk_overlap < chunk_tokens:
        from groundtune.core.errors import InvalidInputError

        raise InvalidInputError(
            f"chunk size {chunk_tokens} / overlap {chunk_overlap} is not usable",
            hint="use chunk_tokens >= 8 and 0 <= chunk_overlap < chunk_tokens",
        )
    emb = load_embedder(embedder)
    kb_id = new_id("kb")
    settings = KBSettings(
        id=kb_id,
        name=name,
        embedder=embedder,
        dim=int(emb.dim),
        chunk_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap,
        catalog_url=catalog_url,
        index_url=index_url,
        collection=f"{kb_id}_0",
        sparse=sparse or SparseScheme(),
        keep_versions=keep_versions,
        purge_lag=1 if index_url else 0,
    )
    path.mkdir(parents=True, exist_ok=True)
    try:
        from groundtune.kb.knowledge_base import catalog_url as url_of

        Catalog(url_of(path, settings), schema=kb_id).close()
        index = open_index(path, settings)
        try:
            if index.exists():
                raise ConflictError(
                    f"collection {settings.collection} already exists in the index", hint="use another name"
                )
            index.create(settings.dim)
        finally:
            index.close()
    except Exception:
        shutil.rmtree(path, ignore_errors=True)
        raise
    save_settings(path, settings)
    return settings


def add(
    name: str,
    inputs: Input | Iterable[Input],
    *,
    id_field: str = "id",
    title_field: str = "title",
    text_field: str = "text",
    tags_field: str | None = None,
    tags: Iterable[str] = (),
    progress: Progress | None = None,
    home: str | Path | None = None,
) -> AddSummary:
    """Add files, directories, records (dicts) or `Document`s; returns a summary with per-file errors."""
    fields = RecordFields(
        id_field=id_field, title_field=title_field, text_field=text_field, tags_field=tags_field
    )
    with KnowledgeBase.open(name, home) as kb:
        return kb.add(inputs, fields=fields, tags=tags, progress=progress)


def remove(name: str, targets: Iterable[str], *, home: str | Path | None = None) -> RemoveSummary:
    """Remove documents by id, file path or source."""
    with KnowledgeBase.open(name, home) as kb:
        return kb.remove(list(targets))


def list_kbs(home: str | Path | None = None) -> list[KBSettings]:
    from groundtune.core.workspace import get_workspace

    out = []
    for file in sorted(get_workspace(home).kbs.glob(f"*/{SETTINGS_FILE}")):
        out.append(KBSettings.model_validate_json(file.read_text()))
    return out


def show(name: str, *, documents: bool = False, home: str | Path | None = None) -> dict[str, Any]:
    """Settings, counts and (optionally) the latest documents of a knowledge base."""
    with KnowledgeBase.open(name, home) as kb:
        info = kb.info()
        if documents:
            info["document_list"] = [
                {"id": d.id, "version": d.version, "title": d.title, "source": d.source, "tags": d.tags}
                for d in kb.documents()
            ]
        return info


def search(
    name: str,
    query: str | list[str],
    *,
    k: int = 5,
    mode: Literal["dense", "sparse", "hybrid"] = "hybrid",
    rrf_k: float = 60.0,
    depth: int = 50,
    doc_ids: Iterable[str] = (),
    sources: Iterable[str] = (),
    tags: Iterable[str] = (),
    latest_only: bool = True,
    home: str | Path | None = None,
) -> list[RetrievedChunk] | list[list[RetrievedChunk]]:
    """Search with THE retriever; a list of queries returns a list of result lists."""
    config = RetrieverConfig(
        mode=mode,
        documents_per_prompt=k,
        rrf_k=rrf_k,
        depth=depth,
        filters=SearchFilters(
            doc_ids=list(doc_ids), sources=list(sources), tags=list(tags), latest_only=latest_only
        ),
    )
    with KnowledgeBase.open(name, home) as kb:
        retriever = kb.retriever(config)
        if isinstance(query, str):
            return retriever.search(query)
        return retriever.search_batch(query)


def reindex(
    name: str,
    *,
    index_url: str | None = None,
    embedder: str | None = None,
    progress: Progress | None = None,
    home: str | Path | None = None,
) -> dict[str, Any]:
    """Rebuild the index from the catalog (`index_url="local"` moves a server-backed KB to local mode)."""
    with KnowledgeBase.open(name, home) as kb:
        return kb.reindex(index_url=index_url, embedder=embedder, progress=progress)


def delete(name: str, *, home: str | Path | None = None) -> None:
    """Delete a knowledge base: its index collection, its catalog tables, its folder and kb.json."""
    path, settings = load_settings(name, home)
    with KnowledgeBase(path, settings) as kb:
        kb.index.drop()
        kb.catalog.drop()
    shutil.rmtree(path)
