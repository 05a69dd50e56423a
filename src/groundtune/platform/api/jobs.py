"""`/v1/jobs`: every job of every kind (list, retrieve, cancel, events), and `submit`, which the
resource routers use to turn a stage config into a queued job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from groundtune.core.artifacts import Job, JobEvent, JobKind, Page
from groundtune.core.errors import NotFoundError
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.events import events_response
from groundtune.platform.api.idempotency import HEADER, body_hash, idempotent
from groundtune.platform.api.pagination import After, Limit

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {},
            "text/event-stream": {"schema": {"type": "string", "description": "JobEvent JSON per message"}},
        }
    }
}


def submit(platform: Platform, request: Request, kind: JobKind, config: BaseModel) -> Job | JSONResponse:
    """Queue a `kind` job for `config` (once per Idempotency-Key); the runner picks it up. A full
    queue answers 429. The key also goes to the store, so a retry that arrives while the first request
    is still running finds that request's job instead of making a second one."""
    data = config.model_dump(mode="json")

    def create() -> Job:
        platform.admit_job()
        job: Job = platform.store.create_job(kind, data, idempotency_key=job_key(request))
        return job

    return idempotent(request, platform, body_hash({"kind": kind, "config": data}), create)  # type: ignore[return-value]


def job_key(request: Request) -> str | None:
    """The store's idempotency key of a job a request creates: its route and Idempotency-Key."""
    key = request.headers.get(HEADER)
    return f"{request.url.path}:{key}"[:255] if key else None


def job_of(platform: Platform, job_id: str, kind: JobKind | None = None) -> Job:
    job: Job = platform.store.get_job(job_id)
    if kind is not None and job.kind != kind:
        raise NotFoundError(f"no {kind} job '{job_id}'", hint=f"'{job_id}' is a {job.kind} job: see /v1/jobs")
    return job


def cancel(platform: Platform, job_id: str) -> Job:
    """Cancel a queued job at once, or signal a running one to stop at its next step."""
    if platform.runner is not None:  # it also signals a worker of its own at once
        job: Job = platform.runner.cancel(job_id)
    else:
        job = platform.store.request_cancel(job_id)
    return job


@router.get("", response_model=Page[Job])
def list_jobs(
    kind: JobKind | None = Query(None, description="Only jobs of this kind."),
    after: str | None = After,
    limit: int = Limit,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Jobs, newest first."""
    return platform.store.list_jobs(kind=kind, after=after, limit=limit)


@router.get("/{job_id}", response_model=Job)
def retrieve_job(job_id: str, platform: Platform = Depends(get_platform)) -> Any:
    return job_of(platform, job_id)


@router.post("/{job_id}/cancel", response_model=Job)
def cancel_job(job_id: str, platform: Platform = Depends(get_platform)) -> Any:
    job_of(platform, job_id)
    return cancel(platform, job_id)


@router.get("/{job_id}/events", response_model=Page[JobEvent], responses=EVENTS_DOC)
def job_events(
    job_id: str,
    after: int | None = Query(None, ge=0, description="Id of the last event already seen."),
    limit: int = Limit,
    stream: bool = Query(False, description="Server-sent events until the job finishes."),
    platform: Platform = Depends(get_platform),
) -> Any:
    """Events oldest first; `stream=true` keeps the response open and sends each new one."""
    return events_response(platform.store, job_id, after, limit, stream)
