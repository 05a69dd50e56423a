"""Uploaded documents: received with a size limit, checked file by file with the knowledge base's own
parsers (kb/ingest.collect: type, UTF-8, PDF, HTML, JSONL/CSV records) in a staging folder, and only
when every file passes moved to `<workspace>/uploads/<kb>/<filename>`, where the ingestion job reads
them. A file name is a document's identity (its id hashes the stored path), so uploading a file
again makes a new version of the same document. Each upload's file list is kept beside the files
(`.uploads/<job_id>.json`) to report every file's status once its job is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import UploadFile

from groundtune.core.artifacts import Job
from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.resources import FileStatus, Upload
from groundtune.platform.api.context import Limits, Platform

_READ = 1024 * 1024


@dataclass
class Received:
    filename: str
    data: bytes | None  # None when rejected before reading it all
    size: int
    sha256: str
    problem: str | None = None


@dataclass
class Accepted:
    filename: str
    path: Path
    size: int
    documents: list[str]


def kb_folder(platform: Platform, kb: str) -> Path:
    return platform.ws.uploads / kb


def _safe_name(raw: str | None) -> str | None:
    name = Path((raw or "").replace("\\", "/")).name.strip()
    return name if name and not name.startswith(".") else None


async def receive(files: list[UploadFile], limits: Limits) -> list[Received]:
    """Each file's bytes, or why it was refused before parsing (name, size, count)."""
    if not files:
        raise InvalidInputError("no files in the upload", hint="send one or more `files` parts")
    if len(files) > limits.max_upload_files:
        raise InvalidInputError(
            f"{len(files)} files in one upload, more than the limit of {limits.max_upload_files}",
            hint="split the upload",
            code="too_many_files",
        )
    out: list[Received] = []
    seen: set[str] = set()
    for part in files:
        name = _safe_name(part.filename)
        digest = hashlib.sha256()
        size, chunks, over = 0, [], False
        while block := await part.read(_READ):
            size += len(block)
            if size > limits.max_upload_bytes:
                over = True
                break
            digest.update(block)
            chunks.append(block)
        shown = name or repr(part.filename)
        problem = None
        if name is None:
            problem = f"{shown}: not a usable file name (empty or hidden)"
        elif name in seen:
            problem = f"{name}: sent twice in this upload"
        elif over:
            problem = (
                f"{name}: larger than the limit of {limits.max_upload_bytes} bytes per file "
                f"(read {size} bytes before stopping)"
            )
        seen.add(name or "")
        out.append(Received(shown, None if problem else b"".join(chunks), size, digest.hexdigest(), problem))
    return out


def _hint(problem: str) -> str:
    if "larger than the limit" in problem:
        return "split the file or leave it out"
    if "sent twice" in problem:
        return "send each file once"
    return "rename the file"


def accept(platform: Platform, kb: str, received: list[Received], tags: list[str]) -> list[Accepted]:
    """Check every file with the KB's parsers in a staging folder; all pass -> moved into place."""
    from groundtune.kb.ingest import collect
    from groundtune.kb.parsers import RECORD_SUFFIXES, file_doc_id
    from groundtune.kb.records import RecordFields

    folder = kb_folder(platform, kb)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        reasons: dict[str, list[str]] = {r.filename: [r.problem] if r.problem else [] for r in received}
        documents: dict[str, list[str]] = {}
        for item in received:
            if item.data is None:
                continue
            path = staging / item.filename
            path.write_bytes(item.data)
            docs, errors = collect([path], RecordFields(), tags)
            where = str(path.resolve())
            for error in errors:
                text = error.message.replace(where, item.filename).replace(str(path), item.filename)
                source = error.source.replace(where, item.filename).replace(str(path), item.filename)
                if not text.startswith(item.filename):  # a record's error: say which line
                    text = f"{source}: {text}"
                reasons[item.filename].append(f"{text} ({error.hint})" if error.hint else text)
            if path.suffix.lower() in RECORD_SUFFIXES:
                documents[item.filename] = [d.id for d in docs]
            else:
                documents[item.filename] = [file_doc_id(folder / item.filename)]
        rejected = {name: why for name, why in reasons.items() if why}
        if rejected:
            details: list[dict[str, object]] = [
                FileStatus(
                    filename=r.filename,
                    bytes=r.size,
                    status="rejected" if r.filename in rejected else "accepted",
                    reason="; ".join(rejected.get(r.filename, [])) or None,
                ).model_dump()
                for r in received
            ]
            first = next(iter(rejected.items()))
            raise InvalidInputError(
                f"{len(rejected)} of {len(received)} files cannot be ingested, so none was stored; "
                f"first: {first[1][0]}",
                hint="fix or leave out the files listed in error.details, then upload again",
                code="invalid_file",
                param="files",
                details=details,
            )
        accepted = []
        for item in received:
            final = folder / item.filename
            os.replace(staging / item.filename, final)
            accepted.append(Accepted(item.filename, final, item.size, documents[item.filename]))
        return accepted
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _manifest(platform: Platform, kb: str, job_id: str) -> Path:
    return kb_folder(platform, kb) / ".uploads" / f"{job_id}.json"


def record(platform: Platform, kb: str, job: Job, accepted: list[Accepted]) -> Upload:
    """Keep the upload's file list for later status reports; the upload as created."""
    path = _manifest(platform, kb, job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"filename": a.filename, "path": str(a.path), "bytes": a.size, "documents": a.documents}
        for a in accepted
    ]
    path.write_text(json.dumps(rows))
    files = [
        FileStatus(filename=a.filename, bytes=a.size, status="accepted", documents=a.documents)
        for a in accepted
    ]
    return Upload(id=job.id, knowledge_base=kb, job=job, files=files)


def status(platform: Platform, kb: str, job: Job) -> Upload:
    """The upload with every file's status as of now (from the job's AddSummary once it is done)."""
    path = _manifest(platform, kb, job.id)
    if not path.is_file() or job.config.get("kb") != kb:
        raise NotFoundError(f"no upload '{job.id}' to knowledge base '{kb}'", hint="list the KB's jobs")
    rows: list[dict[str, Any]] = json.loads(path.read_text())
    summary = job.result or {}
    files = []
    for row in rows:
        state, reason = _file_state(row, job, summary)
        files.append(
            FileStatus(
                filename=row["filename"],
                bytes=row["bytes"],
                status=state,
                reason=reason,
                documents=row["documents"],
            )
        )
    return Upload(id=job.id, knowledge_base=kb, job=job, files=files)


def _file_state(row: dict[str, Any], job: Job, summary: dict[str, Any]) -> tuple[Any, str | None]:
    if job.state in ("failed", "cancelled"):
        why = (job.error or {}).get("message") if job.state == "failed" else "the job was cancelled"
        return "failed", why
    if job.state != "succeeded":
        return "pending", None
    where = str(Path(row["path"]).resolve())
    errors = [
        e for e in summary.get("errors", []) if str(e.get("source", "")).startswith((where, row["path"]))
    ]
    docs = set(row["documents"])
    if errors:
        return "failed", "; ".join(f"{e.get('message', '')} ({e.get('hint', '')})" for e in errors)
    if Path(row["path"]).suffix.lower() in {".jsonl", ".ndjson", ".csv"}:
        changed = docs & (set(summary.get("added", [])) | set(summary.get("updated", [])))
        return ("ingested" if changed or not docs else "unchanged"), None
    for state in ("added", "updated", "unchanged"):
        if docs & set(summary.get(state, [])):
            return state, None
    return "ingested", None
