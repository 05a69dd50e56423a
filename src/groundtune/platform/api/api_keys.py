"""`/v1/api_keys` (admin scope): create (the secret is in this one response), list, revoke. The
CLI's `groundtune server keys` does the same on the store directly."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from groundtune.core.artifacts import ApiKey, Page
from groundtune.core.resources import ApiKeyCreate, ApiKeyCreated, Deleted
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(prefix="/v1/api_keys", tags=["api_keys"])


@router.post("", response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, platform: Platform = Depends(get_platform)) -> Any:
    """A new key; its secret is shown here once and stored only as a hash."""
    secret, key = platform.store.create_api_key(body.name, list(body.scopes))
    return ApiKeyCreated(**key.model_dump(), secret=secret)


@router.get("", response_model=Page[ApiKey])
def list_api_keys(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    return page(list(platform.store.list_api_keys()), lambda k: k.id, after, limit)


@router.delete("/{key_id}", response_model=Deleted)
def revoke_api_key(key_id: str, platform: Platform = Depends(get_platform)) -> Any:
    """Revoke a key: requests with it are refused from now on."""
    platform.store.revoke_api_key(key_id)
    return Deleted(id=key_id, object="api_key")
