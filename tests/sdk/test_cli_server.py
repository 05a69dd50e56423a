"""`groundtune --server URL` (and $GROUNDTUNE_URL) drives a live server through the SDK: the same
commands send the same configs, wait for the job, and print what the in-process run prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundtune.cli.main import app
from groundtune.cli.remote import URL_ENV
from tests.platform.api.conftest import SAMPLE, TINY_EMBEDDER, TINY_LM
from tests.platform.api.live import LivePlatform

run = CliRunner().invoke


def _ok(args: list[str]) -> str:
    result = run(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _ranking(hits: list[dict]) -> list[tuple[float, frozenset[str]]]:
    """Fused scores with the texts at each score. Chunks one arm scores alike are ranked by chunk id,
    and file chunk ids hash the file's path (an upload's differs from a local file's): a query most
    documents match equally ("light railway") ranks differently in two workspaces, hence a query of
    rarer words here. Chunks tied on the fused score are compared as a set; the last group may be cut
    by -k."""
    groups: dict[float, set[str]] = {}
    for h in hits:
        groups.setdefault(round(h["score"], 9), set()).add(h["chunk"]["text"])
    ordered = [(score, frozenset(texts)) for score, texts in groups.items()]
    return [*ordered[:-1], (ordered[-1][0], frozenset())] if ordered else []


def test_kb_commands_print_the_same_here_and_through_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    here = ["--home", str(tmp_path / "local")]
    local = {
        "create": _ok([*here, "kb", "create", "docs", "--embedder", TINY_EMBEDDER]),
        "add": json.loads(_ok([*here, "kb", "add", "docs", str(SAMPLE / "docs"), "--json"])),
        "search": json.loads(
            _ok([*here, "kb", "search", "docs", "oldest locomotive Corrie", "-k", "3", "--json"])
        ),
    }
    with LivePlatform(tmp_path / "server") as live:
        monkeypatch.setenv(URL_ENV, "")  # restored after the test: --server sets it for the process
        there = ["--server", live.url]
        created = _ok([*there, "kb", "create", "docs", "--embedder", TINY_EMBEDDER])
        assert created.split("(")[0] == local["create"].split("(")[0]  # the same line, another kb id
        added = json.loads(_ok([*there, "kb", "add", "docs", str(SAMPLE / "docs"), "--json"]))
        assert set(added) == set(local["add"]) and len(added["added"]) == len(local["add"]["added"])
        assert added["chunks"] == local["add"]["chunks"] and not added["errors"]
        hits = json.loads(
            _ok([*there, "kb", "search", "docs", "oldest locomotive Corrie", "-k", "3", "--json"])
        )
        assert _ranking(hits) == _ranking(local["search"])
        assert "docs" in _ok([*there, "kb", "list"]) and "tiny-random-minilm" in _ok(
            [*there, "kb", "show", "docs"]
        )

        jobs = json.loads(_ok([*there, "jobs", "list", "--json"]))["data"]
        assert [j["kind"] for j in jobs] == ["ingestion"] and jobs[0]["state"] == "succeeded"
        job_id = jobs[0]["id"]
        assert json.loads(_ok([*there, "jobs", "show", job_id]))["resource"] == "docs"
        followed = [
            json.loads(line)
            for line in _ok([*there, "jobs", "events", job_id, "--follow", "--json"]).splitlines()
        ]
        assert followed[-1]["data"].get("state") == "succeeded"
        again = run(app, [*there, "jobs", "cancel", job_id])
        assert (
            again.exit_code == 4 and "request id req_" in again.output
        )  # ConflictError, with the server's id

        refused = run(app, [*there, "kb", "reindex", "docs"])
        assert refused.exit_code == 2 and "workspace only" in refused.output
        missing = run(app, [*there, "kb", "show", "nope"])
        assert missing.exit_code == 3 and "nope" in missing.output
        bad = tmp_path / "bad.txt"
        bad.write_bytes(b"\xff\xfe not utf-8 \xff")
        rejected = run(app, [*there, "kb", "add", "docs", str(bad)])
        assert rejected.exit_code == 2 and "bad.txt" in rejected.output  # the server's per-file reason


def test_build_train_and_evaluate_through_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LivePlatform(tmp_path / "server") as live:
        monkeypatch.setenv(URL_ENV, "")
        there = ["--server", live.url]
        _ok([*there, "kb", "create", "docs", "--embedder", TINY_EMBEDDER])
        _ok([*there, "kb", "add", "docs", str(SAMPLE / "docs")])
        built = _ok([
            *there, "data", "build", "--name", "ds", "--kb", "docs", "--lm", TINY_LM, "--limit", "30",
            "--qa", str(SAMPLE / "qa_train.jsonl"), "--qa-test", str(SAMPLE / "qa_heldout.jsonl"),
        ])  # fmt: skip
        assert "dataset ds" in built and f"saved: {live.url}/v1/datasets/ds" in built
        assert "examples" in _ok([*there, "data", "show", "ds"])
        trained = _ok([*there, "train", "run", "--dataset", "ds", "--model", TINY_LM, "--name", "tuned",
                       "--max-steps", "2", "--batch-size", "2"])  # fmt: skip
        assert "done: run job_" in trained and "(2 steps)" in trained and "adapter tuned" in trained
        evaluated = _ok([*there, "eval", "run", "--suite", "dataset:ds:test", "--adapter", "tuned", "--model",
                         TINY_LM, "--limit", "2", "--max-tokens", "8", "--shots", "0"])  # fmt: skip
        assert "suite dataset:ds:test" in evaluated and "tuned" in evaluated
        assert f"report: {live.url}/v1/evaluations/eval_" in " ".join(evaluated.split())  # rich wraps at 80
        out = tmp_path / "exports"
        exported = _ok([*there, "data", "export", "ds", "--out", str(out), "--format", "chat"])
        assert (out / "chat.train.jsonl").is_file() and "wrote" in exported
        kinds = [j["kind"] for j in json.loads(_ok([*there, "jobs", "list", "--json"]))["data"]]
        assert kinds == ["evaluation", "fine_tuning", "dataset", "ingestion"]

        # $GROUNDTUNE_URL alone, in a fresh process
        env = {
            **os.environ,
            URL_ENV: live.url,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
        }
        listed = subprocess.run(
            [sys.executable, "-m", "groundtune.cli", "jobs", "list", "--kind", "fine_tuning", "--json"],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        assert [j["kind"] for j in json.loads(listed.stdout)["data"]] == ["fine_tuning"]
