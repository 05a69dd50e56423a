"""The decode stream's KV cache on its own: rows joining right-aligned, leaving, slots shifted, and
sliding-window layers handing attention only what their window sees."""

from __future__ import annotations

import torch

from groundtune.infer.kvcache import BufferedCache, BufferedLayer, layer_windows


def states(rows: int, slots: int, start: float) -> tuple[torch.Tensor, torch.Tensor]:
    keys = torch.arange(rows * slots, dtype=torch.float32).reshape(rows, 1, slots, 1) + start
    return keys, -keys


def test_rows_join_right_aligned_leave_by_moving_the_last_and_slots_shift() -> None:
    layer = BufferedLayer(capacity=8, rows=4)
    layer.add_rows(*states(2, 5, 100))  # an empty layer takes their width
    layer.add_rows(*states(1, 3, 200))  # narrower: right-aligned, zeros before
    assert layer.keys is not None and layer.keys.shape == (3, 1, 5, 1)
    assert layer.keys[2, 0, :, 0].tolist() == [0, 0, 200, 201, 202]
    before = layer.keys.clone()
    layer.keep_rows([2, 1])  # row 0 left: the last row takes its place
    assert torch.equal(layer.keys, before[[2, 1]]) and torch.equal(layer.values, -before[[2, 1]])
    layer.shift(2)  # a wider row may join now
    assert layer.keys[0, 0, :, 0].tolist() == [0, 0, 0, 0, 200, 201, 202]
    layer.add_rows(*states(1, 7, 300))
    layer.shift(-4)  # dead slots dropped
    assert layer.keys[0, 0, :, 0].tolist() == [200, 201, 202]
    assert layer.keys[2, 0, :, 0].tolist() == [304, 305, 306]
    step = torch.full((3, 1, 1, 1), 9.0)
    keys, _ = layer.update(step, step)  # the next decode step writes after them
    assert keys.shape == (3, 1, 4, 1) and keys[:, 0, -1, 0].tolist() == [9, 9, 9]
    layer.keep_rows([])
    assert layer.get_seq_length() == 0


def test_a_sliding_layer_hands_attention_its_window_and_says_where_it_starts() -> None:
    layer = BufferedLayer(capacity=16, window=4)
    keys, _ = layer.update(*states(1, 6, 0))  # a prefill sees everything it writes
    assert keys.shape[-2] == 6
    assert layer.get_mask_sizes(1) == (4, 3)  # 3 cached slots before the new one, from slot 3
    keys, _ = layer.update(*states(1, 1, 50))
    assert keys[0, 0, :, 0].tolist() == [3, 4, 5, 50]
    assert layer.get_seq_length() == 7  # it keeps every slot (rows and shifts treat layers alike)
    full = BufferedLayer(capacity=16)
    full.update(*states(1, 6, 0))
    assert full.get_mask_sizes(1) == (7, 0)


def test_layer_windows_follow_the_config() -> None:
    from groundtune.models.tiny import tiny_gemma

    model, _ = tiny_gemma(sliding_window=6)
    windows = layer_windows(model.config)
    assert len(windows) == model.config.num_hidden_layers and set(windows) <= {6, None}
    assert windows == [6 if t == "sliding_attention" else None for t in model.config.layer_types]
    cache = BufferedCache(8, windows)
    assert cache.is_sliding == [w is not None for w in windows]
