"""A training run's time budget (`max_minutes`): how many steps fit, planned from the steps already timed.

The same recipe takes minutes on a CPU with native bf16 and several times as long on one without; a
budget lets a run (the quickstart's, or a user's "train for at most 20 minutes") fit the machine it
is on. From `PROBE_STEPS` steps on, after every step, the run plans its length at the mean time of the
steps after the first (the first pays one-off costs: allocations, kernel selection), keeping back the
time of the final validation, and the learning-rate schedule is re-planned to end there without a jump
in the rate (`optim.replan`); a shared machine's speed changes as the run goes, and each plan uses
every step timed so far. Before the first plan, a step that would overrun the budget ends the run.
Pure functions: the loop in `trainer` applies them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PROBE_STEPS = 3
# A validation pass runs forward only: about a third of a training step's work per example.
FORWARD_SHARE = 1 / 3


def step_seconds(step_times: Sequence[float]) -> float:
    """The time one more step is expected to take: the mean of the timed steps after the first."""
    if not step_times:
        raise ValueError("no step has been timed yet")
    timed = step_times[1:] or step_times
    return sum(timed) / len(timed)


def validation_seconds(per_step: float, examples_per_step: int, n_validation: int) -> float:
    """The expected time of one validation pass over `n_validation` examples."""
    return per_step * FORWARD_SHARE * n_validation / max(1, examples_per_step)


def planned_steps(
    *, budget_s: float, elapsed_s: float, done: int, total: int, per_step: float, reserve_s: float
) -> int:
    """The step count that ends the run within `budget_s`: the `done` steps plus as many more as fit
    in what is left after `reserve_s`, never more than `total` (what the config asks for) nor fewer
    than `done`."""
    left = budget_s - elapsed_s - reserve_s
    more = math.floor(left / per_step) if per_step > 0 else total - done
    return max(done, min(total, done + max(0, more)))
