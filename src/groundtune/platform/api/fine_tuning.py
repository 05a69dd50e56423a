"""`/v1/fine_tuning/jobs`: OpenAI's fine-tuning job resource over `fine_tuning` jobs (the training
stage's TrainConfig as the body): create, list, retrieve, cancel, events (a page, or server-sent
events with `stream=true`) and the run's resumable checkpoints."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from groundtune.core.artifacts import Job, JobEvent, Page
from groundtune.core.configs import TrainConfig
from groundtune.core.resources import Checkpoint
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.events import events_response
from groundtune.platform.api.idempotency import IdempotencyKey
from groundtune.platform.api.jobs import EVENTS_DOC, cancel, job_of, submit
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine_tuning"])


@router.post("", response_model=Job)
def create_fine_tuning_job(
    body: TrainConfig,
    request: Request,
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Queue a training run; its run directory is named after the job unless `run_id` names one (a
    resumed attempt continues the same run)."""
    from groundtune.data.store import dataset_dir

    dataset_dir(body.dataset, platform.home)  # 404 now rather than in the worker
    return submit(platform, request, "fine_tuning", body)


@router.get("", response_model=Page[Job])
def list_fine_tuning_jobs(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """Fine-tuning jobs, newest first."""
    return platform.store.list_jobs(kind="fine_tuning", after=after, limit=limit)


@router.get("/{job_id}", response_model=Job)
def retrieve_fine_tuning_job(job_id: str, platform: Platform = Depends(get_platform)) -> Any:
    return job_of(platform, job_id, "fine_tuning")


@router.post("/{job_id}/cancel", response_model=Job)
def cancel_fine_tuning_job(job_id: str, platform: Platform = Depends(get_platform)) -> Any:
    """Stop the job at its next step; its last checkpoint is kept."""
    job_of(platform, job_id, "fine_tuning")
    return cancel(platform, job_id)


@router.get("/{job_id}/events", response_model=Page[JobEvent], responses=EVENTS_DOC)
def list_fine_tuning_events(
    job_id: str,
    after: int | None = Query(None, ge=0, description="Id of the last event already seen."),
    limit: int = Limit,
    stream: bool = Query(False, description="Server-sent events until the job finishes."),
    platform: Platform = Depends(get_platform),
) -> Any:
    """Messages, state changes and per-step metrics (loss, lr, tokens/s, ETA), oldest first."""
    job_of(platform, job_id, "fine_tuning")
    return events_response(platform.store, job_id, after, limit, stream)


@router.get("/{job_id}/checkpoints", response_model=Page[Checkpoint])
def list_checkpoints(
    job_id: str, after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """The run's resumable step checkpoints, newest first, with the metrics logged at each step."""
    from groundtune.platform.jobs.kinds import run_dir as run_dir_of
    from groundtune.train.checkpoint import list_checkpoints as found

    job = job_of(platform, job_id, "fine_tuning")
    run_dir = run_dir_of(job, platform.home)
    assert run_dir is not None
    run_id = run_dir.name
    metrics: dict[int, dict[str, Any]] = {}
    if run_id and (run_dir / "metrics.jsonl").is_file():
        for line in (run_dir / "metrics.jsonl").read_text().splitlines():
            row = json.loads(line) if line.strip() else {}
            if "step" in row:
                metrics.setdefault(int(row["step"]), {}).update(row)
    points = []
    for path in reversed(found(run_dir / "checkpoints")) if run_id else []:
        step = int(path.name.split("-", 1)[1])
        points.append(
            Checkpoint(
                id=f"{run_id}:{path.name}",
                fine_tuning_job_id=job.id,
                step_number=step,
                created_at=int(path.stat().st_mtime),
                metrics=metrics.get(step, {}),
            )
        )
    return page(points, lambda c: c.id, after, limit)
