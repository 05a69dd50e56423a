"""docs/sdk.md's tour runs as written against a live server on the tiny models (like
tests/test_readme.py for the README): the only edits swap the embedded models for the tiny ones, keep
training and evaluation short and point the client at the test's server; each is asserted to apply."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from groundtune.core.artifacts import EvalReport
from tests.platform.api.live import LivePlatform

ROOT = Path(__file__).resolve().parents[2]

SWAPS = [
    ('Client("http://127.0.0.1:8000")', "Client(URL)"),
    ('embedder="minilm-l6"', 'embedder="tiny-random-minilm"'),
    ('kb="manuals", sources=', 'kb="manuals", lm="tiny-random-gemma3", sources='),
    (
        'create(dataset="manuals", name="manuals")',
        'create(dataset="manuals", name="manuals", model="tiny-random-gemma3", max_steps=2)',
    ),
    (
        'adapters=["manuals"])',
        'adapters=["manuals"], model="tiny-random-gemma3", limit=2, shots=0, max_new_tokens=8)',
    ),
    ('config={"adapters"', 'config={"model": "tiny-random-gemma3", "adapters"'),
    ('Railway?"}])', 'Railway?"}], max_tokens=32)'),
]


def sdk_tour() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "sdk.md").read_text(), re.S)
    assert blocks, "docs/sdk.md has no Python tour"
    return blocks[0]


def test_the_tour_is_ten_lines() -> None:
    lines = [line for line in sdk_tour().splitlines() if line.strip() and not line.startswith("from ")]
    assert len(lines) == 10


def test_sdk_tour_runs_against_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = sdk_tour()
    for old, new in SWAPS:
        assert old in code, f"docs/sdk.md tour changed: {old!r} not found"
        code = code.replace(old, new)
    monkeypatch.chdir(ROOT)
    with LivePlatform(tmp_path / "server") as live:
        scope: dict[str, object] = {"URL": live.url}
        exec(compile(code, "docs/sdk.md", "exec"), scope)
        report = scope["report"]
        assert isinstance(report, EvalReport) and "manuals" in report.suites["dataset:manuals:test"]
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.endswith("]")  # the answer, then its citations (a list; a tiny model may cite none)
