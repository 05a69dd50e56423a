"""`/v1/deployments`: a stored DeploymentConfig (base model, adapters, KB, calibrations) that this
server can start and stop; while running, its models answer `/v1/chat/completions` and appear in
`/v1/models` on the same port (serve/deployment.py does the work, `context.Serving` routes by
model name). Deployments left running come back when the server restarts (`restore`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from groundtune.core.artifacts import Page
from groundtune.core.configs import DeploymentConfig
from groundtune.core.errors import GroundtuneError
from groundtune.core.resources import Deleted, Deployment, DeploymentCreate
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.idempotency import IdempotencyKey, body_hash, idempotent
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(prefix="/v1/deployments", tags=["deployments"])
log = logging.getLogger("groundtune.platform")


def _resource(platform: Platform, stored: Any) -> Deployment:
    data = dict(stored)
    name = data.get("name") or data.get("id")
    config = data.get("config")
    return Deployment(
        id=str(name),
        config=config if isinstance(config, DeploymentConfig) else DeploymentConfig.model_validate(config),
        status=data.get("status", "stopped"),
        error={"message": data["error"]} if isinstance(data.get("error"), str) else data.get("error"),
        created_at=data.get("created_at"),
        models=platform.serving.models_of(str(name)),
    )


def _get(platform: Platform, name: str) -> Deployment:
    return _resource(platform, platform.store.get_deployment(name))


def start(platform: Platform, name: str) -> Deployment:
    """Load the deployment's models and KB and route its model names here; a failure is recorded."""
    deployment = _get(platform, name)
    try:
        platform.serving.start(name, deployment.config, platform.kbs)
    except GroundtuneError as exc:
        platform.store.set_deployment_status(name, "failed", error=str(exc))
        raise
    platform.store.set_deployment_status(name, "running")
    return _get(platform, name)


def restore(platform: Platform) -> None:
    """Start again the deployments that were running when the server stopped."""
    for stored in platform.store.list_deployments():
        item = _resource(platform, stored)
        if item.status == "running":
            try:
                start(platform, item.id)
            except GroundtuneError as exc:
                log.warning("deployment %s did not start again: %s", item.id, exc)


@router.post("", response_model=Deployment)
async def create_deployment(
    body: DeploymentCreate,
    request: Request,
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Store a deployment (and start it with `start: true`)."""

    def create() -> Deployment:
        platform.store.create_deployment(body.name, body.config)
        return start(platform, body.name) if body.start else _get(platform, body.name)

    return await run_in_threadpool(idempotent, request, platform, body_hash(body), create)


@router.get("", response_model=Page[Deployment])
def list_deployments(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    items = sorted((_resource(platform, d) for d in platform.store.list_deployments()), key=lambda d: d.id)
    return page(items, lambda d: d.id, after, limit)


@router.get("/{name}", response_model=Deployment)
def retrieve_deployment(name: str, platform: Platform = Depends(get_platform)) -> Any:
    return _get(platform, name)


@router.post("/{name}/start", response_model=Deployment)
def start_deployment(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """Load it and serve its models at /v1/chat/completions (a no-op when it runs already)."""
    return start(platform, name)


@router.post("/{name}/stop", response_model=Deployment)
def stop_deployment(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """Stop serving it (its KB is released for jobs)."""
    _get(platform, name)
    platform.serving.stop(name)
    platform.store.set_deployment_status(name, "stopped")
    return _get(platform, name)


@router.delete("/{name}", response_model=Deleted)
def delete_deployment(name: str, platform: Platform = Depends(get_platform)) -> Any:
    _get(platform, name)
    platform.serving.stop(name)
    platform.store.delete_deployment(name)
    return Deleted(id=name, object="deployment")
