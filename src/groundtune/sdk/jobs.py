"""Jobs as the SDK returns them: the core `Job` (and the `Upload` that carries one) bound to the client
that fetched it, so `job.wait()`, `job.cancel()`, `job.refresh()` and `job.events()` need no client.

`wait()` follows the job's server-sent events (reconnecting after the last event seen when the
stream drops), draws its progress, and returns the finished job, or raises the failure as the
core.errors class of its type (a cancelled job raises StoppedError). `artifact()` reads the job's
result as the stage's artifact type.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from pydantic import BaseModel, PrivateAttr

from groundtune.core import artifacts, resources
from groundtune.core.artifacts import AddSummary, Calibration, DatasetCard, EvalReport, JobEvent, RunManifest
from groundtune.core.errors import BY_TYPE, DeadlineError, GroundtuneError, StoppedError
from groundtune.core.progress import ProgressEvent
from groundtune.sdk._transport import (
    DEFAULT,
    AsyncTransport,
    Call,
    Route,
    SyncTransport,
    _backoff,
    _unreachable,
)
from groundtune.sdk.progress import ProgressArg, progress_sink

ARTIFACTS: dict[str, type[BaseModel]] = {
    "ingestion": AddSummary,
    "dataset": DatasetCard,
    "fine_tuning": RunManifest,
    "evaluation": EvalReport,
    "calibration": Calibration,
}


def artifact_of(job: artifacts.Job) -> Any:
    """The job's result as its stage's artifact (None until it succeeded)."""
    return None if job.result is None else ARTIFACTS[job.kind].model_validate(job.result)


def outcome(job: Job | AsyncJob) -> Any:
    """The job when it succeeded; its failure (or its cancel) as an exception otherwise."""
    if job.state == "succeeded":
        return job
    if job.state == "cancelled":
        raise StoppedError(
            f"job {job.id} ({job.kind}) was cancelled",
            hint="what it saved is kept (a fine-tuning run resumes from its last checkpoint)",
            code="job_cancelled",
        )
    error = job.error or {}
    cls = BY_TYPE.get(str(error.get("type")), GroundtuneError)
    raise cls(
        f"job {job.id} ({job.kind}) failed: {error.get('message', 'no reason recorded')}",
        code=error.get("code"),
    )


def _event(data: str) -> JobEvent | None:
    return None if data == "[DONE]" else JobEvent.model_validate_json(data)


def follow(
    transport: SyncTransport, route: Route, job_id: str, after: int | None, timeout: Any
) -> Iterator[JobEvent]:
    """Every event of the job after `after` until it has finished, over SSE; a dropped stream is
    opened again after the last event received (up to the client's max_retries in a row)."""
    cursor, drops = after, 0
    while True:
        call: Call[None] = Call(
            route, parse=lambda r: None, path={"job_id": job_id}, params={"stream": "true", "after": cursor},
            timeout=timeout,
        )  # fmt: skip
        try:
            for _, data in transport.stream_sse(call):
                event = _event(data)
                if event is None:
                    return
                cursor, drops = event.id, 0
                yield event
        except httpx.TransportError as exc:
            if drops >= transport.max_retries:
                raise _unreachable(exc.request, exc) from exc
        drops += 1  # dropped, or closed without [DONE] (a server restart): open it again
        time.sleep(_backoff(drops - 1))


async def afollow(
    transport: AsyncTransport, route: Route, job_id: str, after: int | None, timeout: Any
) -> AsyncIterator[JobEvent]:
    cursor, drops = after, 0
    while True:
        call: Call[None] = Call(
            route, parse=lambda r: None, path={"job_id": job_id}, params={"stream": "true", "after": cursor},
            timeout=timeout,
        )  # fmt: skip
        try:
            async for _, data in transport.stream_sse(call):
                event = _event(data)
                if event is None:
                    return
                cursor, drops = event.id, 0
                yield event
        except httpx.TransportError as exc:
            if drops >= transport.max_retries:
                raise _unreachable(exc.request, exc) from exc
        drops += 1
        await asyncio.sleep(_backoff(drops - 1))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _check(deadline: float | None, job_id: str, timeout: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineError(
            f"job {job_id} did not finish within {timeout}s",
            hint="wait again (it keeps running), or cancel it",
            code="wait_timeout",
        )


def _progress(event: JobEvent) -> ProgressEvent | None:
    if event.type != "progress":
        return None
    try:
        return ProgressEvent.model_validate(event.data)
    except ValueError:
        return None


class Job(artifacts.Job):
    """A job (core.artifacts.Job) bound to its Client."""

    _client: Any = PrivateAttr(default=None)

    def bind(self, client: Any) -> Job:
        self._client = client
        return self

    def refresh(self) -> Job:
        """The job as it is now."""
        job: Job = self._client.jobs.retrieve(self.id)
        return job

    def cancel(self) -> Job:
        job: Job = self._client.jobs.cancel(self.id)
        return job

    def events(self, *, after: int | None = None) -> Iterator[JobEvent]:
        """Its events from the start (or after `after`), live until it has finished."""
        events: Iterator[JobEvent] = self._client.jobs.stream_events(self.id, after=after)
        return events

    def wait(self, *, progress: ProgressArg = None, timeout: float | None = None) -> Job:
        """Follow the job until it has finished; the finished job, or its failure raised.
        `progress`: bars on a terminal by default, False for none, or a callback of ProgressEvents."""
        deadline = _deadline(timeout)
        with progress_sink(progress) as show:
            for event in self.events():
                shown = _progress(event)
                if show is not None and shown is not None:
                    show(shown)
                _check(deadline, self.id, timeout)
        return outcome(self.refresh())  # type: ignore[no-any-return]

    def artifact(self) -> Any:
        """The result as the stage's artifact: AddSummary, DatasetCard, RunManifest, EvalReport or Calibration."""
        return artifact_of(self)


class AsyncJob(artifacts.Job):
    """A job (core.artifacts.Job) bound to its AsyncClient."""

    _client: Any = PrivateAttr(default=None)

    def bind(self, client: Any) -> AsyncJob:
        self._client = client
        return self

    async def refresh(self) -> AsyncJob:
        job: AsyncJob = await self._client.jobs.retrieve(self.id)
        return job

    async def cancel(self) -> AsyncJob:
        job: AsyncJob = await self._client.jobs.cancel(self.id)
        return job

    def events(self, *, after: int | None = None) -> AsyncIterator[JobEvent]:
        events: AsyncIterator[JobEvent] = self._client.jobs.stream_events(self.id, after=after)
        return events

    async def wait(self, *, progress: ProgressArg = None, timeout: float | None = None) -> AsyncJob:
        deadline = _deadline(timeout)
        with progress_sink(progress) as show:
            async for event in self.events():
                shown = _progress(event)
                if show is not None and shown is not None:
                    show(shown)
                _check(deadline, self.id, timeout)
        return outcome(await self.refresh())  # type: ignore[no-any-return]

    def artifact(self) -> Any:
        return artifact_of(self)


class Upload(resources.Upload):
    """An upload of documents (core.resources.Upload) whose ingestion job is bound to its Client."""

    job: Job

    def bind(self, client: Any) -> Upload:
        self.job.bind(client)
        return self

    def wait(self, *, progress: ProgressArg = None, timeout: float | None = None) -> Upload:
        """Wait for the ingestion job; the upload with each file's final status."""
        self.job.wait(progress=progress, timeout=timeout)
        upload: Upload = self.job._client.knowledge_bases.uploads.retrieve(self.knowledge_base, self.id)
        return upload


class AsyncUpload(resources.Upload):
    job: AsyncJob

    def bind(self, client: Any) -> AsyncUpload:
        self.job.bind(client)
        return self

    async def wait(self, *, progress: ProgressArg = None, timeout: float | None = None) -> AsyncUpload:
        await self.job.wait(progress=progress, timeout=timeout)
        upload: AsyncUpload = await self.job._client.knowledge_bases.uploads.retrieve(
            self.knowledge_base, self.id
        )
        return upload


__all__ = ["DEFAULT", "AsyncJob", "AsyncUpload", "Job", "Upload", "artifact_of", "outcome"]
