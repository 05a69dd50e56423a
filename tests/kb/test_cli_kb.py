"""`groundtune kb …` end to end through the real CLI app (tiny embedder), and a light `kb --help`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from groundtune.cli.main import app


def test_cli_create_add_search_show_remove_reindex(docs_dir: Path) -> None:
    run = CliRunner().invoke
    r = run(app, ["kb", "create", "demo", "--embedder", "tiny-random-minilm", "--chunk-tokens", "64"])
    assert r.exit_code == 0, r.output
    (docs_dir / "bad.txt").write_bytes(b"\xff\xfe")
    r = run(app, ["kb", "add", "demo", str(docs_dir), "--json"])
    assert r.exit_code == 2, r.output  # a file failed: non-zero, though the others are stored
    summary = json.loads(r.stdout[r.stdout.index("{") :])
    assert len(summary["added"]) == 5 and summary["errors"][0]["source"].endswith("bad.txt")
    r = run(app, ["kb", "add", "demo", str(docs_dir)])
    assert r.exit_code == 2 and "unchanged 5" in r.output and "bad.txt" in r.output
    assert "1 input(s) failed; the 5 that could be read are stored" in r.output
    r = run(app, ["kb", "search", "demo", "warranty batteries", "-k", "2", "--json"])
    hits = json.loads(r.stdout)
    assert r.exit_code == 0 and len(hits) == 2 and hits[0]["rank"] == 1
    r = run(app, ["kb", "show", "demo", "--json"])
    assert json.loads(r.stdout)["documents"] == 5
    r = run(app, ["kb", "remove", "demo", "ship-1"])
    assert r.exit_code == 0 and "removed 1" in r.output
    r = run(app, ["kb", "remove", "demo", "nope"])
    assert r.exit_code == 3
    r = run(app, ["kb", "reindex", "demo"])
    assert r.exit_code == 0 and "reindexed" in r.output
    r = run(app, ["kb", "list"])
    assert "demo" in r.output
    r = run(app, ["kb", "search", "missing", "x"])
    assert r.exit_code == 3 and "does not exist" in r.output
    r = run(app, ["kb", "create", "demo2", "--embedder", "tiny-random-minilm", "--chunk-overlap", "999"])
    assert r.exit_code == 2 and "overlap" in r.output


def test_kb_help_is_light() -> None:
    code = (
        "import sys; sys.argv=['groundtune','kb','--help']\nfrom groundtune.cli.main import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print('HEAVY=' + ','.join(m for m in ('torch','numpy','qdrant_client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "reindex" in out and out.rstrip().endswith("HEAVY="), out
