"""Atomic training checkpoints: adapter weights, optimizer, scheduler, RNG states and data position.

A checkpoint is written into a hidden temporary folder, flushed to disk and renamed into place, so a
process killed at any instant leaves either the previous checkpoint or the new one, never half of
one. The data position is the global step: batches are a pure function of (seed, step). This module
does not know how the loop uses what it restores.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

_PREFIX = "step-"


@dataclass
class LoopState:
    """Where the loop is: the next step to run, and the early-stopping bookkeeping."""

    step: int = 0
    supervised_tokens: int = 0
    best_val_loss: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_checkpoint(
    root: Path,
    loop: LoopState,
    *,
    trainable: dict[str, torch.Tensor],
    best_trainable: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    keep: int,
) -> Path:
    """Write `step-NNNNNN/` atomically under `root` and prune older step checkpoints beyond `keep`."""
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{loop.step:06d}"
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in trainable.items()}, tmp / "trainable.safetensors")
    if best_trainable is not None:
        save_file(
            {k: v.cpu().contiguous() for k, v in best_trainable.items()}, tmp / "best_trainable.safetensors"
        )
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state()},
        tmp / "state.pt",
    )
    (tmp / "loop.json").write_text(json.dumps(asdict(loop), indent=2))
    _fsync_tree(tmp)
    if final.exists():  # a re-run of the same step (after a resume): replace it
        shutil.rmtree(final)
    os.replace(tmp, final)
    _prune(root, keep)
    return final


def _prune(root: Path, keep: int) -> None:
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(f".{_PREFIX}*.tmp-*"):
        if not _alive(stale.name.rsplit("-", 1)[-1]):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def list_checkpoints(root: Path) -> list[Path]:
    """Complete step checkpoints, oldest first (temporary folders are never listed)."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX)]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX) :]))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Everything `write_checkpoint` stored, as tensors and dicts (the caller applies them)."""
    from safetensors.torch import load_file

    best = path / "best_trainable.safetensors"
    return {
        "loop": LoopState(**json.loads((path / "loop.json").read_text())),
        "trainable": load_file(path / "trainable.safetensors"),
        "best_trainable": load_file(best) if best.exists() else None,
        **torch.load(path / "state.pt", weights_only=False),
    }
