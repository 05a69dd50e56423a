"""`client.deployments`: a stored DeploymentConfig (base model, adapters, KB, calibrations) the server
starts and stops; while running, its models answer `client.chat.completions`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groundtune.core.resources import Deleted, Deployment, DeploymentCreate
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, SyncResource, body

CREATE = Route("POST", "/v1/deployments")
LIST = Route("GET", "/v1/deployments")
RETRIEVE = Route("GET", "/v1/deployments/{name}")
DELETE = Route("DELETE", "/v1/deployments/{name}")
START = Route("POST", "/v1/deployments/{name}/start")
STOP = Route("POST", "/v1/deployments/{name}/stop")


def _create(config: Any, fields: Mapping[str, Any], key: str | None, timeout: Any) -> Call[Deployment]:
    return Call(
        CREATE,
        parse=model(Deployment),
        json=body(DeploymentCreate, config, fields),
        create=True,
        idempotency_key=key,
        timeout=timeout,
    )


class Deployments(SyncResource):
    @CREATE
    def create(
        self,
        config: DeploymentCreate | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> Deployment:
        """`create(name="prod", config={"adapters": {"tuned": "tuned"}, "kb": "manuals"}, start=True)`."""
        return self._request(_create(config, fields, idempotency_key, timeout))

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[Deployment]:
        return self._page(LIST, Deployment, params={"after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> Deployment:
        return self._request(Call(RETRIEVE, parse=model(Deployment), path={"name": name}, timeout=timeout))

    @DELETE
    def delete(self, name: str, *, timeout: Any = DEFAULT) -> Deleted:
        return self._request(Call(DELETE, parse=model(Deleted), path={"name": name}, timeout=timeout))

    @START
    def start(self, name: str, *, timeout: Any = DEFAULT) -> Deployment:
        """Load its models and KB and serve them (a no-op when it runs already)."""
        return self._request(Call(START, parse=model(Deployment), path={"name": name}, timeout=timeout))

    @STOP
    def stop(self, name: str, *, timeout: Any = DEFAULT) -> Deployment:
        return self._request(Call(STOP, parse=model(Deployment), path={"name": name}, timeout=timeout))


class AsyncDeployments(AsyncResource):
    @CREATE
    async def create(
        self,
        config: DeploymentCreate | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> Deployment:
        return await self._request(_create(config, fields, idempotency_key, timeout))

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[Deployment]:
        return AsyncPager(
            lambda: self._page(LIST, Deployment, params={"after": after, "limit": limit}, timeout=timeout)
        )

    @RETRIEVE
    async def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> Deployment:
        return await self._request(
            Call(RETRIEVE, parse=model(Deployment), path={"name": name}, timeout=timeout)
        )

    @DELETE
    async def delete(self, name: str, *, timeout: Any = DEFAULT) -> Deleted:
        return await self._request(Call(DELETE, parse=model(Deleted), path={"name": name}, timeout=timeout))

    @START
    async def start(self, name: str, *, timeout: Any = DEFAULT) -> Deployment:
        return await self._request(Call(START, parse=model(Deployment), path={"name": name}, timeout=timeout))

    @STOP
    async def stop(self, name: str, *, timeout: Any = DEFAULT) -> Deployment:
        return await self._request(Call(STOP, parse=model(Deployment), path={"name": name}, timeout=timeout))
