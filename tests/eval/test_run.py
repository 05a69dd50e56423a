"""`groundtune eval run` end to end on the tiny model: run folder, records, report, CLI tables."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from typer.testing import CliRunner

from groundtune.cli.main import app


def _hotpot(tmp_path: Path, n: int = 12) -> Path:
    rows = []
    for i in range(n):
        context = [
            [f"T{i}-{j}", [f"Item {i}-{j} weighs {i + j} kilograms. ", "It is blue."]] for j in range(10)
        ]
        rows.append(
            {
                "_id": f"h{i}",
                "question": f"How much does item {i}-3 weigh?",
                "answer": f"{i + 3} kilograms",
                "supporting_facts": [[f"T{i}-3", 0], [f"T{i}-3", 1]],  # one gold paragraph: sweeps apply
                "context": context,
            }
        )
    folder = tmp_path / "data" / "hotpotqa"
    folder.mkdir(parents=True)
    (folder / "sample.json").write_text(json.dumps(rows))
    return tmp_path / "data"


def test_eval_run_writes_records_and_report(tmp_path: Path) -> None:
    data = _hotpot(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "run",
            "--suite",
            "hotpotqa",
            "--data-dir",
            str(data),
            "--model",
            "tiny-random-gemma3",
            "--limit",
            "3",
            "--shots",
            "1",
            "--max-tokens",
            "6",
            "--sweeps",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "suite hotpotqa" in result.output and "quote validity" in result.output
    run_id = re.search(r"run id (eval_[0-9a-f]+)", result.output).group(1)
    run_dir = Path(os.environ["GROUNDTUNE_HOME"]) / "runs" / run_id
    assert {p.name for p in run_dir.iterdir()} >= {
        "eval.json",
        "records",
        "items",
        "report.json",
        "report.html",
    }
    records = (run_dir / "records" / "hotpotqa" / "base.jsonl").read_text().splitlines()
    assert len(records) == 3
    items = [json.loads(line) for line in (run_dir / "items" / "hotpotqa.jsonl").read_text().splitlines()]
    assert [i["id"] for i in items] == [json.loads(r)["example_id"] for r in records]  # the items scored
    report = json.loads((run_dir / "report.json").read_text())
    assert set(report["suites"]["hotpotqa"]) == {"base", "base-1shot"}
    assert report["decoding"]["max_new_tokens"] == 6 and report["grounding"]["style"] == "cited"
    # every system runs the sweeps as it runs the suite (the few-shot one with its demonstrations)
    assert set(report["sweeps"]) == {"base", "base-1shot"}
    assert any(k.startswith("distractors=") for k in report["sweeps"]["base-1shot"])
    again = CliRunner().invoke(app, ["eval", "report", run_dir.name])
    assert again.exit_code == 0 and again.output.strip().endswith("report.html")


def test_eval_errors_name_the_fix(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "run", "--suite", "hotpotqa", "--data-dir", str(tmp_path), "--model", "tiny-random-gemma3"],
    )
    assert result.exit_code == 3 and "--data-dir" in result.output
    result = CliRunner().invoke(
        app, ["eval", "run", "--suite", "hotpotqa", "--adapter", "nope", "--model", "tiny-random-gemma3"]
    )
    assert result.exit_code == 3 and "no adapter 'nope'" in result.output
    # abstention calibrates on a dataset's validation split, so it needs one and must not score it
    result = CliRunner().invoke(
        app,
        ["eval", "run", "--suite", "hotpotqa", "--max-false-refusal", "0.1", "--model", "tiny-random-gemma3"],
    )
    assert (
        result.exit_code == 2
        and "not a dataset suite" in result.output
        and "drop --max-false-refusal" in result.output
    )
    args = [
        "eval",
        "run",
        "--suite",
        "dataset:d:validation",
        "--abstain",  # the deprecated name still works, and says so
        "0.1",
        "--model",
        "tiny-random-gemma3",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "calibrated on" in result.output and "test split" in result.output
    assert "--abstain is deprecated" in result.output
