"""The self-describing run directory `<workspace>/runs/<run_id>/` and the adapter registry entry.

```
runs/<run_id>/
  config.yaml          resolved TrainConfig (every auto field chosen)
  run.json             manifest: status, versions, model, dataset, grounding format, retriever hash, results
  dataset_card.json    the dataset's card, copied
  prompt_layout.json   the turn layout the prompts were wrapped with
  metrics.jsonl        one row per logged step and per validation
  checkpoints/step-N/  resumable state (see checkpoint.py)
  adapter/             final LoRA adapter (PEFT / vLLM layout) + groundtune-adapter.json
  merged/              full merged weights (only with merge: true)
```
This module reads and writes those files; it does not train.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from groundtune.core.adapters import ADAPTER_MANIFEST
from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.jsonfile import write_json
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


def card_provenance(card: dict[str, Any]) -> dict[str, Any]:
    """Grounding format (style/id + version) and retriever hash as the dataset card states them."""
    grounding = card.get("grounding") or card.get("grounding_format") or {}
    if isinstance(grounding, str):
        grounding = {"style": grounding}
    retriever = card.get("retriever") if isinstance(card.get("retriever"), dict) else {}
    return {
        "grounding_format": grounding.get("style") or grounding.get("id") or card.get("style"),
        "grounding_version": grounding.get("version") or card.get("grounding_version"),
        "grounding": grounding,
        "retriever_hash": card.get("retriever_hash") or (retriever or {}).get("hash"),
        # The resolved retriever settings, so serving can retrieve exactly as the data was built.
        "retriever_config": (retriever or {}).get("config"),
    }


def adapter_manifest(run: dict[str, Any]) -> dict[str, Any]:
    """What serving needs beside the weights: base model, layout, grounding format, retriever hash."""
    keys = (
        "run_id",
        "adapter_name",
        "model",
        "model_path",
        "prompt_layout",
        "grounding_format",
        "grounding_version",
        "grounding",
        "retriever_hash",
        "retriever_config",
        "dataset",
        "groundtune_version",
        "best_val_loss",
    )
    return {k: run.get(k) for k in keys}


def register_adapter(adapter_dir: Path, name: str, ws: Workspace, manifest: dict[str, Any]) -> Path:
    """Copy the final adapter to `<workspace>/adapters/<name>/` (replacing an older one atomically)."""
    if not name or "/" in name or name.startswith("."):
        raise InvalidInputError(f"bad adapter name '{name}'", hint="use letters, digits, '-', '_' and '.'")
    dest = ws.adapters / name
    tmp = ws.adapters / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(adapter_dir, tmp)
    write_json(tmp / ADAPTER_MANIFEST, manifest)
    old = ws.adapters / f".{name}.old-{os.getpid()}"
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest
