"""A knowledge base's settings (`<workspace>/kbs/<name>/kb.json`): embedder, chunking, where the
catalog and index live, and the sparse scheme. Only settings and paths; no I/O beyond kb.json.
"""

from __future__ import annotations

import re
from pathlib import Path

from groundtune.core.configs import KBSettings
from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.workspace import get_workspace

__all__ = ["SETTINGS_FILE", "KBSettings", "check_name", "kb_dir", "load_settings", "save_settings"]

SETTINGS_FILE = "kb.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInputError(
            f"'{name}' is not a valid knowledge base name",
            hint="use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        )
    return name


def kb_dir(name: str, home: str | Path | None = None) -> Path:
    return get_workspace(home).kbs / check_name(name)


def load_settings(name: str, home: str | Path | None = None) -> tuple[Path, KBSettings]:
    path = kb_dir(name, home)
    file = path / SETTINGS_FILE
    if not file.exists():
        raise NotFoundError(
            f"knowledge base '{name}' does not exist", hint=f"create it: groundtune kb create {name}"
        )
    return path, KBSettings.model_validate_json(file.read_text())


def save_settings(path: Path, settings: KBSettings) -> None:
    tmp = path / (SETTINGS_FILE + ".tmp")
    tmp.write_text(settings.model_dump_json(indent=2))
    tmp.replace(path / SETTINGS_FILE)  # atomic: readers never see a half-written file
