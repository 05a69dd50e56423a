"""Model registry and loading: the embedded default LM and embedder, tiny random test models, and
any Hugging Face model by local path or (only when named explicitly) by hub id.

Light to import: torch and transformers load inside the functions that need them.
"""

from groundtune.models.layout import PromptLayout
from groundtune.models.registry import (
    DEFAULT_EMBEDDER,
    DEFAULT_LM,
    ModelInfo,
    list_models,
    load_embedder,
    load_lm,
    pull,
)

__all__ = [
    "DEFAULT_EMBEDDER",
    "DEFAULT_LM",
    "ModelInfo",
    "PromptLayout",
    "list_models",
    "load_embedder",
    "load_lm",
    "pull",
]
