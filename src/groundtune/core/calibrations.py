"""Calibration artifacts: an adapter's abstention threshold, fitted on one split of a dataset within
a false-refusal budget, stored once as `<workspace>/calibrations/<name>/calibration.json` (the model: core.artifacts.Calibration).

Evaluation writes them (`groundtune eval calibrate`, `eval run --max-false-refusal`); serving reads
them. A calibration is never rewritten, and writing one never touches the adapter it belongs to, so
evaluating an adapter cannot change how it serves. Pure file access: the numbers come from
`grounding.abstention`.
"""

from __future__ import annotations

import time
from pathlib import Path

from groundtune.core.adapters import AdapterRef
from groundtune.core.artifacts import Calibration, migrate_calibration
from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError
from groundtune.core.jsonfile import read_json, write_json
from groundtune.core.workspace import get_workspace

CALIBRATION_FILE = "calibration.json"
GATE_SPLIT = "train"
"""The split a dataset's answerability gate also fits on, beside the calibration split. The gate's
score is a fixed function of question and documents that no model reads, so the questions a model
was trained on are as good for it as unseen ones, and a few hundred of them fit the gate's
false-refusal quantile far closer than the validation split's few dozen (with 18 answerable items a
10% budget refuses none). The model's own signals (answer uncertainty, the relevance margin over its
Relevant lists) stay on the calibration split: on training questions it answers from memory."""
__all__ = [
    "CALIBRATION_FILE",
    "GATE_SPLIT",
    "Calibration",
    "fitted_on",
    "latest_calibration",
    "list_calibrations",
    "load_calibration",
    "now",
    "write_calibration",
]


def fitted_on(calibration: Calibration) -> str:
    """The splits a calibration was fitted on, for people: `dataset:split`, plus the gate's split
    when its answerability gate decides."""
    also = (
        f" + {GATE_SPLIT}"
        if calibration.signal == "answerability"
        and calibration.gate is not None
        and calibration.split != GATE_SPLIT
        else ""
    )
    return f"{calibration.dataset}:{calibration.split}{also}"


def now() -> str:
    """The `created` stamp: sortable UTC with microseconds, so two calibrations never tie."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def write_calibration(calibration: Calibration, home: str | Path | None = None) -> Path:
    """Store a new calibration; a name already taken is a ConflictError (artifacts are immutable)."""
    name = calibration.name
    if not name or "/" in name or name.startswith("."):
        raise InvalidInputError(
            f"bad calibration name '{name}'", hint="use letters, digits, '-', '_' and '.'"
        )
    folder = get_workspace(home).calibrations / name
    try:
        folder.mkdir()
    except FileExistsError:
        raise ConflictError(
            f"calibration '{name}' already exists",
            hint="pick another --name; calibrations are never rewritten",
        ) from None
    write_json(folder / CALIBRATION_FILE, calibration.model_dump(mode="json"))
    return folder


def list_calibrations(home: str | Path | None = None, adapter: AdapterRef | None = None) -> list[Calibration]:
    """Stored calibrations, oldest first; only `adapter`'s when given."""
    found = []
    for path in get_workspace(home).calibrations.glob(f"*/{CALIBRATION_FILE}"):
        calibration = migrate_calibration(read_json(path))
        if adapter is None or calibration.belongs_to(adapter):
            found.append(calibration)
    return sorted(found, key=lambda c: (c.created, c.name))


def load_calibration(name: str, home: str | Path | None = None) -> Calibration:
    path = get_workspace(home).calibrations / name / CALIBRATION_FILE
    if not path.is_file():
        known = [c.name for c in list_calibrations(home)]
        raise NotFoundError(
            f"no calibration '{name}'",
            hint=f"stored calibrations: {', '.join(known) or 'none yet'}; make one with groundtune eval calibrate",
        )
    return migrate_calibration(read_json(path))


def latest_calibration(adapter: AdapterRef, home: str | Path | None = None) -> Calibration | None:
    """The adapter's newest calibration, or None when it has none."""
    found = list_calibrations(home, adapter)
    return found[-1] if found else None
