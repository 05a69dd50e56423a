"""AdamW over the LoRA weights and the learning-rate schedule (linear warm-up, then cosine/linear/constant).

The schedule is a pure function of the step, so a resumed run continues on exactly the same curve.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def lr_factor(step: int, *, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the peak rate at `step` (0-based), warm-up rising linearly from 1/(warmup+1)."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_steps(total: int, ratio: float, explicit: int | None) -> int:
    return explicit if explicit is not None else round(total * ratio)


def make_optimizer(
    params: list[torch.nn.Parameter],
    *,
    lr: float,
    weight_decay: float,
    total: int,
    warmup: int,
    schedule: str,
) -> tuple[torch.optim.Optimizer, Any]:
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(0.9, 0.999), eps=1e-8)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total=total, warmup=warmup, schedule=schedule)
    )
    return optimizer, scheduler
