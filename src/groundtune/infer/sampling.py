"""Picks each row's next token from last-position logits: argmax for greedy rows, temperature plus
nucleus (top-p) sampling with the row's own seeded generator otherwise.

Each row owns its generator, so a seeded request samples the same text whatever batch it shares.
Knows nothing about caches, adapters or text.
"""

from __future__ import annotations

from typing import Any

import torch

from groundtune.infer.request import GenerationConfig


def make_generator(config: GenerationConfig) -> torch.Generator | None:
    """A CPU generator for a sampled request (seeded when the request has a seed); None for greedy."""
    if config.greedy:
        return None
    gen = torch.Generator(device="cpu")
    if config.seed is None:
        gen.seed()
    else:
        gen.manual_seed(config.seed)
    return gen


def _sample(logits: torch.Tensor, config: GenerationConfig, gen: Any) -> int:
    probs = torch.softmax(logits / config.temperature, dim=-1)
    if config.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least the top token)
        cutoff = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= config.top_p
        sorted_probs = sorted_probs.masked_fill(cutoff, 0.0)
        pick = torch.multinomial(sorted_probs, 1, generator=gen)
        return int(order[pick].item())
    return int(torch.multinomial(probs, 1, generator=gen).item())


def next_tokens(
    logits: torch.Tensor, configs: list[GenerationConfig], generators: list[torch.Generator | None]
) -> list[int]:
    """Next token id per row of `logits` (shape [rows, vocab], float32)."""
    greedy = logits.argmax(dim=-1).tolist()
    return [
        int(greedy[i]) if cfg.greedy else _sample(logits[i], cfg, generators[i])
        for i, cfg in enumerate(configs)
    ]
