"""`client.knowledge_bases`: create, list, retrieve, delete, search (THE retriever), and
`.documents` (upload many files -> an ingestion job; list, retrieve, versions, delete) and `.uploads`
(an upload's per-file status)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from groundtune.core.configs import RetrieverConfig, SearchFilters
from groundtune.core.resources import (
    ChunkLocation,
    Deleted,
    DocumentInfo,
    KnowledgeBase,
    KnowledgeBaseCreate,
    SearchRequest,
    SearchResults,
)
from groundtune.core.schemas import Document
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.jobs import AsyncUpload, Upload
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, FileInput, SyncResource, body, files

CREATE = Route("POST", "/v1/knowledge_bases")
LIST = Route("GET", "/v1/knowledge_bases")
RETRIEVE = Route("GET", "/v1/knowledge_bases/{name}")
DELETE = Route("DELETE", "/v1/knowledge_bases/{name}")
SEARCH = Route("POST", "/v1/knowledge_bases/{name}/search")
CHUNK = Route("GET", "/v1/knowledge_bases/{name}/chunks/{chunk_id}")
UPLOAD = Route("POST", "/v1/knowledge_bases/{name}/documents")
DOCUMENTS = Route("GET", "/v1/knowledge_bases/{name}/documents")
DOCUMENT = Route("GET", "/v1/knowledge_bases/{name}/documents/{doc_id}")
DELETE_DOCUMENT = Route("DELETE", "/v1/knowledge_bases/{name}/documents/{doc_id}")
VERSIONS = Route("GET", "/v1/knowledge_bases/{name}/documents/{doc_id}/versions")
UPLOAD_STATUS = Route("GET", "/v1/knowledge_bases/{name}/uploads/{job_id}")

Retriever = RetrieverConfig | Mapping[str, Any] | None
Filters = SearchFilters | Mapping[str, Any] | None


def _search(query: str, retriever: Retriever, filters: Filters) -> SearchRequest:
    fields: dict[str, Any] = {"query": query}
    if retriever is not None:
        fields["retriever"] = retriever
    if filters is not None:
        fields["filters"] = filters
    return body(SearchRequest, None, fields)


def _upload(name: str, inputs: FileInput | Sequence[FileInput], tags: Sequence[str]) -> dict[str, Any]:
    return {
        "path": {"name": name},
        "files": files(inputs, "files"),
        "data": {"tags": list(tags)} if tags else None,
    }


class KnowledgeBases(SyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.documents = Documents(client)
        self.uploads = Uploads(client)

    @CREATE
    def create(
        self,
        config: KnowledgeBaseCreate | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> KnowledgeBase:
        """Create an empty knowledge base: `create(name="manuals", embedder="minilm-l6")`."""
        return self._request(
            Call(
                CREATE,
                parse=model(KnowledgeBase),
                json=body(KnowledgeBaseCreate, config, fields),
                create=True,
                idempotency_key=idempotency_key,
                timeout=timeout,
            )
        )

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[KnowledgeBase]:
        return self._page(LIST, KnowledgeBase, params={"after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> KnowledgeBase:
        return self._request(Call(RETRIEVE, parse=model(KnowledgeBase), path={"name": name}, timeout=timeout))

    @DELETE
    def delete(self, name: str, *, timeout: Any = DEFAULT) -> Deleted:
        return self._request(Call(DELETE, parse=model(Deleted), path={"name": name}, timeout=timeout))

    @CHUNK
    def chunk(
        self, name: str, chunk_id: str, *, quote: str | None = None, timeout: Any = DEFAULT
    ) -> ChunkLocation:
        """A chunk in its document's text (what a citation opens), with `quote` located in it."""
        return self._request(
            Call(
                CHUNK,
                parse=model(ChunkLocation),
                path={"name": name, "chunk_id": chunk_id},
                params={"quote": quote},
                timeout=timeout,
            )
        )

    @SEARCH
    def search(
        self,
        name: str,
        query: str,
        *,
        retriever: Retriever = None,
        filters: Filters = None,
        timeout: Any = DEFAULT,
    ) -> SearchResults:
        """THE retriever's ranked chunks for `query`, with fused scores and each arm's rank."""
        return self._request(
            Call(
                SEARCH,
                parse=model(SearchResults),
                path={"name": name},
                json=_search(query, retriever, filters),
                timeout=timeout,
            )
        )


