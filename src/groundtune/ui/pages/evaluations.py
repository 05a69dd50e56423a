"""Evaluation pages: the list and the form that starts one, a report (the verdict of each tuned
system against the best base, then per capability a table and a plot, the robustness sweeps as line
charts), the item list of one suite and system, and one item: the prompt's documents with the model's
quotes highlighted, its citations, whether it refused, and the gold answer."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from groundtune.core.configs import EvalConfig
from groundtune.core.figures import CAPABILITIES, verdicts
from groundtune.platform.api import adapters, datasets
from groundtune.platform.api import evaluations as api
from groundtune.ui import charts
from groundtune.ui.app import page_router, platform_of, render
from groundtune.ui.forms import fields
from groundtune.ui.marks import runs

router = page_router()

SETTINGS = [
    "model",
    "shots",
    "include_zero_shot",
    "limit",
    "max_new_tokens",
    "sweeps",
    "max_false_refusal",
    "seed",
]


@router.get("/evaluations")
def list_page(request: Request, after: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    return render(
        request,
        "evaluations.html",
        title="Evaluations",
        page=api.list_evaluations(after, 50, p),
        json_url="/v1/evaluations",
    )


@router.get("/evaluations/new")
def eval_form(request: Request, adapter: str | None = None, dataset: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    found = adapters.list_adapters(None, 100, p).data
    chosen = next((a for a in found if a.id == adapter), None)
    values: dict[str, Any] = {}
    if chosen is not None and chosen.manifest.model:
        values["model"] = chosen.manifest.model
    return render(
        request,
        "evaluation_new.html",
        title="Evaluate",
        settings=fields(EvalConfig, SETTINGS, values),
        adapters=found,
        adapter=adapter,
        datasets=datasets.list_datasets(None, 100, p).data,
        dataset=dataset or (chosen.lineage.dataset if chosen else None),
        json_url="/v1/evaluations",
    )


def _tables(metrics: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    systems = list(metrics)
    out = []
    for capability, keys in CAPABILITIES.items():
        rows: list[dict[str, Any]] = []
        for key, higher in keys:
            values = [metrics[s].get(key) for s in systems]
            if all(v is None for v in values):
                continue
            kept = [v for v in values if isinstance(v, int | float)]
            best = (max if higher else min)(kept) if len(set(kept)) > 1 and key != "n_items" else None
            rows.append({"key": key, "higher": higher, "cells": values, "best": best})
        if rows:
            plotted = [
                r["key"] for r in rows if r["key"] not in ("n_items", "latency_mean_s", "tokens_per_item")
            ]
            out.append(
                {
                    "capability": capability,
                    "rows": rows,
                    "chart": charts.bars(capability, metrics, plotted),
                }
            )
    return out


@router.get("/evaluations/{eval_id}")
def report_page(request: Request, eval_id: str) -> HTMLResponse:
    p = platform_of(request)
    report = api.retrieve_evaluation(eval_id, p)
    suites = {
        suite: {
            "systems": list(metrics),
            "verdicts": verdicts(metrics, report.systems),
            "tables": _tables(metrics),
        }
        for suite, metrics in report.suites.items()
    }
    sweeps = report.sweeps or {}
    sweep_charts = [
        charts.lines("Answer containment vs number of distractors", sweeps, "distractors="),
        charts.lines(
            "Answer containment vs position of the relevant document",
            sweeps,
            "position=",
            order=("first", "middle", "last"),
        ),
    ]
    return render(
        request,
        "evaluation.html",
        title=f"Evaluation {eval_id}",
        report=report,
        suites=suites,
        sweep_charts=[c for c in sweep_charts if c],
        json_url=f"/v1/evaluations/{eval_id}",
    )


@router.get("/evaluations/{eval_id}/items")
def items_page(
    request: Request,
    eval_id: str,
    suite: str | None = None,
    system: str | None = None,
    after: str | None = None,
) -> HTMLResponse:
    p = platform_of(request)
    report = api.retrieve_evaluation(eval_id, p)
    suite = suite if suite in report.suites else next(iter(report.suites), None)
    if suite is None:
        return render(request, "error.html", status=404, title="Error", error=None, message="no suites")
    systems = list(report.suites[suite])
    system = system if system in systems else _preferred(report, systems)
    page = api.list_items(eval_id, suite, system, after, 50, p)
    examples = api.items(p, eval_id, suite)
    return render(
        request,
        "evaluation_items.html",
        title=f"Items of {eval_id}",
        report=report,
        suite=suite,
        system=system,
        systems=systems,
        page=page,
        examples=examples,
        json_url=f"/v1/evaluations/{eval_id}/items?suite={suite}&system={system}",
    )


def _preferred(report: Any, systems: list[str]) -> str:
    """The first tuned system (what people open items to look at), else the first."""
    tuned = [s.get("name") for s in report.systems if s.get("adapter")]
    return next((s for s in systems if s in tuned), systems[0])


@router.get("/evaluations/{eval_id}/items/{example_id}")
def item_page(
    request: Request, eval_id: str, example_id: str, suite: str | None = None, system: str | None = None
) -> HTMLResponse:
    p = platform_of(request)
    report = api.retrieve_evaluation(eval_id, p)
    item = api.retrieve_item(eval_id, example_id, suite, p)
    systems = [o.system for o in item.outputs]
    system = system if system in systems else _preferred(report, systems) if systems else None
    shown = next((o for o in item.outputs if o.system == system), None)
    documents = []
    for n, doc in enumerate(item.documents, start=1):
        spans = [
            (q.start, q.end, "quote")
            for q in (shown.quotes if shown else [])
            if q.doc == n and q.start is not None and q.end is not None
        ]
        cited = bool(shown) and n in shown.record.parsed.citations  # type: ignore[union-attr]
        documents.append({"n": n, "doc": doc, "runs": runs(doc.text, spans), "cited": cited})
    return render(
        request,
        "evaluation_item.html",
        title=f"Item {example_id}",
        report=report,
        item=item,
        system=system,
        shown=shown,
        documents=documents,
        json_url=f"/v1/evaluations/{eval_id}/items/{example_id}?suite={item.suite}",
    )
