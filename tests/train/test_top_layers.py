"""`lora.top_layers`: only the top decoder layers get LoRA, so backpropagation stops below them."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from groundtune.train import train

from .helpers import tiny_config, write_dataset


def test_top_layers_adapts_only_the_top_of_the_stack(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    config = tiny_config(ds, name="top", run_id="run_top")
    config["lora"] = {**config["lora"], "top_layers": 1}
    result = train(config, home=tmp_path / "home")
    weights = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    layers = {int(k.split(".layers.")[1].split(".")[0]) for k in weights}
    assert layers == {1}  # the tiny model has layers 0 and 1
    assert json.loads((result.adapter_dir / "adapter_config.json").read_text())["layers_to_transform"] == [1]
    rows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]  # still learns
