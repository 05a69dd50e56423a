"""The training loop and the library entry points `train(config)`, `resume(run)` and `show(run)`.

One optimizer step = `grad_accum` micro-batches per rank; the loss is the mean over every supervised
token of the step (across ranks), so DDP with N processes equals one process accumulating N times as
many micro-batches. Dropout is re-seeded from (seed, step, micro-batch), which makes a resumed run
and a multi-process run draw the same masks as the uninterrupted single-process one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from groundtune.core.adapters import ADAPTER_MANIFEST
from groundtune.core.errors import StoppedError
from groundtune.core.jsonfile import write_json
from groundtune.core.workspace import get_workspace
from groundtune.train import adapter, budget, checkpoint, distributed
from groundtune.train.batching import collate, plan_epoch
from groundtune.train.config import TrainConfig, build_config, load_config
from groundtune.train.evaluate import evaluate
from groundtune.train.optim import replan
from groundtune.train.rundir import find_run, read_run, register_adapter, write_run
from groundtune.train.session import Session, open_session
from groundtune.train.tracking import ProgressBar, Trackers, read_metrics

Callback = Callable[[dict[str, Any]], None]
Stop = Callable[[], bool]


@dataclass
class RunResult:
    """What a finished run produced (all paths inside the workspace)."""

    run_id: str
    run_dir: Path
    adapter_dir: Path
    registered_adapter: Path
    steps: int
    train_loss: float | None
    best_val_loss: float | None
    val_token_accuracy: float | None
    stopped_early: bool
    merged_dir: Path | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)


def train(
    config: TrainConfig | dict[str, Any] | str | Path,
    *,
    home: str | Path | None = None,
    callbacks: list[Callback] | None = None,
    stop: Stop | None = None,
) -> RunResult:
    """Run LoRA fine-tuning from a config object, a mapping, or a YAML recipe path. When `stop()`
    turns true (checked after every step) the run saves a checkpoint, records status `stopped` and
    raises StoppedError; `resume` continues it."""
    if isinstance(config, str | Path):
        config = load_config(config)
    elif isinstance(config, dict):
        config = build_config(config)
    ws = get_workspace(home)
    return _run(open_session(config, ws), callbacks or [], stop)


def resume(
    run: str | Path,
    *,
    home: str | Path | None = None,
    callbacks: list[Callback] | None = None,
    stop: Stop | None = None,
) -> RunResult:
    """Continue a run (killed or stopped) from its newest complete checkpoint, with its saved config."""
    ws = get_workspace(home)
    run_dir = find_run(run, ws)
    config = load_config(run_dir / "config.yaml")
    session = open_session(config, ws, resume_dir=run_dir)
    if session.dist.main:
        _set_status(run_dir, "running", error=None)
    return _run(session, callbacks or [], stop)


def show(run: str | Path, *, home: str | Path | None = None) -> dict[str, Any]:
    """A run's manifest, its newest metrics, checkpoints and the files it holds."""
    ws = get_workspace(home)
    run_dir = find_run(run, ws)
    rows = read_metrics(run_dir / "metrics.jsonl")
    train_rows = [r for r in rows if "loss" in r]
    val_rows = [r for r in rows if "val_loss" in r]
    return {
        "run_dir": str(run_dir),
        "manifest": read_run(run_dir).model_dump(mode="json"),
        "last_train": train_rows[-1] if train_rows else None,
        "last_validation": val_rows[-1] if val_rows else None,
        "checkpoints": [p.name for p in checkpoint.list_checkpoints(run_dir / "checkpoints")],
        "files": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")),
    }


def _micro_seed(seed: int, step: int, micro: int) -> int:
    return (seed * 1_000_003 + step * 10_007 + micro) % (2**63)


def _train_step(s: Session, step: int, plan: Any) -> dict[str, float]:
    """One optimizer step on this rank's share of `plan`; returns global sums for logging."""
    config, dist = s.config, s.dist
    micro = plan.for_rank(dist.rank, dist.world)
    scale = dist.world / plan.weight  # DDP averages over ranks: undo it, then (weighted) mean per token
    loss_sum = correct = tokens = 0.0
    for k, indices in enumerate(micro):
        batch = {n: t.to(s.device) for n, t in collate([s.train[i] for i in indices], s.pad_id).items()}
        torch.manual_seed(_micro_seed(config.seed, step, dist.rank + k * dist.world))
        with distributed.no_sync(s.wrapped, skip=k < len(micro) - 1):
            with torch.autocast(
                s.device.type, dtype=s.autocast_dtype or torch.float32, enabled=s.autocast_dtype is not None
            ):
                loss, hits, _, _ = s.wrapped(**batch)
            (loss * scale).backward()
        loss_sum += float(loss.detach())
        correct += float(hits)
        tokens += float(batch["attention_mask"].sum())
    params = [p for p in s.module.parameters() if p.requires_grad]
    grad_norm = float("nan")
    if config.max_grad_norm is not None:
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm))
    s.optimizer.step()
    s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)
    loss_sum, correct, tokens = distributed.all_reduce_sum([loss_sum, correct, tokens], dist)
    return {"loss_sum": loss_sum, "correct": correct, "tokens": tokens, "grad_norm": grad_norm}


