"""The evaluation stage's two entries: `run(EvalConfig) -> EvalReport` (`groundtune eval run`) and
`calibrate(CalibrateConfig) -> Calibration` (`groundtune eval calibrate`), reporting `core.progress`
events. The work is in `eval.run` and `eval.calibration`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groundtune.core.artifacts import Calibration, EvalReport, migrate_eval_report
from groundtune.core.configs import CalibrateConfig, EvalConfig
from groundtune.core.jsonfile import read_json
from groundtune.core.progress import Progress, counters


def run(
    config: EvalConfig,
    *,
    home: str | Path | None = None,
    progress: Progress | None = None,
    backend: Any = None,
    judge: Any = None,
) -> EvalReport:
    """Evaluate base and adapters on every suite; returns the stored report. `backend` and `judge`
    replace the in-process engine (tests, a remote server)."""
    from groundtune.eval.run import run as run_eval

    folder = run_eval(
        config.suites,
        model=config.model,
        adapters=config.adapters,
        shots=config.shots,
        include_zero_shot=config.include_zero_shot,
        limit=config.limit,
        sweeps=config.sweeps,
        style=config.style,
        max_new_tokens=config.max_new_tokens,
        data_dir=Path(config.data_dir) if config.data_dir else None,
        backend=backend,
        judge=judge,
        seed=config.seed,
        home=home,
        progress=counters(progress),
        max_false_refusal=config.max_false_refusal,
    )
    return migrate_eval_report(read_json(folder / "report.json"))


def calibrate(
    config: CalibrateConfig,
    *,
    home: str | Path | None = None,
    progress: Progress | None = None,
    backend: Any = None,
) -> Calibration:
    """Fit the adapter's abstention threshold and store it; returns the calibration."""
    from groundtune.eval.calibration import calibrate_adapter

    return calibrate_adapter(
        config.adapter,
        config.dataset,
        split=config.split,
        max_false_refusal=config.max_false_refusal,
        name=config.name,
        model=config.model,
        max_new_tokens=config.max_new_tokens,
        backend=backend,
        home=home,
        progress=counters(progress),
    )
