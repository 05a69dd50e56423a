"""HTTP plumbing shared by the grounded server (serve/app.py) and the platform API (platform/api):
OpenAI-shaped error responses from the one exception hierarchy (core.errors), the request id every
response carries, and the bearer token a request presents. It knows no routes and no key store:
callers pass an `authenticate` hook that returns an error (or None) for each request.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from groundtune.core.errors import (
    AuthenticationError,
    GroundtuneError,
    InvalidInputError,
    NotFoundError,
    RateLimitError,
)

REQUEST_ID = "x-request-id"
log = logging.getLogger("groundtune.http")

# request -> an error to answer with instead of running the route (None: let it through)
Authenticate = Callable[[Request], Awaitable[GroundtuneError | None]]


def bearer_token(request: Request) -> str:
    """The key of `Authorization: Bearer <key>` ('' when absent)."""
    given = request.headers.get("authorization", "")
    return given[7:].strip() if given.lower().startswith("bearer ") else ""


def error_response(exc: GroundtuneError, request_id: str | None = None) -> JSONResponse:
    """`exc` as its HTTP status and OpenAI error body (Retry-After on 429s)."""
    headers = {REQUEST_ID: request_id} if request_id else {}
    if isinstance(exc, RateLimitError):
        headers["Retry-After"] = str(math.ceil(exc.retry_after))
    return JSONResponse(status_code=exc.status, content=exc.to_dict(), headers=headers)


def validation_error(exc: RequestValidationError) -> InvalidInputError:
    """FastAPI's request validation failure as one InvalidInputError naming the first bad field."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")) or None
    message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    return InvalidInputError(message, code="invalid_value", param=param)


def _http_error(exc: StarletteHTTPException) -> GroundtuneError:
    """Starlette's own errors (unknown route, wrong method, bad body) in our hierarchy."""
    if exc.status_code == 404:
        return NotFoundError(str(exc.detail), hint="see /docs for the routes", code="unknown_route")
    if exc.status_code == 401:
        return AuthenticationError(str(exc.detail))
    error = InvalidInputError(str(exc.detail), code=f"http_{exc.status_code}")
    error.status = exc.status_code if 400 <= exc.status_code < 500 else 400
    return error


def install(app: FastAPI, authenticate: Authenticate | None = None) -> None:
    """Error handlers and the request-id (+ auth) middleware on `app`. Every response, errors and
    unexpected failures included, carries `x-request-id` (the caller's, or a new `req_…`)."""

    @app.exception_handler(GroundtuneError)
    async def groundtune_error(request: Request, exc: GroundtuneError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def request_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(_http_error(exc))

    @app.middleware("http")
    async def request_id_and_auth(
        request: Request, call_next: Callable[[Request], Awaitable[Any]]
    ) -> Response:
        rid = request.headers.get(REQUEST_ID) or f"req_{uuid.uuid4().hex[:16]}"
        request.state.request_id = rid
        if authenticate is not None:
            refused = await authenticate(request)
            if refused is not None:
                return error_response(refused, rid)
        try:
            response: Response = await call_next(request)
        except Exception:  # a bug: still the error shape and the request id, and a log line to find it
            log.exception("request %s %s failed (%s)", request.method, request.url.path, rid)
            internal = GroundtuneError(
                f"internal error while handling {request.method} {request.url.path}",
                hint=f"report request id {rid}",
            )
            return error_response(internal, rid)
        response.headers[REQUEST_ID] = rid
        return response
