"""`groundtune quickstart`: the whole job on the sample knowledge base (what `make quickstart` runs)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from groundtune.cli.app import console, handle_errors, progress_bars, stage_bars
from groundtune.models import DEFAULT_LM


@handle_errors
def quickstart_cmd(
    fresh: bool = typer.Option(False, "--fresh", help="Forget earlier results and start over."),
    serve: bool = typer.Option(
        False, "--serve", help="Finish by serving the adapter with the knowledge base."
    ),
    port: int = typer.Option(8000, "--port", help="Port for --serve."),
    model: str = typer.Option(
        DEFAULT_LM, "--model", help="Base model to tune (registry name, path or hub id)."
    ),
    embedder: str = typer.Option("minilm-l6", "--embedder", help="Embedder of the sample knowledge base."),
    max_steps: int | None = typer.Option(
        None, "--max-steps", min=1, help="Cap training steps (default: the recipe's epoch)."
    ),
    max_minutes: float | None = typer.Option(
        None,
        "--max-minutes",
        min=0.1,
        help="Training time budget (default: what is left of the quickstart's 15 minutes, the "
        "evaluation's time kept back; a CPU with native bf16 fits the epoch).",
    ),
    eval_limit: int | None = typer.Option(
        None, "--eval-limit", min=1, help="Score only the first N held-out questions."
    ),
    init_adapter: str | None = typer.Option(
        None,
        "--init-adapter",
        help="Continue training this adapter (a name, a folder, or a shipped one such as the general "
        "grounding adapter) instead of starting a new one.",
    ),
    examples: Path | None = typer.Option(
        None,
        "--examples",
        help="The sample knowledge base folder (default: examples/sample_kb of this checkout).",
    ),
) -> None:
    """Build a KB, build grounded data, fine-tune Gemma 3 270M, prove the lift, show serving."""
    from groundtune.eval.headline import HEADLINE
    from groundtune.pipelines.quickstart import compare, run_quickstart

    with stage_bars() as stage, progress_bars() as bars:
        result = run_quickstart(
            fresh=fresh,
            say=console.print,
            stage=stage,
            eval_progress=bars,
            model=model,
            embedder=embedder,
            train_overrides={
                k: v
                for k, v in (
                    ("max_steps", max_steps),
                    ("max_minutes", max_minutes),
                    ("init_adapter", init_adapter),
                )
                if v
            }
            or None,
            eval_limit=eval_limit,
            examples=examples,
        )

    systems = list(result.table)
    table = Table(
        "capability", *systems, "tuned better?", title="held-out questions (base few-shot vs tuned)"
    )
    marks = {None: "–", "tie": "tie", "yes": "[green]yes[/]", "no": "[red]no[/]"}
    for figure, (_, _, _, verdict) in zip(HEADLINE, compare(result.table), strict=True):
        values = [result.table[s].get(figure.key) for s in systems]
        table.add_row(figure.label, *("–" if v is None else f"{v:.3f}" for v in values), marks[verdict])
    console.print(table)
    console.print(f"report: {result.eval_run / 'report.html'}")
    for row in result.update:
        console.print(f"[bold]Q:[/] {escape(row['question'])}")
        console.print(
            escape(f"  before the update: {row['before']}   (document said: {row['expected_before']})")
        )
        console.print(
            escape(f"  after the update:  {row['after']}   (document says: {row['expected_after']})")
        )
    console.print("time per step: " + ", ".join(f"{k} {v:.0f}s" for k, v in result.seconds.items()))
    console.print(f"serve it:  [bold]{escape(result.serve_command)}[/]")
    if serve:
        from groundtune.serve.server import build_deployment
        from groundtune.serve.server import serve as run_server

        deployment = build_deployment(
            model,
            adapters={"quickstart": str(result.adapter)},
            kb=result.kb,
            calibrations=[result.calibration] if result.calibration else [],
        )
        run_server(deployment, port=port)
