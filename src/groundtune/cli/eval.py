"""`groundtune eval run | calibrate | calibrations | show | report`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from groundtune.cli import remote
from groundtune.cli.app import console, err_console, handle_errors, progress_bars
from groundtune.core.errors import InvalidInputError
from groundtune.eval.headline import FIGURES
from groundtune.grounding.abstention import DEFAULT_MAX_FALSE_REFUSAL
from groundtune.models import DEFAULT_LM

app = typer.Typer(help="Evaluate base vs tuned, capability by capability.", no_args_is_help=True)


def print_report(report: dict[str, Any]) -> None:
    """One capability table per suite, systems as columns; then abstention thresholds and sweeps."""
    from groundtune.grounding.abstention import Abstention

    for suite, by_system in report.get("suites", {}).items():
        table = Table("metric", *map(escape, by_system), title=escape(f"suite {suite}"))
        for figure in FIGURES:
            values = [by_system[s].get(figure.key) for s in by_system]
            if not figure.headline and all(v is None for v in values):
                continue  # a figure of other suites (e.g. injection obeyed)
            table.add_row(figure.label, *("–" if v is None else f"{v:.3f}" for v in values))
        console.print(table)
    stored = report.get("calibrations") or {}
    for system, calibrated in (report.get("abstention") or {}).items():
        line = f"abstention {escape(system)}: {Abstention.model_validate(calibrated).summary()}"
        if system in stored:
            line += f" — stored as calibration [bold]{escape(stored[system])}[/]"
        console.print(line)
    for system, values in (report.get("sweeps") or {}).items():
        console.print(f"sweep {system}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(values.items())))


@app.command("run")
@handle_errors
def run_cmd(
    suite: list[str] = typer.Option(
        ...,
        "--suite",
        help="dataset:NAME[:SPLIT], hotpotqa, rgb-counterfactual, mtrag-un, or injection[:dataset:NAME[:SPLIT]] "
        "(held-out items with an instruction planted in a document: HotpotQA's held-out part, or the dataset's "
        "test or validation split; scored by injection obeyed) (repeatable).",
    ),
    model: str = typer.Option(DEFAULT_LM, "--model", help="Base model: registry name, path or hub id."),
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
    max_false_refusal: float | None = typer.Option(
        None,
        "--max-false-refusal",
        min=0.0,
        max=0.99,
        help="Calibrate each system's abstention on the dataset's validation split, refusing at most this share "
        "of answerable items (e.g. 0.1); each adapter's threshold is stored as a calibration for serving.",
    ),
    abstain: float | None = typer.Option(
        None, "--abstain", min=0.0, max=0.99, hidden=True, help="Deprecated name of --max-false-refusal."
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

    if abstain is not None:
        err_console.print("[yellow]--abstain is deprecated: use --max-false-refusal[/]")
        max_false_refusal = abstain if max_false_refusal is None else max_false_refusal
    if remote.server():
        if judge_url or not constrained:
            raise InvalidInputError(
                "--judge-url and --no-constrained are not part of an evaluation job's config",
                hint="drop them with --server, or run the evaluation here",
            )
        client = remote.client()
        config = {
            "suites": suite, "model": model, "adapters": adapter, "shots": shots, "limit": limit, "sweeps": sweeps,
            "style": style, "max_new_tokens": max_tokens, "data_dir": str(data_dir) if data_dir else None,
            "max_false_refusal": max_false_refusal,
        }  # fmt: skip
        job = remote.wait(client.evaluations.create(config))
        print_report(job.artifact().model_dump(mode="json"))
        page = f"{client.base_url}/v1/evaluations/{job.resource}/report.html"
        console.print(f"[green]report:[/] {page}  (run id {job.resource})")
        return
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
            max_false_refusal=max_false_refusal,
            constrained=constrained,
        )
    print_report(show(run_dir))
    console.print(f"[green]report:[/] {run_dir / 'report.html'}  (run id {run_dir.name})")


@app.command("calibrate")
@handle_errors
def calibrate_cmd(
    adapter: str = typer.Option(..., "--adapter", help="Adapter name or folder to calibrate."),
    dataset: str = typer.Option(
        ..., "--dataset", help="Dataset whose labelled split the threshold is fitted on."
    ),
    split: str = typer.Option(
        "validation",
        "--split",
        help="Split to fit on (never the one you will score); an answerability gate also fits on train.",
    ),
    max_false_refusal: float = typer.Option(
        DEFAULT_MAX_FALSE_REFUSAL,
        "--max-false-refusal",
        min=0.0,
        max=0.99,
        help="Refuse at most this share of answerable items.",
    ),
    name: str | None = typer.Option(None, "--name", help="Calibration name (default: a new cal_… id)."),
    model: str | None = typer.Option(None, "--model", help="Base model (default: the adapter's own)."),
    max_tokens: int = typer.Option(160, "--max-tokens", min=1, max=2048),
) -> None:
    """Fit an adapter's abstention threshold and store it as a calibration (`serve --calibration NAME`)."""
    from groundtune.grounding.abstention import Abstention

    if remote.server():
        job = remote.client().calibrations.create(
            adapter=adapter, dataset=dataset, split=split, max_false_refusal=max_false_refusal, name=name,
            model=model, max_new_tokens=max_tokens,
        )  # fmt: skip
        calibration = remote.wait(job).artifact()
    else:
        from groundtune.eval.calibration import calibrate_adapter

        with progress_bars() as bars:
            calibration = calibrate_adapter(
                adapter,
                dataset,
                split=split,
                max_false_refusal=max_false_refusal,
                name=name,
                model=model,
                max_new_tokens=max_tokens,
                progress=bars,
            )
    summary = Abstention.model_validate(calibration.model_dump()).summary()
    console.print(
        f"calibration [bold]{escape(calibration.name)}[/] of adapter {escape(calibration.adapter)}: {summary}"
    )
    console.print(
        f"serve with it: groundtune serve --adapter {escape(calibration.adapter)} --calibration {escape(calibration.name)}"
    )


