"""Fixtures: a tiny LoRA adapter, and a running server over a tiny-model deployment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.live import RunningServer, deployment_for


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter for the tiny model with non-zero weights, so its outputs differ from the base."""
    from peft import LoraConfig, get_peft_model

    from groundtune.models import load_lm

    lm = load_lm("tiny-random-gemma3")
    model = get_peft_model(
        lm.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    )
    path = tmp_path_factory.mktemp("adapters") / "tuned"
    model.save_pretrained(path)
    return path


@pytest.fixture()
def server(tiny_adapter: Path) -> Iterator[RunningServer]:
    deployment = deployment_for({"tuned": tiny_adapter})
    with RunningServer(deployment) as running:
        yield running
    deployment.scheduler.close()
