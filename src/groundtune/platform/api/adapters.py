"""`/v1/adapters` and `/v1/calibrations`: trained adapters with their manifest and lineage (the
dataset, that dataset's KB snapshot and retriever, the recipe it was trained with), their
calibrations, and a download of the PEFT folder (what vLLM's `--lora-modules` loads) as a tar.gz.
Calibrating is a job (`POST /v1/calibrations`)."""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from groundtune.core.artifacts import Calibration, Job, Page
from groundtune.core.configs import CalibrateConfig, TrainConfig
from groundtune.core.errors import NotFoundError
from groundtune.core.resources import Adapter, Lineage
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.idempotency import IdempotencyKey
from groundtune.platform.api.jobs import submit
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(tags=["adapters"])


def _ref(platform: Platform, name: str) -> Any:
    from groundtune.core.adapters import resolve_adapter

    folder = platform.ws.adapters / name
    if "/" in name or name.startswith(".") or not (folder / "adapter_config.json").is_file():
        raise NotFoundError(f"no adapter '{name}'", hint="list adapters with GET /v1/adapters")
    return resolve_adapter(name, platform.home)


def _lineage(platform: Platform, ref: Any) -> Lineage:
    import yaml

    from groundtune.core.artifacts import migrate_card
    from groundtune.core.jsonfile import read_json

    manifest = ref.manifest
    lineage = Lineage(
        run_id=manifest.run_id, dataset=manifest.dataset, retriever_hash=manifest.retriever_hash
    )
    run_dir = platform.ws.runs / str(manifest.run_id)
    if manifest.run_id and (run_dir / "dataset_card.json").is_file():
        card = migrate_card(read_json(run_dir / "dataset_card.json"))
        lineage.dataset_id, lineage.knowledge_base, lineage.kb_generation = (
            card.id,
            card.kb,
            card.kb_generation,
        )
        lineage.dataset = lineage.dataset or card.name
    if manifest.run_id and (run_dir / "config.yaml").is_file():
        lineage.recipe = TrainConfig.model_validate(yaml.safe_load((run_dir / "config.yaml").read_text()))
    if manifest.run_id:
        jobs = platform.store.list_jobs(kind="fine_tuning", limit=100).data
        lineage.fine_tuning_job = next(
            (j.id for j in jobs if j.config.get("run_id") == manifest.run_id), None
        )
    return lineage


def _adapter(platform: Platform, name: str) -> Adapter:
    from groundtune.core.calibrations import list_calibrations

    ref = _ref(platform, name)
    return Adapter(
        id=name,
        created_at=int(ref.path.stat().st_mtime),
        manifest=ref.manifest,
        lineage=_lineage(platform, ref),
        calibrations=[c.name for c in list_calibrations(platform.home, ref)],
        files={p.name: p.stat().st_size for p in sorted(ref.path.iterdir()) if p.is_file()},
    )


@router.get("/v1/adapters", response_model=Page[Adapter], tags=["adapters"])
def list_adapters(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """Registered adapters by name."""
    names = sorted(p.name for p in platform.ws.adapters.iterdir() if (p / "adapter_config.json").is_file())
    return page([_adapter(platform, n) for n in names], lambda a: a.id, after, limit)


@router.get("/v1/adapters/{name}", response_model=Adapter)
def retrieve_adapter(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """The adapter's manifest (base model, prompt layout, grounding format, retriever) and lineage."""
    return _adapter(platform, name)


@router.get("/v1/adapters/{name}/calibrations", response_model=Page[Calibration])
def list_adapter_calibrations(
    name: str, after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """The adapter's abstention calibrations, oldest first (serving uses the latest unless told)."""
    from groundtune.core.calibrations import list_calibrations

    return page(list_calibrations(platform.home, _ref(platform, name)), lambda c: c.name, after, limit)


def _tar_stream(folder: Any, name: str) -> Iterator[bytes]:
    with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as buffer:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(folder, arcname=name)
        buffer.seek(0)
        while block := buffer.read(1024 * 1024):
            yield block


@router.get(
    "/v1/adapters/{name}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}},
)
def download_adapter(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """The adapter folder as `<name>.tar.gz`: PEFT weights and config (loadable by PEFT and by vLLM
    `--lora-modules`) plus groundtune-adapter.json."""
    ref = _ref(platform, name)
    return StreamingResponse(
        _tar_stream(ref.path, name),
        media_type="application/gzip",
        headers={"content-disposition": f'attachment; filename="{name}.tar.gz"'},
    )


@router.post("/v1/calibrations", response_model=Job, tags=["adapters"])
def create_calibration(
    body: CalibrateConfig,
    request: Request,
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Queue a calibration job: fit the adapter's abstention threshold on a dataset split."""
    _ref(platform, body.adapter)
    return submit(platform, request, "calibration", body)
