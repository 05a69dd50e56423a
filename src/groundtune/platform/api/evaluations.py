"""`/v1/evaluations`: run one (an `evaluation` job over the evaluation stage's EvalConfig), list the
stored runs, the report as JSON and as the HTML page, and the per-item records of one suite and
system (what each model said, parsed, with its metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from groundtune.core.artifacts import EvalReport, Job, Page
from groundtune.core.configs import EvalConfig
from groundtune.core.errors import NotFoundError
from groundtune.core.schemas import EvalRecord
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.idempotency import IdempotencyKey
from groundtune.platform.api.jobs import submit
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])


@router.post("", response_model=Job)
def create_evaluation(
    body: EvalConfig,
    request: Request,
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Queue an evaluation: base (few-shot) and each adapter on every suite."""
    from groundtune.core.adapters import resolve_adapter

    for adapter in body.adapters:
        resolve_adapter(adapter, platform.home)  # 404 now rather than in the worker
    return submit(platform, request, "evaluation", body)


def _folder(platform: Platform, eval_id: str) -> Path:
    folder = platform.ws.runs / eval_id
    if not eval_id.startswith("eval_") or "/" in eval_id or not (folder / "report.json").is_file():
        raise NotFoundError(f"no evaluation '{eval_id}'", hint="list evaluations with GET /v1/evaluations")
    return folder


def _report(platform: Platform, eval_id: str) -> EvalReport:
    from groundtune.core.artifacts import migrate_eval_report
    from groundtune.core.jsonfile import read_json

    return migrate_eval_report(read_json(_folder(platform, eval_id) / "report.json"))


@router.get("", response_model=Page[EvalReport])
def list_evaluations(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """Evaluation reports, newest first."""
    ids = sorted(
        (p.name for p in platform.ws.runs.glob("eval_*") if (p / "report.json").is_file()), reverse=True
    )
    return page([_report(platform, i) for i in ids], lambda r: r.id, after, limit)


@router.get("/{eval_id}", response_model=EvalReport)
def retrieve_evaluation(eval_id: str, platform: Platform = Depends(get_platform)) -> Any:
    """The report: metrics per suite and system, sweeps, abstention and calibrations."""
    return _report(platform, eval_id)


@router.get("/{eval_id}/report.html", response_class=HTMLResponse)
def evaluation_page(eval_id: str, platform: Platform = Depends(get_platform)) -> Any:
    """The report as the HTML page `groundtune eval report` writes (tables and plots)."""
    folder = _folder(platform, eval_id)
    path = folder / "report.html"
    if not path.is_file():
        from groundtune.eval.run import report

        path = report(folder, platform.home)
    return HTMLResponse(path.read_text(encoding="utf-8"))


@router.get("/{eval_id}/items", response_model=Page[EvalRecord])
def list_items(
    eval_id: str,
    suite: str | None = Query(None, description="Suite (default: the first)."),
    system: str | None = Query(
        None, description="System, e.g. base-2shot or an adapter (default: the first)."
    ),
    after: str | None = After,
    limit: int = Limit,
    platform: Platform = Depends(get_platform),
) -> Any:
    """One suite's per-item records for one system: prompt, output, parsed answer, metrics."""
    from groundtune.core.jsonl import read_models

    report = _report(platform, eval_id)
    suites = list(report.suites)
    suite = suite or (suites[0] if suites else None)
    if suite not in report.suites:
        raise NotFoundError(
            f"evaluation {eval_id} has no suite {suite!r}", hint=f"suites: {', '.join(suites)}", param="suite"
        )
    systems = list(report.suites[suite])
    system = system or (systems[0] if systems else None)
    path = _folder(platform, eval_id) / "records" / suite.replace(":", "_") / f"{system}.jsonl"
    if system not in systems or not path.is_file():
        raise NotFoundError(
            f"evaluation {eval_id} has no records of system {system!r} on {suite}",
            hint=f"systems: {', '.join(systems)}",
            param="system",
        )
    records = read_models(path, EvalRecord)
    return page(records, lambda r: r.example_id, after, limit)
