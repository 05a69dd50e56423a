"""AdamW over the LoRA weights and the learning-rate schedule (linear warm-up, then cosine/linear/constant).

The schedule is a pure function of the step and of the run's planned length. A time budget may plan a
shorter run once the first steps are timed (`replan`); the plan is part of the scheduler's saved state,
so a resumed run continues on exactly the same curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass
class Schedule:
    """The learning-rate multiplier of each step. A callable object, not a function, so that torch's
    LambdaLR saves and restores its fields with the scheduler's state (a re-planned `total` survives a
    resume)."""

    total: int
    warmup: int
    kind: str

    def __call__(self, step: int) -> float:
        return lr_factor(step, total=self.total, warmup=self.warmup, schedule=self.kind)


def planned_total(scheduler: Any) -> int:
    """The number of steps the scheduler's curve ends at."""
    schedule: Schedule = scheduler.lr_lambdas[0]
    return schedule.total


def replan(scheduler: Any, total: int) -> None:
    """End the curve at `total` steps from here on (the steps already taken keep their rates)."""
    for schedule in scheduler.lr_lambdas:
        schedule.total = total


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
        optimizer, Schedule(total=total, warmup=warmup, kind=schedule)
    )
    return optimizer, scheduler
