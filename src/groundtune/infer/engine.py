"""The in-process generation engine: a transformers causal LM plus PEFT adapters, generating for many
requests at once.

`generate` wraps each prompt in the model's `PromptLayout` and decodes all requests as one stream
(`decode.run_stream`): at most `batch_size` rows and `max_batch_tokens` padded prompt tokens at a
time, longest prompt first, a finished row's place going to the next request at once; results come
back in request order. `events` exposes the same work as a stream of per-request text deltas, which
`stream` and a serving scheduler build on. One call runs at a time (a lock), since adapters are
switched on the shared model. A request carrying the grounding
format's constraint decodes within it (`infer/constrain.py`). It does not render prompts (the
grounding format does) nor parse answers.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError
from groundtune.infer.adapters import AdapterSet
from groundtune.infer.constrain import RowConstraint, TokenTexts
from groundtune.infer.decode import Event, Pending, Row, run_stream
from groundtune.infer.head import install as install_head
from groundtune.infer.request import GenerationRequest, GenerationResult, Progress
from groundtune.infer.stops import TextTracker, split_stops
from groundtune.models import DEFAULT_LM

DTYPES = ("auto", "float32", "bfloat16")


def resolve_dtype(dtype: Any) -> Any:
    """A torch dtype for `dtype` ("auto" = bfloat16 when the CPU has native bf16 support, else float32)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise InvalidInputError(f"unknown dtype {dtype!r}", hint=f"choose one of {', '.join(DTYPES)}")
    if dtype == "auto":
        return torch.bfloat16 if _cpu_has_bf16() else torch.float32
    return getattr(torch, dtype)


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class TextStream:
    """Iterates one request's text deltas; `result` is set once the iteration is exhausted."""

    def __init__(self, events: Iterator[Event]) -> None:
        self._events = events
        self.result: GenerationResult | None = None

    def __iter__(self) -> Iterator[str]:
        for event in self._events:
            if event.delta:
                yield event.delta
            if event.result is not None:
                self.result = event.result

    def close(self) -> None:
        """Stop generating early (frees the engine for other work)."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


class Engine:
    """Batched generation for one base model with zero, one or several LoRA adapters."""

    def __init__(self, lm: Any, *, batch_size: int = 16, max_batch_tokens: int = 16384) -> None:
        if batch_size < 1 or max_batch_tokens < 1:
            raise InvalidInputError(
                "batch_size and max_batch_tokens must be positive", hint="use e.g. 16 and 16384"
            )
        self.lm = lm
        self.name: str = lm.name
        self.tokenizer = lm.tokenizer
        self.layout = lm.layout
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        # False: fixed batches, the engine before refilling (benchmarks/decode_speed.py measures against it)
        self.refill = True
        install_head(lm.model)  # the LM head as W @ h.T for decode steps' few rows (infer/head.py)
        self._adapters = AdapterSet(lm.model)
        self._lock = threading.Lock()
        pad = self.tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else self.tokenizer.eos_token_id)
        eos = lm.model.generation_config.eos_token_id if lm.model.generation_config else None
        self._eos_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        self._max_len = int(getattr(lm.model.config, "max_position_embeddings", 1 << 30))
        self._texts = TokenTexts(self.tokenizer)  # token texts for constrained decoding, decoded lazily

    @classmethod
    def load(
        cls,
        model: str = DEFAULT_LM,
        adapters: dict[str, str | Path] | None = None,
        merged: bool = False,
        dtype: Any = "auto",
        *,
        home: str | Path | None = None,
        batch_size: int = 16,
        max_batch_tokens: int = 16384,
    ) -> Engine:
        """Load `model` (registry name, path or hub id) with `adapters` {name: folder}; `merged=True`
        folds a single adapter into the weights (then only that adapter can be served)."""
        from groundtune.models import load_lm

        lm = load_lm(model, home, dtype=resolve_dtype(dtype))
        engine = cls(lm, batch_size=batch_size, max_batch_tokens=max_batch_tokens)
        for name, path in (adapters or {}).items():
            engine.load_adapter(name, path)
        if merged:
            engine._adapters.merge()
        return engine

    @property
    def adapters(self) -> list[str]:
        """Names of the adapters requests may choose (the merged one, if merged)."""
        return self._adapters.names

    @property
    def merged(self) -> bool:
        return self._adapters.merged is not None

    @property
    def dtype(self) -> Any:
        return self._adapters.base.dtype

    def load_adapter(self, name: str, path: str | Path) -> None:
        with self._lock:
            self._adapters.load(name, path)

    def unload_adapter(self, name: str) -> None:
        with self._lock:
            self._adapters.unload(name)

    def count_tokens(self, prompt: str, history: Sequence[tuple[str, str]] = ()) -> int:
        """Prompt tokens of `prompt` (after `history`) once wrapped in the layout (what
        `prompt_tokens` reports)."""
        return len(self._encode(prompt, history))

    def _encode(self, prompt: str, history: Sequence[tuple[str, str]] = ()) -> list[int]:
        return list(self.tokenizer(self.layout.prompt(prompt, history))["input_ids"])

    def validate(self, request: GenerationRequest) -> None:
        """Raise the error `generate` would raise for `request` (unknown adapter, too long)."""
        self._rows([request])

    def _rows(self, requests: list[GenerationRequest], start: int = 0) -> list[Row]:
        rows = []
        for i, req in enumerate(requests, start):
            self._adapters.check(req.adapter)
            ids = self._encode(req.prompt, req.history)
            if len(ids) + req.config.max_new_tokens > self._max_len:
                raise InvalidInputError(
                    f"request {i}: {len(ids)} prompt tokens + {req.config.max_new_tokens} new tokens exceed "
                    f"the model's {self._max_len}-token context",
                    hint="shorten the prompt (fewer or shorter documents) or lower max_new_tokens",
                )
            stop_ids, stop_texts = split_stops(self.tokenizer, [*self.layout.stop, *req.config.stop])
            tracker = TextTracker(self.tokenizer, stop_ids | self._eos_ids, stop_texts)
            grammar = req.constraint.grammar() if req.constraint and req.config.constrained else None
            rule = RowConstraint(grammar, self._texts, tracker.stop_ids) if grammar else None
            rows.append(Row(i, ids, req.config, req.adapter, tracker, rule))
        return rows

    def events(
        self,
        requests: list[GenerationRequest],
        cancelled: Callable[[int], bool] | None = None,
        more: Callable[[int, Callable[[GenerationRequest], bool]], list[GenerationRequest]] | None = None,
    ) -> Iterator[Event]:
        """Generate for `requests`, yielding text deltas and finished results as they happen;
        `Event.index` is the request's position in `requests`. Bad requests fail before any work.
        A request whose `cancelled(index)` turns true stops generating and gets no result.

        `more(room, accepts)`, if given, is asked whenever a row is free: it returns up to `room`
        requests that arrived meanwhile, each one `accepts` (its adapter can share this call's
        routing); they join at once and are numbered after `requests`, in the order given."""
        return self._run(self._rows(requests), cancelled, more)

    def _run(
        self,
        rows: list[Row],
        cancelled: Callable[[int], bool] | None,
        more: Callable[[int, Callable[[GenerationRequest], bool]], list[GenerationRequest]] | None = None,
    ) -> Iterator[Event]:
        if not rows:
            return
        with self._lock:
            adapters = [r.adapter for r in rows]
            with self._adapters.route(adapters) as mixed:
                names = (lambda live: self._adapters.names_for([r.adapter for r in live])) if mixed else None
                joins = None
                if more is not None:
                    numbered = itertools.count(len(rows))
                    routed = set(adapters)

                    def accepts(request: GenerationRequest) -> bool:
                        return mixed or request.adapter in routed

                    def joins(room: int) -> list[Row]:
                        return [self._rows([req], next(numbered))[0] for req in more(room, accepts)]

                pending = Pending(
                    rows, self.batch_size, self.max_batch_tokens, refill=self.refill, more=joins
                )
                yield from run_stream(self._adapters.model, pending, self._pad_id, names, cancelled)

    def generate(
        self, requests: list[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Complete every request (in order). `progress`, if given, gets 1 per finished request."""
        results: list[GenerationResult | None] = [None] * len(requests)
        for event in self.events(requests):
            if event.result is not None:
                results[event.index] = event.result
                if progress is not None:
                    progress(1)
        return [r for r in results if r is not None]

    def stream(self, request: GenerationRequest) -> TextStream:
        """Text deltas of one request as they are generated; their concatenation is the final text."""
        return TextStream(self.events([request]))
