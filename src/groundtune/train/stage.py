"""The training stage's one entry: `run(TrainConfig) -> RunManifest` (what `groundtune train run`
does), reporting one `core.progress` event per optimizer step with its metrics. The loop is in
`trainer`; torch loads only when a run starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundtune.core.artifacts import RunManifest
from groundtune.core.configs import TrainConfig
from groundtune.core.progress import Progress, ProgressEvent

Callback = Callable[[dict[str, Any]], None]


def run(
    config: TrainConfig, *, home: str | Path | None = None, progress: Progress | None = None
) -> RunManifest:
    """Train the adapter `config` describes; returns the finished run's manifest (run.json)."""
    from groundtune.train.rundir import read_run
    from groundtune.train.trainer import train

    callbacks: list[Callback] = []
    if progress is not None:
        report = progress

        def step(row: dict[str, Any]) -> None:
            numbers: dict[str, float | int | None] = {
                k: v for k, v in row.items() if isinstance(v, int | float) and k != "total_steps"
            }
            done, total = int(row["step"]), int(row.get("total_steps", 0))
            report(ProgressEvent(stage="train", done=done, total=total, metrics=numbers))

        callbacks.append(step)
    return read_run(train(config, home=home, callbacks=callbacks).run_dir)
