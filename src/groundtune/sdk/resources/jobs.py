"""`client.jobs`: every job of every kind — list (by kind), retrieve, cancel, events as a page or
live over server-sent events, and `wait` (follow a job by id until it has finished)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from groundtune.core.artifacts import JobEvent, JobKind
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.jobs import AsyncJob, Job, afollow, follow
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.progress import ProgressArg
from groundtune.sdk.resources._base import AsyncResource, SyncResource

LIST = Route("GET", "/v1/jobs")
RETRIEVE = Route("GET", "/v1/jobs/{job_id}")
CANCEL = Route("POST", "/v1/jobs/{job_id}/cancel")
EVENTS = Route("GET", "/v1/jobs/{job_id}/events")


class Jobs(SyncResource):
    @LIST
    def list(
        self,
        *,
        kind: JobKind | None = None,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> SyncPage[Job]:
        """Jobs newest first (of one kind with `kind=`)."""
        return self._page(LIST, Job, params={"kind": kind, "after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, job_id: str, *, timeout: Any = DEFAULT) -> Job:
        return self._request(Call(RETRIEVE, parse=model(Job), path={"job_id": job_id}, timeout=timeout))

    @CANCEL
    def cancel(self, job_id: str, *, timeout: Any = DEFAULT) -> Job:
        """A queued job is cancelled at once; a running one stops at its next step (training keeps its
        last checkpoint)."""
        return self._request(Call(CANCEL, parse=model(Job), path={"job_id": job_id}, timeout=timeout))

    @EVENTS
    def list_events(
        self, job_id: str, *, after: int | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[JobEvent]:
        """Events oldest first, a page at a time (iterating goes on through the later pages)."""
        return self._page(
            EVENTS,
            JobEvent,
            path={"job_id": job_id},
            params={"after": after, "limit": limit},
            timeout=timeout,
        )

    @EVENTS
    def stream_events(
        self, job_id: str, *, after: int | None = None, timeout: Any = DEFAULT
    ) -> Iterator[JobEvent]:
        """Events as they happen (server-sent events) until the job has finished."""
        return follow(self._client._transport, EVENTS, job_id, after, timeout)

    def wait(self, job_id: str, *, progress: ProgressArg = None, timeout: float | None = None) -> Job:
        """`retrieve(job_id).wait()`: the finished job, or its failure raised."""
        return self.retrieve(job_id).wait(progress=progress, timeout=timeout)


class AsyncJobs(AsyncResource):
    @LIST
    def list(
        self,
        *,
        kind: JobKind | None = None,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> AsyncPager[AsyncJob]:
        return AsyncPager(
            lambda: self._page(
                LIST, AsyncJob, params={"kind": kind, "after": after, "limit": limit}, timeout=timeout
            )
        )

    @RETRIEVE
    async def retrieve(self, job_id: str, *, timeout: Any = DEFAULT) -> AsyncJob:
        return await self._request(
            Call(RETRIEVE, parse=model(AsyncJob), path={"job_id": job_id}, timeout=timeout)
        )

    @CANCEL
    async def cancel(self, job_id: str, *, timeout: Any = DEFAULT) -> AsyncJob:
        return await self._request(
            Call(CANCEL, parse=model(AsyncJob), path={"job_id": job_id}, timeout=timeout)
        )

    @EVENTS
    def list_events(
        self, job_id: str, *, after: int | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[JobEvent]:
        return AsyncPager(
            lambda: self._page(
                EVENTS,
                JobEvent,
                path={"job_id": job_id},
                params={"after": after, "limit": limit},
                timeout=timeout,
            )
        )

    @EVENTS
    def stream_events(
        self, job_id: str, *, after: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncIterator[JobEvent]:
        return afollow(self._client._transport, EVENTS, job_id, after, timeout)

    async def wait(
        self, job_id: str, *, progress: ProgressArg = None, timeout: float | None = None
    ) -> AsyncJob:
        return await (await self.retrieve(job_id)).wait(progress=progress, timeout=timeout)
