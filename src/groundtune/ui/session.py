"""Sign-in for the UI where the API requires keys (beyond loopback, or once a key exists): the key a
person signs in with is kept in an HttpOnly, SameSite=Strict cookie. Pages need a valid key; a `/v1`
request the UI's scripts make carries the cookie, and this middleware turns it into the bearer token
the API's own authenticator checks (writes only with the UI's header, so a form on another site
cannot use the cookie). It knows no routes beyond the sign-in page's path.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "groundtune_key"
UI_HEADER = "x-groundtune-ui"
OPEN = ("/signin", "/assets/", "/health", "/docs", "/openapi.json", "/redoc")
SAFE = ("GET", "HEAD", "OPTIONS")


def cookie_key(scope: Scope) -> str:
    """The key in the request's sign-in cookie ('' when there is none)."""
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no sign-in
                return ""
            if COOKIE in jar:
                return jar[COOKIE].value
    return ""


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope.get("headers", []) if k == name), None)


class SignIn:
    """ASGI middleware: pages need a signed-in key when keys are required; the UI's `/v1` calls carry it."""

    def __init__(self, app: ASGIApp, *, store: Any, required: bool) -> None:
        self.app = app
        self.store = store
        self.required = required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.required:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        key = cookie_key(scope)
        if path.startswith("/v1"):
            from_ui = scope["method"] in SAFE or _header(scope, UI_HEADER.encode()) is not None
            if key and from_ui and _header(scope, b"authorization") is None:
                scope = dict(scope)
                scope["headers"] = [*scope["headers"], (b"authorization", f"Bearer {key}".encode())]
            await self.app(scope, receive, send)
            return
        if not path.startswith(OPEN):
            valid = await run_in_threadpool(self.store.verify_api_key, key) if key else None
            if valid is None:
                target = path + ("?" + scope["query_string"].decode() if scope.get("query_string") else "")
                await _redirect(send, "/signin?next=" + quote(target, safe=""))
                return
            scope.setdefault("state", {})["ui_key"] = valid
        await self.app(scope, receive, send)


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
