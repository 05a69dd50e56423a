"""The README's Python tour runs as written, on the tiny models (litgpt's test_readme habit).

The only edits are the ones that swap the embedded Gemma/MiniLM for the tiny test models and keep
training and evaluation short; each is asserted to apply, so a README change cannot skip them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SWAPS = [
    ('embedder="minilm-l6"', 'embedder="tiny-random-minilm"'),
    ('name="manuals", kb="manuals",', 'name="manuals", kb="manuals", lm="tiny-random-gemma3",'),
    (
        '{"dataset": "manuals", "name": "manuals"}',
        '{"dataset": "manuals", "name": "manuals", "model": "tiny-random-gemma3", "max_steps": 2, "progress": False}',
    ),
    (
        'adapters=["manuals"]',
        'adapters=["manuals"], model="tiny-random-gemma3", limit=4, shots=1, max_new_tokens=8',
    ),
]


def python_tour() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks, "the README has no Python tour"
    return blocks[0]


def test_readme_python_tour_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code = python_tour()
    for old, new in SWAPS:
        assert old in code, f"README tour changed: {old!r} not found"
        code = code.replace(old, new)
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.endswith("report.html") and Path(printed).is_file()
    assert Path(os.environ["GROUNDTUNE_HOME"], "adapters", "manuals", "adapter_config.json").is_file()
