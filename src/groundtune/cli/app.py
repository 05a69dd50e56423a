"""Shared CLI plumbing: the console, quiet libraries, and mapping groundtune errors to messages and
exit codes."""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console

from groundtune.core.errors import GroundtuneError
from groundtune.core.progress import ProgressEvent

# emoji=False: a user's name such as `fire` must print as written, not as :fire: turned into 🔥
# (user strings also go through rich.markup.escape where they are printed).
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

VERBOSE_ENV = "GROUNDTUNE_VERBOSE"
# Libraries whose deprecation notices are about their own internals, not about anything the user did.
_LIBRARIES = r"(transformers|peft|torch|accelerate|huggingface_hub|tokenizers)(\.|$)"


def quiet_libraries() -> None:
    """Show groundtune's own progress and results, not the libraries' chatter: no transformers
    "Loading weights" bars (one per model load, i.e. at every step), no FutureWarnings or
    DeprecationWarnings raised inside the libraries, transformers' log at error level. Warnings
    that concern the user's own input still show. `GROUNDTUNE_VERBOSE=1` or an explicit
    `PYTHONWARNINGS` keeps everything. Environment only, so `--help` stays light."""
    if os.environ.get(VERBOSE_ENV) or os.environ.get("PYTHONWARNINGS"):
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' tqdm bars follow it
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=_LIBRARIES)


F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Print a GroundtuneError as one red line (problem, then fix) and exit with its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GroundtuneError as exc:
            from rich.markup import escape

            err_console.print(f"[bold red]error:[/] {exc.message}")
            if exc.hint:
                err_console.print(f"[yellow]fix:[/] {exc.hint}")
            for item in exc.details or []:  # a server's per-item reasons (files of an upload)
                where = item.get("filename") or item.get("source") or ""
                err_console.print(
                    f"  [red]✗[/] {escape(str(where))}: {escape(str(item.get('reason') or item))}"
                )
            if exc.request_id:
                err_console.print(f"[dim]request id {exc.request_id}[/]", highlight=False)
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
        # Descriptions carry user names (datasets, systems, files): plain text, never markup or
        # emoji codes (a dataset named `fire` would show as 🔥).
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
    )


def _stop(bar: Any) -> None:
    """Stop a bar still live; stopping a stopped one prints a blank line (one per bar at the end)."""
    if bar.live.is_started:
        bar.stop()


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
            _stop(bar)


@contextlib.contextmanager
def stage_bars() -> Iterator[Callable[[ProgressEvent], None]]:
    """Rich bars drawn from a stage's progress events (kb ingest, data build, quickstart).

    Each stage gets its own bar, live only until the stage completes, so a stage that draws its own
    progress (training) can run in between.
    """
    bars: dict[str, tuple[Any, Any]] = {}
    try:

        def update(e: ProgressEvent) -> None:
            stage, done, total = e.stage, e.done, e.total
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
            _stop(bar)
