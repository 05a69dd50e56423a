"""Generation as a stream of rows: up to `max_rows` requests decode together, one token per step over
a shared KV cache; a row leaves as soon as it stops, and the next waiting request takes its place at
once (its prompt prefilled, its keys joined to the cache), so the batch stays full while work waits
and a short answer never waits for a long one. Every generated token keeps the entropy of the
distribution it came from and where its text ends (what abstention reads).

Prompts usually open alike (the grounding instruction, and for few-shot evaluation the demonstrations
too: half of each prompt). That shared prefix is computed once per stream and every joining row gets
a copy of its keys and values, shifted right by the row's left padding; only the rest of each prompt
is computed per row. Keys carry their position (RoPE, from `position_ids`), not their slot, so the
copy equals what the row would have computed itself, and rows may sit at any slots of the cache
(`infer/kvcache.py`).

A row with a `RowConstraint` (`infer/constrain.py`) keeps to its grounding grammar: a token the grammar
forbids is replaced by the best allowed one before the step goes on. Entropies stay those of the
model's own distribution (what abstention reads; see docs/infer.md).

Yields an `Event` whenever a row produces stream-safe text or finishes. Rows are independent: a
row's tokens depend only on its own prompt, settings and seed, up to float rounding between batch
shapes. It knows nothing about adapters beyond passing per-row `adapter_names`, nor about prompts'
layout.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from groundtune.infer.constrain import RowConstraint
from groundtune.infer.request import GenerationConfig, GenerationResult
from groundtune.infer.sampling import make_generator, next_tokens
from groundtune.infer.stops import TextTracker


@dataclass
class Row:
    """One request inside a stream: its caller-side index, prompt ids and decoding state."""

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
    started: float = 0.0  # when its prefill began (latency counts from there)

    def __post_init__(self) -> None:
        self.generator = make_generator(self.config)


@dataclass
class Event:
    """Text a row produced (`delta`, maybe empty) and, when it finished, its `result`."""

    index: int
    delta: str
    result: GenerationResult | None = None


class Pending:
    """Rows waiting for a place in a stream, longest prompt first (memory trouble shows at once).

    `refill=False` admits rows only into an empty stream, as fixed batches spread evenly over the rows
    (34 rows at 16 -> 12, 12, 10, not 16, 16, 2): the engine before refilling, kept to measure against
    (`benchmarks/decode_speed.py`)."""

    def __init__(
        self,
        rows: Iterable[Row],
        max_rows: int,
        max_tokens: int,
        *,
        refill: bool = True,
        more: Callable[[int], list[Row]] | None = None,
    ) -> None:
        self.rows = deque(sorted(rows, key=lambda r: -len(r.prompt_ids)))
        self.max_tokens = max_tokens
        self.refill = refill
        self.more = more  # `more(room)`: up to `room` rows that arrived meanwhile (a serving queue)
        self.max_rows = max_rows
        if not refill and self.rows:
            batches = -(-len(self.rows) // max_rows)
            self.max_rows = -(-len(self.rows) // batches)

    def take(self, live: list[Row]) -> list[Row]:
        """The rows that join `live` now: while there is room for another row and the widest prompt
        times the rows stays within `max_tokens` (a lone row always goes)."""
        if not self.refill and live:
            return []
        room = self.max_rows - len(live) - len(self.rows)
        if self.more is not None and room > 0:
            self.rows.extend(self.more(room))  # in arrival order, after those already waiting
        taken: list[Row] = []
        width = max((len(r.prompt_ids) for r in live), default=0)
        while self.rows and len(live) + len(taken) < self.max_rows:
            wider = max(width, len(self.rows[0].prompt_ids))
            if (live or taken) and wider * (len(live) + len(taken) + 1) > self.max_tokens:
                break
            width = wider
            taken.append(self.rows.popleft())
        return taken


def run_stream(
    model: Any,
    pending: Pending,
    pad_id: int,
    adapter_names: Callable[[list[Row]], list[str]] | None = None,
    cancelled: Callable[[int], bool] | None = None,
) -> Iterator[Event]:
    """Generate for every row of `pending`. `adapter_names` gives the per-row adapter names a
    mixed-adapter stream passes to every forward call (None: one adapter, or none, for all rows).
    A row whose `cancelled(index)` turns true leaves silently at the next step."""
    batch = _Batch(model, pending, pad_id, adapter_names)
    while True:
        batch.join(pending.take(batch.live))
        if not batch.live:
            return
        live, logits = batch.live, batch.logits
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
                yield Event(row.index, row.tracker.delta(final=True), _result(row, stopped))
            else:
                keep.append(j)
                delta = row.tracker.delta()
                if delta:
                    yield Event(row.index, delta)
        batch.step(keep, tokens)


class _Batch:
    """A stream's live rows with their KV cache, attention mask, next positions and next-token logits
    (row i of each belongs to `live[i]`)."""

    def __init__(
        self,
        model: Any,
        pending: Pending,
        pad_id: int,
        adapter_names: Callable[[list[Row]], list[str]] | None,
    ) -> None:
        from groundtune.infer.kvcache import BufferedCache, layer_windows

        self.model, self.pad_id, self.adapter_names = model, pad_id, adapter_names
        self.windows = layer_windows(model.config)
        self.prefix = _Prefix.of(model, self.windows, list(pending.rows), adapter_names is not None)
        capacity = max((len(r.prompt_ids) + r.config.max_new_tokens for r in pending.rows), default=0)
        self.cache = BufferedCache(capacity, self.windows, rows=pending.max_rows)
        self.live: list[Row] = []
        self.mask = torch.zeros((0, 0), dtype=torch.long)
        self.next_pos = torch.zeros(0, dtype=torch.long)
        self.logits = torch.zeros((0, 0))

    def names(self, rows: list[Row]) -> dict[str, Any]:
        return {} if self.adapter_names is None else {"adapter_names": self.adapter_names(rows)}

    def join(self, rows: list[Row]) -> None:
        """Prefill `rows` and add them after the live ones, their keys right-aligned to the cache's
        last slot (the cache first shifts right if they are wider)."""
        for group in _prefill_groups(rows, self.prefix):
            self._add(group)

    def _add(self, rows: list[Row]) -> None:
        logits, states, mask, next_pos = _prefill(
            self.model, self.windows, rows, self.pad_id, self.prefix, self.names(rows)
        )
        if not self.live:
            self.cache.add_rows(states)
            self.mask, self.next_pos, self.logits, self.live = mask, next_pos, logits, rows
            return
        wider = mask.shape[1] - self.mask.shape[1]
        if wider > 0:
            self.cache.shift(wider)
            self.mask = torch.cat([self.mask.new_zeros((len(self.live), wider)), self.mask], dim=1)
        self.cache.add_rows(states)
        mask = torch.cat([mask.new_zeros((len(rows), max(0, -wider))), mask], dim=1)
        self.mask = torch.cat([self.mask, mask])
        self.next_pos = torch.cat([self.next_pos, next_pos])
        self.logits = torch.cat([self.logits, logits])
        self.live = self.live + rows

    def step(self, keep: list[int], tokens: list[int]) -> None:
        """Keep the `keep` rows (a finished row's place goes to the last row; slots no live row uses
        any more are dropped) and feed each its token: the next logits."""
        if len(keep) < len(self.live):
            order = _fill_holes(keep, len(self.live))
            self.cache.keep_rows(order)
            index = torch.tensor(order, dtype=torch.long)
            self.live, tokens = [self.live[j] for j in order], [tokens[j] for j in order]
            self.mask, self.next_pos = _drop_dead_slots(self.mask[index], self.cache), self.next_pos[index]
        if not self.live:
            return
        step = torch.tensor(tokens, dtype=torch.long).unsqueeze(1)
        self.mask = torch.cat([self.mask, torch.ones((len(self.live), 1), dtype=self.mask.dtype)], dim=1)
        positions = self.next_pos.unsqueeze(1)
        self.logits = _forward(self.model, self.cache, step, self.mask, positions, self.names(self.live))
        self.next_pos = self.next_pos + 1


PREFILL_TOKENS = 2048
"""Most prompt tokens (padded, after the shared prefix) one prefill call computes, unless one row has
more: on this CPU a prefill costs about 2.0-2.2 ms per token in calls of 0.5-2k tokens and 2.6-3.0
in calls of 8-17k (Gemma 3 270M, fp32)."""


def _prefill_groups(rows: list[Row], prefix: _Prefix | None) -> Iterator[list[Row]]:
    """`rows` cut into prefill calls of at most `PREFILL_TOKENS` computed tokens."""
    group: list[Row] = []
    width = 0
    for row in rows:
        computed = len(row.prompt_ids) - (len(prefix.ids) if prefix is not None and prefix.opens(row) else 0)
        if group and max(width, computed) * (len(group) + 1) > PREFILL_TOKENS:
            yield group
            group, width = [], 0
        group.append(row)
        width = max(width, computed)
    if group:
        yield group


def _forward(
    model: Any,
    cache: Any,
    ids: torch.Tensor,
    mask: torch.Tensor,
    positions: torch.Tensor,
    extra: dict[str, Any],
    **more: Any,
) -> torch.Tensor:
    # Inference mode only around the model call: it is thread-local, and this generator yields to
    # callers that may run other torch code between steps.
    with torch.inference_mode():
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            **extra,
            **more,
        )
        return out.logits[:, -1, :].float()


def _result(row: Row, stopped: bool) -> GenerationResult:
    text = row.tracker.text
    return GenerationResult(
        text=text,
        finish_reason="stop" if stopped else "length",
        prompt_tokens=len(row.prompt_ids),
        completion_tokens=row.generated,
        latency_s=time.perf_counter() - row.started,
        token_entropy=row.entropies,
        token_ends=[min(end, len(text)) for end in row.ends],
        constrained=row.constraint is not None and not row.constraint.broken,
    )


def _fill_holes(keep: list[int], rows: int) -> list[int]:
    """The row order after dropping all but `keep` (ascending): kept rows stay where they are, and
    each hole among the first len(keep) rows takes a kept row from beyond them (one row copied per
    hole, not the whole batch)."""
    n = len(keep)
    tail = [j for j in keep if j >= n]
    kept = set(keep)
    return [j if j in kept else tail.pop() for j in range(n)] if n else []


COMPACT_SLOTS = 64
"""Dead slots (no live row uses them) are dropped from the cache's left once there are this many and
they are at least a quarter of it: a long stream's cache stays as wide as its live rows need."""


