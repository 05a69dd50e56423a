"""`groundtune eval calibrate` and `eval calibrations` on the tiny model: the threshold becomes a
stored calibration artifact, the adapter's files stay byte for byte as training left them, and
serving picks the calibration up."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from groundtune.cli.main import app
from groundtune.core.calibrations import list_calibrations
from groundtune.core.schemas import Example
from tests.train.helpers import make_examples


def _dataset(home: Path) -> None:
    """A stored dataset whose validation split has answerable and refusal items."""
    root = home / "datasets" / "d"
    root.mkdir(parents=True)
    refusals = [
        Example(
            id=f"r{i}", question=f"Who painted the ceiling? ({i})", documents=ex.documents, answerable=False
        )
        for i, ex in enumerate(make_examples(3))
    ]
    for split, examples in (
        ("train", make_examples(4)),
        ("validation", make_examples(6, prefix="v") + refusals),
    ):
        (root / f"{split}.jsonl").write_text("".join(ex.model_dump_json() + "\n" for ex in examples))


def _adapter(home: Path) -> Path:
    from peft import LoraConfig, get_peft_model

    from groundtune.models import load_lm

    model = get_peft_model(load_lm("tiny-random-gemma3").model, LoraConfig(r=4, target_modules=["q_proj"]))
    path = home / "adapters" / "tuned"
    model.save_pretrained(path)
    manifest = {
        "run_id": "run_t",
        "adapter_name": "tuned",
        "model": "tiny-random-gemma3",
        "grounding_format": "cited",
    }
    (path / "groundtune-adapter.json").write_text(json.dumps(manifest))
    return path


def test_calibrate_stores_an_artifact_and_leaves_the_adapter_alone() -> None:
    home = Path(os.environ["GROUNDTUNE_HOME"])
    _dataset(home)
    adapter = _adapter(home)
    before = {p.name: p.read_bytes() for p in adapter.iterdir()}

    args = [
        "eval",
        "calibrate",
        "--adapter",
        "tuned",
        "--dataset",
        "d",
        "--max-tokens",
        "6",
        "--name",
        "cal-1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "calibration cal-1 of adapter tuned" in result.output.replace("\n", " ")
    assert "--calibration cal-1" in result.output

    [stored] = list_calibrations()
    assert (stored.name, stored.adapter, stored.adapter_run_id) == ("cal-1", "tuned", "run_t")
    assert (stored.dataset, stored.split, stored.max_false_refusal) == ("d", "validation", 0.1)
    # the answerability gate refused better, and it fits on the training split's 4 questions too
    assert (stored.signal, stored.items, stored.answerable) == ("answerability", 9 + 4, 6 + 4)
    assert stored.model == "tiny-random-gemma3"
    assert {p.name: p.read_bytes() for p in adapter.iterdir()} == before

    again = CliRunner().invoke(app, args)  # a calibration is never rewritten
    assert again.exit_code == 4 and "already exists" in again.output
    listed = CliRunner().invoke(app, ["eval", "calibrations", "--adapter", "tuned"])
    assert listed.exit_code == 0 and "cal-1  adapter tuned, fitted on d:validation + train" in listed.output

    from groundtune.serve.server import build_deployment

    deployment = build_deployment("tiny-random-gemma3", {"tuned": "tuned"})
    try:
        card = next(c for c in deployment.models() if c.id == "tuned")
        assert card.calibration == "cal-1" and "the adapter's latest" in card.abstention
    finally:
        deployment.scheduler.close()


def test_the_gate_reads_a_fixed_sample_of_a_large_training_split(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from groundtune.eval import calibration

    home = Path(os.environ["GROUNDTUNE_HOME"])
    _dataset(home)
    assert [ex.id for ex in calibration.gate_items("d", "validation", home)] == [f"ex-{i}" for i in range(4)]
    assert calibration.gate_items("d", "train", home) == []  # the calibration split is not counted twice
    monkeypatch.setattr(calibration, "MAX_GATE_ITEMS", 3)
    sample = [ex.id for ex in calibration.gate_items("d", "validation", home)]
    assert len(set(sample)) == 3 and set(sample) < {f"ex-{i}" for i in range(4)}
    assert sample == [ex.id for ex in calibration.gate_items("d", "validation", home)]
