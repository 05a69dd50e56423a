"""The embedded default LM: converted once from its PyPI GGUF package, then loaded from the cache."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from groundtune.models import load_lm, pull
from groundtune.models.registry import DEFAULT_LM, greedy_complete

pytestmark = pytest.mark.integration


def test_gemma_cache_loads_fast_and_generates_deterministically(model_home: Path) -> None:
    path = pull(DEFAULT_LM, model_home, progress=False)
    assert path is not None and (path / "model.safetensors").exists() and (path / "tokenizer.json").exists()
    t0 = time.perf_counter()
    first = load_lm(DEFAULT_LM, model_home, pull_if_missing=False)
    load_seconds = time.perf_counter() - t0
    assert first.model.config.vocab_size == 262144
    assert first.layout.name == "gemma-turns"
    text = "The capital of France is"
    a = greedy_complete(first, text, 8)
    del first
    b = greedy_complete(load_lm(DEFAULT_LM, model_home, pull_if_missing=False), text, 8)
    assert a == b and a.strip(), (a, b)
    print(f"cached load {load_seconds:.1f}s, greedy: {text!r} -> {a!r}")