def _drop_dead_slots(mask: torch.Tensor, cache: Any) -> torch.Tensor:
    """`mask` without the dead slots dropped from `cache` (an empty cache has no slots left)."""
    if mask.shape[0] == 0:
        return mask[:, :0]
    dead = int(mask.any(dim=0).nonzero()[0])
    if dead < COMPACT_SLOTS or dead * 4 < mask.shape[1]:
        return mask
    cache.shift(-dead)
    return mask[:, dead:]


MIN_SHARED_PREFIX = 16
"""Fewer shared prompt tokens than this are not worth a separate forward call."""


@dataclass
class _Prefix:
    """The prompt tokens every row of a stream opens with, and their keys and values (one row)."""

    ids: list[int]
    windows: list[int | None]
    states: list[tuple[torch.Tensor, torch.Tensor]]

    @classmethod
    def of(cls, model: Any, windows: list[int | None], rows: list[Row], mixed: bool) -> _Prefix | None:
        """The shared prefix of `rows`, computed once; None when too short to bother, for a single
        row, or when rows use different adapters (their keys differ)."""
        from groundtune.infer.kvcache import BufferedCache

        n = _shared_prefix(rows, mixed)
        if not n:
            return None
        ids = rows[0].prompt_ids[:n]
        cache = BufferedCache(n, windows)
        ones = torch.ones((1, n), dtype=torch.long)
        _forward(model, cache, torch.tensor([ids]), ones, torch.arange(n).unsqueeze(0), {}, logits_to_keep=1)
        return cls(ids, windows, cache.states())

    def cache_for(self, rows: list[Row], width: int, capacity: int) -> tuple[Any, int]:
        """A cache holding slots [0, shared) of `rows` left-padded to `width`, and `shared`: the
        prefix's length, at most width - 1 so that every row computes its last token.

        Row i, padded by m_i slots, holds padding in slots [0, m_i) and prefix tokens [0, shared - m_i)
        after them: its own first tokens, since the prefix is what all rows open with. Padding slots
        stay zero (the attention mask hides them)."""
        from groundtune.infer.kvcache import BufferedCache

        shared = min(len(self.ids), width - 1)
        pads = [width - len(r.prompt_ids) for r in rows]
        layers = []
        for keys, values in self.states:
            batch_keys = keys.new_zeros((len(rows), keys.shape[1], shared, keys.shape[-1]))
            batch_values = values.new_zeros((len(rows), values.shape[1], shared, values.shape[-1]))
            for i, pad in enumerate(pads):
                if pad < shared:
                    batch_keys[i, :, pad:] = keys[0, :, : shared - pad]
                    batch_values[i, :, pad:] = values[0, :, : shared - pad]
            layers.append((batch_keys, batch_values))
        return BufferedCache(capacity, self.windows, layers), shared

    def opens(self, row: Row) -> bool:
        return row.prompt_ids[: len(self.ids)] == self.ids


