"""`client.api_keys` (admin scope): create (the only answer with the secret), list, delete (revoke)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from groundtune.core.artifacts import ApiKey, ApiScope
from groundtune.core.resources import ApiKeyCreate, ApiKeyCreated, Deleted
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, SyncResource, body

CREATE = Route("POST", "/v1/api_keys")
LIST = Route("GET", "/v1/api_keys")
DELETE = Route("DELETE", "/v1/api_keys/{key_id}")


def _create(name: str, scopes: Sequence[ApiScope], timeout: Any) -> Call[ApiKeyCreated]:
    return Call(
        CREATE,
        parse=model(ApiKeyCreated),
        json=body(ApiKeyCreate, None, {"name": name, "scopes": list(scopes)}),
        timeout=timeout,
    )


class ApiKeys(SyncResource):
    @CREATE
    def create(
        self, name: str, scopes: Sequence[ApiScope] = ("read",), *, timeout: Any = DEFAULT
    ) -> ApiKeyCreated:
        return self._request(_create(name, scopes, timeout))

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[ApiKey]:
        return self._page(LIST, ApiKey, params={"after": after, "limit": limit}, timeout=timeout)

    @DELETE
    def delete(self, key_id: str, *, timeout: Any = DEFAULT) -> Deleted:
        """Revoke a key: the server refuses it from the next request on."""
        return self._request(Call(DELETE, parse=model(Deleted), path={"key_id": key_id}, timeout=timeout))


class AsyncApiKeys(AsyncResource):
    @CREATE
    async def create(
        self, name: str, scopes: Sequence[ApiScope] = ("read",), *, timeout: Any = DEFAULT
    ) -> ApiKeyCreated:
        return await self._request(_create(name, scopes, timeout))

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[ApiKey]:
        return AsyncPager(
            lambda: self._page(LIST, ApiKey, params={"after": after, "limit": limit}, timeout=timeout)
        )

    @DELETE
    async def delete(self, key_id: str, *, timeout: Any = DEFAULT) -> Deleted:
        return await self._request(
            Call(DELETE, parse=model(Deleted), path={"key_id": key_id}, timeout=timeout)
        )
