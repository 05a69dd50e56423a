"""The inference engine on the real Gemma 3 270M: agrees with transformers' own generate, batches
without changing greedy text, and streams the same text."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.infer import Engine, GenerationConfig, GenerationRequest

pytestmark = pytest.mark.integration

PROMPTS = ["What is the capital of France? Answer in one word.", "Name three primary colours."]


def test_engine_matches_transformers_generate_and_batches_exactly(model_home: Path) -> None:
    import torch

    engine = Engine.load("gemma-3-270m", dtype="float32", home=model_home)
    cfg = GenerationConfig(max_new_tokens=8)
    reqs = [GenerationRequest(prompt=p, config=cfg) for p in PROMPTS]
    batched = engine.generate(reqs)
    single = [engine.generate([r])[0] for r in reqs]
    assert [r.text for r in batched] == [r.text for r in single]
    assert all(r.text.strip() for r in batched)

    # transformers' reference loop on the same wrapped prompt gives the same greedy tokens
    lm = engine.lm
    end = lm.tokenizer.convert_tokens_to_ids("<end_of_turn>")
    enc = lm.tokenizer(lm.layout.prompt(PROMPTS[0]), return_tensors="pt")
    with torch.inference_mode():
        out = lm.model.generate(
            **enc, max_new_tokens=8, do_sample=False, eos_token_id=[end, lm.tokenizer.eos_token_id]
        )
    reference = lm.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert batched[0].text == reference

    assert "".join(engine.stream(reqs[1])) == batched[1].text

    # prompts that open alike share one prefill of the opening, and still generate what they do alone
    opening = "Answer in a few words, from general knowledge, without explaining the answer. Question: "
    shared = [GenerationRequest(prompt=opening + p, config=cfg) for p in PROMPTS]
    assert [r.text for r in engine.generate(shared)] == [engine.generate([r])[0].text for r in shared]
