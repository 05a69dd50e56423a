"""`import groundtune`, `import groundtune.sdk` and `from groundtune import Client, AsyncClient` load
neither torch nor transformers (nor any stage beyond core), in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

CHECK = """
import sys
{statement}
heavy = sorted(m for m in ("torch", "transformers", "peft", "qdrant_client", "sqlalchemy", "fastapi") if m in sys.modules)
stages = sorted({{m.split(".")[1] for m in sys.modules if m.startswith("groundtune.") and m.count(".") >= 1}} - {{"core", "sdk"}})
print(heavy, stages)
"""


def _loaded(statement: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(statement=statement)],
        capture_output=True, text=True, check=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return out.stdout.strip()


def test_the_sdk_imports_light() -> None:
    for statement in (
        "import groundtune",
        "import groundtune.sdk",
        "from groundtune import Client, AsyncClient\nClient('http://127.0.0.1:1')",
    ):
        assert _loaded(statement) == "[] []", statement
