"""Adapter pages: every adapter, and one adapter's versions, lineage (dataset, KB snapshot, retriever
hash, recipe, base model), calibrations and download."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from groundtune.platform.api import adapters as api
from groundtune.ui.app import page_router, platform_of, render

router = page_router()


@router.get("/adapters")
def list_page(request: Request, after: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    return render(
        request,
        "adapters.html",
        title="Adapters",
        page=api.list_adapters(after, 50, p),
        json_url="/v1/adapters",
    )


@router.get("/adapters/{name}")
def adapter_page(request: Request, name: str) -> HTMLResponse:
    p = platform_of(request)
    adapter = api.retrieve_adapter(name, p)
    # versions: the adapters trained from the same dataset, newest first (this one among them)
    siblings = [
        a
        for a in api.list_adapters(None, 100, p).data
        if a.lineage.dataset == adapter.lineage.dataset and adapter.lineage.dataset
    ]
    return render(
        request,
        "adapter.html",
        title=f"Adapter {name}",
        adapter=adapter,
        versions=sorted(siblings or [adapter], key=lambda a: -a.created_at),
        calibrations=api.list_adapter_calibrations(name, None, 100, p).data,
        json_url=f"/v1/adapters/{name}",
    )
