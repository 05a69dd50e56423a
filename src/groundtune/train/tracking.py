"""Where training numbers go: `metrics.jsonl` in the run directory, a progress bar (loss, tokens/s,
ETA) on stderr, and MLflow / TensorBoard when requested and installed.

Only the main process reports. This module does not compute any metric itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groundtune.core.errors import UnavailableError
from groundtune.core.jsonl import read_jsonl


class MetricsLog:
    """Append-only JSONL; `truncate_after(step)` drops rows a killed run wrote past its checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, row: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            fh.flush()

    def rows(self) -> list[dict[str, Any]]:
        return read_metrics(self.path)

    def truncate_after(self, step: int) -> None:
        keep = [r for r in self.rows() if r.get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in keep), encoding="utf-8")
        tmp.replace(self.path)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    # skip_bad: a line cut by a kill -9; the resume rewrites the file
    return [row for _, row in read_jsonl(path, skip_bad=True)]


class Trackers:
    """MLflow and/or TensorBoard, each only when named in `report_to`."""

    def __init__(self, names: Sequence[str], run_dir: Path, run_id: str, params: dict[str, Any]) -> None:
        self._tb: Any = None
        self._mlflow: Any = None
        if "tensorboard" in names:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UnavailableError(
                    "report_to includes tensorboard but it is not installed",
                    hint="pip install 'groundtune[tracking]' or drop it from report_to",
                ) from None
            self._tb = SummaryWriter(str(run_dir / "tensorboard"))
        if "mlflow" in names:
            try:
                import mlflow
            except ImportError:
                raise UnavailableError(
                    "report_to includes mlflow but it is not installed",
                    hint="pip install 'groundtune[tracking]' or drop it from report_to",
                ) from None
            self._mlflow = mlflow
            mlflow.start_run(run_name=run_id)
            mlflow.log_params({k: str(v)[:250] for k, v in params.items()})

    def log(self, row: dict[str, Any]) -> None:
        step = int(row["step"])
        values = {k: float(v) for k, v in row.items() if isinstance(v, int | float) and k != "step"}
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(k, v, step)
        if self._mlflow is not None:
            self._mlflow.log_metrics(values, step=step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._mlflow is not None:
            self._mlflow.end_run()


class ProgressBar:
    """A rich progress bar: step, loss, supervised tokens/s and ETA."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self._bar: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[bold]train[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  {task.fields[tps]} tok/s  eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task("", total=total, completed=start, loss="-", tps="-")
        self._bar.start()

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=step, loss=f"{loss:.4f}", tps=f"{tokens_per_s:,.0f}")

    def set_total(self, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
