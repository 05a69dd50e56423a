"""Validation: mean completion-token loss (weighted as in training) and next-token accuracy over a
held-out split.

Uses the same supervised-positions-only loss as training, under no_grad, batched by length and
sharded over ranks (sums are all-reduced). It does not decide what to do with the numbers.
"""

from __future__ import annotations

from typing import Any

import torch

from groundtune.train import distributed
from groundtune.train.batching import collate
from groundtune.train.examples import TokenizedExample


def evaluate(
    module: Any,
    examples: list[TokenizedExample],
    *,
    batch_size: int,
    pad_id: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None,
    dist: distributed.Dist,
) -> dict[str, float]:
    """{"val_loss", "val_token_accuracy", "val_tokens"} over all `examples` (every rank returns the same)."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    loss_sum, correct, count, weight = 0.0, 0.0, 0.0, 0.0
    was_training = module.training
    module.eval()
    with torch.no_grad():
        for b in batches[dist.rank :: dist.world]:
            batch = {k: v.to(device) for k, v in collate([examples[i] for i in b], pad_id).items()}
            with torch.autocast(
                device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
            ):
                loss, hits, n, w = module(**batch)
            loss_sum += float(loss)
            correct += float(hits)
            count += n
            weight += w
    module.train(was_training)
    loss_sum, correct, count, weight = distributed.all_reduce_sum([loss_sum, correct, count, weight], dist)
    if count == 0:
        return {}
    return {"val_loss": loss_sum / weight, "val_token_accuracy": correct / count, "val_tokens": count}