def _prefill(
    model: Any,
    windows: list[int | None],
    rows: list[Row],
    pad_id: int,
    prefix: _Prefix | None,
    extra: dict[str, Any],
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor, torch.Tensor]:
    """Compute `rows`' prompts together, left-padded (over the shared prefix's copy when they all open
    with it): their next-token logits, their keys and values, attention mask and next positions."""
    from groundtune.infer.kvcache import BufferedCache

    start = time.perf_counter()
    for row in rows:
        row.started = start
    ids, mask = _left_pad(rows, pad_id)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    width = ids.shape[1]
    if prefix is not None and all(prefix.opens(r) for r in rows):
        cache, shared = prefix.cache_for(rows, width, width)
        ids, positions = ids[:, shared:], positions[:, shared:]
    else:
        cache = BufferedCache(width, windows)
    logits = _forward(model, cache, ids, mask, positions, extra, logits_to_keep=1)
    return logits, cache.states(), mask, positions[:, -1] + 1


def _left_pad(rows: list[Row], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r.prompt_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        n = len(row.prompt_ids)
        ids[i, width - n :] = torch.tensor(row.prompt_ids, dtype=torch.long)
        mask[i, width - n :] = 1
    return ids, mask


def _shared_prefix(rows: list[Row], mixed: bool) -> int:
    """How many leading prompt tokens all rows share (0 when too few to bother, for a single row, or
    when rows use different adapters)."""
    if len(rows) < 2 or mixed:
        return 0
    first = rows[0].prompt_ids
    limit = min(len(r.prompt_ids) for r in rows)
    n = 0
    while n < limit and all(r.prompt_ids[n] == first[n] for r in rows):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each row's next-token distribution (the model's own, before sampling)."""
    # H = logsumexp(l) - sum(softmax(l) * l): two fused passes over the vocabulary instead of
    # log_softmax, exp and a product (a third of the cost at Gemma's 262k-token vocabulary).
    # A token masked to -inf has probability 0 and adds 0 (not 0 * -inf = nan).
    weighted = torch.softmax(logits, dim=-1).mul_(logits).nan_to_num_(0.0)
    return torch.logsumexp(logits, dim=-1) - weighted.sum(dim=-1)
