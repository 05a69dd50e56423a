"""The KV cache generation decodes with: every layer writes new keys and values in place into a
buffer sized for the whole batch (prompt width + new tokens), instead of transformers' `DynamicCache`,
which concatenates the whole cache again at every step of every layer (in a profile of a 16-row decode
step over 500 tokens on this CPU, that cost more than the 262k-token LM head).

Every layer keeps all its tokens, sliding-window layers too: transformers builds the sliding-window
mask from the config whatever the cache keeps, so attention sees the same keys (masked ones beyond
the window too: more memory and attention work on prompts much longer than the window).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, DynamicLayer


class BufferedLayer(DynamicLayer):
    """A full-attention cache layer over a preallocated buffer; `keys`/`values` are views of its
    filled part. It grows (by half) only if a caller writes past the size it was given."""

    def __init__(self, capacity: int = 0) -> None:
        super().__init__()
        self.capacity = capacity
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        start = self.get_seq_length()
        end = start + key_states.shape[-2]
        if not self._backed(key_states.shape[0], end):
            self._allocate(key_states, value_states, start, end)
        assert self._keys is not None and self._values is not None
        self._keys[:, :, start:end] = key_states
        self._values[:, :, start:end] = value_states
        self.keys, self.values = self._keys[:, :, :end], self._values[:, :, :end]
        return self.keys, self.values

    def _backed(self, rows: int, end: int) -> bool:
        """Whether `keys` still views the buffer (other Cache methods may replace it) and it has room."""
        return (
            self._keys is not None
            and self.keys is not None
            and self.keys.numel() > 0
            and self.keys.data_ptr() == self._keys.data_ptr()
            and self._keys.shape[0] == rows
            and self._keys.shape[-2] >= end
        )

    def _allocate(self, key_states: torch.Tensor, value_states: torch.Tensor, start: int, end: int) -> None:
        size = max(end, self.capacity) if self._keys is None else end + end // 2
        rows, heads = key_states.shape[:2]
        self._keys = key_states.new_empty((rows, heads, size, key_states.shape[-1]))
        self._values = value_states.new_empty((rows, heads, size, value_states.shape[-1]))
        if start:
            assert self.keys is not None and self.values is not None
            self._keys[:, :, :start] = self.keys
            self._values[:, :, :start] = self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the `indices` rows (a finished row leaves the batch), buffer and all."""
        if self._keys is None or self._values is None or self.get_seq_length() == 0:
            return
        end = self.get_seq_length()
        self._keys, self._values = self._keys[indices], self._values[indices]
        self.keys, self.values = self._keys[:, :, :end], self._values[:, :, :end]


class BufferedCache(DynamicCache):
    """A `DynamicCache` whose layers are `BufferedLayer`s of `capacity` tokens (the batch's padded
    prompt width plus its most new tokens), created as the model first writes each layer, or filled
    at once from (keys, values) pairs, one per layer."""

    def __init__(self, capacity: int, layers: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> None:
        if layers:
            buffered = [BufferedLayer(capacity) for _ in layers]
            for layer, (keys, values) in zip(buffered, layers, strict=True):
                layer.update(keys, values)
            Cache.__init__(self, layers=list(buffered))
        else:
            Cache.__init__(self, layer_class_to_replicate=partial(BufferedLayer, capacity))  # type: ignore[arg-type]

    def states(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's (keys, values) so far, shaped [rows, heads, tokens, head_dim]."""
        out = []
        for layer in self.layers:
            assert isinstance(layer, BufferedLayer) and layer.keys is not None and layer.values is not None
            out.append((layer.keys, layer.values))
        return out
