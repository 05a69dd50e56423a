"""How the SDK talks HTTP: one `Call` per API operation (its route, parameters, body and how to read
the answer), sent by a sync or an async transport with retries and per-call timeouts.

Retries: connection errors, timeouts, 429 (waiting what `Retry-After` asks) and 5xx, with exponential
backoff and jitter, `max_retries` times. A create carries one `Idempotency-Key`, made before the first
attempt and sent again on every retry, so the server runs it once however often it is sent. Errors come
back as the core.errors class of their status, with the server's message, code and request id.
Knows no resource: resources/ build the calls.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from groundtune import __version__
from groundtune.core.errors import DeadlineError, GroundtuneError, UnavailableError, from_response

T = TypeVar("T")
log = logging.getLogger("groundtune.sdk")

REQUEST_ID = "x-request-id"
IDEMPOTENCY_KEY = "Idempotency-Key"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 60.0


class _Default:
    """The client's own setting (as opposed to None, which means none)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
Timeout = float | httpx.Timeout | None
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


@dataclass(frozen=True)
class Route:
    """One operation of the REST API. Decorating an SDK method with it records which operation the
    method is (the route-coverage test reads it)."""

    method: str
    path: str

    def __call__(self, fn: Callable[..., T]) -> Callable[..., T]:
        fn.__route__ = self  # type: ignore[attr-defined]
        return fn

    def url(self, params: Mapping[str, Any]) -> str:
        return self.path.format(**{k: quote(str(v), safe="") for k, v in params.items()})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request: the route, its path and query parameters, a JSON or multipart body, and `parse`,
    which turns the answer into the SDK's return value. `create` sends an Idempotency-Key."""

    route: Route
    parse: Callable[[httpx.Response], T]
    path: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    data: Mapping[str, Any] | None = None
    create: bool = False
    idempotency_key: str | None = None
    timeout: Any = DEFAULT

    def after(self, cursor: str | int) -> Call[T]:
        """The same call for the page after `cursor`."""
        return replace(self, params={**(self.params or {}), "after": cursor})


def model(cls: type[T]) -> Callable[[httpx.Response], T]:
    """Read the answer as `cls` (a pydantic model)."""
    return lambda r: cls.model_validate(r.json())  # type: ignore[attr-defined, no-any-return]


def jsonable(body: Any) -> Any:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else body


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks to wait (`Retry-After`: seconds or an HTTP date), if it asks sensibly."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER_S else None


def _backoff(attempt: int) -> float:
    return min(MAX_BACKOFF_S, INITIAL_BACKOFF_S * 2**attempt) * random.uniform(0.75, 1.0)


def error_of(response: httpx.Response) -> GroundtuneError:
    """The core.errors exception an error response carries."""
    try:
        body: Any = response.json()
    except (ValueError, json.JSONDecodeError):
        body = response.text
    return from_response(
        response.status_code,
        body,
        request_id=response.headers.get(REQUEST_ID),
        retry_after=_retry_after(response),
    )


def _unreachable(request: httpx.Request, exc: httpx.TransportError) -> GroundtuneError:
    where = f"{request.method} {request.url}"
    if isinstance(exc, httpx.TimeoutException):
        return DeadlineError(
            f"{where} timed out ({type(exc).__name__})",
            hint="raise the timeout (timeout= on the call or the client) or check the server",
            code="timeout",
        )
    return UnavailableError(
        f"cannot reach the groundtune server: {where} failed ({type(exc).__name__}: {exc})",
        hint="is `groundtune server` running there? check the URL (--server / $GROUNDTUNE_URL)",
        code="connection_error",
    )


