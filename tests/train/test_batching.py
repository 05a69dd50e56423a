"""Length-bucketed batches: deterministic, complete, and no example attends to another (Gemma 3's
sliding-window and full-attention layers alike)."""

from __future__ import annotations

import pytest
import torch

from groundtune.models import load_lm
from groundtune.train.batching import collate, plan_epoch, steps_per_epoch
from groundtune.train.examples import TokenizedExample, tokenize_examples
from groundtune.train.loss import SupervisedLM

from .helpers import make_examples


def _fake(lengths: list[int]) -> list[TokenizedExample]:
    return [TokenizedExample(f"e{i}", list(range(2, 2 + n)), n // 2) for i, n in enumerate(lengths)]


def test_plan_is_deterministic_complete_and_bucketed() -> None:
    lengths = [((i * 37) % 97) + 5 for i in range(61)]
    examples = _fake(lengths)
    plan = plan_epoch(examples, batch_size=4, micro_per_step=3, seed=7, epoch=0)
    assert plan == plan_epoch(examples, batch_size=4, micro_per_step=3, seed=7, epoch=0)
    assert plan != plan_epoch(examples, batch_size=4, micro_per_step=3, seed=7, epoch=1)
    seen = sorted(i for step in plan for mb in step.micro_batches for i in mb)
    assert seen == list(range(61))  # every example exactly once per epoch
    assert len(plan) == steps_per_epoch(61, 4, 3)
    for step in plan:
        assert step.n_supervised == sum(examples[i].n_supervised for mb in step.micro_batches for i in mb)

    # bucketing: padding waste is far below that of random batches
    def waste(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    bucketed = [mb for s in plan for mb in s.micro_batches]
    random_batches = [list(range(i, min(i + 4, 61))) for i in range(0, 61, 4)]
    assert waste(bucketed) < waste(random_batches) / 3


def test_ranks_split_each_step_and_short_tails_are_dropped_for_ddp() -> None:
    examples = _fake([10] * 10)  # 5 micro-batches of 2
    plan = plan_epoch(examples, batch_size=2, micro_per_step=2, seed=0, epoch=0, min_micro=2)
    assert len(plan) == 2 == steps_per_epoch(10, 2, 2, min_micro=2)
    step = plan[0]
    assert step.for_rank(0, 2) + step.for_rank(1, 2) == [step.micro_batches[0], step.micro_batches[1]]


def test_collate_supervises_exactly_the_completion_tokens() -> None:
    ex = [TokenizedExample("a", [2, 5, 6, 7, 8], 3), TokenizedExample("b", [2, 9, 10], 2)]
    b = collate(ex, pad_id=0, multiple=4)
    assert b["input_ids"].tolist() == [[2, 5, 6, 7, 8, 0, 0, 0], [2, 9, 10, 0, 0, 0, 0, 0]]
    assert b["attention_mask"].sum().item() == 8
    # position t predicts token t+1: rows 0 (t=2,3) and 1 (t=1), flattened with width 8
    assert b["positions"].tolist() == [2, 3, 9]
    assert b["targets"].tolist() == [7, 8, 10]


def test_no_attention_between_examples_in_a_batch() -> None:
    """Each example's loss and hidden states are the same alone and batched with others, even when
    sequences are longer than Gemma's sliding window (set small here so both layer types differ)."""
    lm = load_lm("tiny-random-gemma3")
    lm.model.config.sliding_window = 16
    lm.model.requires_grad_(False)
    toks, _ = tokenize_examples(make_examples(4, pad_words=6), lm.tokenizer, lm.layout, 4096)
    assert min(len(t.input_ids) for t in toks) > 3 * 16  # the sliding window really bites
    module = SupervisedLM(lm.model, torch.float32).eval()
    pad = lm.tokenizer.pad_token_id
    with torch.no_grad():
        alone = [module(**collate([t], pad))[0].item() for t in toks]
        together, *_ = module(**collate(toks, pad))
        assert together.item() == pytest.approx(sum(alone), rel=1e-5)
        # changing example 1's tokens leaves example 0's hidden states untouched
        body = lm.model.get_decoder()
        b1 = collate(toks, pad)
        b2 = {k: v.clone() for k, v in b1.items()}
        n1 = len(toks[1].input_ids)
        b2["input_ids"][1, 1:n1] = torch.randint(
            10, 300, (n1 - 1,), generator=torch.Generator().manual_seed(0)
        )
        h1 = body(input_ids=b1["input_ids"], attention_mask=b1["attention_mask"]).last_hidden_state
        h2 = body(input_ids=b2["input_ids"], attention_mask=b2["attention_mask"]).last_hidden_state
        n0 = len(toks[0].input_ids)
        assert torch.allclose(h1[0, :n0], h2[0, :n0], atol=1e-6)
        assert not torch.allclose(h1[1, 1:n1], h2[1, 1:n1])
    # and the sliding window is in force: the full model differs from one with a huge window
    lm.model.config.sliding_window = 4096
    with torch.no_grad():
        wide = module(**collate([toks[0]], pad))[0].item()
    assert abs(wide - alone[0]) > 1e-4
