"""A pipeline's step state: one JSON file recording each finished step's result, so a re-run skips
what is done. Written atomically (a crash never leaves half a file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class StepState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        tmp.replace(self.path)
