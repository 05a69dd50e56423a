"""Continued LoRA training: a run that starts from a trained adapter takes its weights and shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file

from groundtune.core.errors import InvalidInputError
from groundtune.core.jsonfile import read_json, write_json
from groundtune.train import train
from tests.train.helpers import tiny_config, write_dataset


def test_continued_training_starts_from_the_adapter(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=8, n_val=2)
    first = train(tiny_config(ds, name="first", lora={"r": 8, "alpha": 16, "dropout": 0.0}))
    # A learning rate of ~0 keeps the weights where they started: exactly the first adapter's.
    second = train(tiny_config(ds, name="second", init_adapter="first", lr=1e-12, max_steps=1, lora={"r": 4}))
    a = load_file(str(first.adapter_dir / "adapter_model.safetensors"))
    b = load_file(str(second.adapter_dir / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and a
    assert all(b[k].shape == a[k].shape for k in a)  # r=8 taken from the adapter, not the config's 4
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6
    run = read_json(second.run_dir / "run.json")
    assert run["init_adapter"]["name"] == "first"
    fresh = train(tiny_config(ds, name="fresh", lr=1e-12, max_steps=1, lora={"r": 8, "alpha": 16}))
    c = load_file(str(fresh.adapter_dir / "adapter_model.safetensors"))
    assert max(float((a[k] - c[k]).abs().max()) for k in a) > 1e-3


def test_init_adapter_must_match_the_base_model(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=8, n_val=2)
    train(tiny_config(ds, name="first"))
    adapter = tmp_path / "gt-home" / "adapters" / "first"
    manifest = read_json(adapter / "groundtune-adapter.json")
    assert manifest["model"] == "tiny-random-gemma3"
    # The same adapter as if it had been trained on another base model.
    write_json(adapter / "groundtune-adapter.json", {**manifest, "model": "gemma-3-270m"})
    with pytest.raises(InvalidInputError) as err:
        train(tiny_config(ds, name="other", init_adapter="first"))
    assert "trained on gemma-3-270m, not tiny-random-gemma3" in err.value.message


def test_the_adapter_records_the_most_documents_its_targets_named(tmp_path: Path) -> None:
    from groundtune.core.schemas import GroundedAnswer
    from tests.train.helpers import make_examples

    ds = write_dataset(tmp_path / "ds", n_train=8, n_val=2)
    examples = make_examples(8, prefix="train")
    for i, ex in enumerate(examples):  # one target names both documents, the others the second
        ex.target = GroundedAnswer(answer=ex.answer or "", relevant=[1, 2] if i == 5 else [2])
    (ds / "train.jsonl").write_text("".join(ex.model_dump_json() + "\n" for ex in examples))
    first = train(tiny_config(ds, name="first", max_steps=1))
    manifest = read_json(first.adapter_dir / "groundtune-adapter.json")
    assert manifest["max_listed"] == 2 and read_json(first.run_dir / "run.json")["max_listed"] == 2
    # a continued adapter keeps what the one it started from learned to name
    registered = tmp_path / "gt-home" / "adapters" / "first" / "groundtune-adapter.json"
    write_json(registered, {**read_json(registered), "max_listed": 3})
    second = train(tiny_config(ds, name="second", init_adapter="first", max_steps=1))
    assert read_json(second.adapter_dir / "groundtune-adapter.json")["max_listed"] == 3
    # targets that name no document (the hand-written completions above) leave it unknown
    plain = write_dataset(tmp_path / "plain", n_train=8, n_val=2)
    third = train(tiny_config(plain, name="third", max_steps=1))
    assert read_json(third.adapter_dir / "groundtune-adapter.json")["max_listed"] is None
