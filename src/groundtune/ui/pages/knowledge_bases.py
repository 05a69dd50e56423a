"""Knowledge base pages: the list (and create), one KB (upload by drag-and-drop, its documents, its
uploads, a search through THE retriever with scores and per-arm ranks), a document with its versions
and, when a citation opens it, the cited chunk and quote highlighted."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from groundtune.core.errors import ConflictError
from groundtune.core.resources import KnowledgeBaseCreate, SearchRequest
from groundtune.platform.api import knowledge_bases as api
from groundtune.ui.app import page_router, platform_of, render
from groundtune.ui.marks import runs

router = page_router()


@router.get("/knowledge_bases")
def list_page(request: Request, after: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    return render(
        request,
        "knowledge_bases.html",
        title="Knowledge bases",
        page=api.list_knowledge_bases(after, 50, p),
        defaults=KnowledgeBaseCreate(name="kb"),
        json_url="/v1/knowledge_bases",
    )


def _uploads(p: Any, name: str) -> list[Any]:
    jobs = p.store.list_jobs(kind="ingestion", limit=100).data
    return [j for j in jobs if j.config.get("kb") == name][:10]


@router.get("/knowledge_bases/{name}")
def kb_page(request: Request, name: str, q: str = "", after: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    kb = api.retrieve_knowledge_base(name, p)
    documents, busy, results = None, kb.busy, None
    try:
        documents = api.list_documents(name, after, 50, p)
        if q.strip():
            results = api.search(name, SearchRequest(query=q.strip()), p)
    except ConflictError as exc:  # a job's worker holds the KB right now
        busy = exc.message
    return render(
        request,
        "knowledge_base.html",
        title=f"Knowledge base {name}",
        kb=kb,
        documents=documents,
        busy=busy,
        q=q,
        results=results,
        uploads=_uploads(p, name),
        json_url=f"/v1/knowledge_bases/{name}",
    )


@router.get("/knowledge_bases/{name}/documents/{doc_id}")
def document_page(
    request: Request,
    name: str,
    doc_id: str,
    version: int | None = None,
    chunk: str | None = None,
    quote: str | None = None,
) -> HTMLResponse:
    p = platform_of(request)
    located = None
    if chunk:
        located = api.retrieve_chunk(name, chunk, quote, p)
        text, info = located.text, located.document
        spans = [(located.chunk.start, located.chunk.end, "chunk")]
        if located.quote_span:
            spans.append((located.quote_span[0], located.quote_span[1], "quote"))
        json_url = f"/v1/knowledge_bases/{name}/chunks/{chunk}"
    else:
        doc = api.retrieve_document(name, doc_id, version, p)
        text, info, spans = doc.text, api.document_info(doc), []
        json_url = f"/v1/knowledge_bases/{name}/documents/{doc_id}" + (
            f"?version={version}" if version else ""
        )
    return render(
        request,
        "document.html",
        title=info.title,
        kb=name,
        info=info,
        runs=runs(text, spans),
        located=located,
        versions=api.list_document_versions(name, doc_id, None, 100, p),
        json_url=json_url,
    )
