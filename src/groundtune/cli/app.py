"""Shared CLI plumbing: the console, and mapping groundtune errors to messages and exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
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
