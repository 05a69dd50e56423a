"""Batches concurrent requests onto the in-process engine, behind a bounded queue.

One worker thread takes every waiting request (up to `max_batch`), runs them as one call to
`Engine.events`, and hands each request's text deltas and final result to its own `Ticket`. A full
queue refuses new work at once (`RateLimitError`, which the API turns into 429 + Retry-After); a
ticket whose caller gave up is skipped if it has not started. Knows nothing about HTTP or prompts.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from groundtune.core.errors import DeadlineError, GroundtuneError, RateLimitError
from groundtune.infer.request import GenerationRequest, GenerationResult

_DONE = object()


@dataclass
class Ticket:
    """One request's place in the scheduler: a stream of deltas ending in a result or an error."""

    request: GenerationRequest
    deadline: float
    events: queue.Queue[Any] = field(default_factory=queue.Queue)
    cancelled: bool = False
    result: GenerationResult | None = None

    def deltas(self) -> Iterator[str]:
        """Text deltas as generated; raises the engine's error, or DeadlineError past the deadline."""
        while True:
            remaining = self.deadline - time.monotonic()
            try:
                item = self.events.get(timeout=max(0.0, remaining))
            except queue.Empty:
                self.cancelled = True
                raise DeadlineError(
                    "the request did not finish within the server's timeout",
                    hint="retry, lower max_tokens, or start the server with a larger --timeout",
                ) from None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def wait(self) -> GenerationResult:
        for _ in self.deltas():
            pass
        assert self.result is not None
        return self.result


class Scheduler:
    """Continuous batches over an engine exposing `events(requests)` (groundtune's `Engine`)."""

    def __init__(self, engine: Any, *, max_batch: int = 8, max_queue: int = 32, timeout_s: float = 120.0) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.timeout_s = timeout_s
        self._queue: queue.Queue[Ticket] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="groundtune-scheduler", daemon=True)
        self._thread.start()
        self.batches_run = 0
        self.largest_batch = 0

    def submit(self, request: GenerationRequest) -> Ticket:
        ticket = Ticket(request, deadline=time.monotonic() + self.timeout_s)
        try:
            self._queue.put_nowait(ticket)
        except queue.Full:
            raise RateLimitError(
                f"the server is busy ({self._queue.maxsize} requests waiting)",
                hint="retry after the Retry-After delay",
                retry_after=max(1.0, self.timeout_s / 20),
            ) from None
        return ticket

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _take(self) -> list[Ticket]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        now = time.monotonic()
        live = []
        for ticket in batch:
            if ticket.cancelled or ticket.deadline <= now:
                ticket.cancelled = True
            else:
                live.append(ticket)
        return live

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self._take()
            if batch:
                self._run(batch)

    def _run(self, batch: list[Ticket]) -> None:
        self.batches_run += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        try:
            for event in self.engine.events([t.request for t in batch]):
                ticket = batch[event.index]
                if event.delta:
                    ticket.events.put(event.delta)
                if event.result is not None:
                    ticket.result = event.result
                    ticket.events.put(_DONE)
        except GroundtuneError as exc:
            if len(batch) > 1 and not any(t.result for t in batch):
                for ticket in batch:  # one bad request must not fail its neighbours: retry alone
                    self._run([ticket])
                return
            self._fail(batch, exc)
        except Exception as exc:  # a model failure must not kill the worker; callers get a 500
            self._fail(batch, GroundtuneError(f"generation failed: {type(exc).__name__}: {exc}"))

    @staticmethod
    def _fail(batch: list[Ticket], error: GroundtuneError) -> None:
        for ticket in batch:
            if ticket.result is None:
                ticket.events.put(error)
