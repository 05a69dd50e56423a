"""One batch of generation: left-padded prefill that computes logits for the last position only,
then one-token decode steps over a KV cache, dropping each row from the batch (and its cache) as
soon as it stops, so long answers do not pay for finished short ones. Every generated token keeps
the entropy of the distribution it came from and where its text ends (what abstention reads).

Prompts of one batch usually open alike (the grounding instruction, and for few-shot evaluation the
demonstrations too: half of each prompt). The prefill computes that shared prefix once and gives
every row a copy of its keys and values, shifted right by the row's left padding; only the rest of
each prompt is computed per row. Keys carry their position (RoPE, from `position_ids`), not their
slot, so the copy equals what the row would have computed itself.

A row with a `RowConstraint` (`infer/constrain.py`) keeps to its grounding grammar: a token the grammar
forbids is replaced by the best allowed one before the step goes on. Entropies stay those of the
model's own distribution (what abstention reads; see docs/infer.md).

Yields an `Event` whenever a row produces stream-safe text or finishes. Rows are independent: a
row's tokens depend only on its own prompt, settings and seed, up to float rounding between batch
shapes. It knows nothing about adapters beyond passing `adapter_names`, nor about prompts' layout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from groundtune.infer.constrain import RowConstraint
from groundtune.infer.request import GenerationConfig, GenerationResult
from groundtune.infer.sampling import make_generator, next_tokens
from groundtune.infer.stops import TextTracker


@dataclass
class Row:
    """One request inside a batch: its caller-side index, prompt ids and decoding state."""

    index: int
    prompt_ids: list[int]
    config: GenerationConfig
    adapter: str | None
    tracker: TextTracker
    constraint: RowConstraint | None = None
    generator: torch.Generator | None = None
    generated: int = 0
    entropies: list[float] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.generator = make_generator(self.config)


@dataclass
class Event:
    """Text a row produced (`delta`, maybe empty) and, when it finished, its `result`."""

    index: int
    delta: str
    result: GenerationResult | None = None


def _left_pad(rows: list[Row], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r.prompt_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        n = len(row.prompt_ids)
        ids[i, width - n :] = torch.tensor(row.prompt_ids, dtype=torch.long)
        mask[i, width - n :] = 1
    return ids, mask


def run_batch(
    model: Any,
    rows: list[Row],
    pad_id: int,
    adapter_names: list[str] | None,
    cancelled: Callable[[int], bool] | None = None,
) -> Iterator[Event]:
    """Generate for `rows` together. `adapter_names` (one per row) is passed to every forward call of
    a mixed-adapter batch; None otherwise.
    A row whose `cancelled(index)` turns true leaves the batch silently at the next step."""
    from groundtune.infer.kvcache import BufferedCache

    start = time.perf_counter()
    ids, mask = _left_pad(rows, pad_id)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    capacity = ids.shape[1] + max(r.config.max_new_tokens for r in rows)
    extra: dict[str, Any] = {}
    if adapter_names is not None:
        extra["adapter_names"] = adapter_names
    live = list(rows)
    shared = _shared_prefix(rows, adapter_names)
    if shared:
        cache = _prefix_cache(model, rows, shared, ids.shape[1], capacity, extra)
        ids, positions = ids[:, shared:], positions[:, shared:]
    else:
        cache = BufferedCache(capacity)

    def forward(**inputs: Any) -> Any:
        # Inference mode only around the model call: it is thread-local, and this generator yields
        # to callers that may run other torch code between steps.
        with torch.inference_mode():
            return model(past_key_values=cache, use_cache=True, **inputs, **extra).logits[:, -1, :].float()

    logits = forward(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)
    next_pos = positions[:, -1] + 1
    while True:
        tokens = next_tokens(logits, [r.config for r in live], [r.generator for r in live])
        for j, row in enumerate(live):
            rule = row.constraint
            if rule is not None and not rule.broken and not rule.allows(tokens[j]):
                tokens[j] = rule.pick(logits[j], row.config, row.generator)
        entropies = _entropy(logits).tolist()
        keep: list[int] = []
        for j, (row, token) in enumerate(zip(live, tokens, strict=True)):
            if cancelled is not None and cancelled(row.index):
                continue
            row.generated += 1
            stopped = row.tracker.push(token)
            if row.constraint is not None and not row.constraint.broken:
                row.constraint.advance(row.tracker.text)
            row.entropies.append(entropies[j])
            row.ends.append(len(row.tracker.text))
            if stopped or row.generated >= row.config.max_new_tokens:
                result = GenerationResult(
                    text=row.tracker.text,
                    finish_reason="stop" if stopped else "length",
                    prompt_tokens=len(row.prompt_ids),
                    completion_tokens=row.generated,
                    latency_s=time.perf_counter() - start,
                    token_entropy=row.entropies,
                    token_ends=[min(end, len(row.tracker.text)) for end in row.ends],
                    constrained=row.constraint is not None and not row.constraint.broken,
                )
                yield Event(row.index, row.tracker.delta(final=True), result)
            else:
                keep.append(j)
                delta = row.tracker.delta()
                if delta:
                    yield Event(row.index, delta)
        if not keep:
            return
        step = torch.tensor([tokens[j] for j in keep], dtype=torch.long).unsqueeze(1)
        if len(keep) < len(live):
            index = torch.tensor(keep, dtype=torch.long)
            cache.batch_select_indices(index)
            mask, next_pos = mask[index], next_pos[index]
            live = [live[j] for j in keep]
            if adapter_names is not None:
                extra["adapter_names"] = [adapter_names[i] for i in _positions(rows, live)]
        mask = torch.cat([mask, torch.ones((len(live), 1), dtype=mask.dtype)], dim=1)
        logits = forward(input_ids=step, attention_mask=mask, position_ids=next_pos.unsqueeze(1))
        next_pos = next_pos + 1


MIN_SHARED_PREFIX = 16
"""Fewer shared prompt tokens than this are not worth a separate forward call."""


def _shared_prefix(rows: list[Row], adapter_names: list[str] | None) -> int:
    """How many leading prompt tokens all rows share (0 when too few to bother, for a single row, or
    when rows use different adapters); at least one token of the longest prompt is left to compute."""
    if len(rows) < 2 or (adapter_names is not None and len(set(adapter_names)) > 1):
        return 0
    first = rows[0].prompt_ids
    limit = min(len(r.prompt_ids) for r in rows)
    n = 0
    while n < limit and all(r.prompt_ids[n] == first[n] for r in rows):
        n += 1
    n = min(n, max(len(r.prompt_ids) for r in rows) - 1)
    return n if n >= MIN_SHARED_PREFIX else 0


def _prefix_cache(
    model: Any, rows: list[Row], shared: int, width: int, capacity: int, extra: dict[str, Any]
) -> Any:
    """A batch cache holding slots [0, shared) of every row's left-padded prompt, computed once.

    Row i, padded by m_i slots, holds padding in slots [0, m_i) and prefix tokens [0, shared - m_i)
    after them: its own first tokens, since the prefix is what all rows open with. Padding slots
    stay zero (the attention mask hides them)."""
    from groundtune.infer.kvcache import BufferedCache

    prefix = torch.tensor([rows[0].prompt_ids[:shared]], dtype=torch.long)
    full = BufferedCache(shared)
    single = {"adapter_names": extra["adapter_names"][:1]} if "adapter_names" in extra else {}
    pads = [width - len(r.prompt_ids) for r in rows]
    layers = []
    with torch.inference_mode():
        model(
            input_ids=prefix,
            position_ids=torch.arange(shared).unsqueeze(0),
            past_key_values=full,
            use_cache=True,
            logits_to_keep=1,
            **single,
        )
        for keys, values in full.states():
            batch_keys = keys.new_zeros((len(rows), *keys.shape[1:]))
            batch_values = values.new_zeros((len(rows), *values.shape[1:]))
            for i, pad in enumerate(pads):
                if pad < shared:
                    batch_keys[i, :, pad:] = keys[0, :, : shared - pad]
                    batch_values[i, :, pad:] = values[0, :, : shared - pad]
            layers.append((batch_keys, batch_values))
        return BufferedCache(capacity, layers)


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each row's next-token distribution (the model's own, before sampling)."""
    # H = logsumexp(l) - sum(softmax(l) * l): two fused passes over the vocabulary instead of
    # log_softmax, exp and a product (a third of the cost at Gemma's 262k-token vocabulary).
    # A token masked to -inf has probability 0 and adds 0 (not 0 * -inf = nan).
    weighted = torch.softmax(logits, dim=-1).mul_(logits).nan_to_num_(0.0)
    return torch.logsumexp(logits, dim=-1) - weighted.sum(dim=-1)


def _positions(rows: list[Row], live: list[Row]) -> list[int]:
    where = {id(r): i for i, r in enumerate(rows)}
    return [where[id(r)] for r in live]
