"""`/v1/datasets`: build one from a knowledge base and QA files or teacher settings (a dataset job),
list, card, example preview (each document marked oracle or distractor; with `tokens=true` the
tokens that are trained), JSONL exports and delete. Reads go to the stored dataset folder
(data/store.py); building runs in a worker."""

from __future__ import annotations

import functools
import shutil
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from groundtune.core.artifacts import DatasetCard, Job, Page
from groundtune.core.configs import BuildConfig
from groundtune.core.errors import ConflictError, NotFoundError
from groundtune.core.resources import Deleted, ExamplePreview, PreviewDocument
from groundtune.core.schemas import Example
from groundtune.platform.api import files
from groundtune.platform.api.context import Platform, get_platform
from groundtune.platform.api.idempotency import IdempotencyKey
from groundtune.platform.api.jobs import submit
from groundtune.platform.api.pagination import After, Limit, page

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
Split = Literal["train", "validation", "test"]


def _with_files(platform: Platform, config: BuildConfig) -> BuildConfig:
    """Sources naming an uploaded file (`file_…`) read its stored path."""
    sources = [
        s.model_copy(update={"path": str(files.resolve(platform, s.path))})
        if s.path and s.path.startswith("file_")
        else s
        for s in config.sources
    ]
    return config.model_copy(update={"sources": sources})


@router.post("", response_model=Job)
def build_dataset(
    body: BuildConfig,
    request: Request,
    idempotency_key: str | None = IdempotencyKey,
    platform: Platform = Depends(get_platform),
) -> Any:
    """Queue a dataset build (a `dataset` job). QA sources may name uploaded files by id."""
    from groundtune.kb.settings import load_settings

    load_settings(body.kb, platform.home)  # 404 now, not after the job was queued
    if (platform.ws.datasets / body.name).exists() and not body.overwrite:
        raise ConflictError(
            f"dataset '{body.name}' already exists", hint="pick another name or set overwrite"
        )
    return submit(platform, request, "dataset", _with_files(platform, body))


def _card(platform: Platform, name: str) -> DatasetCard:
    from groundtune.data.store import load_card

    if "/" in name or name.startswith("."):
        raise NotFoundError(f"no dataset '{name}'", hint="list datasets with GET /v1/datasets")
    if not (platform.ws.datasets / name / "card.json").is_file():
        raise NotFoundError(f"no dataset '{name}'", hint="list datasets with GET /v1/datasets")
    return load_card(name, platform.home)


@router.get("", response_model=Page[DatasetCard])
def list_datasets(
    after: str | None = After, limit: int = Limit, platform: Platform = Depends(get_platform)
) -> Any:
    """Dataset cards by name."""
    from groundtune.data.store import list_datasets as names

    return page([_card(platform, n) for n in names(platform.home)], lambda c: c.name, after, limit)


@router.get("/{name}", response_model=DatasetCard)
def retrieve_dataset(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """The dataset card: how it was built (config, KB snapshot, retriever, grounding format) and its stats."""
    return _card(platform, name)


@functools.lru_cache(maxsize=4)
def _counter(lm: str, home: str) -> Any:
    from groundtune.data.tokens import load_counter

    return load_counter(lm, home)


def _preview(example: Example, counter: Any) -> ExamplePreview:
    from groundtune.data.preview import preview_example

    shown = preview_example(example, counter)
    return ExamplePreview(
        id=example.id,
        split=example.split,
        question=example.question,
        answerable=example.answerable,
        refusal=shown.refusal,
        documents=[
            PreviewDocument(
                number=d.number,
                role="oracle" if d.relevant else "distractor",
                title=d.title,
                text=d.text,
                reason=d.reason,
                doc_id=d.doc_id,
                chunk_id=d.chunk_id,
            )
            for d in shown.documents
        ],
        completion=example.completion,
        prompt_tokens=shown.prompt_tokens if counter else None,
        trained_tokens=shown.trained_tokens if counter else None,
        pieces=[{"text": t, "trained": tr} for t, tr in shown.pieces] if counter else None,
    )


@router.get("/{name}/examples", response_model=Page[ExamplePreview])
def list_examples(
    name: str,
    split: Split = Query("train"),
    tokens: bool = Query(False, description="Also split each example into prompt and trained tokens."),
    after: str | None = After,
    limit: int = Limit,
    platform: Platform = Depends(get_platform),
) -> Any:
    """A page of one split's examples, each document marked oracle or distractor."""
    from groundtune.data.store import dataset_dir, read_examples

    card = _card(platform, name)
    path = dataset_dir(name, platform.home) / f"{split}.jsonl"
    examples = read_examples(path) if path.is_file() else []
    chosen = page(examples, lambda e: e.id, after, limit)
    counter = _counter(card.lm, str(platform.home)) if tokens and chosen.data else None
    return Page[ExamplePreview](
        data=[_preview(e, counter) for e in chosen.data],
        has_more=chosen.has_more,
        first_id=chosen.first_id,
        last_id=chosen.last_id,
    )


@router.get(
    "/{name}/exports/{fmt}",
    response_class=FileResponse,
    responses={200: {"content": {"application/jsonl": {"schema": {"type": "string"}}}}},
)
def export_dataset(
    name: str,
    fmt: Literal["chat", "prompt_completion"],
    split: Split = Query("train"),
    platform: Platform = Depends(get_platform),
) -> Any:
    """One split as JSONL: OpenAI chat fine-tuning format or prompt/completion (TRL)."""
    from groundtune.data.store import dataset_dir

    _card(platform, name)
    path = dataset_dir(name, platform.home) / "exports" / f"{fmt}.{split}.jsonl"
    if not path.is_file():
        raise NotFoundError(f"dataset '{name}' has no {fmt} export of {split}", hint="rebuild it")
    return FileResponse(path, media_type="application/jsonl", filename=f"{name}.{fmt}.{split}.jsonl")


@router.delete("/{name}", response_model=Deleted)
def delete_dataset(name: str, platform: Platform = Depends(get_platform)) -> Any:
    """Delete a dataset folder (adapters trained on it keep their copy of its card)."""
    _card(platform, name)
    shutil.rmtree(platform.ws.datasets / name)
    return Deleted(id=name, object="dataset")
