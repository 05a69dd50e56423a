"""`client.adapters`: trained adapters with manifest and lineage, their calibrations, and the PEFT
folder as a tar.gz (`download`); `client.calibrations.create` queues a calibration job."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from groundtune.core.artifacts import Calibration
from groundtune.core.configs import CalibrateConfig
from groundtune.core.resources import Adapter
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.jobs import AsyncJob, Job
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, SyncResource, body

LIST = Route("GET", "/v1/adapters")
RETRIEVE = Route("GET", "/v1/adapters/{name}")
CALIBRATIONS = Route("GET", "/v1/adapters/{name}/calibrations")
CONTENT = Route("GET", "/v1/adapters/{name}/content")
CALIBRATE = Route("POST", "/v1/calibrations")


def _saver(name: str, to: str | Path | None) -> Any:
    """Write the archive to `to` (a folder gets `<name>.tar.gz`; default: the current folder)."""

    def save(response: httpx.Response) -> Path:
        target = Path(to or ".").expanduser()
        if target.is_dir():
            target = target / f"{name}.tar.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(response.content)
        partial.replace(target)
        return target

    return save


class Adapters(SyncResource):
    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[Adapter]:
        return self._page(LIST, Adapter, params={"after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> Adapter:
        """Manifest (base model, prompt layout, grounding format, retriever) and lineage."""
        return self._request(Call(RETRIEVE, parse=model(Adapter), path={"name": name}, timeout=timeout))

    @CALIBRATIONS
    def list_calibrations(
        self, name: str, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[Calibration]:
        return self._page(
            CALIBRATIONS,
            Calibration,
            path={"name": name},
            params={"after": after, "limit": limit},
            timeout=timeout,
        )

    @CONTENT
    def download(self, name: str, to: str | Path | None = None, *, timeout: Any = DEFAULT) -> Path:
        """Save the adapter folder (PEFT + vLLM layout, groundtune-adapter.json) as a tar.gz; its path."""
        return self._request(Call(CONTENT, parse=_saver(name, to), path={"name": name}, timeout=timeout))


class Calibrations(SyncResource):
    @CALIBRATE
    def create(
        self,
        config: CalibrateConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> Job:
        """Queue fitting an adapter's abstention threshold on a dataset split."""
        return self._job(CALIBRATE, body(CalibrateConfig, config, fields), idempotency_key, timeout)


class AsyncAdapters(AsyncResource):
    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[Adapter]:
        return AsyncPager(
            lambda: self._page(LIST, Adapter, params={"after": after, "limit": limit}, timeout=timeout)
        )

    @RETRIEVE
    async def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> Adapter:
        return await self._request(Call(RETRIEVE, parse=model(Adapter), path={"name": name}, timeout=timeout))

    @CALIBRATIONS
    def list_calibrations(
        self, name: str, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[Calibration]:
        return AsyncPager(
            lambda: self._page(
                CALIBRATIONS,
                Calibration,
                path={"name": name},
                params={"after": after, "limit": limit},
                timeout=timeout,
            )
        )

    @CONTENT
    async def download(self, name: str, to: str | Path | None = None, *, timeout: Any = DEFAULT) -> Path:
        return await self._request(
            Call(CONTENT, parse=_saver(name, to), path={"name": name}, timeout=timeout)
        )


class AsyncCalibrations(AsyncResource):
    @CALIBRATE
    async def create(
        self,
        config: CalibrateConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> AsyncJob:
        return await self._job(CALIBRATE, body(CalibrateConfig, config, fields), idempotency_key, timeout)
