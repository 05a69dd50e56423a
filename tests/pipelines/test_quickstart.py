"""The quickstart pipeline end to end on the tiny models: every step runs, records its result, is
skipped on a second run, and `fresh` starts over. (`make quickstart` runs it on Gemma 3 270M.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from groundtune import kb
from groundtune.core.calibrations import list_calibrations, load_calibration
from groundtune.data import load_dataset
from groundtune.pipelines.quickstart import examples_dir, run_quickstart

TINY = dict(
    model="tiny-random-gemma3",
    embedder="tiny-random-minilm",
    train_overrides={"max_steps": 2, "progress": False, "eval_every": 2, "save_every": 2},
    eval_limit=4,
    max_new_tokens=8,
)


def test_quickstart_runs_every_step_then_skips_them() -> None:
    said: list[str] = []
    result = run_quickstart(say=said.append, **TINY)
    home = Path(os.environ["GROUNDTUNE_HOME"])

    info = kb.show("quickstart")
    assert info["documents"] == 40
    splits = load_dataset("quickstart")
    heldout = [
        json.loads(line) for line in (examples_dir() / "qa_heldout.jsonl").read_text().splitlines() if line
    ]
    assert len(splits["test"]) == len(heldout)  # the held-out questions, and only they, are the test split
    assert {ex.question for ex in splits["test"]} == {q["question"] for q in heldout}
    assert len(splits["train"]) > 200 and splits["validation"]

    assert (result.adapter / "adapter_config.json").is_file()
    assert (result.eval_run / "report.html").is_file()
    assert set(result.table) == {"base-2shot", "quickstart"}
    # both systems abstain with thresholds calibrated on the validation split, within the budget
    calibrated = json.loads((result.eval_run / "report.json").read_text())["abstention"]
    assert set(calibrated) == {"base-2shot", "quickstart"}
    assert all(a["max_false_refusal"] == 0.1 and a["false_refusal"] <= 0.1 for a in calibrated.values())
    # the adapter's threshold is a calibration artifact; the adapter itself is not written to
    manifest = json.loads((result.adapter / "groundtune-adapter.json").read_text())
    assert "abstention" not in manifest
    stored = load_calibration(result.calibration)
    assert stored.threshold == calibrated["quickstart"]["threshold"] and stored.adapter == "quickstart"
    assert (stored.dataset, stored.split, stored.max_false_refusal) == ("quickstart", "validation", 0.1)
    assert f"--calibration {result.calibration}" in result.serve_command
    assert result.table["quickstart"]["n_items"] == 4
    assert len(result.update) == 3 and all({"before", "after"} <= set(row) for row in result.update)
    assert (
        f"--adapter quickstart={result.adapter}" in result.serve_command
        and "--kb quickstart" in result.serve_command
    )
    state = json.loads((home / "quickstart" / "state.json").read_text())
    assert set(state) == {"dataset", "train", "adapter", "eval_run", "update", "last_run"}
    assert state["last_run"]["table"] == result.table and set(state["last_run"]["seconds"]) >= {
        "train",
        "eval",
    }
    # Before training, the evaluation's time was measured on this machine and kept back from the budget.
    from groundtune.pipelines.quickstart import AFTER_EVAL_S, EVAL_FIXED_S, QUICKSTART_MINUTES

    train = state["train"]
    assert (
        train["eval_estimate_s"] > EVAL_FIXED_S
        and 0 < train["eval_probe_s"] < state["last_run"]["seconds"]["train"]
    )
    run_config = yaml.safe_load((Path(train["run_dir"]) / "config.yaml").read_text())
    left = QUICKSTART_MINUTES * 60 - AFTER_EVAL_S - train["eval_estimate_s"]
    assert left - 120 < run_config["max_minutes"] * 60 < left
    assert any(
        f"the evaluation, estimated at {train['eval_estimate_s']:.0f} s on this machine" in line
        for line in said
    )
    # The update step replaced three documents with their new versions, without retraining.
    docs = kb.show("quickstart", documents=True)["document_list"]
    assert sorted(d["version"] for d in docs).count(2) == 3

    said.clear()
    again = run_quickstart(say=said.append, **TINY)
    assert sum("skipped" in line for line in said) == 4  # dataset, adapter, evaluation, update
    assert again.update == result.update
    assert again.eval_run == result.eval_run and again.adapter == result.adapter
    assert again.calibration == result.calibration

    said.clear()
    fresh = run_quickstart(say=said.append, fresh=True, **TINY)
    assert not any("skipped" in line for line in said)
    assert fresh.eval_run != result.eval_run
    assert [c.name for c in list_calibrations()] == [fresh.calibration]  # the old one went with its adapter


def test_quickstart_command_prints_the_capability_table_and_serve_command() -> None:
    from typer.testing import CliRunner

    from groundtune.cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "quickstart",
            "--model",
            "tiny-random-gemma3",
            "--embedder",
            "tiny-random-minilm",
            "--max-steps",
            "1",
            "--eval-limit",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    for label in (
        "relevance F1",
        "quote validity",
        "answer F1",
        "citation precision",
        "refusal F1",
        "false refusals",
    ):
        assert label in result.output
    assert "before the update" in result.output and "after the update" in result.output
    assert "groundtune serve --model tiny-random-gemma3 --adapter quickstart=" in result.output.replace(
        "\n", ""
    )


def test_the_sample_kb_is_found_in_the_checkout_or_passed_explicitly(tmp_path: Path) -> None:
    import pytest

    from groundtune.core.errors import NotFoundError

    assert examples_dir() == Path(__file__).resolve().parents[2] / "examples" / "sample_kb"
    with pytest.raises(NotFoundError, match="no docs/ folder"):
        run_quickstart(examples=tmp_path, say=lambda _: None, **TINY)


def test_compare_reads_each_headline_figure_and_its_direction() -> None:
    from groundtune.pipelines.quickstart import compare

    table = {
        "base-2shot": {"relevance_f1": 0.2, "quote_validity": 0.5, "answer_f1": 0.1, "citation_precision": 0.3,
                       "refusal_f1": 0.4, "false_refusal_rate": 0.2},
        "tuned": {"relevance_f1": 0.4, "quote_validity": 0.5, "answer_f1": 0.05, "citation_precision": None,
                  "refusal_f1": 0.6, "false_refusal_rate": 0.1},
    }  # fmt: skip
    rows = {label: verdict for label, _, _, verdict in compare(table)}
    assert rows == {
        "relevance F1": "yes",
        "quote validity": "tie",
        "answer F1": "no",
        "citation precision": None,
        "refusal F1": "yes",
        "false refusals": "yes",  # lower is better
    }


def test_training_gets_what_is_left_of_the_fifteen_minutes_with_the_evaluation_kept_back() -> None:
    from groundtune.pipelines.quickstart import AFTER_EVAL_S, QUICKSTART_MINUTES, train_budget

    settings = train_budget(35.0, eval_s=200.0)
    assert settings["max_minutes"] == pytest.approx(
        (QUICKSTART_MINUTES * 60 - 35.0 - AFTER_EVAL_S - 200.0) / 60
    )
    assert settings["eval_every"] == 10_000 and "reserve_steps" not in settings
    assert train_budget(10_000.0)["max_minutes"] == 0.1  # late: the probe steps still run, then it stops
    # a budget the user gives is the training's own
    assert train_budget(35.0, {"max_minutes": 20.0}, eval_s=200.0) == {
        "eval_every": 10_000,
        "max_minutes": 20.0,
    }
