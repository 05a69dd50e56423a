"""Dataset pages: the list, the build form (KB, QA files, recipe settings with their defaults), and a
dataset's card, counts per split and per source, and example browser (each document oracle or
distractor, the target, the tokens that are trained)."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse

from groundtune.core.configs import BuildConfig
from groundtune.platform.api import datasets as api
from groundtune.platform.api import files, knowledge_bases
from groundtune.ui.app import page_router, platform_of, render
from groundtune.ui.forms import default_of, fields, recipes

router = page_router()

SETTINGS = [
    "style",
    "documents_per_prompt",
    "oracle_fraction",
    "contrast_fraction",
    "candidates",
    "random_distractors",
    "max_relevant",
    "max_quotes_per_doc",
    "max_quote_chars",
    "split_by",
    "seed",
    "lm",
    "max_tokens",
    "retriever.mode",
]


@router.get("/datasets")
def list_page(request: Request, after: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    return render(
        request,
        "datasets.html",
        title="Datasets",
        page=api.list_datasets(after, 50, p),
        json_url="/v1/datasets",
    )


@router.get("/datasets/new")
def build_form(request: Request, recipe: str = "default", kb: str | None = None) -> HTMLResponse:
    p = platform_of(request)
    shipped = recipes("data")
    chosen = shipped.get(recipe, {})
    splits = default_of(BuildConfig, "splits")
    return render(
        request,
        "dataset_new.html",
        title="Build a dataset",
        recipes=list(shipped),
        recipe=recipe if recipe in shipped else "",
        settings=fields(BuildConfig, SETTINGS, chosen),
        splits=chosen.get("splits", splits),
        kbs=knowledge_bases.list_knowledge_bases(None, 100, p).data,
        kb=kb,
        files=files.list_files(None, 100, p).data,
        json_url="/v1/datasets",
    )


@router.get("/datasets/{name}")
def dataset_page(
    request: Request,
    name: str,
    split: Literal["train", "validation", "test"] = "train",
    after: str | None = None,
) -> HTMLResponse:
    p = platform_of(request)
    card = api.retrieve_dataset(name, p)
    examples = api.list_examples(name, split, True, after, 5, p) if card.splits.get(split) else None
    return render(
        request,
        "dataset.html",
        title=f"Dataset {name}",
        card=card,
        split=split,
        examples=examples,
        json_url=f"/v1/datasets/{name}",
        examples_url=f"/v1/datasets/{name}/examples?split={split}&tokens=true&limit=5",
    )
