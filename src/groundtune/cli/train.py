"""`groundtune train run | resume | show`: a thin table over `groundtune.train`."""

from __future__ import annotations

import json
from typing import Any

import typer

from groundtune.cli import remote
from groundtune.cli.app import console, handle_errors

app = typer.Typer(
    help="LoRA fine-tuning: run a recipe, resume a killed run, show a run.", no_args_is_help=True
)

# Flag -> config key. Anything else goes through --set key=value (dotted keys reach nested fields).
_FLAGS = {
    "dataset": "dataset",
    "model": "model",
    "name": "name",
    "run_id": "run_id",
    "max_steps": "max_steps",
    "max_minutes": "max_minutes",
    "epochs": "epochs",
    "lr": "lr",
    "batch_size": "batch_size",
    "grad_accum": "grad_accum",
    "lora_r": "lora.r",
    "lora_alpha": "lora.alpha",
    "precision": "precision",
    "seed": "seed",
    "save_every": "save_every",
    "eval_every": "eval_every",
    "merge": "merge",
}


@app.command("run")
@handle_errors
def run_cmd(
    config: str = typer.Argument(
        None, help="YAML recipe path or shipped recipe name (e.g. gemma-270m-cpu); omit to use flags only."
    ),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Dataset name or directory."),
    model: str | None = typer.Option(None, "--model", "-m", help="Registry name, path or hub id."),
    name: str | None = typer.Option(None, "--name", help="Adapter name under <workspace>/adapters."),
    run_id: str | None = typer.Option(None, "--run-id", help="Run directory name."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1),
    max_minutes: float | None = typer.Option(
        None, "--max-minutes", min=0.1, help="Time budget: train as many steps as fit (see docs/train.md)."
    ),
    epochs: float | None = typer.Option(None, "--epochs"),
    lr: float | None = typer.Option(None, "--lr"),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1),
    grad_accum: int | None = typer.Option(None, "--grad-accum", min=1),
    lora_r: int | None = typer.Option(None, "--lora-r", min=1),
    lora_alpha: float | None = typer.Option(None, "--lora-alpha"),
    precision: str | None = typer.Option(None, "--precision", help="auto, bf16 or fp32."),
    seed: int | None = typer.Option(None, "--seed"),
    save_every: int | None = typer.Option(None, "--save-every", min=1),
    eval_every: int | None = typer.Option(None, "--eval-every", min=1),
    merge: bool | None = typer.Option(None, "--merge/--no-merge", help="Also export merged weights."),
    set_: list[str] = typer.Option([], "--set", help="Any config field: key=value (e.g. lora.dropout=0)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the config (before per-model defaults) and exit."
    ),
) -> None:
    """Train a LoRA adapter. Config flows: defaults -> recipe -> flags -> --set."""
    from groundtune.train.config import build_config, load_config, parse_override

    flags: dict[str, Any] = {
        "dataset": dataset, "model": model, "name": name, "run_id": run_id, "max_steps": max_steps,
        "max_minutes": max_minutes, "epochs": epochs, "lr": lr, "batch_size": batch_size,
        "grad_accum": grad_accum, "lora_r": lora_r, "lora_alpha": lora_alpha, "precision": precision,
        "seed": seed, "save_every": save_every, "eval_every": eval_every, "merge": merge,
    }  # fmt: skip
    overrides = {_FLAGS[k]: v for k, v in flags.items() if v is not None}
    overrides.update(dict(parse_override(s) for s in set_))
    cfg = load_config(config, overrides) if config else build_config({}, overrides)
    if dry_run:
        console.print_json(json.dumps(cfg.model_dump(mode="json")))
        return
    if remote.server():
        client = remote.client()
        job = remote.wait(client.fine_tuning.jobs.create(cfg))
        run = job.artifact()
        _print_run(run.run_id, run.steps, run.final_train_loss, run.best_val_loss,
                   run.final_val_token_accuracy, job.resource,
                   f"{client.base_url}/v1/fine_tuning/jobs/{job.id}")  # fmt: skip
        return
    from groundtune.train import train

    result = train(cfg)
    _print_result(result)


@app.command("resume")
@handle_errors
def resume_cmd(
    run: str = typer.Argument(..., help="Run id (under <workspace>/runs) or run directory."),
) -> None:
    """Continue a killed or stopped run from its newest checkpoint."""
    remote.local_only("train resume", "a server resumes a lost job itself; create a new job to go on")
    from groundtune.train import resume

    _print_result(resume(run))


@app.command("show")
@handle_errors
def show_cmd(
    run: str = typer.Argument(..., help="Run id or run directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the full summary as JSON."),
) -> None:
    """A run's status, data, latest metrics, checkpoints and outputs."""
    remote.local_only("train show", "use `groundtune jobs show JOB` and `groundtune jobs events JOB`")
    from groundtune.train import show

    info = show(run)
    if as_json:
        console.print_json(json.dumps(info, default=str))
        return
    m = info["manifest"]
    console.print(f"[bold]{m.get('run_id')}[/]  status [bold]{m.get('status')}[/]  model {m.get('model')}")
    console.print(
        f"dataset {m.get('dataset')}  grounding {(m.get('grounding') or {}).get('style')} "
        f"v{(m.get('grounding') or {}).get('version')}  retriever {(m.get('retriever') or {}).get('hash')}"
    )
    steps = info["last_train"]["step"] if info["last_train"] else 0
    console.print(
        f"steps {steps}/{m.get('total_steps')}  checkpoints {', '.join(info['checkpoints']) or '-'}"
    )
    if info["last_train"]:
        t = info["last_train"]
        console.print(f"train loss {t['loss']:.4f}  token acc {t['token_accuracy']:.3f}")
    if info["last_validation"]:
        v = info["last_validation"]
        console.print(f"val loss {v['val_loss']:.4f}  val token acc {v['val_token_accuracy']:.3f}")
    if m.get("registered_adapter"):
        console.print(f"adapter {m['registered_adapter']}")


def _print_result(result: Any) -> None:
    _print_run(result.run_id, result.steps, result.train_loss, result.best_val_loss,
               result.val_token_accuracy, result.registered_adapter, result.run_dir)  # fmt: skip


def _print_run(
    run_id: str, steps: Any, train_loss: float | None, best_val_loss: float | None,
    val_token_accuracy: float | None, adapter: str | None, run_dir: Any,
) -> None:  # fmt: skip
    console.print(f"[green]done:[/] run {run_id} ({steps} steps)")
    if train_loss is not None:
        console.print(f"train loss {train_loss:.4f}")
    if best_val_loss is not None:
        console.print(f"best val loss {best_val_loss:.4f}  val token acc {val_token_accuracy or 0:.3f}")
    console.print(f"adapter {adapter}")
    console.print(f"run dir {run_dir}")
