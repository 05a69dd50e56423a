"""Supervised-positions-only loss: equal to the full-logits completion-only loss, soft-capping included,
and the lean LoRA forward equals PEFT's."""

from __future__ import annotations

import pytest
import torch

from groundtune.models import load_lm
from groundtune.train import adapter
from groundtune.train.batching import collate
from groundtune.train.config import TrainConfig, resolve
from groundtune.train.examples import tokenize_examples
from groundtune.train.loss import SupervisedLM, linear_cross_entropy

from .helpers import make_examples


@pytest.mark.parametrize("softcap", [None, 2.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_cross_entropy_matches_reference(
    softcap: float | None, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    import groundtune.train.loss as loss_mod

    monkeypatch.setattr(loss_mod, "_CHUNK_ELEMENTS", 50 * 7)  # several chunks, one ragged
    g = torch.Generator().manual_seed(0)
    h = torch.randn(40, 16, generator=g, requires_grad=True)
    w, b = torch.randn(50, 16, generator=g), torch.randn(50, generator=g)
    y = torch.randint(0, 50, (40,), generator=g)
    loss, correct = linear_cross_entropy(h, w, y, bias=b, softcap=softcap, compute_dtype=dtype)
    (0.7 * loss).backward()
    fused_grad, h.grad = h.grad.clone(), None
    z = (h.to(dtype) @ w.to(dtype).t()).float() + b
    if softcap is not None:
        z = torch.tanh(z / softcap) * softcap
    ref = torch.nn.functional.cross_entropy(z, y, reduction="sum")
    (0.7 * ref).backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert int(correct) == int((z.argmax(-1) == y).sum())
    assert torch.allclose(fused_grad, h.grad, atol=1e-5 if dtype == torch.float32 else 2e-2)


def test_row_weights_weigh_loss_and_gradient() -> None:
    g = torch.Generator().manual_seed(1)
    h = torch.randn(12, 8, generator=g, requires_grad=True)
    w = torch.randn(30, 8, generator=g)
    y = torch.randint(0, 30, (12,), generator=g)
    rows = torch.tensor([1.0, 5.0] * 6)
    loss, _ = linear_cross_entropy(h, w, y, row_weights=rows)
    loss.backward()
    fused_grad, h.grad = h.grad.clone(), None
    ref = (torch.nn.functional.cross_entropy(h @ w.t(), y, reduction="none") * rows).sum()
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert torch.allclose(fused_grad, h.grad, atol=1e-5)


def test_decision_tokens_get_the_decision_weight() -> None:
    from groundtune.core.schemas import GroundedAnswer, Quote
    from groundtune.grounding import get_format

    lm = load_lm("tiny-random-gemma3")
    fmt = get_format("cited")
    answer = GroundedAnswer(
        relevant=[2], quotes=[Quote(doc=2, text="it lasts two years")], answer="Two years [2].", citations=[2]
    )
    examples = make_examples(2)
    examples[0] = examples[0].model_copy(update={"completion": fmt.render_target(answer)})
    examples[1] = examples[1].model_copy(update={"completion": fmt.render_target(fmt.refusal_target())})
    toks, _ = tokenize_examples(
        examples, lm.tokenizer, lm.layout, 512, decision_spans=fmt.decision_spans, decision_weight=4.0
    )
    for ex, tok in zip(examples, toks, strict=True):
        assert tok.weights is not None and len(tok.weights) == tok.n_supervised
        target = tok.input_ids[tok.n_prompt :]
        heavy = lm.tokenizer.decode([t for t, w in zip(target, tok.weights, strict=True) if w == 4.0])
        light = lm.tokenizer.decode([t for t, w in zip(target, tok.weights, strict=True) if w == 1.0])
        assert tok.weight == pytest.approx(tok.n_supervised + 3.0 * sum(w == 4.0 for w in tok.weights))
        if ex is examples[0]:
            assert heavy.replace(" ", "").count("[2]") == 3 and "two years" in light and "Quote" in light
        else:
            assert "none" in heavy and "do not contain" in heavy and "Relevant" in light
    unweighted, _ = tokenize_examples(examples, lm.tokenizer, lm.layout, 512)
    assert [t.input_ids for t in unweighted] == [t.input_ids for t in toks]
    assert all(t.weights is None and t.weight == t.n_supervised for t in unweighted)

    batch = collate(toks, lm.tokenizer.pad_token_id)
    module = SupervisedLM(lm.model.requires_grad_(False), torch.float32)
    loss, _, n, weight = module(**batch)
    plain, *_ = module(**{k: v for k, v in batch.items() if k != "weights"})
    assert weight == sum(t.weight for t in toks) > n
    assert loss.item() > plain.item()


def test_a_trainable_head_is_refused() -> None:
    with pytest.raises(ValueError, match="frozen"):
        linear_cross_entropy(torch.randn(2, 4), torch.randn(5, 4, requires_grad=True), torch.tensor([0, 1]))


@pytest.mark.parametrize("softcap", [None, 3.0])
def test_supervised_lm_equals_full_logits_completion_only_loss(softcap: float | None) -> None:
    lm = load_lm("tiny-random-gemma3")
    lm.model.config.final_logit_softcapping = softcap
    lm.model.requires_grad_(False)
    toks, _ = tokenize_examples(make_examples(3), lm.tokenizer, lm.layout, 512)
    batch = collate(toks, lm.tokenizer.pad_token_id)
    module = SupervisedLM(lm.model, torch.float32)
    loss, correct, n, weight = module(**batch)

    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    for row, ex in enumerate(toks):
        labels[row, : ex.n_prompt] = -100  # prompt tokens are never supervised
    out = lm.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    ref = torch.nn.functional.cross_entropy(
        out.logits[:, :-1].reshape(-1, out.logits.shape[-1]), labels[:, 1:].reshape(-1), reduction="sum"
    )
    assert n == weight == sum(e.n_supervised for e in toks) == int((labels[:, 1:] != -100).sum())
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    hits = (out.logits[:, :-1].argmax(-1) == labels[:, 1:]) & (labels[:, 1:] != -100)
    assert int(correct) == int(hits.sum())


def test_lean_lora_forward_equals_peft_forward() -> None:
    lm = load_lm("tiny-random-gemma3")
    cfg = resolve(TrainConfig(dataset="d", lora={"r": 4, "alpha": 8, "dropout": 0.0}), 10**5)
    torch.manual_seed(0)
    peft_model = adapter.add_lora(lm.model, cfg, "tiny")
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.2)  # B starts at zero; make the adapter matter
    ids = torch.randint(10, 300, (2, 24), generator=torch.Generator().manual_seed(1))

    def run() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        peft_model.zero_grad()
        logits = peft_model(input_ids=ids).logits
        logits.square().mean().backward()
        return logits.detach(), {
            n: p.grad.clone() for n, p in peft_model.named_parameters() if p.requires_grad
        }

    lean_out, lean_grads = run()
    patched = [m for m in peft_model.modules() if "_peft_forward" in vars(m)]
    assert len(patched) == 2 * 7  # every linear projection of both layers
    for m in patched:
        m.forward = m._peft_forward
    peft_out, peft_grads = run()
    assert torch.allclose(lean_out, peft_out, atol=1e-5)
    for name, grad in peft_grads.items():
        assert torch.allclose(lean_grads[name], grad, atol=1e-5), name
