"""Job kinds: each names a stage's config type and its entry. `validate` turns a JSON config into the
typed one (or an InvalidInputError naming the field), `check_files` is the `validating_files` step,
`run` calls the stage. Stage modules load only when a job runs, so the store and the API stay light.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from groundtune.core.artifacts import JOB_KINDS, Job
from groundtune.core.configs import BuildConfig, CalibrateConfig, EvalConfig, IngestConfig, TrainConfig
from groundtune.core.errors import InvalidInputError, StoppedError
from groundtune.core.progress import Progress, ProgressEvent

CONFIGS: dict[str, type[BaseModel]] = {
    "ingestion": IngestConfig,
    "dataset": BuildConfig,
    "fine_tuning": TrainConfig,
    "evaluation": EvalConfig,
    "calibration": CalibrateConfig,
}
assert set(CONFIGS) == set(JOB_KINDS)


def validate(kind: str, config: dict[str, Any]) -> BaseModel:
    """The typed config of a `kind` job; InvalidInputError naming each bad field otherwise."""
    model = CONFIGS.get(kind)
    if model is None:
        raise InvalidInputError(
            f"unknown job kind '{kind}'", hint=f"use one of {', '.join(JOB_KINDS)}", code="invalid_kind"
        )
    if not isinstance(config, dict):
        raise InvalidInputError(f"a {kind} job's config must be a JSON object", code="invalid_config")
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(
            f"invalid {kind} config: {problems}",
            hint=f"fix the field; {model.__name__} in docs/data-formats.md lists every field",
            code="invalid_config",
        ) from None


def stored(kind: str, config: BaseModel, job_id: str) -> dict[str, Any]:
    """The config as the job records it: every field resolved; a fine-tuning job's run directory is
    named after the job unless the config names one, so a resumed attempt finds its checkpoints."""
    data = config.model_dump(mode="json")
    if kind == "fine_tuning" and not data.get("run_id"):
        data["run_id"] = job_id
    return data


def check_files(kind: str, config: BaseModel) -> list[str]:
    """Problems with the files a config names (missing inputs); empty when all are there."""
    paths: list[str] = []
    if isinstance(config, IngestConfig):
        paths = list(config.inputs)
    elif isinstance(config, BuildConfig):
        paths = [s.path for s in config.sources if s.path and s.kind != "teacher"]
    return [f"{p}: no such file or folder" for p in paths if not Path(p).expanduser().exists()]


def run_dir(job: Job, home: Path) -> Path | None:
    """A fine-tuning job's run directory (None for other kinds)."""
    if job.kind != "fine_tuning":
        return None
    return home / "runs" / str(job.config.get("run_id") or job.id)


def last_checkpoint_step(job: Job, home: Path) -> int | None:
    """The step of a fine-tuning job's newest complete checkpoint, None when it has none."""
    folder = run_dir(job, home)
    if folder is None or not (folder / "checkpoints").is_dir():
        return None
    steps = [
        int(p.name.removeprefix("step-"))
        for p in (folder / "checkpoints").iterdir()
        if p.is_dir() and p.name.startswith("step-") and p.name.removeprefix("step-").isdigit()
    ]
    return max(steps, default=None)


def run(
    job: Job, *, home: Path, progress: Progress, stop: Callable[[], bool]
) -> tuple[BaseModel, str | None]:
    """Run the job's stage; returns its artifact and the name of what it made. `stop()` turning true
    ends the stage at its next step boundary with StoppedError (training saves a checkpoint first)."""
    config = validate(job.kind, job.config)
    if isinstance(config, TrainConfig):
        return _fine_tune(job, config, home=home, progress=progress, stop=stop)

    def checked(event: ProgressEvent) -> None:
        progress(event)
        if stop():
            raise StoppedError(f"{job.kind} job stopped at '{event.stage}' ({event.done}/{event.total})")

    if isinstance(config, IngestConfig):
        from groundtune.kb import stage as kb_stage

        summary = kb_stage.run(config, home=home, progress=checked)
        return summary, config.kb
    if isinstance(config, BuildConfig):
        from groundtune.data import stage as data_stage

        card = data_stage.run(config, home=home, progress=checked)
        return card, card.name
    from groundtune.eval import stage as eval_stage

    if isinstance(config, EvalConfig):
        report = eval_stage.run(config, home=home, progress=checked)
        return report, report.id
    assert isinstance(config, CalibrateConfig)
    calibration = eval_stage.calibrate(config, home=home, progress=checked)
    return calibration, calibration.name


def _fine_tune(
    job: Job, config: TrainConfig, *, home: Path, progress: Progress, stop: Callable[[], bool]
) -> tuple[BaseModel, str | None]:
    from groundtune.train import stage as train_stage

    config = config.model_copy(update={"progress": False})  # no bar: a worker's stderr is a log file
    folder = run_dir(job, home)
    assert folder is not None
    if job.attempts > 1 and (folder / "run.json").is_file():
        manifest = train_stage.resume(folder.name, home=home, progress=progress, stop=stop)
    else:
        manifest = train_stage.run(config, home=home, progress=progress, stop=stop)
    return manifest, manifest.adapter_name
