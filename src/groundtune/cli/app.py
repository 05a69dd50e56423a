"""Shared CLI plumbing: the console, and mapping groundtune errors to messages and exit codes."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console

from groundtune.core.errors import GroundtuneError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Print a GroundtuneError as one red line (problem, then fix) and exit with its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GroundtuneError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}")
            if exc.hint:
                err_console.print(f"[yellow]fix:[/] {exc.hint}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _bar() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
    )


@contextlib.contextmanager
def progress_bars() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Rich progress bars with ETA; yields a factory `(label, total) -> advance(n)` for library hooks.

    Each bar is live only until it completes, so other stages (the trainer's own bar) can draw in
    between without two live displays at once.
    """
    open_bars: list[Any] = []

    def factory(label: str, total: int) -> Callable[[int], None]:
        bar = _bar()
        bar.start()
        open_bars.append(bar)
        task = bar.add_task(label, total=total)

        def advance(n: int) -> None:
            bar.advance(task, n)
            if bar.tasks[0].finished:
                bar.stop()

        return advance

    try:
        yield factory
    finally:
        for bar in open_bars:
            bar.stop()


@contextlib.contextmanager
def stage_bars() -> Iterator[Callable[[str, int, int], None]]:
    """Rich bars driven by library callbacks `(stage, done, total)` (kb ingest, data build, quickstart).

    Each stage gets its own bar, live only until the stage completes, so a stage that draws its own
    progress (training) can run in between.
    """
    bars: dict[str, tuple[Any, Any]] = {}
    try:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bar = _bar()
                bar.start()
                bars[stage] = (bar, bar.add_task(stage, total=max(total, 1)))
            bar, task = bars[stage]
            bar.update(task, completed=done, total=max(total, 1))
            if done >= total:
                bar.stop()

        yield update
    finally:
        for bar, _ in bars.values():
            bar.stop()
