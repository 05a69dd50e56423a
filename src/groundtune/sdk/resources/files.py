"""`client.files`: QA files (JSONL, CSV, TSV) stored once on the server; a dataset source names one by
its id (`{"kind": "qa", "path": file.id}`)."""

from __future__ import annotations

from typing import Any

from groundtune.core.resources import Deleted, FileObject
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, FileInput, SyncResource, files

CREATE = Route("POST", "/v1/files")
LIST = Route("GET", "/v1/files")
RETRIEVE = Route("GET", "/v1/files/{file_id}")
DELETE = Route("DELETE", "/v1/files/{file_id}")


def _create(file: FileInput, purpose: str, idempotency_key: str | None, timeout: Any) -> Call[FileObject]:
    parts = files(file, "file")
    return Call(
        CREATE,
        parse=model(FileObject),
        files=parts[:1],
        data={"purpose": purpose},
        create=True,
        idempotency_key=idempotency_key,
        timeout=timeout,
    )


class Files(SyncResource):
    @CREATE
    def create(
        self,
        file: FileInput,
        *,
        purpose: str = "qa",
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
    ) -> FileObject:
        """Upload one QA file (a path or a (filename, bytes) pair); every row is checked first."""
        return self._request(_create(file, purpose, idempotency_key, timeout))

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[FileObject]:
        return self._page(LIST, FileObject, params={"after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, file_id: str, *, timeout: Any = DEFAULT) -> FileObject:
        return self._request(
            Call(RETRIEVE, parse=model(FileObject), path={"file_id": file_id}, timeout=timeout)
        )

    @DELETE
    def delete(self, file_id: str, *, timeout: Any = DEFAULT) -> Deleted:
        return self._request(Call(DELETE, parse=model(Deleted), path={"file_id": file_id}, timeout=timeout))


class AsyncFiles(AsyncResource):
    @CREATE
    async def create(
        self,
        file: FileInput,
        *,
        purpose: str = "qa",
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
    ) -> FileObject:
        return await self._request(_create(file, purpose, idempotency_key, timeout))

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[FileObject]:
        return AsyncPager(
            lambda: self._page(LIST, FileObject, params={"after": after, "limit": limit}, timeout=timeout)
        )

    @RETRIEVE
    async def retrieve(self, file_id: str, *, timeout: Any = DEFAULT) -> FileObject:
        return await self._request(
            Call(RETRIEVE, parse=model(FileObject), path={"file_id": file_id}, timeout=timeout)
        )

    @DELETE
    async def delete(self, file_id: str, *, timeout: Any = DEFAULT) -> Deleted:
        return await self._request(
            Call(DELETE, parse=model(Deleted), path={"file_id": file_id}, timeout=timeout)
        )
