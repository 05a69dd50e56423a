"""The self-describing run directory `<workspace>/runs/<run_id>/` and the adapter registry entry.

```
runs/<run_id>/
  config.yaml          resolved TrainConfig (every auto field chosen)
  run.json             manifest (core.artifacts.RunManifest): status, versions, model, dataset,
                       grounding format, retriever, results
  dataset_card.json    the dataset's card, copied
  prompt_layout.json   the turn layout the prompts were wrapped with
  metrics.jsonl        one row per logged step and per validation
  checkpoints/step-N/  resumable state (see checkpoint.py)
  adapter/             final LoRA adapter (PEFT / vLLM layout) + groundtune-adapter.json (AdapterManifest)
  merged/              full merged weights (only with merge: true)
```
This module reads and writes those files; it does not train.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from groundtune.core.adapters import ADAPTER_MANIFEST
from groundtune.core.artifacts import AdapterManifest, RunManifest, migrate_run
from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.jsonfile import read_json, write_json
from groundtune.core.workspace import Workspace

RUN_FILES = ("config.yaml", "run.json", "dataset_card.json", "prompt_layout.json", "metrics.jsonl")


def find_run(run: str | Path, ws: Workspace) -> Path:
    """A run by id (`<workspace>/runs/<id>`) or by directory path."""
    candidate = ws.runs / str(run)
    path = candidate if candidate.is_dir() else Path(run).expanduser()
    if not (path / "run.json").is_file():
        known = sorted(p.name for p in ws.runs.iterdir() if (p / "run.json").is_file())[-5:]
        raise NotFoundError(
            f"no training run '{run}'",
            hint=f"pass a run id from {ws.runs} ({', '.join(known) or 'none yet'}) or a run directory",
        )
    return path.resolve()


def register_adapter(adapter_dir: Path, name: str, ws: Workspace, manifest: AdapterManifest) -> Path:
    """Copy the final adapter to `<workspace>/adapters/<name>/` (replacing an older one atomically)."""
    if not name or "/" in name or name.startswith("."):
        raise InvalidInputError(f"bad adapter name '{name}'", hint="use letters, digits, '-', '_' and '.'")
    dest = ws.adapters / name
    tmp = ws.adapters / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(adapter_dir, tmp)
    write_json(tmp / ADAPTER_MANIFEST, manifest.model_dump(mode="json"))
    old = ws.adapters / f".{name}.old-{os.getpid()}"
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def read_run(run_dir: Path) -> RunManifest:
    """A run's manifest, of any shape groundtune wrote."""
    path = run_dir / "run.json"
    if not path.is_file():
        raise NotFoundError(f"{run_dir} has no run.json", hint="pass the directory of a training run")
    return migrate_run(read_json(path))


def write_run(run_dir: Path, manifest: RunManifest) -> None:
    write_json(run_dir / "run.json", manifest.model_dump(mode="json"))
