"""Length-bucketed batches, planned deterministically from (seed, epoch), and their padded tensors.

Each micro-batch is a padded rectangle of similar-length examples, one example per row, so no example
attends to another (the padding mask covers Gemma's sliding and full layers alike). The plan is a pure
function of the seed, so a resumed run or another rank rebuilds exactly the same batches from the
global step alone. It knows nothing about models or optimizers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from groundtune.train.examples import TokenizedExample

# Sorting happens inside windows of this many micro-batches: enough to group similar lengths,
# small enough that the order stays random across the epoch.
_WINDOW_BATCHES = 16


@dataclass(frozen=True)
class Step:
    """The micro-batches (lists of example indices) of one optimizer step, across all ranks."""

    micro_batches: list[list[int]]
    n_supervised: int  # supervised tokens in the whole step
    weight: float  # their summed weights: the loss is the weighted mean over them

    def for_rank(self, rank: int, world: int) -> list[list[int]]:
        return self.micro_batches[rank::world]


def plan_epoch(
    examples: list[TokenizedExample],
    batch_size: int,
    micro_per_step: int,
    seed: int,
    epoch: int,
    *,
    min_micro: int = 1,
) -> list[Step]:
    """Shuffle, bucket by length inside windows, then group micro-batches into steps.

    `micro_per_step` = grad_accum x world size. A trailing step with fewer micro-batches is kept
    (its loss is still the mean over its own tokens) unless it has fewer than `min_micro` (the world
    size: every rank needs at least one micro-batch per step).
    """
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(examples)))
    rng.shuffle(order)
    window = batch_size * _WINDOW_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(examples[i].input_ids))
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    steps = []
    for start in range(0, len(batches), micro_per_step):
        group = batches[start : start + micro_per_step]
        if len(group) < min_micro:
            break
        members = [examples[i] for mb in group for i in mb]
        steps.append(Step(group, sum(e.n_supervised for e in members), sum(e.weight for e in members)))
    return steps


def steps_per_epoch(n_examples: int, batch_size: int, micro_per_step: int, min_micro: int = 1) -> int:
    """How many steps `plan_epoch` makes (the same for every epoch)."""
    full, tail = divmod(math.ceil(n_examples / batch_size), micro_per_step)
    return full + (1 if tail >= max(1, min_micro) else 0)


def collate(examples: list[TokenizedExample], pad_id: int, multiple: int = 8) -> dict[str, Any]:
    """Right-padded `input_ids`/`attention_mask` plus the flat positions whose NEXT token is supervised
    (`positions` index the flattened (batch*time) hidden states), those next tokens (`targets`) and,
    when some example has token weights, their `weights`."""
    import torch

    longest = max(len(e.input_ids) for e in examples)
    width = math.ceil(longest / multiple) * multiple
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    positions: list[int] = []
    targets: list[int] = []
    weighted = any(ex.weights is not None for ex in examples)
    weights: list[float] = []
    for row, ex in enumerate(examples):
        n = len(ex.input_ids)
        ids[row, :n] = torch.tensor(ex.input_ids, dtype=torch.long)
        mask[row, :n] = 1
        # hidden state at t predicts token t+1: supervise t+1 in [n_prompt, n)
        positions.extend(row * width + t for t in range(ex.n_prompt - 1, n - 1))
        targets.extend(ex.input_ids[ex.n_prompt : n])
        if weighted:
            weights.extend(ex.weights if ex.weights is not None else [1.0] * (n - ex.n_prompt))
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "positions": torch.tensor(positions, dtype=torch.long),
        "targets": torch.tensor(targets, dtype=torch.long),
    }
    if weighted:
        batch["weights"] = torch.tensor(weights, dtype=torch.float32)
    return batch
