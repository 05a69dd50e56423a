"""AdamW over the LoRA weights and the learning-rate schedule (linear warm-up, then cosine/linear/constant).

The schedule is a pure function of the step and of the run's planned length. A time budget re-plans the
length as steps are timed (`replan`): the rest of the curve is stretched or squeezed to end at the new
length, continuing from the rate it had reached, so the rate never jumps. The plan is part of the
scheduler's saved state, so a resumed run continues on exactly the same curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch


def decay_progress(
    step: int, *, total: int, warmup: int, start: int = 0, start_progress: float = 0.0
) -> float:
    """How far the decay has gone at `step` (0-based): 0 before and during warm-up, 1 at `total`. It
    runs from `start_progress` at step `start` (or the end of warm-up, if later): 0 and 0 for a run
    planned once."""
    if step < warmup:
        return 0.0
    begin = max(start, warmup)
    done = (step - begin) / max(1, total - begin)
    return min(1.0, max(0.0, start_progress + (1.0 - start_progress) * done))


def lr_factor(
    step: int, *, total: int, warmup: int, schedule: str, start: int = 0, start_progress: float = 0.0
) -> float:
    """Multiplier of the peak rate at `step` (0-based), warm-up rising linearly from 1/(warmup+1), then
    decaying along `decay_progress`."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant":
        return 1.0
    progress = decay_progress(step, total=total, warmup=warmup, start=start, start_progress=start_progress)
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_steps(total: int, ratio: float, explicit: int | None) -> int:
    return explicit if explicit is not None else round(total * ratio)


@dataclass
class Schedule:
    """The learning-rate multiplier of each step. A callable object, not a function, so that torch's
    LambdaLR saves and restores its fields with the scheduler's state (a re-planned curve survives a
    resume)."""

    total: int
    warmup: int
    kind: str
    start: int = 0
    start_progress: float = 0.0

    def __call__(self, step: int) -> float:
        return lr_factor(
            step, total=self.total, warmup=self.warmup, schedule=self.kind,
            start=self.start, start_progress=self.start_progress,
        )  # fmt: skip

    def progress(self, step: int) -> float:
        return decay_progress(
            step, total=self.total, warmup=self.warmup, start=self.start, start_progress=self.start_progress
        )


def planned_total(scheduler: Any) -> int:
    """The number of steps the scheduler's curve ends at."""
    schedule: Schedule = scheduler.lr_lambdas[0]
    return schedule.total


def replan(scheduler: Any, total: int) -> None:
    """End the curve at `total` steps: from the scheduler's current step on, the rest of the decay is
    stretched or squeezed to finish there, starting from the progress it had reached (no jump)."""
    step = scheduler.last_epoch
    for schedule in scheduler.lr_lambdas:
        schedule.start_progress = schedule.progress(step)
        schedule.start = step
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
