"""Shared fixtures for the inference tests: a tiny fp32 engine and tiny LoRA adapters with non-zero
weights (so adapted outputs really differ from the base model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.infer import GenerationConfig, GenerationRequest

PROMPTS = [
    "What is the warranty period of the frame?",
    "Hello",
    "Summarise the documents about tyre pressure and brakes in two sentences, citing them.",
    "Why?",
]


def make_adapter(path: Path, seed: int, targets: list[str]) -> Path:
    """Save a LoRA adapter for the tiny Gemma with random (non-zero) A and B matrices."""
    import torch
    from peft import LoraConfig, get_peft_model

    from groundtune.models import load_lm

    base = load_lm("tiny-random-gemma3").model
    config = LoraConfig(r=4, lora_alpha=64, target_modules=targets, init_lora_weights=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = get_peft_model(base, config)
    model.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def adapter_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {
        "alpha": make_adapter(root / "alpha", 1, ["q_proj", "v_proj", "o_proj", "down_proj"]),
        "beta": make_adapter(root / "beta", 2, ["k_proj", "gate_proj", "up_proj"]),
    }


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    from groundtune.infer import Engine

    return Engine.load("tiny-random-gemma3", dtype="float32", batch_size=8)


def _requests(
    prompts: list[str] | None = None, adapter: str | None = None, **cfg: object
) -> list[GenerationRequest]:
    config = GenerationConfig(**{"max_new_tokens": 12, **cfg})  # type: ignore[arg-type]
    return [GenerationRequest(prompt=p, adapter=adapter, config=config) for p in prompts or PROMPTS]


@pytest.fixture
def make_requests():  # type: ignore[no-untyped-def]
    """`make_requests(prompts=None, adapter=None, **config)`: requests for PROMPTS by default."""
    return _requests
