"""LoRA fine-tuning: a typed config (YAML recipes + overrides), completion-only loss computed at the
supervised positions only, length-bucketed batches, atomic resumable checkpoints, DDP, and adapter
export in the layout PEFT and vLLM load.

`train(config) -> RunResult`, `resume(run)`, `show(run)`. Light to import: torch loads with the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundtune.train.config import LoraSettings, TrainConfig, build_config, load_config

if TYPE_CHECKING:
    from groundtune.train.trainer import RunResult

__all__ = [
    "LoraSettings",
    "RunResult",
    "TrainConfig",
    "build_config",
    "load_config",
    "resume",
    "show",
    "train",
]


def train(config: Any, **kwargs: Any) -> RunResult:
    """Run LoRA fine-tuning (see `groundtune.train.trainer.train`)."""
    from groundtune.train.trainer import train as _train

    return _train(config, **kwargs)


def resume(run: Any, **kwargs: Any) -> RunResult:
    """Continue a killed or stopped run from its newest checkpoint."""
    from groundtune.train.trainer import resume as _resume

    return _resume(run, **kwargs)


def show(run: Any, **kwargs: Any) -> dict[str, Any]:
    """A run's manifest, latest metrics and checkpoints."""
    from groundtune.train.trainer import show as _show

    return _show(run, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "RunResult":
        from groundtune.train.trainer import RunResult

        return RunResult
    raise AttributeError(name)
