"""The import contract: a stage imports `core` and the stages it consumes, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "groundtune"

ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "kb": {"core", "models"},
    "grounding": {"core", "models"},
    "data": {"core", "models", "kb", "grounding"},
    "train": {"core", "models", "grounding", "data"},
    "infer": {"core", "models", "grounding"},
    "eval": {"core", "models", "kb", "grounding", "data", "infer"},
    "serve": {"core", "models", "kb", "grounding", "infer"},
    "sdk": {"core"},
    "platform": {"core", "models", "kb", "grounding", "data", "train", "infer", "eval", "serve"},
    "ui": {"core", "platform"},
    "cli": {
        "core",
        "models",
        "kb",
        "grounding",
        "data",
        "train",
        "infer",
        "eval",
        "serve",
        "platform",
        "sdk",
        "ui",
    },
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "groundtune" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_stage_is_known() -> None:
    stages = {p.name for p in PKG.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert stages <= set(ALLOWED), f"new stage(s) {stages - set(ALLOWED)}: add them to ALLOWED and DESIGN.md"


def test_stages_import_only_what_they_consume() -> None:
    bad = []
    for stage, allowed in ALLOWED.items():
        for path in (PKG / stage).rglob("*.py") if (PKG / stage).exists() else []:
            for dep in _imports(path) - allowed - {stage}:
                if (PKG / dep).is_dir():
                    bad.append(f"{path.relative_to(PKG)} imports groundtune.{dep}")
    assert not bad, "\n".join(bad)