@app.command("calibrations")
@handle_errors
def calibrations_cmd(
    adapter: str | None = typer.Option(None, "--adapter", help="Only this adapter's calibrations."),
) -> None:
    """List stored calibrations, oldest first."""
    if remote.server():
        client = remote.client()
        names = [adapter] if adapter else [a.id for a in client.adapters.list(limit=100)]
        found = [c for n in names for c in client.adapters.list_calibrations(n, limit=100)]
    else:
        from groundtune.core.adapters import resolve_adapter
        from groundtune.core.calibrations import list_calibrations

        ref = resolve_adapter(adapter) if adapter else None
        found = list_calibrations(adapter=ref)
    from groundtune.core.calibrations import fitted_on
    from groundtune.grounding.abstention import has_gate

    for c in found:
        threshold = (
            f"answerability gate {c.gate:.3f}"
            if has_gate(c)
            else "never abstains"
            if c.threshold is None
            else f"threshold {c.threshold:.3f}"
        )
        console.print(
            f"[bold]{escape(c.name)}[/]  adapter {escape(c.adapter)}, fitted on {escape(fitted_on(c))}"
            f" with a {c.max_false_refusal:.0%} budget: {threshold}, "
            f"false refusals {c.false_refusal:.0%}  ({c.created[:19]})"
        )
    if not found:
        console.print("no calibrations yet: groundtune eval calibrate --adapter NAME --dataset NAME")


@app.command("show")
@handle_errors
def show_cmd(run: str = typer.Argument(..., help="Evaluation run id or folder.")) -> None:
    """Print an evaluation run's capability tables."""
    if remote.server():
        print_report(remote.client().evaluations.retrieve(run).model_dump(mode="json"))
        return
    from groundtune.eval.run import show

    print_report(show(run))


@app.command("report")
@handle_errors
def report_cmd(run: str = typer.Argument(..., help="Evaluation run id or folder.")) -> None:
    """Re-render the run's self-contained HTML report and print its path (its URL with --server)."""
    if remote.server():
        client = remote.client()
        client.evaluations.retrieve(run)  # a missing run is an error, not a dead link
        console.print(f"{client.base_url}/v1/evaluations/{run}/report.html")
        return
    from groundtune.eval.run import report

    console.print(str(report(run)))
