"""The training stage's entries: `run(TrainConfig) -> RunManifest` (what `groundtune train run`
does) and `resume(run_id) -> RunManifest` (`groundtune train resume`), reporting one `core.progress`
event per optimizer step with its metrics. `stop()` turning true ends a run at the next step with a
checkpoint and StoppedError. The loop is in `trainer`; torch loads only when a run starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundtune.core.artifacts import RunManifest
from groundtune.core.configs import TrainConfig
from groundtune.core.progress import Progress, ProgressEvent

Callback = Callable[[dict[str, Any]], None]


def run(
    config: TrainConfig,
    *,
    home: str | Path | None = None,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
) -> RunManifest:
    """Train the adapter `config` describes; returns the finished run's manifest (run.json)."""
    from groundtune.train.rundir import read_run
    from groundtune.train.trainer import train

    return read_run(train(config, home=home, callbacks=_callbacks(progress), stop=stop).run_dir)


def resume(
    run_id: str,
    *,
    home: str | Path | None = None,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
) -> RunManifest:
    """Continue a killed or stopped run from its newest checkpoint; returns its manifest."""
    from groundtune.train.rundir import read_run
    from groundtune.train.trainer import resume as resume_run

    return read_run(resume_run(run_id, home=home, callbacks=_callbacks(progress), stop=stop).run_dir)


def _callbacks(progress: Progress | None) -> list[Callback]:
    if progress is None:
        return []
    report = progress

    def step(row: dict[str, Any]) -> None:
        numbers: dict[str, float | int | None] = {
            k: v for k, v in row.items() if isinstance(v, int | float) and k != "total_steps"
        }
        done, total = int(row["step"]), int(row.get("total_steps", 0))
        report(ProgressEvent(stage="train", done=done, total=total, metrics=numbers))

    return [step]
