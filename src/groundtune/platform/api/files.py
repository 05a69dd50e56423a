"""`/v1/files`: QA files (JSONL, CSV, TSV) for dataset builds, checked with the data stage's own
reader before they are stored; a dataset source names one by id (`{"kind": "qa", "path": "file_…"}`).
Stored as `<workspace>/uploads/files/<file_id>/<filename>`, never rewritten."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from groundtune.core.artifacts import Page
from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.ids import new_id
from groundtune.core.resources import Deleted, FileObject
from groundtune.platform.api import uploads
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.idempotency import IdempotencyKey, body_hash, idempotent
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(prefix="/v1/files", tags=["files"])
META = "file.json"


def root(platform: Platform) -> Path:
    return platform.ws.uploads / "files"


def resolve(platform: Platform, file_id: str) -> Path:
    """The stored file of `file_id`."""
    folder = root(platform) / file_id
    meta = folder / META
    if not file_id.startswith("file_") or "/" in file_id or not meta.is_file():
        raise NotFoundError(f"no file '{file_id}'", hint="upload it with POST /v1/files")
    return folder / FileObject.model_validate_json(meta.read_text()).filename


def _store(platform: Platform, received: uploads.Received) -> FileObject:
    from groundtune.data.sources import load_qa_file

    if received.problem or received.data is None:
        raise InvalidInputError(received.problem or "unreadable file", hint="fix the file", param="file")
    parent = root(platform)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))
    try:
        path = staging / received.filename
        path.write_bytes(received.data)
        try:
            pairs = load_qa_file(path)
        except (InvalidInputError, NotFoundError) as exc:
            message = exc.message.replace(str(path), received.filename)
            raise InvalidInputError(message, hint=exc.hint, code="invalid_file", param="file") from None
        except ValueError as exc:  # a row pydantic rejects
            raise InvalidInputError(
                f"{received.filename}: {str(exc).splitlines()[0]}",
                hint="see docs/data.md for QA fields",
                code="invalid_file",
                param="file",
            ) from None
        file_id = new_id("file")
        obj = FileObject(
            id=file_id,
            filename=received.filename,
            bytes=received.size,
            created_at=int(time.time()),
            records=len(pairs),
        )
        (staging / META).write_text(obj.model_dump_json())
        os.replace(staging, parent / file_id)
        return obj
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@router.post("", response_model=FileObject)
async def upload_file(
    request: Request,
    file: UploadFile = File(description="A QA file: JSONL, CSV or TSV (docs/data.md)."),
    purpose: str = Form("qa", description="Only 'qa' for now."),
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Store a QA file once every row reads as a QA pair; a bad row answers 400 naming its line."""
    if purpose != "qa":
        raise InvalidInputError(
            f"purpose '{purpose}' is not supported", hint="use purpose=qa", param="purpose"
        )
    received = (await uploads.receive([file], platform.limits))[0]
    digest = body_hash({"filename": received.filename, "sha256": received.sha256})
    return await run_in_threadpool(idempotent, request, platform, digest, lambda: _store(platform, received))


@router.get("", response_model=Page[FileObject])
def list_files(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    folder = root(platform)
    found = [
        FileObject.model_validate_json((p / META).read_text())
        for p in (sorted(folder.iterdir(), reverse=True) if folder.is_dir() else [])
        if (p / META).is_file()
    ]
    return page(found, lambda f: f.id, after, limit)


@router.get("/{file_id}", response_model=FileObject)
def retrieve_file(file_id: str, platform: Platform = Depends(get_platform)) -> Any:
    path = resolve(platform, file_id)
    return FileObject.model_validate_json((path.parent / META).read_text())


@router.delete("/{file_id}", response_model=Deleted)
def delete_file(file_id: str, platform: Platform = Depends(get_platform)) -> Any:
    path = resolve(platform, file_id)
    shutil.rmtree(path.parent)
    return Deleted(id=file_id, object="file")