class Documents(SyncResource):
    @UPLOAD
    def upload(
        self,
        name: str,
        inputs: FileInput | Sequence[FileInput],
        *,
        tags: Sequence[str] = (),
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
    ) -> Upload:
        """Upload files and folders (or (filename, bytes) pairs) -> an ingestion job; `.wait()` on the
        result waits for it and answers each file's final status."""
        return self._request(
            Call(
                UPLOAD,
                parse=model(Upload),
                create=True,
                idempotency_key=idempotency_key,
                timeout=timeout,
                **_upload(name, inputs, tags),
            )
        )

    @DOCUMENTS
    def list(
        self, name: str, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[DocumentInfo]:
        return self._page(
            DOCUMENTS,
            DocumentInfo,
            path={"name": name},
            params={"after": after, "limit": limit},
            timeout=timeout,
        )

    @DOCUMENT
    def retrieve(
        self, name: str, doc_id: str, *, version: int | None = None, timeout: Any = DEFAULT
    ) -> Document:
        return self._request(
            Call(
                DOCUMENT,
                parse=model(Document),
                path={"name": name, "doc_id": doc_id},
                params={"version": version},
                timeout=timeout,
            )
        )

    @DELETE_DOCUMENT
    def delete(self, name: str, doc_id: str, *, timeout: Any = DEFAULT) -> Deleted:
        return self._request(
            Call(
                DELETE_DOCUMENT, parse=model(Deleted), path={"name": name, "doc_id": doc_id}, timeout=timeout
            )
        )

    @VERSIONS
    def list_versions(
        self,
        name: str,
        doc_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> SyncPage[DocumentInfo]:
        return self._page(
            VERSIONS,
            DocumentInfo,
            path={"name": name, "doc_id": doc_id},
            params={"after": after, "limit": limit},
            timeout=timeout,
        )


class Uploads(SyncResource):
    @UPLOAD_STATUS
    def retrieve(self, name: str, job_id: str, *, timeout: Any = DEFAULT) -> Upload:
        return self._request(
            Call(UPLOAD_STATUS, parse=model(Upload), path={"name": name, "job_id": job_id}, timeout=timeout)
        )


class AsyncKnowledgeBases(AsyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.documents = AsyncDocuments(client)
        self.uploads = AsyncUploads(client)

    @CREATE
    async def create(
        self,
        config: KnowledgeBaseCreate | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> KnowledgeBase:
        return await self._request(
            Call(
                CREATE,
                parse=model(KnowledgeBase),
                json=body(KnowledgeBaseCreate, config, fields),
                create=True,
                idempotency_key=idempotency_key,
                timeout=timeout,
            )
        )

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[KnowledgeBase]:
        return AsyncPager(
            lambda: self._page(LIST, KnowledgeBase, params={"after": after, "limit": limit}, timeout=timeout)
        )

    @RETRIEVE
    async def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> KnowledgeBase:
        return await self._request(
            Call(RETRIEVE, parse=model(KnowledgeBase), path={"name": name}, timeout=timeout)
        )

    @DELETE
    async def delete(self, name: str, *, timeout: Any = DEFAULT) -> Deleted:
        return await self._request(Call(DELETE, parse=model(Deleted), path={"name": name}, timeout=timeout))

    @CHUNK
    async def chunk(
        self, name: str, chunk_id: str, *, quote: str | None = None, timeout: Any = DEFAULT
    ) -> ChunkLocation:
        return await self._request(
            Call(
                CHUNK,
                parse=model(ChunkLocation),
                path={"name": name, "chunk_id": chunk_id},
                params={"quote": quote},
                timeout=timeout,
            )
        )

    @SEARCH
    async def search(
        self,
        name: str,
        query: str,
        *,
        retriever: Retriever = None,
        filters: Filters = None,
        timeout: Any = DEFAULT,
    ) -> SearchResults:
        return await self._request(
            Call(
                SEARCH,
                parse=model(SearchResults),
                path={"name": name},
                json=_search(query, retriever, filters),
                timeout=timeout,
            )
        )


class AsyncDocuments(AsyncResource):
    @UPLOAD
    async def upload(
        self,
        name: str,
        inputs: FileInput | Sequence[FileInput],
        *,
        tags: Sequence[str] = (),
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
    ) -> AsyncUpload:
        return await self._request(
            Call(
                UPLOAD,
                parse=model(AsyncUpload),
                create=True,
                idempotency_key=idempotency_key,
                timeout=timeout,
                **_upload(name, inputs, tags),
            )
        )

    @DOCUMENTS
    def list(
        self, name: str, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[DocumentInfo]:
        return AsyncPager(
            lambda: self._page(
                DOCUMENTS,
                DocumentInfo,
                path={"name": name},
                params={"after": after, "limit": limit},
                timeout=timeout,
            )
        )

    @DOCUMENT
    async def retrieve(
        self, name: str, doc_id: str, *, version: int | None = None, timeout: Any = DEFAULT
    ) -> Document:
        return await self._request(
            Call(
                DOCUMENT,
                parse=model(Document),
                path={"name": name, "doc_id": doc_id},
                params={"version": version},
                timeout=timeout,
            )
        )

    @DELETE_DOCUMENT
    async def delete(self, name: str, doc_id: str, *, timeout: Any = DEFAULT) -> Deleted:
        return await self._request(
            Call(
                DELETE_DOCUMENT, parse=model(Deleted), path={"name": name, "doc_id": doc_id}, timeout=timeout
            )
        )

    @VERSIONS
    def list_versions(
        self,
        name: str,
        doc_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> AsyncPager[DocumentInfo]:
        return AsyncPager(
            lambda: self._page(
                VERSIONS,
                DocumentInfo,
                path={"name": name, "doc_id": doc_id},
                params={"after": after, "limit": limit},
                timeout=timeout,
            )
        )


class AsyncUploads(AsyncResource):
    @UPLOAD_STATUS
    async def retrieve(self, name: str, job_id: str, *, timeout: Any = DEFAULT) -> AsyncUpload:
        return await self._request(
            Call(
                UPLOAD_STATUS,
                parse=model(AsyncUpload),
                path={"name": name, "job_id": job_id},
                timeout=timeout,
            )
        )
