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
from groundtune.core.resources import EvalItem, EvalItemOutput, QuoteSpan
from groundtune.core.schemas import EvalRecord, Example
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


def _suite(report: EvalReport, suite: str | None) -> str:
    suites = list(report.suites)
    chosen = suite or (suites[0] if suites else None)
    if chosen not in report.suites:
        raise NotFoundError(
            f"evaluation {report.id} has no suite {suite!r}",
            hint=f"suites: {', '.join(suites)}",
            param="suite",
        )
    return chosen


def records(platform: Platform, eval_id: str, suite: str, system: str) -> list[EvalRecord]:
    """Every record of one system on one suite of an evaluation, in item order."""
    from groundtune.core.jsonl import read_models

    report = _report(platform, eval_id)
    systems = list(report.suites[_suite(report, suite)])
    path = _folder(platform, eval_id) / "records" / suite.replace(":", "_") / f"{system}.jsonl"
    if system not in systems or not path.is_file():
        raise NotFoundError(
            f"evaluation {eval_id} has no records of system {system!r} on {suite}",
            hint=f"systems: {', '.join(systems)}",
            param="system",
        )
    return read_models(path, EvalRecord)


def items(platform: Platform, eval_id: str, suite: str) -> dict[str, Example]:
    """The items an evaluation scored on `suite`, by example id: its own copy, or (for runs made
    before it kept one) the dataset split a `dataset:` suite names."""
    from groundtune.core.jsonl import read_models

    path = _folder(platform, eval_id) / "items" / f"{suite.replace(':', '_')}.jsonl"
    if path.is_file():
        return {e.id: e for e in read_models(path, Example)}
    from groundtune.eval.run import dataset_suite

    named = dataset_suite(suite)
    if named is not None:
        from groundtune.data.store import dataset_dir, read_examples

        split = dataset_dir(named[0], platform.home) / f"{named[1]}.jsonl"
        if split.is_file():
            return {e.id: e for e in read_examples(split)}
    raise NotFoundError(
        f"evaluation {eval_id} kept no items of {suite}", hint="run the evaluation again to keep them"
    )


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
    report = _report(platform, eval_id)
    suite = _suite(report, suite)
    systems = list(report.suites[suite])
    system = system or (systems[0] if systems else "")
    return page(records(platform, eval_id, suite, system), lambda r: r.example_id, after, limit)


@router.get("/{eval_id}/items/{example_id}", response_model=EvalItem)
def retrieve_item(
    eval_id: str,
    example_id: str,
    suite: str | None = Query(None, description="Suite (default: the first)."),
    platform: Platform = Depends(get_platform),
) -> Any:
    """One item: its question, the prompt's documents, the gold answer, and each system's reply with
    its quotes located in the documents, its citations and whether it refused."""
    from groundtune.grounding.quotes import find_verbatim

    report = _report(platform, eval_id)
    suite = _suite(report, suite)
    example = items(platform, eval_id, suite).get(example_id)
    if example is None:
        raise NotFoundError(f"no item {example_id} in {eval_id} on {suite}", hint="list them with /items")
    outputs = []
    for system in report.suites[suite]:
        record = next(
            (r for r in records(platform, eval_id, suite, system) if r.example_id == example_id), None
        )
        if record is None:
            continue
        quotes = []
        for q in record.parsed.quotes:
            docs = example.documents
            span = find_verbatim(q.text, docs[q.doc - 1].text) if 1 <= q.doc <= len(docs) else None
            quotes.append(
                QuoteSpan(
                    doc=q.doc, text=q.text, start=span[0] if span else None, end=span[1] if span else None
                )
            )
        outputs.append(EvalItemOutput(system=system, record=record, quotes=quotes))
    return EvalItem(
        id=example.id,
        evaluation=eval_id,
        suite=suite,
        question=example.question,
        answer=example.answer,
        answerable=example.answerable,
        documents=example.documents,
        gold_evidence=example.gold_evidence,
        outputs=outputs,
    )
