"""The CLI's --help and --version must answer without importing torch (light imports at the edges)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
sys.argv = ["groundtune", *{args!r}]
from groundtune.cli.main import app
try:
    app()
except SystemExit as exc:
    code = exc.code
heavy = [m for m in ("torch", "transformers", "qdrant_client", "numpy") if m in sys.modules]
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["models", "--help"], ["jobs", "--help"]])
def test_help_and_version_do_not_import_torch(args: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY=\n" in out or out.rstrip().endswith("HEAVY="), out
    assert ("groundtune" in out.lower()) or ("usage" in out.lower())


def test_console_script_reports_version() -> None:
    from groundtune import __version__

    exe = subprocess.run(
        [sys.executable, "-m", "groundtune.cli", "--version"], capture_output=True, text=True
    )
    assert exe.returncode == 0, exe.stderr
    assert exe.stdout.strip() == f"groundtune {__version__}"