class _Base:
    def __init__(self, base_url: str, api_key: str | None, timeout: Any, max_retries: int) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries

    def _headers(self, call: Call[Any], key: str | None) -> dict[str, str]:
        headers = {"user-agent": f"groundtune-sdk/{__version__}", "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        if key:
            headers[IDEMPOTENCY_KEY] = key
        return headers

    def _build(
        self, http: httpx.Client | httpx.AsyncClient, call: Call[Any], key: str | None
    ) -> httpx.Request:
        params = {k: v for k, v in (call.params or {}).items() if v is not None}
        timeout = self.timeout if call.timeout is DEFAULT else call.timeout
        return http.build_request(
            call.route.method,
            self.base_url + call.route.url(call.path),
            params=params or None,
            json=jsonable(call.json) if call.json is not None else None,
            files=call.files,
            data=dict(call.data) if call.data else None,
            headers=self._headers(call, key),
            timeout=timeout,
        )

    @staticmethod
    def _key(call: Call[Any]) -> str | None:
        """One Idempotency-Key per logical create, the same on every retry."""
        if not call.create:
            return None
        return call.idempotency_key or f"gt-{uuid.uuid4().hex}"

    def _delay(
        self, attempt: int, response: httpx.Response | None, reason: str, request: httpx.Request
    ) -> float:
        wait = (_retry_after(response) if response is not None else None) or _backoff(attempt)
        log.info(
            "retrying %s %s in %.2fs (%s; retry %d of %d)",
            request.method,
            request.url.path,
            wait,
            reason,
            attempt + 1,
            self.max_retries,
        )
        return wait


class SyncTransport(_Base):
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: Any = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, max_retries)
        self.http = http_client or httpx.Client(timeout=timeout)
        self._owns_http = http_client is None

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        """The response to `call` (2xx), after retries; errors raise their core.errors class."""
        key = self._key(call)
        attempt = 0
        while True:
            request = self._build(self.http, call, key)
            try:
                response = self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise _unreachable(request, exc) from exc
                time.sleep(self._delay(attempt, None, type(exc).__name__, request))
                attempt += 1
                continue
            if response.is_success:
                return response
            if stream:
                response.read()
                response.close()
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                time.sleep(self._delay(attempt, response, f"HTTP {response.status_code}", request))
                attempt += 1
                continue
            raise error_of(response)

    def request(self, call: Call[T]) -> T:
        return call.parse(self.send(call))

    def stream_sse(self, call: Call[Any]) -> Iterator[tuple[str | None, str]]:
        """(id, data) of each server-sent event until the stream ends."""
        response = self.send(call, stream=True)
        try:
            yield from _sse(response.iter_lines())
        finally:
            response.close()


class AsyncTransport(_Base):
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: Any = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, max_retries)
        self.http = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None

    async def close(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        import asyncio

        key = self._key(call)
        attempt = 0
        while True:
            request = self._build(self.http, call, key)
            try:
                response = await self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise _unreachable(request, exc) from exc
                await asyncio.sleep(self._delay(attempt, None, type(exc).__name__, request))
                attempt += 1
                continue
            if response.is_success:
                return response
            if stream:
                await response.aread()
                await response.aclose()
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, response, f"HTTP {response.status_code}", request))
                attempt += 1
                continue
            raise error_of(response)

    async def request(self, call: Call[T]) -> T:
        return call.parse(await self.send(call))

    async def stream_sse(self, call: Call[Any]) -> AsyncIterator[tuple[str | None, str]]:
        response = await self.send(call, stream=True)
        try:
            event_id: str | None = None
            data: list[str] = []
            async for line in response.aiter_lines():
                event_id, data, out = _sse_line(line, event_id, data)
                if out is not None:
                    yield out
        finally:
            await response.aclose()


def _sse_line(
    line: str, event_id: str | None, data: list[str]
) -> tuple[str | None, list[str], tuple[str | None, str] | None]:
    """Feed one line of an SSE stream; an event (id, data) comes out at the blank line that ends it."""
    if not line:
        return None, [], ((event_id, "\n".join(data)) if data else None)
    if line.startswith(":"):  # a comment (keep-alive)
        return event_id, data, None
    name, _, value = line.partition(":")
    value = value.removeprefix(" ")
    if name == "id":
        event_id = value
    elif name == "data":
        data = [*data, value]
    return event_id, data, None


def _sse(lines: Iterator[str]) -> Iterator[tuple[str | None, str]]:
    event_id: str | None = None
    data: list[str] = []
    for line in lines:
        event_id, data, out = _sse_line(line, event_id, data)
        if out is not None:
            yield out
