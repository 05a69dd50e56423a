"""One job in its own process: `python -m groundtune.platform.jobs.worker --home H --job ID [--db URL]`.

The worker runs the job's stage, writes its progress as job events (training steps with loss, lr,
tokens/s and an ETA from recent step times), and ends the job: succeeded with the stage's artifact,
failed with the error body, or cancelled. SIGTERM, or the job turning `cancelling` in the store (seen
by the heartbeat), stops the stage at its next step boundary; training saves a checkpoint first.
The worker never decides whether a lost job is retried: its runner does.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundtune.core.artifacts import Job
from groundtune.core.errors import ConflictError, GroundtuneError, StoppedError
from groundtune.core.progress import ProgressEvent
from groundtune.platform.jobs import kinds
from groundtune.platform.store import DB_ENV, Store

HEARTBEAT_S = 1.0
EVENT_EVERY_S = 0.5  # non-training progress is stored at most this often per stage (plus its first and last)
ETA_WINDOW = 20  # steps whose mean time predicts the rest


class ProgressRecorder:
    """Stores a stage's ProgressEvents as job events. Every training step is kept (it is the loss
    curve) with `eta_s` added; other stages' events are thinned to a few a second."""

    def __init__(self, store: Store, job_id: str) -> None:
        self.store, self.job_id = store, job_id
        self._step_times: deque[float] = deque(maxlen=ETA_WINDOW)
        self._last: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        metrics = dict(event.metrics)
        if event.stage == "train":
            step_time = metrics.get("step_time_s")
            if isinstance(step_time, int | float):
                self._step_times.append(float(step_time))
            if self._step_times and event.total:
                mean = sum(self._step_times) / len(self._step_times)
                metrics["eta_s"] = round(mean * max(0, event.total - event.done), 3)
            loss = metrics.get("loss")
            message = f"step {event.done}/{event.total}" + (f": loss {loss:.4f}" if loss is not None else "")
        else:
            now = time.monotonic()
            ends = event.done in (0, event.total)
            if not ends and now - self._last.get(event.stage, -1e9) < EVENT_EVERY_S:
                return
            self._last[event.stage] = now
            message = event.message or f"{event.stage}: {event.done}/{event.total or '?'}"
        data = event.model_dump(mode="json")
        data["metrics"] = metrics
        self.store.add_event(self.job_id, "progress", message, data=data)


class _Heartbeat(threading.Thread):
    """Tells the store every second that this process works on the job, and sets `stop` when the
    job turns `cancelling` (a cancel that reached the store but not this process's signal)."""

    def __init__(self, store: Store, job_id: str, worker_id: str, stop: threading.Event) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.store, self.job_id, self.worker_id, self.stop = store, job_id, worker_id, stop
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_S):
            try:
                if self.store.heartbeat(self.job_id, self.worker_id, os.getpid()).state == "cancelling":
                    self.stop.set()
            except Exception as exc:  # a database hiccup must not kill the job; the next beat retries
                print(f"heartbeat failed: {exc}", file=sys.stderr, flush=True)


def run_job(store: Store, job_id: str, *, home: Path, worker_id: str) -> str:
    """Run one claimed job to its end; returns the state it ended in."""
    job = store.get_job(job_id)
    if job.state not in ("running", "cancelling"):
        print(f"job {job_id} is {job.state}, not running: nothing to do", file=sys.stderr)
        return job.state
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    job = store.heartbeat(job_id, worker_id, os.getpid())
    if job.state == "cancelling":
        stop.set()
    beat = _Heartbeat(store, job_id, worker_id, stop)
    beat.start()
    store.add_event(
        job_id, "message", f"worker {worker_id} (pid {os.getpid()}) started attempt {job.attempts}"
    )
    try:
        return _run(store, job, home=home, stop=stop.is_set)
    finally:
        beat.done.set()
        beat.join()


def _run(store: Store, job: Job, *, home: Path, stop: Callable[[], bool]) -> str:
    try:
        artifact, resource = kinds.run(job, home=home, progress=ProgressRecorder(store, job.id), stop=stop)
    except StoppedError as exc:
        return _end(store, job.id, "cancelled", message=f"job cancelled: {exc}")
    except GroundtuneError as exc:
        return _end(store, job.id, "failed", error=exc.to_dict()["error"])  # type: ignore[arg-type]
    except Exception as exc:
        traceback.print_exc()
        error = {"message": f"{type(exc).__name__}: {exc}", "type": "internal_error", "code": None}
        return _end(store, job.id, "failed", error=error)
    return _end(store, job.id, "succeeded", result=artifact.model_dump(mode="json"), resource=resource)


def _end(store: Store, job_id: str, state: Any, **kw: Any) -> str:
    try:
        return store.set_state(job_id, state, **kw).state
    except ConflictError as exc:  # its runner gave the job up meanwhile (it thought this worker lost)
        print(f"could not record {state}: {exc}", file=sys.stderr)
        return store.get_job(job_id).state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one groundtune platform job in this process.")
    parser.add_argument(
        "--db", default=os.environ.get(DB_ENV), help=f"Store URL (default ${DB_ENV}, else SQLite)."
    )
    parser.add_argument("--home", required=True, help="The workspace.")
    parser.add_argument("--job", required=True, help="The job id (claimed by the caller).")
    parser.add_argument("--worker-id", default=f"{socket.gethostname()}:{os.getpid()}:worker")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the log keeps events, not bars
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    home = Path(args.home).expanduser().resolve()
    os.environ["GROUNDTUNE_HOME"] = str(home)
    with Store(args.db, home=home) as store:
        state = run_job(store, args.job, home=home, worker_id=args.worker_id)
    print(f"job {args.job}: {state}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
