"""`client.fine_tuning.jobs` (OpenAI's shape): create a training job from a TrainConfig, list,
retrieve, cancel, events (a page, or live over server-sent events) and `.checkpoints.list`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from groundtune.core.artifacts import JobEvent
from groundtune.core.configs import TrainConfig
from groundtune.core.resources import Checkpoint
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.jobs import AsyncJob, Job, afollow, follow
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, SyncResource, body

CREATE = Route("POST", "/v1/fine_tuning/jobs")
LIST = Route("GET", "/v1/fine_tuning/jobs")
RETRIEVE = Route("GET", "/v1/fine_tuning/jobs/{job_id}")
CANCEL = Route("POST", "/v1/fine_tuning/jobs/{job_id}/cancel")
EVENTS = Route("GET", "/v1/fine_tuning/jobs/{job_id}/events")
CHECKPOINTS = Route("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints")


class FineTuning(SyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.jobs = FineTuningJobs(client)


class FineTuningJobs(SyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.checkpoints = Checkpoints(client)

    @CREATE
    def create(
        self,
        config: TrainConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> Job:
        """Queue a training run: `create(dataset="manuals", name="manuals")`; `.wait()` on the job."""
        return self._job(CREATE, body(TrainConfig, config, fields), idempotency_key, timeout)

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[Job]:
        return self._page(LIST, Job, params={"after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, job_id: str, *, timeout: Any = DEFAULT) -> Job:
        return self._request(Call(RETRIEVE, parse=model(Job), path={"job_id": job_id}, timeout=timeout))

    @CANCEL
    def cancel(self, job_id: str, *, timeout: Any = DEFAULT) -> Job:
        """Stop at the next step; the last checkpoint is kept."""
        return self._request(Call(CANCEL, parse=model(Job), path={"job_id": job_id}, timeout=timeout))

    @EVENTS
    def list_events(
        self, job_id: str, *, after: int | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[JobEvent]:
        """Messages, state changes and per-step metrics (loss, lr, tokens/s, ETA), oldest first."""
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
        return follow(self._client._transport, EVENTS, job_id, after, timeout)


class Checkpoints(SyncResource):
    @CHECKPOINTS
    def list(
        self, job_id: str, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[Checkpoint]:
        """The run's resumable step checkpoints, newest first."""
        return self._page(
            CHECKPOINTS,
            Checkpoint,
            path={"job_id": job_id},
            params={"after": after, "limit": limit},
            timeout=timeout,
        )


class AsyncFineTuning(AsyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.jobs = AsyncFineTuningJobs(client)


class AsyncFineTuningJobs(AsyncResource):
    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.checkpoints = AsyncCheckpoints(client)

    @CREATE
    async def create(
        self,
        config: TrainConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> AsyncJob:
        return await self._job(CREATE, body(TrainConfig, config, fields), idempotency_key, timeout)

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[AsyncJob]:
        return AsyncPager(
            lambda: self._page(LIST, AsyncJob, params={"after": after, "limit": limit}, timeout=timeout)
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


class AsyncCheckpoints(AsyncResource):
    @CHECKPOINTS
    def list(
        self, job_id: str, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[Checkpoint]:
        return AsyncPager(
            lambda: self._page(
                CHECKPOINTS,
                Checkpoint,
                path={"job_id": job_id},
                params={"after": after, "limit": limit},
                timeout=timeout,
            )
        )