def _validate(s: Session, step: int) -> dict[str, float]:
    assert s.config.eval_batch_size is not None
    if not s.validation:
        return {}
    result = evaluate(
        s.module, s.validation, batch_size=s.config.eval_batch_size, pad_id=s.pad_id,
        device=s.device, autocast_dtype=s.autocast_dtype, dist=s.dist,
    )  # fmt: skip
    loop, cfg = s.loop, s.config
    val = result["val_loss"]
    if loop.best_val_loss is None or val < loop.best_val_loss - cfg.early_stopping_min_delta:
        loop.best_val_loss, loop.best_step, loop.evals_without_improvement = val, step, 0
        if cfg.early_stopping_patience is not None:
            s.best_trainable = {
                k: v.detach().clone() for k, v in adapter.trainable_state(s.peft_model).items()
            }
    else:
        loop.evals_without_improvement += 1
        if (
            cfg.early_stopping_patience is not None
            and loop.evals_without_improvement >= cfg.early_stopping_patience
        ):
            loop.stopped_early = True
    return result


def _save(s: Session) -> None:
    if s.dist.main:
        checkpoint.write_checkpoint(
            s.run_dir / "checkpoints", s.loop,
            trainable=adapter.trainable_state(s.peft_model), best_trainable=s.best_trainable,
            optimizer=s.optimizer, scheduler=s.scheduler, keep=s.config.keep_checkpoints,
        )  # fmt: skip
    distributed.barrier(s.dist)


