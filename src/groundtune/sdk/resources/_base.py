"""What every resource shares: sending its calls through the client's transport, reading pages that
fetch their successors, binding returned jobs to the client, building request bodies as the core
models (a ready model, a dict or keyword fields; a bad field raises InvalidInputError before anything
is sent) and reading local files for multipart uploads."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.sdk._transport import Call, Route
from groundtune.sdk.jobs import AsyncJob, AsyncUpload, Job, Upload
from groundtune.sdk.pagination import AsyncPage, SyncPage

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
FileInput = str | os.PathLike[str] | tuple[str, bytes]


def body(cls: type[M], given: M | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> M:
    """The request body as `cls`: `given` (a model or a dict) or the keyword `fields`."""
    if given is not None and fields:
        raise InvalidInputError(
            f"pass a {cls.__name__} or its fields as keywords, not both",
            hint=f"drop the keywords ({', '.join(fields)}) or the {cls.__name__}",
        )
    if isinstance(given, cls):
        return given
    try:
        return cls.model_validate(dict(given) if given is not None else dict(fields))
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or cls.__name__}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(
            f"invalid {cls.__name__}: {problems}",
            hint=f"fix the field; docs/data-formats.md lists {cls.__name__}'s fields",
            code="invalid_value",
            param=param,
        ) from None


def files(inputs: FileInput | Sequence[FileInput], field: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart parts named `field`: each file as it is, each folder's files (recursively, hidden
    ones skipped), each (filename, bytes) pair as given. Read once, so a retry sends the same bytes."""
    items = [inputs] if isinstance(inputs, str | os.PathLike | tuple) else list(inputs)
    parts: list[tuple[str, tuple[str, bytes, str]]] = []
    for item in items:
        if isinstance(item, tuple):
            name, data = item
            parts.append((field, (name, data, _mime(name))))
            continue
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(s.startswith(".") for s in p.relative_to(path).parts)
            )
        elif path.is_file():
            found = [path]
        else:
            raise NotFoundError(f"{path}: no such file or folder", hint="check the path", param=field)
        parts += [(field, (p.name, p.read_bytes(), _mime(p.name))) for p in found]
    if not parts:
        raise InvalidInputError(
            "no files to upload", hint="pass files or folders that hold files", param=field
        )
    return parts


def _mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _bound(item: Any, client: Any) -> Any:
    if isinstance(item, Job | AsyncJob | Upload | AsyncUpload):
        item.bind(client)
    return item


class SyncResource:
    def __init__(self, client: Any) -> None:
        self._client = client

    def _request(self, call: Call[T]) -> T:
        result: T = _bound(self._client._transport.request(call), self._client)
        return result

    def _page(
        self,
        route: Route,
        item: type[T],
        *,
        path: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Any,
    ) -> SyncPage[T]:
        page_type = SyncPage[item]  # type: ignore[valid-type]
        transport = self._client._transport

        def read(call: Call[Any]) -> SyncPage[T]:
            page: SyncPage[T] = page_type.model_validate(transport.send(call).json())
            for entry in page.data:
                _bound(entry, self._client)
            page._fetch = lambda cursor: read(call.after(cursor))
            return page

        return read(Call(route, parse=_raw, path=path or {}, params=params, timeout=timeout))

    def _job(self, route: Route, json: Any, idempotency_key: str | None, timeout: Any) -> Job:
        return self._request(
            Call(
                route,
                parse=_job_parser(Job),
                json=json,
                create=True,
                idempotency_key=idempotency_key,
                timeout=timeout,
            )
        )


class AsyncResource:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def _request(self, call: Call[T]) -> T:
        result: T = _bound(await self._client._transport.request(call), self._client)
        return result

    async def _page(
        self,
        route: Route,
        item: type[T],
        *,
        path: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Any,
    ) -> AsyncPage[T]:
        page_type = AsyncPage[item]  # type: ignore[valid-type]
        transport = self._client._transport

        async def read(call: Call[Any]) -> AsyncPage[T]:
            page: AsyncPage[T] = page_type.model_validate((await transport.send(call)).json())
            for entry in page.data:
                _bound(entry, self._client)
            page._fetch = lambda cursor: read(call.after(cursor))
            return page

        return await read(Call(route, parse=_raw, path=path or {}, params=params, timeout=timeout))

    async def _job(self, route: Route, json: Any, idempotency_key: str | None, timeout: Any) -> AsyncJob:
        return await self._request(
            Call(
                route,
                parse=_job_parser(AsyncJob),
                json=json,
                create=True,
                idempotency_key=idempotency_key,
                timeout=timeout,
            )
        )


def _raw(response: httpx.Response) -> httpx.Response:
    return response


def _job_parser(cls: type[M]) -> Any:
    return lambda r: cls.model_validate(r.json())


def text(response: httpx.Response) -> str:
    return response.text
