"""Job pages: every job, fine-tuning jobs and the form that starts one from a recipe, and a job's own
page, which follows its events live over server-sent events (state, messages, the loss curve drawn
as it trains, tokens/s, ETA, checkpoints) and can cancel it."""

from __future__ import annotations

from typing import Any, cast

from fastapi import Request
from fastapi.responses import HTMLResponse

from groundtune.core.artifacts import JOB_KINDS, TERMINAL_STATES, JobKind
from groundtune.core.configs import TrainConfig
from groundtune.platform.api import datasets, fine_tuning
from groundtune.platform.api import jobs as api
from groundtune.ui.app import page_router, platform_of, render
from groundtune.ui.forms import fields, recipes

router = page_router()

SETTINGS = [
    "model",
    "init_adapter",
    "max_steps",
    "max_minutes",
    "reserve_steps",
    "epochs",
    "batch_size",
    "grad_accum",
    "lr",
    "schedule",
    "warmup_steps",
    "lora.r",
    "lora.alpha",
    "lora.dropout",
    "precision",
    "decision_weight",
    "max_length",
    "eval_every",
    "early_stopping_patience",
    "save_every",
    "seed",
]


def made(job: Any) -> tuple[str, str] | None:
    """(label, page) of what a finished job made."""
    if job.state != "succeeded" or not job.resource:
        return None
    page = {
        "ingestion": "/knowledge_bases/",
        "dataset": "/datasets/",
        "fine_tuning": "/adapters/",
        "evaluation": "/evaluations/",
        "calibration": None,
    }[job.kind]
    if job.kind == "calibration":
        adapter = job.config.get("adapter")
        return (f"calibration {job.resource}", f"/adapters/{adapter}")
    return (job.resource, f"{page}{job.resource}")


@router.get("/jobs")
def list_page(request: Request, kind: str | None = None, after: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    chosen = cast(JobKind, kind) if kind in JOB_KINDS else None
    return render(
        request,
        "jobs.html",
        title="Jobs",
        heading="Jobs",
        page=api.list_jobs(chosen, after, 50, p),
        kinds=JOB_KINDS,
        kind=chosen,
        made=made,
        json_url="/v1/jobs" + (f"?kind={chosen}" if chosen else ""),
    )


@router.get("/fine_tuning")
def fine_tuning_page(request: Request, after: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    return render(
        request,
        "jobs.html",
        title="Fine-tuning jobs",
        heading="Fine-tuning jobs",
        page=fine_tuning.list_fine_tuning_jobs(after, 50, p),
        kinds=(),
        kind="fine_tuning",
        made=made,
        new_url="/fine_tuning/new",
        json_url="/v1/fine_tuning/jobs",
    )


@router.get("/fine_tuning/new")
def fine_tuning_form(request: Request, recipe: str = "default", dataset: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    shipped = recipes("train")
    chosen = shipped.get(recipe, {})
    return render(
        request,
        "fine_tuning_new.html",
        title="Fine-tune",
        recipes=list(shipped),
        recipe=recipe if recipe in shipped else "",
        recipe_config=chosen,
        settings=fields(TrainConfig, SETTINGS, chosen),
        datasets=datasets.list_datasets(None, 100, p).data,
        dataset=dataset,
        json_url="/v1/fine_tuning/jobs",
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str) -> HTMLResponse:
    p = platform_of(request)
    job = api.job_of(p, job_id)
    checkpoints = fine_tuning.list_checkpoints(job_id, None, 100, p) if job.kind == "fine_tuning" else None
    return render(
        request,
        "job.html",
        title=f"Job {job_id}",
        job=job,
        finished=job.state in TERMINAL_STATES,
        made=made(job),
        checkpoints=checkpoints,
        json_url=f"/v1/jobs/{job_id}",
    )
