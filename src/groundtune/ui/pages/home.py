"""The overview: what the workspace holds and the latest jobs."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from groundtune.platform.api import adapters, datasets, deployments, evaluations, knowledge_bases
from groundtune.ui.app import page_router, platform_of, render

router = page_router()


@router.get("/")
def overview(request: Request) -> HTMLResponse:
    p = platform_of(request)
    counts = {
        "Knowledge bases": ("/knowledge_bases", knowledge_bases.list_knowledge_bases(None, 100, p)),
        "Datasets": ("/datasets", datasets.list_datasets(None, 100, p)),
        "Adapters": ("/adapters", adapters.list_adapters(None, 100, p)),
        "Evaluations": ("/evaluations", evaluations.list_evaluations(None, 100, p)),
        "Deployments": ("/playground", deployments.list_deployments(None, 100, p)),
    }
    return render(
        request,
        "home.html",
        title="groundtune",
        counts=counts,
        jobs=p.store.list_jobs(limit=10).data,
        json_url="/v1/jobs",
    )
