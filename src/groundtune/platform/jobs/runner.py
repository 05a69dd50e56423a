"""The embedded job engine: `LocalRunner` claims queued jobs from the store and runs each in a worker
subprocess (`jobs.worker`), at most `max_workers` at once, from a background thread.

It owns recovery. A worker that ends without ending its job (SIGKILL, out of memory, a crash) is
lost: its job is requeued — a fine-tuning job then resumes from its newest checkpoint, and the event
says so — or failed after `max_attempts`, or cancelled when it was being cancelled. On start,
`reconcile()` does the same for jobs a previous runner left running: a live worker is adopted and
watched, a dead one recovered. Workers run in their own session, so they outlive a stopped runner
and the next one adopts them. Cancel: SIGTERM (the stage stops at its next step), SIGKILL after
`cancel_grace_s`.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from groundtune.core.artifacts import Job
from groundtune.core.errors import ConflictError
from groundtune.core.workspace import Workspace
from groundtune.platform.jobs import kinds
from groundtune.platform.store import DB_ENV, Store

HOST: Final = socket.gethostname()


def pid_alive(pid: int | None, job_id: str | None = None) -> bool:
    """Whether process `pid` runs (a zombie does not); with `job_id`, also that it is that job's
    worker (its command line names the job), so a recycled pid is not taken for the worker."""
    if not pid:
        return False
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and (job_id is None or job_id.encode() in cmdline)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runner_pid(worker_id: str | None) -> tuple[str | None, int | None]:
    """(host, pid) of the runner that wrote `worker_id` (`host:pid:token`)."""
    if not worker_id:
        return None, None
    host, _, rest = worker_id.partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdigit() else None


@dataclass
class _Worker:
    job_id: str
    pid: int
    proc: subprocess.Popen[bytes] | None  # None: adopted from an earlier runner (not our child)
    term_sent_at: float | None = None


class LocalRunner:
    """Runs queued jobs of `store` in worker subprocesses on this machine."""

    adopts = True  # reconcile watches live workers a previous runner left (a queue engine's do not)

    def __init__(
        self,
        store: Store,
        home: Path,
        *,
        max_workers: int = 1,
        poll_s: float = 0.25,
        cancel_grace_s: float = 30.0,
        max_attempts: int = 3,
        stale_after_s: float = 60.0,
        reconcile_every_s: float = 30.0,
    ) -> None:
        self.store, self.home = store, Path(home)
        self.max_workers, self.poll_s, self.cancel_grace_s = max_workers, poll_s, cancel_grace_s
        self.max_attempts, self.stale_after_s, self.reconcile_every_s = (
            max_attempts,
            stale_after_s,
            reconcile_every_s,
        )
        self.worker_id = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reconcile = 0.0

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Reconcile what a previous runner left, then claim and supervise jobs in the background."""
        if self._thread is not None:
            return
        self.reconcile()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="groundtune-runner", daemon=True)
        self._thread.start()

    def stop(self, *, wait: bool = False, timeout: float | None = None) -> None:
        """Stop claiming. Running workers go on (the next runner adopts them) unless `wait`, which
        waits for them to finish."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.running_jobs() and (deadline is None or time.monotonic() < deadline):
                self.tick(claim=False)
                time.sleep(self.poll_s)

    def __enter__(self) -> LocalRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def running_jobs(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
                if time.monotonic() - self._last_reconcile >= self.reconcile_every_s:
                    self.reconcile()
            except Exception as exc:  # the database may blink; the loop must outlive it
                print(f"groundtune runner: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self._stopping.wait(self.poll_s)

    # ---- one round -------------------------------------------------------------------------------
    def tick(self, *, claim: bool = True) -> None:
        """One scheduling round: notice ended workers, pass cancels on, start queued jobs."""
        with self._lock:
            for w in list(self._workers.values()):
                self._watch(w)
            while claim and len(self._workers) < self.max_workers and not self._stopping.is_set():
                job = self.store.claim_next_job(self.worker_id)
                if job is None:
                    break
                self._spawn(job)

    def _watch(self, w: _Worker) -> None:
        ended = w.proc.poll() is not None if w.proc is not None else not pid_alive(w.pid, w.job_id)
        if ended:
            del self._workers[w.job_id]
            job = self.store.get_job(w.job_id)
            if job.state in ("running", "cancelling"):  # it died without ending its job
                code = w.proc.returncode if w.proc is not None else None
                self._recover(job, _describe_exit(code))
            return
        if self.store.get_job(w.job_id).state == "cancelling":
            self._signal(w)

    def _signal(self, w: _Worker) -> None:
        now = time.monotonic()
        try:
            if w.term_sent_at is None:
                os.kill(w.pid, signal.SIGTERM)
                w.term_sent_at = now
            elif now - w.term_sent_at > self.cancel_grace_s:
                os.kill(w.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _spawn(self, job: Job) -> None:
        log_dir = Workspace(self.home).jobs / job.id
        log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "groundtune.platform.jobs.worker", "--home", str(self.home),
            "--job", job.id, "--worker-id", self.worker_id,
        ]  # fmt: skip
        try:
            with (log_dir / "worker.log").open("ab") as log:
                proc = subprocess.Popen(
                    cmd,
                    env={**os.environ, DB_ENV: self.store.url},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl+C on the server does not reach the workers
                )
        except OSError as exc:
            self.store.set_state(
                job.id, "failed", error={"message": f"cannot start a worker: {exc}", "type": "internal_error"}
            )
            return
        self.store.heartbeat(job.id, self.worker_id, proc.pid)
        self._workers[job.id] = _Worker(job.id, proc.pid, proc)

    def run_claimed(self, job: Job) -> Job:
        """Run a job this runner has claimed (`store.claim_job(id, self.worker_id)`) in a worker
        subprocess and supervise it until it ends, here and now (a queue engine's task does this)."""
        with self._lock:
            self._spawn(job)
        while self.running_jobs():
            self.tick(claim=False)
            time.sleep(self.poll_s)
        return self.store.get_job(job.id)

    # ---- cancel and recovery ---------------------------------------------------------------------
    def cancel(self, job_id: str) -> Job:
        """Cancel a job: a queued one at once; a running one of ours gets SIGTERM now (another
        runner's notices the `cancelling` state on its next round)."""
        job = self.store.request_cancel(job_id)
        with self._lock:
            w = self._workers.get(job_id)
            if w is not None and job.state == "cancelling":
                self._signal(w)
        return job

    def reconcile(self) -> list[Job]:
        """Settle jobs left `running`/`cancelling` by workers no runner watches: adopt a live worker
        on this machine, recover a dead one (or one elsewhere silent for `stale_after_s`)."""
        self._last_reconcile = time.monotonic()
        settled: list[Job] = []
        after: str | None = None
        while True:
            page = self.store.list_jobs(state=["running", "cancelling"], after=after, limit=100)
            for job in page.data:
                with self._lock:
                    if job.id in self._workers:
                        continue
                    outcome = self._reconcile_one(job)
                if outcome is not None:
                    settled.append(outcome)
            if not page.has_more:
                return settled
            after = page.last_id  # type: ignore[assignment]

    def _reconcile_one(self, job: Job) -> Job | None:
        worker_id, pid, beat = self.store.worker_of(job.id)
        host, runner_pid = _runner_pid(worker_id)
        if host == HOST:
            if pid_alive(pid, job.id):
                if self.adopts:
                    self._workers[job.id] = _Worker(job.id, int(pid), None)  # type: ignore[arg-type]
                    self.store.add_event(
                        job.id, "message", f"worker pid {pid} adopted by runner {self.worker_id}"
                    )
                return None
            if pid is None and worker_id != self.worker_id:
                # claimed by another runner that has not started its worker yet: its business
                fresh = beat is not None and time.time() - beat < self.stale_after_s
                if fresh or (runner_pid != os.getpid() and pid_alive(runner_pid)):
                    return None
            reason = f"worker pid {pid} is gone" if pid else "no worker was started"
        else:
            if beat is not None and time.time() - beat < self.stale_after_s:
                return None  # another machine's runner watches it
            reason = f"no heartbeat from {worker_id or 'any worker'} for {self.stale_after_s:.0f} s"
        return self._recover(job, reason)

    def _recover(self, job: Job, reason: str) -> Job | None:
        """A job whose worker is lost: cancelled if it was being cancelled, failed after
        `max_attempts`, else queued again (fine-tuning resumes from its newest checkpoint)."""
        try:
            if job.state == "cancelling":
                return self.store.set_state(
                    job.id, "cancelled", message=f"worker lost ({reason}); job cancelled"
                )
            if job.attempts >= self.max_attempts:
                error = {
                    "message": f"worker lost ({reason}) on attempt {job.attempts} of {self.max_attempts}",
                    "type": "internal_error",
                    "code": "worker_lost",
                }
                return self.store.set_state(job.id, "failed", error=error)
            step = kinds.last_checkpoint_step(job, self.home)
            attempt = job.attempts + 1
            if step is not None:
                text = f"worker lost ({reason}); resuming from checkpoint step {step} (attempt {attempt})"
            else:
                text = f"worker lost ({reason}); restarting (attempt {attempt})"
            data: dict[str, Any] = {"reason": reason, "checkpoint_step": step, "next_attempt": attempt}
            self.store.add_event(job.id, "message", text, level="warning", data=data)
            return self.store.set_state(job.id, "queued", message=f"job requeued (attempt {attempt} next)")
        except ConflictError:
            return None  # it moved meanwhile (its worker ended it after all)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker process gone"
    if code < 0:
        try:
            return f"worker killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with code {code} without ending the job"


def make_runner(engine: str, store: Store, home: Path, *, max_workers: int = 1, **kw: Any) -> LocalRunner:
    """The runner of `engine`: `local` (worker subprocesses here) or `procrastinate` (jobs go to
    procrastinate workers through the store's PostgreSQL database)."""
    if engine == "local":
        return LocalRunner(store, home, max_workers=max_workers, **kw)
    if engine == "procrastinate":
        from groundtune.platform.jobs.procrastinate_engine import ProcrastinateRunner

        return ProcrastinateRunner(store, home, **kw)
    from groundtune.core.errors import InvalidInputError

    raise InvalidInputError(
        f"unknown job engine '{engine}'", hint="use --engine local or --engine procrastinate"
    )
