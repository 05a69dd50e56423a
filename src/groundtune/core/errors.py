"""One exception hierarchy for library, REST API, SDK and CLI.

Each class maps to one HTTP status and one CLI exit code. Messages name the problem; `hint` names the fix.
The server writes an error as `to_dict()`; the SDK reads it back into the same class with
`from_response` (with the server's request id), so callers catch one hierarchy everywhere.
"""

from __future__ import annotations

from typing import Any


class GroundtuneError(Exception):
    """Base of every error groundtune raises on purpose."""

    status: int = 500
    exit_code: int = 1
    type: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        param: str | None = None,
        details: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.param = param  # the request field at fault, when one is
        self.details = details  # one entry per failed item (file, record) of a batch request
        self.request_id: str | None = None  # the server's x-request-id, when the error came over HTTP

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, object]:
        """The OpenAI-style error body: {"error": {"message", "type", "param", "code"}}, plus
        `details` (one entry per failed item) when a batch request failed item by item."""
        body: dict[str, object] = {
            "message": str(self),
            "type": self.type,
            "param": self.param,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidInputError(GroundtuneError):
    """The caller gave something groundtune cannot use (bad file, bad config value, bad request)."""

    status = 400
    exit_code = 2
    type = "invalid_request_error"


class NotFoundError(GroundtuneError):
    """A named thing (model, knowledge base, document, run, dataset) does not exist."""

    status = 404
    exit_code = 3
    type = "not_found_error"


class PermissionDeniedError(GroundtuneError):
    """A valid API key without the scope the request needs."""

    status = 403
    exit_code = 5
    type = "permission_error"


class ConflictError(GroundtuneError):
    """The request clashes with stored state (name taken, index built with another embedder)."""

    status = 409
    exit_code = 4
    type = "conflict_error"


class AuthenticationError(GroundtuneError):
    """Missing or wrong API key."""

    status = 401
    exit_code = 5
    type = "authentication_error"


class RateLimitError(GroundtuneError):
    """The server's queue is full; retry later."""

    status = 429
    exit_code = 6
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UnavailableError(GroundtuneError):
    """A dependency is missing or a backend cannot be reached (optional package, remote server)."""

    status = 503
    exit_code = 7
    type = "unavailable_error"


class DeadlineError(GroundtuneError):
    """Work did not finish within its deadline."""

    status = 504
    exit_code = 8
    type = "timeout_error"


class StoppedError(GroundtuneError):
    """Work stopped on request (a cancelled job) at a step boundary; what it had saved is kept."""

    status = 409
    exit_code = 9
    type = "cancelled_error"


class InternalError(GroundtuneError):
    """The server failed on a request it should have handled (a bug); the request id finds its log line."""

    status = 500
    exit_code = 1
    type = "internal_error"


# One class per HTTP status; a `type` picks a subclass that shares a status (StoppedError's 409).
CLASSES: tuple[type[GroundtuneError], ...] = (
    InvalidInputError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    ConflictError,
    RateLimitError,
    InternalError,
    UnavailableError,
    DeadlineError,
    StoppedError,
)
BY_STATUS: dict[int, type[GroundtuneError]] = {c.status: c for c in CLASSES if c is not StoppedError}
BY_TYPE: dict[str, type[GroundtuneError]] = {c.type: c for c in CLASSES}


def error_class(status: int, type_: str | None = None) -> type[GroundtuneError]:
    """The class of an error answered with HTTP `status` (and error `type`): other 4xx are bad
    requests, other 5xx an unavailable server."""
    if type_ in BY_TYPE and BY_TYPE[type_].status == status:  # StoppedError, not ConflictError
        return BY_TYPE[type_]
    if status in BY_STATUS:
        return BY_STATUS[status]
    return InvalidInputError if 400 <= status < 500 else UnavailableError


def from_response(
    status: int, body: Any, *, request_id: str | None = None, retry_after: float | None = None
) -> GroundtuneError:
    """The error an HTTP response carries (`{"error": {"message", "type", "param", "code"}}`), as the
    class of its status, with the server's message, code, param, details and request id. A body of
    another shape (a proxy's page) keeps its first line as the message."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        text = str(body or "").strip().splitlines()
        error = {
            "message": f"HTTP {status}" + (f": {text[0][:200]}" if text else ""),
            "code": f"http_{status}",
        }
    cls = error_class(status, error.get("type"))
    kwargs: dict[str, Any] = {
        "code": error.get("code"),
        "param": error.get("param"),
        "details": error.get("details"),
    }
    message = str(error.get("message") or f"HTTP {status}")
    exc = (
        RateLimitError(message, retry_after=retry_after or 1.0, **kwargs)
        if cls is RateLimitError
        else cls(message, **kwargs)
    )
    if cls.status != status:
        exc.status = status  # a 405 or a 502 keeps its own number
    exc.request_id = request_id
    return exc
