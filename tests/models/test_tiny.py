"""Tiny random models: built in code, deterministic, real-shaped (tokenizer round-trips, layout tokens)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.models import load_embedder, load_lm
from groundtune.models.layout import GEMMA_TURNS
from groundtune.models.registry import TINY_EMBEDDER, TINY_LM
from groundtune.models.tiny import tiny_tokenizer


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_tiny_tokenizer_round_trips_any_text(text: str) -> None:
    tok = tiny_tokenizer()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text


def test_tiny_tokenizer_knows_turn_markers_and_adds_bos() -> None:
    tok = tiny_tokenizer()
    ids = tok(GEMMA_TURNS.prompt("hi"))["input_ids"]
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens[0] == "<bos>"
    assert tokens[1] == "<start_of_turn>"
    assert tokens.count("<end_of_turn>") == 1


def test_tiny_lm_is_deterministic_and_uses_gemma_layout() -> None:
    a, b = load_lm(TINY_LM), load_lm(TINY_LM)
    assert a.layout == GEMMA_TURNS
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    batch = a.tokenizer(["one two three"], return_tensors="pt")
    logits = a.model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(a.tokenizer))


def test_tiny_lm_greedy_generation_is_repeatable() -> None:
    from groundtune.models.registry import greedy_complete

    lm = load_lm(TINY_LM)
    assert greedy_complete(lm, "Question:", 6) == greedy_complete(load_lm(TINY_LM), "Question:", 6)


def test_tiny_embedder_gives_unit_vectors() -> None:
    emb = load_embedder(TINY_EMBEDDER)
    vecs = emb.encode(["a short text", "another, somewhat longer text about rivers"], batch_size=1)
    assert vecs.shape == (2, emb.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    assert emb.count_tokens("hello world") == 2
