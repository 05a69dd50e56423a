"""Loading the build configuration (`core.configs.BuildConfig`, re-exported here): its defaults, a
YAML recipe's `data:` section over them, CLI flags over that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groundtune.core.configs import BuildConfig, SourceSpec, TeacherConfig
from groundtune.core.errors import InvalidInputError

__all__ = ["BuildConfig", "SourceSpec", "TeacherConfig", "load_config"]


def load_config(path: str | Path | None = None, **overrides: Any) -> BuildConfig:
    """A BuildConfig from a YAML recipe (optional) with overrides on top; errors name the field."""
    import yaml

    data: dict[str, Any] = {}
    if path:
        from groundtune.core.recipes import find_recipe

        file = find_recipe(path)
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise InvalidInputError(
                f"{file}: a recipe must be a mapping", hint="see docs/data.md for an example"
            )
        data = loaded.get("data", loaded)
    for key, value in overrides.items():
        if value is not None and value != []:
            data[key] = value
    try:
        return BuildConfig.model_validate(data)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise InvalidInputError(
            f"invalid data build config: {' '.join(first[:3])}",
            hint="fix the recipe or the flags (docs/data.md)",
        ) from None
