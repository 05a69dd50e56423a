"""What every route of the platform API works with: the store, the job runner, the workspace, the
deployments this process serves, and shared access to knowledge bases.

A local-mode knowledge base has one owner process (kb/owner.py): inside the API process, searches
and a running deployment share one open handle (`KBAccess`), and the handle is closed as soon as no
request uses it, so a job's worker process can open the KB between requests. Routes reach this
through `get_platform` (a FastAPI dependency).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from groundtune.core.configs import DeploymentConfig
from groundtune.core.errors import ConflictError, NotFoundError, RateLimitError
from groundtune.core.workspace import Workspace, get_workspace
from groundtune.serve.deployment import Deployment
from groundtune.serve.schemas import ModelCard


@dataclass(frozen=True)
class Limits:
    """What one request may send; beyond it the request is answered 400 naming the limit."""

    max_upload_bytes: int = 25 * 1024 * 1024  # per file
    max_upload_files: int = 200  # per request
    max_queued_jobs: int = 1000  # jobs waiting for a worker; one more is answered 429 with Retry-After
    retry_after_s: float = 5.0  # what that 429 asks the client to wait


class Serving:
    """The deployments running in this process, found by the model names they serve. An adapter
    name is served by one running deployment at most; a base model name by the first started."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.running: dict[str, Deployment] = {}
        self._lock = threading.Lock()

    def _clash(self, name: str, adapters: list[str], base: str) -> str | None:
        for other, d in self.running.items():
            if other == name:
                continue
            taken = {*d.adapters} | {d.base_name}
            for model in adapters:
                if model in taken:
                    return f"model '{model}' is already served by running deployment '{other}'"
            if base in d.adapters:
                return f"model '{base}' is an adapter of running deployment '{other}'"
        return None

    def start(self, name: str, config: DeploymentConfig, kbs: KBAccess) -> Deployment:
        from groundtune.serve.stage import run

        with self._lock:
            if name in self.running:
                return self.running[name]
            clash = self._clash(name, list(config.adapters), config.model)
        if clash:
            raise ConflictError(
                clash, hint="stop that deployment first or serve the adapter under another name"
            )
        if config.kb is not None and kbs.in_use(config.kb):
            raise ConflictError(
                f"knowledge base '{config.kb}' is in use by a request right now", hint="retry in a moment"
            )
        deployment = run(config, home=self.home)
        with self._lock:
            clash = self._clash(name, list(config.adapters), config.model)
            if clash is None and name not in self.running:
                self.running[name] = deployment
                return deployment
        close_deployment(deployment)
        raise ConflictError(clash or f"deployment '{name}' was started twice at once", hint="retry")

    def stop(self, name: str) -> bool:
        with self._lock:
            deployment = self.running.pop(name, None)
        if deployment is None:
            return False
        close_deployment(deployment)
        return True

    def close_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def resolve(self, model: str) -> Deployment:
        with self._lock:
            running = list(self.running.values())
        for d in running:
            if model in d.adapters:
                return d
        for d in running:
            if model == d.base_name:
                return d
        served = sorted({m for d in running for m in (d.base_name, *d.adapters)})
        raise NotFoundError(
            f"the model '{model}' does not exist",
            hint=f"served models: {', '.join(served)}"
            if served
            else "no deployment is running: POST /v1/deployments/{name}/start",
            code="model_not_found",
        )

    def models(self) -> list[ModelCard]:
        with self._lock:
            running = list(self.running.values())
        cards: dict[str, ModelCard] = {}
        for d in running:
            for card in d.models():
                cards.setdefault(card.id, card)
        return list(cards.values())

    def models_of(self, name: str) -> list[str]:
        d = self.running.get(name)
        return [d.base_name, *d.adapters] if d is not None else []

    def kb(self, name: str) -> Any:
        """The open KB of a running deployment that retrieves from `name` (None: none does)."""
        with self._lock:
            for d in self.running.values():
                if d.kb is not None and d.kb.name == name:
                    return d.kb
        return None

    def using_kb(self, name: str) -> list[str]:
        with self._lock:
            return [n for n, d in self.running.items() if d.kb is not None and d.kb.name == name]


def close_deployment(deployment: Deployment) -> None:
    if deployment.scheduler is not None:
        deployment.scheduler.close()
    if deployment.kb is not None:
        deployment.kb.close()


class KBAccess:
    """Open knowledge bases shared by this process's requests, closed when the last one is done."""

    def __init__(self, home: Path, serving: Serving) -> None:
        self.home = home
        self.serving = serving
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Any, int]] = {}
        self._embedders: dict[str, Any] = {}

    def in_use(self, name: str) -> bool:
        with self._lock:
            return name in self._open

    def _embedder(self, name: str) -> Any:
        if name not in self._embedders:
            from groundtune.models import load_embedder

            self._embedders[name] = load_embedder(name)
        return self._embedders[name]

    @contextmanager
    def open(self, name: str, *, embed: bool = False) -> Iterator[Any]:
        """The open KB `name` (a running deployment's when one retrieves from it); `embed` loads its
        embedder (kept for the process's lifetime) when the caller will search."""
        from groundtune.kb.knowledge_base import KnowledgeBase
        from groundtune.kb.settings import load_settings

        held = self.serving.kb(name)
        if held is not None:
            yield held
            return
        with self._lock:
            if name in self._open:
                kb, users = self._open[name]
                self._open[name] = (kb, users + 1)
            else:
                path, settings = load_settings(name, self.home)
                embedder = self._embedder(settings.embedder) if embed else None
                kb = KnowledgeBase(path, settings, embedder=embedder)
                self._open[name] = (kb, 1)
        try:
            yield kb
        finally:
            with self._lock:
                kb, users = self._open[name]
                if users == 1:
                    del self._open[name]
                    kb.close()
                else:
                    self._open[name] = (kb, users - 1)


class Platform:
    """The store, the runner, the workspace and this process's deployments and open KBs."""

    def __init__(self, store: Any, runner: Any, home: str | Path, limits: Limits | None = None) -> None:
        self.store = store
        self.runner = runner
        self.ws: Workspace = get_workspace(home)
        self.home = self.ws.home
        self.limits = limits or Limits()
        self.serving = Serving(self.home)
        self.kbs = KBAccess(self.home, self.serving)

    def admit_job(self) -> None:
        """Refuse a new job with RateLimitError (429, Retry-After) while the queue is full."""
        waiting = self.store.count_jobs(state=["validating_files", "queued"])
        if waiting >= self.limits.max_queued_jobs:
            raise RateLimitError(
                f"{waiting} jobs are already waiting for a worker (the limit is {self.limits.max_queued_jobs})",
                retry_after=self.limits.retry_after_s,
                hint="retry later, cancel queued jobs, or start the server with more --workers",
                code="job_queue_full",
            )


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform
