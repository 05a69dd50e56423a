"""`groundtune eval run | show | report`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from groundtune.cli.app import console, handle_errors, progress_bars

app = typer.Typer(help="Evaluate base vs tuned, capability by capability.", no_args_is_help=True)

TABLE_METRICS = [
    ("relevance F1", "relevance_f1"),
    ("gold doc named", "relevance_gold_named"),
    ("quote validity", "quote_validity"),
    ("answer F1", "answer_f1"),
    ("answer containment", "answer_containment"),
    ("citation precision", "citation_precision"),
    ("refusal F1", "refusal_f1"),
    ("false refusals", "false_refusal_rate"),
    ("format ok", "format_ok"),
]


def print_report(report: dict[str, Any]) -> None:
    """One capability table per suite, systems as columns; then abstention thresholds and sweeps."""
    from groundtune.grounding.abstention import Abstention

    for suite, by_system in report.get("suites", {}).items():
        table = Table("metric", *by_system, title=f"suite {suite}")
        for label, key in TABLE_METRICS:
            values = [by_system[s].get(key) for s in by_system]
            table.add_row(label, *("–" if v is None else f"{v:.3f}" for v in values))
        console.print(table)
    for system, calibrated in (report.get("abstention") or {}).items():
        console.print(f"abstention {system}: {Abstention.model_validate(calibrated).summary()}")
    for system, values in (report.get("sweeps") or {}).items():
        console.print(f"sweep {system}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(values.items())))


@app.command("run")
@handle_errors
def run_cmd(
    suite: list[str] = typer.Option(
        ..., "--suite", help="dataset:NAME[:SPLIT], hotpotqa, rgb-counterfactual or mtrag-un (repeatable)."
    ),
    model: str = typer.Option("gemma-3-270m", "--model", help="Base model: registry name, path or hub id."),
    adapter: list[str] = typer.Option(
        [], "--adapter", help="Adapter name or folder to compare (repeatable)."
    ),
    shots: int = typer.Option(
        2, "--shots", min=0, max=8, help="Demonstrations for the base few-shot system (0: none)."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score at most this many items per suite."),
    sweeps: bool = typer.Option(
        False, "--sweeps", help="Also sweep distractor count and relevant-document position."
    ),
    style: str | None = typer.Option(None, "--style", help="Grounding style (default: the adapters' own)."),
    max_tokens: int = typer.Option(160, "--max-tokens", min=1, max=2048),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder of public datasets (default ../shared/data)."
    ),
    judge_url: str | None = typer.Option(
        None, "--judge-url", help="OpenAI-compatible endpoint of a judge model (off by default)."
    ),
    judge_model: str = typer.Option("default", "--judge-model", help="Judge model name at --judge-url."),
    judge_api_key: str | None = typer.Option(None, "--judge-api-key", envvar="GROUNDTUNE_JUDGE_API_KEY"),
    abstain: float | None = typer.Option(
        None,
        "--abstain",
        min=0.0,
        max=0.99,
        help="Calibrate each system's abstention on the dataset's validation split, refusing at most this share "
        "of answerable items (e.g. 0.1); adapters keep their threshold for serving.",
    ),
    constrained: bool = typer.Option(
        True,
        "--constrained/--no-constrained",
        help="Decode within the grounding grammar: quotes verbatim from their document, only prompt "
        "documents named (styles cited and answer-only, in-process engine).",
    ),
) -> None:
    """Run base zero-shot, base few-shot and each adapter on identical prompts; write JSON + HTML."""
    from groundtune.eval.run import run, show

    judge = None
    if judge_url:
        from groundtune.infer import OpenAIBackend

        judge = OpenAIBackend(judge_url, api_key=judge_api_key, model=judge_model)
    with progress_bars() as bars:
        run_dir = run(
            suite,
            model=model,
            adapters=adapter,
            shots=shots,
            limit=limit,
            sweeps=sweeps,
            style=style,
            max_new_tokens=max_tokens,
            data_dir=data_dir,
            judge=judge,
            progress=bars,
            abstain=abstain,
            constrained=constrained,
        )
    print_report(show(run_dir))
    console.print(f"[green]report:[/] {run_dir / 'report.html'}  (run id {run_dir.name})")


@app.command("show")
@handle_errors
def show_cmd(run: str = typer.Argument(..., help="Evaluation run id or folder.")) -> None:
    """Print an evaluation run's capability tables."""
    from groundtune.eval.run import show

    print_report(show(run))


@app.command("report")
@handle_errors
def report_cmd(run: str = typer.Argument(..., help="Evaluation run id or folder.")) -> None:
    """Re-render the run's self-contained HTML report and print its path."""
    from groundtune.eval.run import report

    console.print(str(report(run)))
