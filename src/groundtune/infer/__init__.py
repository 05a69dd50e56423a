"""Generation for evaluation and serving: the in-process `Engine` (transformers + PEFT, batched,
per-request LoRA adapters, merged fast path, streaming) and `OpenAIBackend` (any OpenAI-compatible
server), both with `generate(requests) -> results`, and `BatchScheduler`, which batches requests
arriving concurrently (a server's) onto one Engine.

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
    from groundtune.infer.scheduler import BatchScheduler, ScheduledStream

__all__ = [
    "Backend",
    "BatchScheduler",
    "Engine",
    "GenerationConfig",
    "GenerationRequest",
    "GenerationResult",
    "OpenAIBackend",
    "ScheduledStream",
    "TextStream",
]

_LAZY = {
    "Engine": "groundtune.infer.engine",
    "TextStream": "groundtune.infer.engine",
    "OpenAIBackend": "groundtune.infer.openai_backend",
    "BatchScheduler": "groundtune.infer.scheduler",
    "ScheduledStream": "groundtune.infer.scheduler",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'groundtune.infer' has no attribute {name!r}")
