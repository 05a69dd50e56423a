"""Completion-only loss with logits computed ONLY at supervised positions.

The base model body gives hidden states; we keep the rows whose next token is supervised and apply
the (frozen) LM head there, in chunks, fusing the cross-entropy and its gradient so that no
(tokens x vocabulary) tensor outlives one chunk. With Gemma's 262k vocabulary the full head would
otherwise dominate time and memory. Final-logit soft-capping (cap * tanh(z / cap)) is honoured.
This module does not know about batching, optimizers or PEFT.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

# Rows of the head evaluated at once: ~32M logits (128 MB in fp32) per chunk whatever the vocabulary.
_CHUNK_ELEMENTS = 1 << 25


class _LinearCrossEntropy(torch.autograd.Function):
    """Per-row CE(softcap(h_i W^T + b), y_i) and the count of argmax hits; W and b are frozen.

    The gradient w.r.t. h is computed chunk by chunk in forward (softmax - onehot, through the cap's
    derivative, times W) and scaled row by row by the incoming gradient in backward (so a weighted
    sum of the row losses costs nothing extra).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        softcap: float | None,
        compute_dtype: torch.dtype,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n, vocab = hidden.shape[0], weight.shape[0]
        chunk = max(1, _CHUNK_ELEMENTS // vocab)
        w = weight.to(compute_dtype)
        need_grad = ctx.needs_input_grad[0]
        grad = torch.empty_like(hidden, dtype=torch.float32) if need_grad else None
        losses = torch.empty(n, dtype=torch.float32, device=hidden.device)
        correct = torch.zeros((), dtype=torch.long, device=hidden.device)
        for s in range(0, n, chunk):
            h = hidden[s : s + chunk].to(compute_dtype)
            y = targets[s : s + chunk]
            logits = (h @ w.t()).float()
            if bias is not None:
                logits += bias.float()
            if softcap is not None:
                tanh = torch.tanh(logits / softcap)
                logits = tanh * softcap
            lse = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, y[:, None]).squeeze(1)
            losses[s : s + chunk] = lse - picked
            correct += (logits.argmax(dim=-1) == y).sum()
            if grad is not None:
                probs = logits.sub_(lse[:, None]).exp_()
                probs[torch.arange(len(y), device=y.device), y] -= 1.0
                if softcap is not None:
                    probs.mul_(1.0 - tanh * tanh)
                grad[s : s + chunk] = (probs.to(compute_dtype) @ w).float()
        ctx.save_for_backward(grad if grad is not None else torch.empty(0))
        ctx.hidden_dtype = hidden.dtype
        ctx.mark_non_differentiable(correct)
        return losses, correct

    @staticmethod
    def backward(ctx: Any, grad_losses: torch.Tensor, _grad_correct: Any) -> tuple[Any, ...]:
        (grad,) = ctx.saved_tensors
        return (grad * grad_losses[:, None]).to(ctx.hidden_dtype), None, None, None, None, None


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    softcap: float | None = None,
    compute_dtype: torch.dtype | None = None,
    row_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(token cross-entropy summed over rows of `hidden`, each row times its `row_weights` entry
    when given, and the number of correct argmax predictions)."""
    if weight.requires_grad:
        raise ValueError("the LM head must be frozen (LoRA never trains it)")
    dtype = compute_dtype or weight.dtype
    with torch.autocast(hidden.device.type, enabled=False):
        losses, correct = _LinearCrossEntropy.apply(hidden, weight, bias, targets, softcap, dtype)
        total = losses.sum() if row_weights is None else (losses * row_weights.float()).sum()
    return total, correct


class SupervisedLM(nn.Module):
    """Wraps a transformers causal LM (LoRA layers injected in place): forward returns
    (weighted loss sum, correct predictions, supervised tokens, weight sum); the loss is their ratio.
    Each supervised token counts its `weights` entry times (1 when not given). One module does the
    whole computation, so DDP can wrap it as usual.
    """

    def __init__(self, causal_lm: Any, compute_dtype: torch.dtype) -> None:
        super().__init__()
        self.lm = causal_lm
        base = causal_lm
        self.body = base.get_decoder()
        self.head = base.get_output_embeddings()
        self.softcap = getattr(base.config, "final_logit_softcapping", None)
        self.compute_dtype = compute_dtype

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        positions: torch.Tensor,
        targets: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, int, float]:
        out = self.body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        hidden = out.last_hidden_state
        rows = hidden.reshape(-1, hidden.shape[-1]).index_select(0, positions)
        loss, correct = linear_cross_entropy(
            rows,
            self.head.weight,
            targets,
            bias=self.head.bias,
            softcap=self.softcap,
            compute_dtype=self.compute_dtype,
            row_weights=weights,
        )
        n = int(targets.numel())
        return loss, correct, n, float(weights.sum()) if weights is not None else float(n)
