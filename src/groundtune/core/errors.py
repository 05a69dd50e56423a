"""One exception hierarchy for library, REST API, SDK and CLI.

Each class maps to one HTTP status and one CLI exit code. Messages name the problem; `hint` names the fix.
"""

from __future__ import annotations


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

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: str | None) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
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
