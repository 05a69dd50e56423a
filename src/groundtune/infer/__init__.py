"""Generation for evaluation and serving: the in-process `Engine` (transformers + PEFT, batched,
per-request LoRA adapters, merged fast path, streaming) and `OpenAIBackend` (any OpenAI-compatible
server), both with `generate(requests) -> results`.

Light to import: the request/result models load eagerly, the backends (torch, httpx) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundtune.infer.request import (
    Backend,
    GenerationConfig,
    GenerationRequest,
    GenerationResult,
)

if TYPE_CHECKING:
    from groundtune.infer.engine import Engine, TextStream
    from groundtune.infer.openai_backend import OpenAIBackend

__all__ = [
    "Backend",
    "Engine",
    "GenerationConfig",
    "GenerationRequest",
    "GenerationResult",
    "OpenAIBackend",
    "TextStream",
]

_LAZY = {
    "Engine": "groundtune.infer.engine",
    "TextStream": "groundtune.infer.engine",
    "OpenAIBackend": "groundtune.infer.openai_backend",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'groundtune.infer' has no attribute {name!r}")
