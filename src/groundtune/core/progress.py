"""The one progress event every stage reports: which stage, how far (done of total), a message and
the latest metrics. The CLI draws it as bars (`cli.app.stage_bars`); a job worker will store it as
job events. A stage's `progress` argument is a `Progress` callback, or None for silence.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field


class ProgressEvent(BaseModel):
    """How far one stage (or one step of it: `parse`, `embed`, `retrieve`, `train`, ...) has come."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field(description="What is progressing, e.g. `embed` or `dataset:qa · tuned`.")
    done: int = Field(ge=0, description="Units finished so far.")
    total: int = Field(ge=0, description="Units in all (0 when unknown).")
    message: str = Field(default="", description="A short human-readable note.")
    metrics: dict[str, float | int | None] = Field(
        default_factory=dict, description="Latest numbers, e.g. a training step's loss."
    )


Progress = Callable[[ProgressEvent], None]


def event(
    stage: str, done: int, total: int, message: str = "", **metrics: float | int | None
) -> ProgressEvent:
    return ProgressEvent(stage=stage, done=done, total=total, message=message, metrics=metrics)


def counters(progress: Progress | None) -> Callable[[str, int], Callable[[int], None]] | None:
    """A `(label, total) -> advance(n)` factory (the evaluation runner's hook) that reports events."""
    if progress is None:
        return None
    report = progress

    def start(label: str, total: int) -> Callable[[int], None]:
        done = [0]
        report(event(label, 0, total))

        def advance(n: int) -> None:
            done[0] += n
            report(event(label, done[0], total))

        return advance

    return start
