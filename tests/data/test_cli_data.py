"""`groundtune data build | show | export | preview` over a real tiny knowledge base."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from groundtune import kb as kb_api
from groundtune.cli.main import app
from groundtune.core.workspace import get_workspace
from groundtune.data import write_qa_file
from groundtune.data.synthetic import make_synthetic_qa

runner = CliRunner()


def test_data_commands(tmp_path: Path) -> None:
    data = make_synthetic_qa(30, seed=2)
    kb_api.create("cli-kb", embedder="tiny-random-minilm")
    kb_api.add("cli-kb", data.corpus)
    qa = write_qa_file(data.pairs, tmp_path / "qa.jsonl")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("data:\n  k: 3\n  oracle_fraction: 0.5\n  lm: tiny-random-gemma3\n  max_tokens: 2048\n")

    res = runner.invoke(
        app,
        [
            "data",
            "build",
            "--name",
            "ds1",
            "--kb",
            "cli-kb",
            "--qa",
            str(qa),
            "--config",
            str(recipe),
            "-p",
            "0.9",
            "--contrast-fraction",
            "0.5",
            "--seed",
            "5",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "verified quote" in res.output and "saved:" in res.output

    res = runner.invoke(app, ["data", "show"])
    assert res.exit_code == 0 and "ds1" in res.output
    res = runner.invoke(app, ["data", "show", "ds1"])
    assert res.exit_code == 0 and "k=3" in res.output and "P=0.9" in res.output
    card = json.loads((get_workspace().datasets / "ds1" / "card.json").read_text())
    assert card["config"]["contrast_fraction"] == 0.5

    out = tmp_path / "exp"
    res = runner.invoke(app, ["data", "export", "ds1", "--out", str(out), "--format", "chat"])
    assert res.exit_code == 0, res.output
    line = json.loads((out / "chat.train.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in line["messages"]] == ["user", "assistant"]

    res = runner.invoke(app, ["data", "preview", "ds1", "--index", "0"])
    assert res.exit_code == 0, res.output
    assert "Question:" in res.output and ("RELEVANT" in res.output or "distractor" in res.output)
    assert "trained tokens" in res.output

    # Errors name the problem and the fix, and exit with the error's code.
    res = runner.invoke(
        app, ["data", "build", "--name", "ds1", "--kb", "cli-kb", "--qa", str(qa), "--config", str(recipe)]
    )
    assert res.exit_code == 4 and "already exists" in res.output and "--overwrite" in res.output
    res = runner.invoke(app, ["data", "build", "--name", "ds2", "--kb", "cli-kb", "--qa", str(qa), "-k", "0"])
    assert res.exit_code == 2 and "invalid data build config" in res.output
    res = runner.invoke(app, ["data", "preview", "nope"])
    assert res.exit_code == 3 and "not found" in res.output


def test_data_corpus_writes_public_corpus_records(tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "nq"
    folder.mkdir()
    with gzip.open(folder / "nq-open-oracle.jsonl.gz", "wt") as fh:
        for i in range(3):
            ctx = {
                "id": str(100 + i),
                "title": f"T{i}",
                "text": f"Passage {i}.",
                "isgold": True,
                "hasanswer": True,
            }
            fh.write(json.dumps({"question": f"q{i}", "answers": [f"a{i}"], "ctxs": [ctx]}) + "\n")
    res = runner.invoke(
        app, ["data", "corpus", "nq_open_oracle", str(folder), "--out", str(tmp_path / "c.jsonl")]
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["nq-100", "nq-101", "nq-102"]
    res = runner.invoke(app, ["data", "corpus", "squad", str(folder), "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "unknown public source" in res.output and "squad2" in res.output


def test_data_help_does_not_import_torch() -> None:
    probe = (
        "import sys\nsys.argv=['groundtune','data','--help']\nfrom groundtune.cli.main import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print('HEAVY=' + ','.join(m for m in ('torch','transformers','qdrant_client','numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.rstrip().endswith("HEAVY="), out
