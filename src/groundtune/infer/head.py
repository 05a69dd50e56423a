"""The LM head at decode time, computed as `W @ h.T` instead of `h @ W.T`.

A decode step sends a few hidden rows (one per live request) through the head: for Gemma a 262k x 640
weight, the largest matrix product of the step. `nn.Linear` computes it as `h @ W.T`, a product with
very few rows and a huge transposed operand, which CPU BLAS runs far below its peak; the same product
as `W @ h.T` (the weight untransposed, in its stored layout) ran 2-5x faster on a 2-core AVX2 CPU for
4-16 rows (alike for one), and the engine's generation took 0.87x the time
(`benchmarks/decode_speed.py --baseline head`). The values are the same up to float rounding (the sums
run in another order).

`install` swaps the forward of the model's own head module (a shared object: every caller of the
model gets it, with the same results); inputs of more than `SKINNY_ROWS` rows (a prefill computing
every position's logits, a training batch) and weights off the CPU keep `nn.Linear`'s product. Knows
nothing about decoding.
"""

from __future__ import annotations

from typing import Any

import torch

SKINNY_ROWS = 64
"""Inputs with at most this many rows take `W @ h.T`; 0 switches the rewrite off."""


def install(model: Any) -> bool:
    """Compute `model`'s output head as `W @ h.T` for skinny inputs; False when the model has no plain
    linear head (the model is left as it was). Installing twice changes nothing."""
    head = model.get_output_embeddings()
    if type(head) is not torch.nn.Linear:
        return False
    if getattr(head.forward, "skinny", False):
        return True

    def forward(x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // x.shape[-1] if x.shape[-1] else 0
        if not 0 < rows <= SKINNY_ROWS or head.weight.device.type != "cpu":
            return torch.nn.functional.linear(x, head.weight, head.bias)
        out = (head.weight @ x.reshape(rows, x.shape[-1]).T).T
        if head.bias is not None:
            out = out + head.bias
        return out.contiguous().reshape(*x.shape[:-1], head.out_features)

    forward.skinny = True  # type: ignore[attr-defined]
    head.forward = forward  # type: ignore[method-assign,assignment]
    return True
