"""The workspace: one directory holding the model cache, catalog, indexes, datasets, adapters and runs.

Default `~/.groundtune`; `GROUNDTUNE_HOME` or the CLI's `--home` override it. Only paths live here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "GROUNDTUNE_HOME"


@dataclass(frozen=True)
class Workspace:
    """Paths inside one groundtune home directory (created on first use)."""

    home: Path

    @property
    def models(self) -> Path:
        """Converted model weights (safetensors + tokenizer), one folder per registry name."""
        return self._dir("models")

    @property
    def kbs(self) -> Path:
        """Knowledge bases: one folder per KB with its catalog and local vector index."""
        return self._dir("kbs")

    @property
    def datasets(self) -> Path:
        return self._dir("datasets")

    @property
    def adapters(self) -> Path:
        return self._dir("adapters")

    @property
    def calibrations(self) -> Path:
        """Abstention calibrations, one immutable folder each (`calibration.json`)."""
        return self._dir("calibrations")

    @property
    def runs(self) -> Path:
        """Training runs (checkpoints, metrics) and evaluation runs."""
        return self._dir("runs")

    @property
    def jobs(self) -> Path:
        """Platform jobs' worker logs, one folder per job (`jobs/<job_id>/worker.log`)."""
        return self._dir("jobs")

    @property
    def uploads(self) -> Path:
        """Files sent to the platform API: documents per knowledge base, QA files under `files/`."""
        return self._dir("uploads")

    @property
    def cache(self) -> Path:
        """Scratch caches (teacher responses, intermediate files); safe to delete."""
        return self._dir("cache")

    def _dir(self, name: str) -> Path:
        path = self.home / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def get_workspace(home: str | os.PathLike[str] | None = None) -> Workspace:
    """The workspace for an explicit `home`, else `$GROUNDTUNE_HOME`, else `~/.groundtune`."""
    chosen = home or os.environ.get(HOME_ENV) or Path.home() / ".groundtune"
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return Workspace(path)
