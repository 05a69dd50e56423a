"""The Python SDK of the groundtune platform: `Client` / `AsyncClient` mirror the REST API resource by
resource (openai-python's shape), with auto-paginating lists, `job.wait()` with progress, server-sent
events, retries with backoff and one Idempotency-Key per create. Requests and answers are the core
models the server uses; errors are core.errors' classes, one per HTTP status, carrying the server's
message, code and request id. Imports httpx and groundtune.core only (no torch)."""

from groundtune.core.errors import (
    AuthenticationError,
    ConflictError,
    DeadlineError,
    GroundtuneError,
    InternalError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StoppedError,
    UnavailableError,
)
from groundtune.sdk.client import KEY_ENV, URL_ENV, AsyncClient, Client
from groundtune.sdk.jobs import AsyncJob, AsyncUpload, Job, Upload
from groundtune.sdk.pagination import AsyncPage, AsyncPager, SyncPage

__all__ = [
    "KEY_ENV",
    "URL_ENV",
    "AsyncClient",
    "AsyncJob",
    "AsyncPage",
    "AsyncPager",
    "AsyncUpload",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "DeadlineError",
    "GroundtuneError",
    "InternalError",
    "InvalidInputError",
    "Job",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StoppedError",
    "SyncPage",
    "UnavailableError",
    "Upload",
]