def _run(s: Session, callbacks: list[Callback], stop: Stop | None = None) -> RunResult:
    cfg, loop, main = s.config, s.loop, s.dist.main
    assert cfg.eval_every is not None and cfg.save_every is not None and cfg.grad_accum is not None
    trackers: Trackers | None = None
    bar = ProgressBar(s.total_steps, loop.step, enabled=cfg.progress and main)
    plans: dict[int, list[Any]] = {}
    started, sup_done, last = time.perf_counter(), 0, {}
    step_times: list[float] = []  # this process's steps, for the time budget
    seconds_before = float(loop.extra.get(SECONDS, 0.0))  # training time of earlier processes (resume)
    try:
        if main:
            trackers = Trackers(cfg.report_to, s.run_dir, s.run_id, cfg.model_dump())
        while loop.step < s.total_steps and not loop.stopped_early:
            epoch, index = divmod(loop.step, s.steps_per_epoch)
            if epoch not in plans:
                plans = {
                    epoch: plan_epoch(
                        s.train,
                        cfg.batch_size or 1,
                        s.micro_per_step,
                        cfg.seed,
                        epoch,
                        min_micro=s.dist.world,
                    )
                }
            plan = plans[epoch][index]
            t0 = time.perf_counter()
            out = _train_step(s, loop.step, plan)
            loop.step += 1
            loop.supervised_tokens += plan.n_supervised
            dt = time.perf_counter() - t0
            sup_done += plan.n_supervised
            n_sup = plan.n_supervised
            row: dict[str, Any] = {
                "step": loop.step,
                "epoch": round(loop.step / s.steps_per_epoch, 4),
                "loss": out["loss_sum"] / plan.weight,
                "token_accuracy": out["correct"] / n_sup,
                "lr": s.scheduler.get_last_lr()[0],
                "grad_norm": out["grad_norm"],
                "supervised_tokens": n_sup,
                "tokens": int(out["tokens"]),
                "supervised_tokens_per_s": n_sup / dt,
                "tokens_per_s": out["tokens"] / dt,
                "step_time_s": dt,
                "elapsed_s": time.perf_counter() - started,
            }
            last = row
            bar.update(loop.step, row["loss"], sup_done / (time.perf_counter() - started))
            if cfg.max_minutes is not None:
                step_times.append(dt)
                spent = seconds_before + time.perf_counter() - started
                if _fit_budget(s, cfg.max_minutes * 60, spent, step_times):
                    bar.set_total(s.total_steps)
            is_last = loop.step >= s.total_steps
            if loop.step % cfg.eval_every == 0 or is_last:
                val = _validate(s, loop.step)
                if val:
                    row.update(val)
            if main and (loop.step % cfg.log_every == 0 or is_last or "val_loss" in row):
                s.metrics.append(row)
                if trackers is not None:
                    trackers.log(row)
            for cb in callbacks:
                cb({**row, "total_steps": s.total_steps})
            saved = loop.step % cfg.save_every == 0 or is_last or loop.stopped_early
            loop.extra[SECONDS] = seconds_before + time.perf_counter() - started
            if saved:
                _save(s)
            wants_stop = stop is not None and not is_last and not loop.stopped_early and stop()
            if stop is not None and distributed.broadcast_object(wants_stop, s.dist):  # all ranks alike
                if not saved:
                    _save(s)
                _stopped(s)
        result = _finish(s, last)
    except BaseException as exc:
        if main and not isinstance(exc, StoppedError):
            _set_status(s.run_dir, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        bar.close()
        if trackers is not None:
            trackers.close()
        distributed.shutdown(s.dist)
    return result


def _fit_budget(s: Session, budget_s: float, spent_s: float, step_times: list[float]) -> bool:
    """Apply the time budget after a step. Once `PROBE_STEPS` steps of this process are timed (two
    after a resume: the plan so far was saved), plan the run's length again from what they took and
    re-plan the schedule to end there, keeping back the final validation and `reserve_steps` more
    steps' time; before that, end the run now if the next step and the final validation would overrun
    the budget (the first step's time, one-off costs and all, would inflate the reserve: it waits for
    the plan). True when the run's length changed."""
    loop, cfg = s.loop, s.config
    assert cfg.batch_size is not None
    asked = loop.extra.setdefault(ASKED, s.total_steps)
    per_step = budget.step_seconds(step_times)
    reserve = budget.validation_seconds(per_step, cfg.batch_size * s.micro_per_step, len(s.validation))
    total = s.total_steps
    if len(step_times) >= (2 if loop.extra.get(PLANNED) else budget.PROBE_STEPS):
        loop.extra[PLANNED] = True
        total = budget.planned_steps(
            budget_s=budget_s,
            elapsed_s=spent_s,
            done=loop.step,
            total=asked,
            per_step=per_step,
            reserve_s=reserve + cfg.reserve_steps * per_step,
        )
    elif loop.step < total and spent_s + per_step + reserve > budget_s:
        total = loop.step
    total = distributed.broadcast_object(total, s.dist)  # every rank ends at rank 0's step
    if total == s.total_steps:
        return False
    replan(s.scheduler, total)
    s.total_steps = total
    return True


# LoopState.extra keys: training seconds so far (over resumes), whether the budget has planned the
# run's length, and the step count the config asks for (the most a plan may give)
SECONDS, PLANNED, ASKED = "train_seconds", "budget_planned", "asked_steps"


def _stopped(s: Session) -> None:
    """Record a run stopped on request at a step boundary (its checkpoint is written) and say so."""
    if s.dist.main:
        _set_status(s.run_dir, "stopped")
    raise StoppedError(
        f"training run {s.run_id} stopped at step {s.loop.step} of {s.total_steps}; "
        f"checkpoint step-{s.loop.step:06d} kept",
        hint=f"continue it with `groundtune train resume {s.run_id}`",
    )


def _finish(s: Session, last: dict[str, Any]) -> RunResult:
    cfg, loop = s.config, s.loop
    if cfg.early_stopping_patience is not None and s.best_trainable is not None:
        adapter.load_trainable(s.peft_model, s.best_trainable)
    adapter_dir = s.run_dir / "adapter"
    name = cfg.name or s.run_id
    merged: Path | None = None
    rows = read_metrics(s.run_dir / "metrics.jsonl")
    val_rows = [r for r in rows if "val_loss" in r]
    manifest = s.manifest.model_copy(
        update={
            "status": "succeeded",
            "steps": loop.step,
            "stopped_early": loop.stopped_early,
            "best_val_loss": loop.best_val_loss,
            "best_step": loop.best_step,
            "final_train_loss": last.get("loss") if last else None,
            "final_val_loss": val_rows[-1]["val_loss"] if val_rows else None,
            "final_val_token_accuracy": val_rows[-1]["val_token_accuracy"] if val_rows else None,
            "supervised_tokens": loop.supervised_tokens,
            "total_steps": s.total_steps,
            "unbudgeted_steps": loop.extra[ASKED] if loop.extra.get(ASKED, 0) > s.total_steps else None,
            "train_seconds": loop.extra.get(SECONDS),
            "adapter_dir": str(adapter_dir),
        }
    )
    registered = s.ws.adapters / name
    if s.dist.main:
        adapter.save_adapter(s.peft_model, adapter_dir)
        write_json(adapter_dir / ADAPTER_MANIFEST, manifest.adapter_manifest().model_dump(mode="json"))
        register_adapter(adapter_dir, name, s.ws, manifest.adapter_manifest())
        if cfg.merge:
            from groundtune.models.registry import load_lm

            fresh = load_lm(cfg.model, s.ws.home)
            merged = adapter.merge_export(fresh.model, adapter_dir, s.run_dir / "merged", fresh.tokenizer)
        manifest = manifest.model_copy(
            update={"registered_adapter": str(registered), "merged_dir": str(merged) if merged else None}
        )
        write_run(s.run_dir, manifest)
    distributed.barrier(s.dist)
    return RunResult(
        run_id=s.run_id,
        run_dir=s.run_dir,
        adapter_dir=adapter_dir,
        registered_adapter=registered,
        steps=loop.step,
        train_loss=manifest.final_train_loss,
        best_val_loss=loop.best_val_loss,
        val_token_accuracy=manifest.final_val_token_accuracy,
        stopped_early=loop.stopped_early,
        merged_dir=merged,
        metrics=read_metrics(s.run_dir / "metrics.jsonl"),
    )


def _set_status(run_dir: Path, status: str, **extra: Any) -> None:
    if (run_dir / "run.json").is_file():
        write_run(run_dir, read_run(run_dir).model_copy(update={"status": status, **extra}))
