"""Sentence embedder: a transformers encoder with the pooling its sentence-transformers folder declares.

Reads `modules.json` / `1_Pooling/config.json` when present (mean pooling and L2 normalisation for
all-MiniLM-L6-v2), so any sentence-transformers model directory works without that package.
"""

from __future__ import annotations

import copy
import json
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

_PRIVATE: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_PRIVATE_LOCK = threading.Lock()


def counting_copy(tokenizer: Any) -> Any:
    """A copy of `tokenizer` used only for counting (made once per tokenizer).

    A fast tokenizer keeps padding and truncation as state on its shared Rust backend: each call
    sets them, then encodes. `Embedder.encode` encodes queries with padding and truncation on the same
    tokenizer, so a search during an ingest could switch them on between a counter's set and its
    encode, and paragraphs were counted padded or cut to max_length (a version chunked differently).
    Every caller of the copy asks for no padding and no truncation, so sharing it is safe.
    """
    with _PRIVATE_LOCK:
        private = _PRIVATE.get(tokenizer)
        if private is None:
            private = _PRIVATE[tokenizer] = copy.deepcopy(tokenizer)
        return private


class Embedder:
    """Encodes texts into unit-length float32 vectors; `tokenizer` is shared with the chunker."""

    def __init__(
        self,
        name: str,
        model: Any,
        tokenizer: Any,
        *,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: int = 256,
    ) -> None:
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.dim = int(model.config.hidden_size)

    @classmethod
    def from_directory(cls, name: str, path: Path) -> Embedder:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
        model.eval()
        pooling, normalize, max_length = "mean", False, 256
        pool_cfg = path / "1_Pooling" / "config.json"
        if pool_cfg.exists():
            cfg = json.loads(pool_cfg.read_text())
            pooling = "cls" if cfg.get("pooling_mode_cls_token") else "mean"
        modules = path / "modules.json"
        if modules.exists():
            normalize = any("Normalize" in m.get("type", "") for m in json.loads(modules.read_text()))
        st_cfg = path / "sentence_bert_config.json"
        if st_cfg.exists():
            max_length = int(json.loads(st_cfg.read_text()).get("max_seq_length", max_length))
        return cls(name, model, tokenizer, pooling=pooling, normalize=normalize, max_length=max_length)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` without special tokens (what the chunker budgets)."""
        return len(counting_copy(self.tokenizer)(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 64, progress: Any = None) -> np.ndarray:
        """Embed `texts` (longest-first batches to limit padding); returns shape (len(texts), dim).

        `progress`, if given, is called with the number of texts finished after each batch.
        """
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                if self.pooling == "cls":
                    vecs = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    vecs = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                if self.normalize:
                    vecs = torch.nn.functional.normalize(vecs, p=2, dim=-1)
                out[idx] = vecs.float().numpy()
                if progress is not None:
                    progress(len(idx))
        return out
