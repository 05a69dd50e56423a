"""The playground: deployments (create, start, stop) and a chat with one of their models, streamed;
the answer's [n] markers open the cited chunk in its document with the quoted span highlighted, and
the refusal flag and the retrieved documents are shown."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from groundtune.core.configs import DEFAULT_LM
from groundtune.platform.api import adapters, deployments, knowledge_bases
from groundtune.ui.app import page_router, platform_of, render

router = page_router()


@router.get("/playground")
def playground_page(
    request: Request, deployment: str | None = None, adapter: str | None = None
) -> HTMLResponse:
    p = platform_of(request)
    found = deployments.list_deployments(None, 100, p).data
    running = [d for d in found if d.status == "running"]
    # model name -> the KB its deployment retrieves from (a citation opens its chunk there)
    models = {m: d.config.kb for d in running for m in d.models}
    chosen = next((d for d in running if d.id == deployment), running[0] if running else None)
    adapter_list = adapters.list_adapters(None, 100, p).data
    picked = next((a for a in adapter_list if a.id == adapter), None)
    return render(
        request,
        "playground.html",
        title="Playground",
        deployments=found,
        chosen=chosen,
        models=models,
        selected_model=chosen.models[-1] if chosen and chosen.models else None,
        adapters=adapter_list,
        adapter=adapter,
        default_model=(picked.manifest.model if picked and picked.manifest.model else DEFAULT_LM),
        default_kb=picked.lineage.knowledge_base if picked else None,
        kbs=knowledge_bases.list_knowledge_bases(None, 100, p).data,
        json_url="/v1/deployments",
    )
