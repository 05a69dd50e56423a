"""The progress `job.wait()` shows: one bar per stage of the job (parse, embed, retrieve, train, ...)
on stderr, drawn from the job's progress events, and only when stderr is a terminal (a script's log
gets no bars). rich loads only when bars are drawn."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from groundtune.core.progress import ProgressEvent

ProgressArg = bool | Callable[[ProgressEvent], None] | None


@contextlib.contextmanager
def progress_sink(progress: ProgressArg) -> Iterator[Callable[[ProgressEvent], None] | None]:
    """`progress`: a callback (used as it is), True (bars), False (nothing) or None (bars on a terminal)."""
    if callable(progress):
        yield progress
        return
    if progress is False or (progress is None and not sys.stderr.isatty()):
        yield None
        return
    bars = _Bars()
    try:
        yield bars
    finally:
        bars.close()


class _Bars:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress: Any = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}", markup=False),
            console=Console(stderr=True),
        )
        self.progress.start()
        self.tasks: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        total = max(event.total, 1)
        loss = event.metrics.get("loss")
        note = f"loss {loss:.4f}" if isinstance(loss, int | float) else ""
        if event.stage not in self.tasks:
            self.tasks[event.stage] = self.progress.add_task(event.stage, total=total, note=note)
        self.progress.update(self.tasks[event.stage], completed=event.done, total=total, note=note)

    def close(self) -> None:
        self.progress.stop()
