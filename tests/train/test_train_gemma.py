"""Integration: a few LoRA steps on the real Gemma 3 270M in its automatic precision (bf16 where the CPU
computes it natively), and the adapter loads in PEFT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from groundtune.train import train
from groundtune.train.session import _autocast_dtype

from .helpers import tiny_config, write_dataset

pytestmark = pytest.mark.integration


def test_real_gemma_trains_in_its_auto_precision_and_its_adapter_loads(
    tmp_path: Path, model_home: Path
) -> None:
    cache = model_home / "models" / "gemma-3-270m"
    if not (cache / "model.safetensors").exists():
        pytest.skip("gemma-3-270m is not cached (groundtune models pull gemma-3-270m)")
    ds = write_dataset(tmp_path / "ds", n_train=4, n_val=2)
    cfg = tiny_config(
        ds, model=str(cache), precision="auto", max_steps=3, batch_size=2, grad_accum=1,
        lora={"r": 8, "alpha": 16, "dropout": 0.05}, lr=1e-3, eval_every=3, save_every=3,
    )  # fmt: skip
    result = train(cfg, home=tmp_path / "home")
    run = json.loads((result.run_dir / "run.json").read_text())
    # `auto` takes bf16 only where the CPU computes it natively (AVX-512 bf16, AMX); the machines this
    # suite runs on differ (an AMD EPYC without AVX-512 trains in fp32, and emulated bf16 would be slow)
    native = _autocast_dtype("auto", torch.device("cpu")) is not None
    expected = ("bf16", "bfloat16") if native else ("fp32", "float32")
    assert (run["precision"], run["base_weights_dtype"]) == expected
    assert run["prompt_layout"]["name"] == "gemma-turns"
    losses = [r["loss"] for r in result.metrics]
    assert all(0 < x < 20 for x in losses) and result.best_val_loss is not None

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(cache), local_files_only=True)
    ids = torch.tensor([[2, 106, 1645, 108]])
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        tuned = PeftModel.from_pretrained(base, str(result.registered_adapter))(input_ids=ids).logits
    assert not torch.allclose(plain, tuned)
