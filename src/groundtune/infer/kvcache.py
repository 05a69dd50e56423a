"""The KV cache generation decodes with: every layer writes new keys and values in place into a
buffer sized for the whole batch (rows x (prompt width + new tokens)), instead of transformers'
`DynamicCache`, which concatenates the whole cache again at every step of every layer (in a profile of
a 16-row decode step over 500 tokens on this CPU, that cost more than the 262k-token LM head).

A decode stream (`infer/decode.py`) changes its rows as it goes: a finished row leaves (the last row
moves into its place, so one row is copied, not the batch), a new request joins in a free row with its
prompt's keys right-aligned to the current end (the slots before them are zero and masked), and slots
that no live row uses any more are dropped from the left. Keys carry their position (RoPE), not their
slot, so moving them between slots changes nothing the model computes.

Every layer keeps all its tokens (row moves and shifts treat all layers alike), but a sliding-window
layer hands attention only the slots its window can see (the last `window - 1` plus the new ones) and
tells transformers' mask builder where they start (`get_mask_sizes`), as transformers' own
`DynamicSlidingWindowLayer` does: on Gemma 3 (15 of 18 layers slide over 512 tokens) attention over
a 1,500-token prompt reads about half the keys it would otherwise. Every row's tokens sit in
consecutive slots, so a window over slots is a window over its tokens.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, DynamicLayer


class BufferedLayer(DynamicLayer):
    """A full-attention cache layer over a preallocated buffer of `rows` x `capacity` slots; `keys` and
    `values` are views of its live rows and filled slots. It grows (by half) only if a caller writes
    past the size it was given."""

    def __init__(self, capacity: int = 0, rows: int = 0, window: int | None = None) -> None:
        super().__init__()
        self.capacity = capacity
        self.row_capacity = rows
        self.window = window  # a sliding-window layer's window (None: full attention)
        self.is_sliding = window is not None
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None
        self._rows = 0  # live rows: the buffer's first `_rows`
        self._end = 0  # filled slots

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        start = self.get_seq_length()
        end = start + key_states.shape[-2]
        if not self._backed(key_states.shape[0], end):
            self._allocate(key_states, value_states, key_states.shape[0], start, end)
        assert self._keys is not None and self._values is not None
        self._keys[: self._rows, :, start:end] = key_states
        self._values[: self._rows, :, start:end] = value_states
        self._view(self._rows, end)
        assert self.keys is not None and self.values is not None
        if self.window is None:
            return self.keys, self.values
        visible = self.window - 1 + key_states.shape[-2]
        return self.keys[:, :, -visible:], self.values[:, :, -visible:]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        """How many key slots attention sees (after `query_length` new ones are written) and the first."""
        past = self.get_seq_length()
        if self.window is None:
            return past + query_length, 0
        return min(past, self.window - 1) + query_length, max(0, past - self.window + 1)

    def _view(self, rows: int, end: int) -> None:
        assert self._keys is not None and self._values is not None
        self._rows, self._end = rows, end
        self.keys, self.values = self._keys[:rows, :, :end], self._values[:rows, :, :end]

    def _backed(self, rows: int, end: int) -> bool:
        """Whether `keys` still views the buffer (other Cache methods may replace it) and it has room."""
        return (
            self._keys is not None
            and self.keys is not None
            and self.keys.numel() > 0
            and self.keys.data_ptr() == self._keys.data_ptr()
            and self._rows == rows
            and self._keys.shape[-2] >= end
        )

    def _allocate(
        self, key_states: torch.Tensor, value_states: torch.Tensor, rows: int, start: int, end: int
    ) -> None:
        size = max(end, self.capacity) if self._keys is None else end + end // 2
        heads = key_states.shape[1]
        room = max(rows, self.row_capacity)
        keys = key_states.new_zeros((room, heads, size, key_states.shape[-1]))
        values = value_states.new_zeros((room, heads, size, value_states.shape[-1]))
        if start:
            assert self.keys is not None and self.values is not None
            keys[:rows, :, :start] = self.keys
            values[:rows, :, :start] = self.values
        self._keys, self._values, self._rows = keys, values, rows

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the `indices` rows, in that order."""
        self.keep_rows([int(i) for i in indices])

    def keep_rows(self, order: list[int]) -> None:
        """Keep rows `order` (new row i is old row `order[i]`), copying only rows that move; no rows left
        empties the layer."""
        if self._keys is None or self._values is None:
            return
        if not order:
            self._view(0, 0)
            return
        moved = [(i, j) for i, j in enumerate(order) if i != j]
        if moved:
            dst = torch.tensor([i for i, _ in moved])
            src = torch.tensor([j for _, j in moved])
            self._keys[dst] = self._keys[src]  # the right side is gathered (copied) first
            self._values[dst] = self._values[src]
        self._view(len(order), self._end)

    def add_rows(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Append rows whose keys end at the current last slot (the slots before them are zeroed);
        they may not be wider than the layer (`shift` it first). An empty layer takes their width."""
        rows, width = keys.shape[0], keys.shape[-2]
        if not self.is_initialized:
            self.lazy_initialization(keys, values)
        if self._rows == 0:
            self._end = width
        if width > self._end:
            raise ValueError(f"rows of {width} slots cannot join a cache of {self._end}")
        if self._keys is None or self._keys.shape[-2] < self._end:
            self._allocate(keys, values, self._rows, self._end if self._rows else 0, self._end)
        assert self._keys is not None and self._values is not None
        if self._rows + rows > self._keys.shape[0]:
            self._grow_rows(self._rows + rows)
        new = slice(self._rows, self._rows + rows)
        pad = self._end - width
        self._keys[new, :, :pad] = 0
        self._values[new, :, :pad] = 0
        self._keys[new, :, pad : self._end] = keys
        self._values[new, :, pad : self._end] = values
        self._view(self._rows + rows, self._end)

    def _grow_rows(self, rows: int) -> None:
        assert self._keys is not None and self._values is not None
        shape = (rows, *self._keys.shape[1:])
        keys, values = self._keys.new_zeros(shape), self._values.new_zeros(shape)
        keys[: self._rows], values[: self._rows] = self._keys[: self._rows], self._values[: self._rows]
        self._keys, self._values = keys, values

    def shift(self, slots: int) -> None:
        """Move every row's slots `slots` to the right (zeros come in on the left) or, negative, to the
        left (the leftmost slots are dropped)."""
        if self._keys is None or self._values is None or slots == 0:
            return
        end = self._end + slots
        if end > self._keys.shape[-2]:
            assert self.keys is not None and self.values is not None
            self._allocate(self.keys, self.values, self._rows, self._end, end)
        rows = slice(0, self._rows)
        for buffer in (self._keys, self._values):
            if slots > 0:
                buffer[rows, :, slots:end] = buffer[rows, :, : self._end].clone()
                buffer[rows, :, :slots] = 0
            else:
                buffer[rows, :, :end] = buffer[rows, :, -slots : self._end].clone()
        self._view(self._rows, end)


def layer_windows(config: Any) -> list[int | None]:
    """Each layer's sliding window (None: full attention) from a transformers model config."""
    window = getattr(config, "sliding_window", None)
    types = getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers
    return [window if kind == "sliding_attention" and window else None for kind in types]


class BufferedCache(DynamicCache):
    """A `DynamicCache` whose layers are `BufferedLayer`s of `capacity` slots and room for `rows` rows
    (0: as many as the first write has), one per entry of `windows` (`layer_windows(config)`), and
    filled at once from (keys, values) pairs when `layers` are given."""

    def __init__(
        self,
        capacity: int,
        windows: list[int | None],
        layers: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
        rows: int = 0,
    ) -> None:
        buffered = [BufferedLayer(capacity, rows, window) for window in windows]
        if layers:
            for layer, (keys, values) in zip(buffered, layers, strict=True):
                layer.update(keys, values)
        Cache.__init__(self, layers=list(buffered))

    def states(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's (keys, values) so far, shaped [rows, heads, tokens, head_dim]."""
        out = []
        for layer in self.layers:
            assert isinstance(layer, BufferedLayer) and layer.keys is not None and layer.values is not None
            out.append((layer.keys, layer.values))
        return out

    # The buffers are inference tensors (a forward call in inference mode may allocate them), which
    # can only be written in inference mode: so are these.

    @torch.inference_mode()
    def keep_rows(self, order: list[int]) -> None:
        """Keep rows `order` in every layer (`BufferedLayer.keep_rows`)."""
        for layer in self._buffered():
            layer.keep_rows(order)

    @torch.inference_mode()
    def add_rows(self, states: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Append the rows of another cache's `states()`, right-aligned to this cache's last slot."""
        for layer, (keys, values) in zip(self._buffered(), states, strict=True):
            layer.add_rows(keys, values)

    @torch.inference_mode()
    def shift(self, slots: int) -> None:
        """Shift every layer's slots (`BufferedLayer.shift`)."""
        for layer in self._buffered():
            layer.shift(slots)

    def _buffered(self) -> list[BufferedLayer]:
        layers = [layer for layer in self.layers if isinstance(layer, BufferedLayer)]
        assert len(layers) == len(self.layers)
        return layers
