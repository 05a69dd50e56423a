"""`Idempotency-Key` on every POST that creates: the first response (2xx) is stored with a hash of
the request body; the same key and body get that response again (header `idempotent-replayed`),
the same key with another body is a 409 ConflictError. Failed requests are not stored, so a retry
runs again."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from groundtune.core.ids import stable_hash
from groundtune.platform.api.context import Platform

HEADER = "idempotency-key"
# Declared on every create route so the OpenAPI spec shows it; `idempotent` reads the header itself.
IdempotencyKey = Header(
    None,
    alias="Idempotency-Key",
    description="Send the same key to retry a create safely: the first response is replayed.",
)


def body_hash(body: object) -> str:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return stable_hash(data, length=32)


def idempotent(
    request: Request, platform: Platform, digest: str, create: Callable[[], BaseModel]
) -> BaseModel | JSONResponse:
    """Run `create` once per Idempotency-Key (and body); without the header, just run it."""
    key = request.headers.get(HEADER)
    if not key:
        return create()
    where = f"{request.method} {request.url.path}"
    hit = platform.store.idempotency_lookup(key, where, digest)
    if hit is not None:
        status, body = hit
        return JSONResponse(body, status_code=status, headers={"idempotent-replayed": "true"})
    result = create()
    body = result.model_dump(mode="json")
    platform.store.idempotency_store(key, where, digest, 200, body)
    return JSONResponse(body, status_code=200)
