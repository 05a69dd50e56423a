"""Where recipes live: YAML files shipped in `groundtune/core/recipes/` (the repository's top-level
`recipes/` links there). A full recipe has a `data:` section (dataset building) and a `train:`
section (LoRA training); training-only recipes are flat. Each stage reads its own section.
"""

from __future__ import annotations

from pathlib import Path

from groundtune.core.errors import InvalidInputError


def recipes_dir() -> Path:
    """The shipped recipes (package data)."""
    return Path(__file__).resolve().parent / "recipes"


def find_recipe(path: str | Path) -> Path:
    """A recipe file by path, or by the name of a shipped recipe (`default`, `gemma-270m-cpu`)."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    shipped = recipes_dir() / f"{Path(str(path)).stem}.yaml"
    if shipped.is_file():
        return shipped
    names = sorted(q.stem for q in recipes_dir().glob("*.yaml"))
    raise InvalidInputError(
        f"recipe '{path}' is neither a file nor a shipped recipe",
        hint=f"pass a YAML path or one of: {', '.join(names)}",
    )
