"""`/v1/knowledge_bases`: create, list, retrieve, delete; documents (upload -> ingestion job, list,
versions, retrieve, delete) and search with THE retriever (kb/retrieve.py), scores and per-arm ranks.

Creating, reading and searching run in this process (through `KBAccess`); ingesting runs as a job.
An upload is checked file by file with the KB's own parsers before anything is stored
(`uploads.accept`), so a bad file answers 400 and leaves the KB and earlier uploads as they were.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from groundtune.core.artifacts import Page, RetrieverRecord
from groundtune.core.configs import IngestConfig
from groundtune.core.errors import ConflictError, NotFoundError
from groundtune.core.resources import (
    ChunkLocation,
    Deleted,
    DocumentInfo,
    KnowledgeBase,
    KnowledgeBaseCreate,
    SearchRequest,
    SearchResults,
    Upload,
)
from groundtune.core.schemas import Document
from groundtune.platform.api import uploads
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.idempotency import IdempotencyKey, body_hash, idempotent
from groundtune.platform.api.jobs import job_key, job_of
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(prefix="/v1/knowledge_bases", tags=["knowledge_bases"])


def _masked(settings: Any) -> Any:
    if settings.catalog_url:
        import re

        masked = re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", settings.catalog_url)
        settings = settings.model_copy(update={"catalog_url": masked})
    return settings


def _resource(settings: Any, kb: Any = None, busy: str | None = None) -> KnowledgeBase:
    counts: dict[str, Any] = {}
    if kb is not None:
        numbers = kb.catalog.counts()
        counts = {
            "documents": numbers.get("documents"),
            "chunks": numbers.get("latest_chunks"),
            "generation": kb.catalog.state().generation,
        }
    return KnowledgeBase(id=settings.id, name=settings.name, settings=_masked(settings), busy=busy, **counts)


def _settings(platform: Platform, name: str) -> Any:
    from groundtune.kb.settings import load_settings

    return load_settings(name, platform.home)[1]


@router.post("", response_model=KnowledgeBase)
def create_knowledge_base(
    body: KnowledgeBaseCreate,
    request: Request,
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Create an empty knowledge base (its catalog and index)."""

    def create() -> KnowledgeBase:
        from groundtune.kb import manage

        settings = manage.create(
            body.name,
            embedder=body.embedder,
            index_url=body.index_url,
            chunk_tokens=body.chunk_tokens,
            chunk_overlap=body.chunk_overlap,
            keep_versions=body.keep_versions,
            home=platform.home,
        )
        return _resource(settings)

    return idempotent(request, platform, body_hash(body), create)


