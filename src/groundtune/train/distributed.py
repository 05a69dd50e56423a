"""Data parallelism across processes started by `torchrun` or `accelerate launch`.

Reads the launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK), starts the process group (gloo on
CPUs, nccl on GPUs) and wraps the loss module in DistributedDataParallel. In one process it does
nothing. FSDP and DeepSpeed ZeRO are configured by their launchers (see docs/scaling-out.md); this
module only provides the plain-DDP path that runs on any machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from groundtune.core.errors import InvalidInputError


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env() -> Dist:
    return Dist(
        rank=int(os.environ.get("RANK", "0")),
        world=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def init(dist: Dist, *, backend: str, strategy: str, device: torch.device) -> None:
    """Join the process group when launched with more than one process."""
    if dist.world == 1:
        return
    if strategy != "ddp":
        raise InvalidInputError(
            f"distributed.strategy={strategy} is launched through accelerate with its own config",
            hint="see docs/scaling-out.md; the built-in loop runs strategy=ddp",
        )
    import torch.distributed as tdist

    if not tdist.is_initialized():
        chosen = backend if backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
        tdist.init_process_group(chosen)


def wrap(module: torch.nn.Module, dist: Dist, device: torch.device) -> torch.nn.Module:
    if dist.world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def all_reduce_sum(values: list[float], dist: Dist) -> list[float]:
    """Sum a few numbers (loss, token counts) over ranks, for logging."""
    if dist.world == 1:
        return values
    import torch.distributed as tdist

    t = torch.tensor(values, dtype=torch.float64)
    tdist.all_reduce(t)
    return [float(x) for x in t]


def barrier(dist: Dist) -> None:
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.barrier()


def shutdown(dist: Dist) -> None:
    if dist.world > 1:
        import torch.distributed as tdist

        if tdist.is_initialized():
            tdist.destroy_process_group()


def no_sync(module: torch.nn.Module, skip: bool) -> Any:
    """DDP's no_sync() for all but the last micro-batch of a step (one all-reduce per step)."""
    import contextlib

    from torch.nn.parallel import DistributedDataParallel

    if skip and isinstance(module, DistributedDataParallel):
        return module.no_sync()
    return contextlib.nullcontext()


def broadcast_object(obj: Any, dist: Dist) -> Any:
    """Rank 0's value of `obj` on every rank (e.g. a generated run id)."""
    if dist.world == 1:
        return obj
    import torch.distributed as tdist

    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]
