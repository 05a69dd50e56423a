"""Batches requests that arrive concurrently (from server threads or tasks) onto one Engine.

A single worker thread takes whatever is waiting (up to the engine's batch size, after a short
gathering pause) and runs it as one `Engine.events` call, so eight clients asking at once share
decode steps instead of queueing one by one; a request arriving while that call runs joins it as soon
as a row is free (when its adapter can share the call's routing; otherwise it waits, and so does
everything behind it, for the next call). Callers get a `Future` (`submit`) or a live iterator of text
deltas (`stream`). A bounded queue refuses work with `RateLimitError` (HTTP 429) when full. A
cancelled future or a closed stream leaves its batch at the next step. It knows nothing about HTTP,
prompts or retrieval.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from groundtune.core.errors import DeadlineError, RateLimitError, UnavailableError
from groundtune.infer.request import GenerationRequest, GenerationResult

_DONE = object()


@dataclass
class _Job:
    request: GenerationRequest
    future: Future[GenerationResult] = field(default_factory=Future)
    deltas: queue.Queue[Any] | None = None  # set for streamed jobs
    abandoned: threading.Event = field(default_factory=threading.Event)

    def cancelled(self) -> bool:
        """The caller gave up (future cancelled, stream closed): stop spending decode steps on it."""
        return self.future.cancelled() or self.abandoned.is_set()


class ScheduledStream:
    """Text deltas of a scheduled request as they are generated; `result` once exhausted."""

    def __init__(self, job: _Job, timeout_s: float | None) -> None:
        self._job = job
        self._timeout_s = timeout_s
        self.result: GenerationResult | None = None

    def __iter__(self) -> Iterator[str]:
        assert self._job.deltas is not None
        deadline = None if self._timeout_s is None else time.monotonic() + self._timeout_s
        try:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    item = self._job.deltas.get(timeout=wait)
                except queue.Empty:
                    raise DeadlineError(
                        f"generation did not finish within {self._timeout_s}s",
                        hint="raise the timeout or lower max_tokens",
                    ) from None
                if item is _DONE:
                    break
                yield item
            self.result = self._job.future.result()
        finally:
            if self.result is None:  # timed out, failed or closed early: free its batch row
                self._job.abandoned.set()

    def close(self) -> None:
        """Stop this request's generation (a client went away)."""
        self._job.abandoned.set()


class BatchScheduler:
    """One worker thread feeding concurrent requests to `engine` in batches."""

    def __init__(self, engine: Any, *, max_queue: int = 64, gather_s: float = 0.01) -> None:
        self.engine = engine
        self.gather_s = gather_s
        self.max_queue = max_queue
        self._queue: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self.batches: list[int] = []  # requests of every engine call (joiners included), for load reports
        self._thread = threading.Thread(target=self._work, name="groundtune-batcher", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _enqueue(self, job: _Job) -> _Job:
        if self._stop.is_set():
            raise UnavailableError("the scheduler is closed", hint="create a new BatchScheduler")
        self.engine.validate(job.request)  # bad requests fail in the caller, not in the batch
        with self._ready:
            if len(self._queue) >= self.max_queue:
                raise RateLimitError(
                    f"{self.max_queue} requests are already waiting",
                    retry_after=1.0,
                    hint="retry after a second, or raise max_queue",
                )
            self._queue.append(job)
            self._ready.notify()
        return job

    def submit(self, request: GenerationRequest) -> Future[GenerationResult]:
        """Queue `request`; the future resolves to its result (or the error its batch raised)."""
        return self._enqueue(_Job(request)).future

    def stream(self, request: GenerationRequest, timeout_s: float | None = None) -> ScheduledStream:
        """Queue `request` and iterate its text deltas; raises DeadlineError past `timeout_s`."""
        return ScheduledStream(self._enqueue(_Job(request, deltas=queue.Queue())), timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop taking work; the running batch finishes, waiting requests fail as unavailable."""
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        with self._ready:
            left, self._queue = list(self._queue), deque()
        for job in left:
            self._fail(job, UnavailableError("the scheduler closed", hint="retry on a running server"))

    def __enter__(self) -> BatchScheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self) -> list[_Job]:
        with self._ready:
            if not self._ready.wait_for(lambda: self._queue, timeout=0.1):
                return []
            jobs = [self._queue.popleft()]
            deadline = time.monotonic() + self.gather_s
            while len(jobs) < self.engine.batch_size:
                if not self._queue and not self._ready.wait_for(
                    lambda: self._queue, timeout=max(0.0, deadline - time.monotonic())
                ):
                    break
                jobs.append(self._queue.popleft())
        return jobs

    def _joiners(
        self, jobs: list[_Job]
    ) -> Callable[[int, Callable[[GenerationRequest], bool]], list[GenerationRequest]]:
        """What `Engine.events` asks when a row is free: waiting requests from the head of the queue,
        while the call accepts them (first come, first served: one it cannot take stops the rest)."""

        def more(room: int, accepts: Callable[[GenerationRequest], bool]) -> list[GenerationRequest]:
            taken: list[_Job] = []
            with self._ready:
                while self._queue and len(taken) < room and accepts(self._queue[0].request):
                    taken.append(self._queue.popleft())
            jobs.extend(taken)
            self.batches[-1] += len(taken)
            return [job.request for job in taken]

        return more

    def _work(self) -> None:
        while not self._stop.is_set():
            jobs = self._take()
            if jobs:
                self._run(jobs)

    def _run(self, jobs: list[_Job]) -> None:
        self.batches.append(len(jobs))
        try:
            events = self.engine.events(
                [j.request for j in jobs], lambda i: jobs[i].cancelled(), self._joiners(jobs)
            )
            for event in events:
                job = jobs[event.index]
                if event.delta and job.deltas is not None:
                    job.deltas.put(event.delta)
                if event.result is not None:
                    if not job.future.done():  # a caller may have cancelled it meanwhile
                        job.future.set_result(event.result)
                    if job.deltas is not None:
                        job.deltas.put(_DONE)
        except Exception as exc:  # one failing batch must not kill the worker
            for job in jobs:
                if not job.future.done():
                    self._fail(job, exc)

    @staticmethod
    def _fail(job: _Job, exc: BaseException) -> None:
        if not job.future.done():
            job.future.set_exception(exc)
        if job.deltas is not None:
            job.deltas.put(_DONE)
