"""API keys: which scope a request needs and whether the presented key has it.

GET and HEAD need `read`, every other method `write`, and `/v1/api_keys` needs `admin`; `write`
includes `read`, `admin` includes both. Keys live hashed in the store (`Store.verify_api_key`).
Routes outside `/v1` (the OpenAPI page, `/health`) are open. With `required=False` (a loopback
server with no key yet) every request passes.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from groundtune.core.errors import AuthenticationError, GroundtuneError, PermissionDeniedError
from groundtune.serve import http
from groundtune.serve.http import Authenticate

IMPLIED = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}


def required_scope(method: str, path: str) -> str | None:
    if not path.startswith("/v1/") and path != "/v1":
        return None
    if path.startswith("/v1/api_keys"):
        return "admin"
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "write"


def granted(scopes: list[str]) -> set[str]:
    return set().union(*(IMPLIED.get(s, set()) for s in scopes)) if scopes else set()


def authenticator(store: Any, *, required: bool) -> Authenticate:
    async def authenticate(request: Request) -> GroundtuneError | None:
        needed = required_scope(request.method, request.url.path)
        if not required or needed is None:
            return None
        token = http.bearer_token(request)
        key = await run_in_threadpool(store.verify_api_key, token) if token else None
        if key is None:
            return AuthenticationError(
                "missing or invalid API key: send 'Authorization: Bearer <key>'",
                hint="create one with `groundtune server keys create --name NAME --scope write`",
                code="invalid_api_key",
            )
        if needed not in granted(list(key.scopes)):
            return PermissionDeniedError(
                f"API key '{key.name}' has scopes {list(key.scopes)}; {request.method} {request.url.path} "
                f"needs '{needed}'",
                hint=f"use a key with the '{needed}' scope",
                code="insufficient_scope",
            )
        request.state.api_key = key
        return None

    return authenticate
