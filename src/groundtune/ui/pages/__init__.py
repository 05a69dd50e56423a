"""One router per resource's pages; each page calls the `/v1` route function it mirrors."""

from __future__ import annotations

from groundtune.ui.pages import adapters, datasets, evaluations, home, jobs, knowledge_bases, playground

ROUTERS = (
    home.router,
    knowledge_bases.router,
    datasets.router,
    jobs.router,
    adapters.router,
    evaluations.router,
    playground.router,
)
