"""The decode-time LM head (`infer/head.py`): `W @ h.T` for few rows gives nn.Linear's values."""

from __future__ import annotations

import pytest
import torch

import groundtune.infer.head as head_module
from groundtune.infer.head import install


class _WithHead(torch.nn.Module):
    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.head = head

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.head


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (16, 1), (3, 1), (4,), (2, 32)])
def test_few_rows_give_the_linear_layers_values(bias: bool, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(24, 1000, bias=bias)
    x = torch.randn(*shape, 24)
    expected = torch.nn.functional.linear(x, head.weight, head.bias)
    assert install(_WithHead(head))
    out = head(x)
    assert out.shape == expected.shape and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_many_rows_keep_the_linear_product_exactly() -> None:
    """A prefill of every position or a training batch is left to nn.Linear (bit for bit)."""
    head = torch.nn.Linear(16, 300, bias=False)
    install(_WithHead(head))
    x = torch.randn(2, head_module.SKINNY_ROWS, 16)
    assert torch.equal(head(x), torch.nn.functional.linear(x, head.weight))


def test_installing_twice_or_on_another_head(monkeypatch: pytest.MonkeyPatch) -> None:
    head = torch.nn.Linear(8, 50)
    model = _WithHead(head)
    assert install(model)
    forward = head.forward
    assert install(model) and head.forward is forward  # not wrapped twice
    monkeypatch.setattr(head_module, "SKINNY_ROWS", 0)  # switched off: nn.Linear for every input
    x = torch.randn(1, 8)
    assert torch.equal(head(x), torch.nn.functional.linear(x, head.weight, head.bias))
    other = torch.nn.Embedding(10, 4)  # not a plain linear head: left alone
    assert not install(_WithHead(other)) and "forward" not in vars(other)


def test_the_engine_decodes_the_same_with_either_head(monkeypatch: pytest.MonkeyPatch, make_requests) -> None:  # type: ignore[no-untyped-def]
    from groundtune.infer import Engine
    from groundtune.models.registry import LoadedLM, layout_for_tokenizer
    from groundtune.models.tiny import tiny_gemma

    model, tok = tiny_gemma()
    engine = Engine(LoadedLM("tiny", model, tok, layout_for_tokenizer(tok), None))
    assert getattr(model.get_output_embeddings().forward, "skinny", False)
    reqs = make_requests(max_new_tokens=10)
    fast = engine.generate(reqs)
    monkeypatch.setattr(head_module, "SKINNY_ROWS", 0)
    slow = engine.generate(reqs)
    assert [r.text for r in fast] == [r.text for r in slow]
    for a, b in zip(fast, slow, strict=True):
        assert a.token_entropy == pytest.approx(b.token_entropy, rel=1e-4, abs=1e-5)
