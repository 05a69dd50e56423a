"""One owner per local-mode KB, tested with two real processes: the second gets a ConflictError
that names the KB, the owner's pid and the fix, and can open the KB once the owner has closed it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from groundtune import kb
from groundtune.core.errors import ConflictError

HOLD = """
import sys
from groundtune import kb
h = kb.open_kb("held")
print("open", flush=True)
sys.stdin.readline()  # hold the KB until the test says so
h.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def test_a_second_process_is_told_who_owns_a_local_kb() -> None:
    kb.create("held", embedder="tiny-random-minilm")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    owner = subprocess.Popen(
        [sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert owner.stdout is not None and owner.stdin is not None
        assert owner.stdout.readline().strip() == "open"
        with pytest.raises(ConflictError) as caught:
            kb.open_kb("held")
        message = str(caught.value)
        assert "knowledge base 'held' is open in another process" in message
        assert f"pid {owner.pid}" in message and "kb reindex held --index-url" in message
        # the CLI says the same, with the conflict exit code, instead of a lock traceback
        from typer.testing import CliRunner

        from groundtune.cli.main import app

        result = CliRunner().invoke(app, ["kb", "search", "held", "warranty"])
        assert result.exit_code == 4 and f"pid {owner.pid}" in result.output

        owner.stdin.write("\n")
        owner.stdin.flush()
        assert owner.stdout.readline().strip() == "closed"
        with kb.open_kb("held") as h:  # the owner closed it: now this process owns it
            assert h.name == "held"
    finally:
        owner.kill()
        owner.wait()