@router.get("", response_model=Page[KnowledgeBase])
def list_knowledge_bases(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """Knowledge bases by name (counts are on each one's own page)."""
    from groundtune.kb.manage import list_kbs

    items = [_resource(s) for s in list_kbs(platform.home)]
    return page(items, lambda kb: kb.name, after, limit)


@router.get("/{name}", response_model=KnowledgeBase)
def retrieve_knowledge_base(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """Settings and counts; while a job's worker holds the KB, the counts are missing and `busy` says why."""
    settings = _settings(platform, name)
    try:
        with platform.kbs.open(name) as kb:
            return _resource(settings, kb)
    except ConflictError as exc:
        return _resource(settings, busy=exc.message)


@router.delete("/{name}", response_model=Deleted)
def delete_knowledge_base(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """Delete the KB (catalog tables, index collection, folder) and its uploaded files."""
    import shutil

    from groundtune.kb.manage import delete

    _settings(platform, name)
    users = platform.serving.using_kb(name)
    if users:
        raise ConflictError(
            f"knowledge base '{name}' is used by running deployment(s) {', '.join(users)}",
            hint="stop them first",
        )
    if platform.kbs.in_use(name):
        raise ConflictError(f"knowledge base '{name}' is in use by a request", hint="retry in a moment")
    delete(name, home=platform.home)
    shutil.rmtree(uploads.kb_folder(platform, name), ignore_errors=True)
    return Deleted(id=name, object="knowledge_base")


# -- documents ------------------------------------------------------------------------------------


@router.post("/{name}/documents", response_model=Upload)
async def upload_documents(
    name: str,
    request: Request,
    files: list[UploadFile] = File(description="Documents: PDF, HTML, Markdown, text, JSONL or CSV."),
    tags: list[str] = Form(default=[], description="Tags every added document carries."),
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Upload many files at once -> an ingestion job. Every file is checked first (type, size, UTF-8,
    PDF, records); one bad file answers 400 with a reason per file and stores nothing."""
    from starlette.concurrency import run_in_threadpool

    _settings(platform, name)
    users = platform.serving.using_kb(name)
    if users:
        raise ConflictError(
            f"knowledge base '{name}' is held by running deployment(s) {', '.join(users)}; an ingestion "
            "job runs in its own process and could not open it",
            hint="stop the deployment, upload, then start it again (or move the KB to a Qdrant server)",
        )
    received = await uploads.receive(files, platform.limits)
    digest = body_hash({"kb": name, "tags": tags, "files": [(f.filename, f.sha256) for f in received]})

    def create() -> Upload:
        platform.admit_job()
        accepted = uploads.accept(platform, name, received, tags)
        config = IngestConfig(kb=name, inputs=[str(a.path) for a in accepted], tags=tags)
        job = platform.store.create_job(
            "ingestion", config.model_dump(mode="json"), idempotency_key=job_key(request)
        )
        return uploads.record(platform, name, job, accepted)

    return await run_in_threadpool(idempotent, request, platform, digest, create)


@router.get("/{name}/uploads/{job_id}", response_model=Upload)
def retrieve_upload(name: str, job_id: str, platform: Platform = Depends(get_platform)) -> Any:
    """An upload's job and each file's status now (pending until the job is done)."""
    job = job_of(platform, job_id, "ingestion")
    return uploads.status(platform, name, job)


def document_info(doc: Document) -> DocumentInfo:
    return DocumentInfo(
        id=doc.id,
        version=doc.version,
        title=doc.title,
        source=doc.source,
        content_hash=doc.content_hash,
        tags=doc.tags,
        metadata=doc.metadata,
        chars=len(doc.text),
        created_at=doc.created_at.isoformat() if doc.created_at else None,
    )


@router.get("/{name}/documents", response_model=Page[DocumentInfo])
def list_documents(
    name: str, after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """Each document's latest version, by id."""
    with platform.kbs.open(name) as kb:
        docs = sorted(kb.documents(latest_only=True), key=lambda d: d.id)
    return page([document_info(d) for d in docs], lambda d: d.id, after, limit)


@router.get("/{name}/documents/{doc_id}", response_model=Document)
def retrieve_document(
    name: str,
    doc_id: str,
    version: int | None = Query(None, ge=1, description="A version (default: the latest)."),
    platform: Platform = Depends(get_platform),
) -> Any:
    """One document version with its parsed text."""
    with platform.kbs.open(name) as kb:
        return kb.get_document(doc_id, version)


@router.get("/{name}/documents/{doc_id}/versions", response_model=Page[DocumentInfo])
def list_document_versions(
    name: str,
    doc_id: str,
    after: str | None = After,
    limit: int = Limit,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Every stored version of a document, newest first (`after` is a version number)."""
    with platform.kbs.open(name) as kb:
        versions = [d for d in kb.documents(latest_only=False) if d.id == doc_id]
    if not versions:
        raise NotFoundError(f"document {doc_id} is not in '{name}'", hint="list its documents")
    versions.sort(key=lambda d: -d.version)
    return page([document_info(d) for d in versions], lambda d: d.version, after, limit)


@router.delete("/{name}/documents/{doc_id}", response_model=Deleted)
def delete_document(name: str, doc_id: str, platform: Platform = Depends(get_platform)) -> Any:
    """Remove a document (every version) from catalog and index."""
    with platform.kbs.open(name, embed=False) as kb:
        kb.get_document(doc_id)
        kb.remove([doc_id])
    return Deleted(id=doc_id, object="document")


@router.get("/{name}/chunks/{chunk_id}", response_model=ChunkLocation)
def retrieve_chunk(
    name: str,
    chunk_id: str,
    quote: str | None = Query(None, max_length=8000, description="Locate this quote inside the chunk."),
    platform: Platform = Depends(get_platform),
) -> Any:
    """A chunk in its document version (what a citation opens): the text, the chunk's span and the
    quote's span when it is a verbatim part of the chunk."""
    from groundtune.grounding.quotes import find_verbatim

    with platform.kbs.open(name) as kb:
        chunk = kb.catalog.chunk(chunk_id)
        if chunk is None:
            raise NotFoundError(
                f"no chunk {chunk_id} in '{name}'", hint="it may belong to a version since removed"
            )
        doc = kb.get_document(chunk.doc_id, chunk.doc_version)
    span = None
    if quote:
        found = find_verbatim(quote, doc.text[chunk.start : chunk.end])
        span = [chunk.start + found[0], chunk.start + found[1]] if found else None
    return ChunkLocation(
        chunk=chunk, document=document_info(doc), text=doc.text, quote=quote, quote_span=span
    )


# -- search ---------------------------------------------------------------------------------------


@router.post("/{name}/search", response_model=SearchResults)
def search(name: str, body: SearchRequest, platform: Platform = Depends(get_platform)) -> Any:
    """THE retriever: `retriever.documents_per_prompt` chunks with fused score, rank and each arm's rank."""
    with platform.kbs.open(name, embed=True) as kb:
        retriever = kb.retriever(body.retriever)
        hits = retriever.search(body.query, filters=body.filters)
        return SearchResults(data=hits, retriever=RetrieverRecord.of(retriever.config))
