"""The scale-out job engine: procrastinate, a PostgreSQL-backed task queue, carries the jobs to worker
processes on any machine that reaches the database (and shares the workspace folder).

Our store stays the source of truth for a job's state; procrastinate only delivers "run job X" to one
worker. `ProcrastinateRunner` (in the server, the same interface as LocalRunner) defers a task for each
queued job — once per attempt, with the job id as queueing lock — and reconciles lost workers. A
procrastinate worker (`groundtune jobs worker --engine procrastinate`) runs the task: it claims the job
in the store (so a twin delivery runs nothing) and supervises a worker subprocess exactly as
LocalRunner does, so cancel, progress events, kill -9 recovery and checkpoint resume behave the same.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from groundtune.core.errors import InvalidInputError, UnavailableError
from groundtune.platform.jobs.runner import LocalRunner
from groundtune.platform.store import Store

QUEUE: Final = "groundtune"
TASK: Final = "groundtune.run_job"
_SCHEMA_LOCK: Final = 0x67745F70726F63  # "gt_proc": concurrent openers apply procrastinate's schema once


def _conninfo(store: Store) -> str:
    if store.dialect != "postgresql":
        raise InvalidInputError(
            "the procrastinate engine needs a PostgreSQL store",
            hint="start the server with --db postgresql+psycopg://user@host/db, or use --engine local",
        )
    return sa.engine.make_url(store.url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(store: Store, home: Path, *, poll_s: float = 0.5) -> tuple[Any, Any]:
    """The procrastinate app on the store's database and its one task, `run_job(job_id)`, which
    claims that job and runs it in a supervised worker subprocess."""
    try:
        import procrastinate
    except ModuleNotFoundError:
        raise UnavailableError(
            "the procrastinate engine needs the procrastinate package",
            hint="pip install 'groundtune[scale]' (or use --engine local)",
        ) from None
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=_conninfo(store)))

    @app.task(name=TASK, queue=QUEUE)
    def run_job(job_id: str) -> str:
        runner = LocalRunner(store, home, poll_s=poll_s)
        job = store.claim_job(job_id, runner.worker_id)
        if job is None:  # already claimed, cancelled or finished: a twin delivery runs nothing
            return store.get_job(job_id).state
        return runner.run_claimed(job).state

    return app, run_job


def ensure_schema(store: Store) -> None:
    """Create procrastinate's tables in the store's database unless they are there."""
    app, _ = make_app(store, store.home)
    with store.engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK})
        if conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            conn.exec_driver_sql(app.schema_manager.get_schema().replace("%", "%%"))


class ProcrastinateRunner(LocalRunner):
    """LocalRunner's interface over procrastinate: jobs are deferred to the queue, not run here."""

    adopts = False  # a job's worker belongs to the procrastinate worker that started it

    def __init__(self, store: Store, home: Path, **kw: Any) -> None:
        kw.pop("max_workers", None)  # concurrency is the procrastinate workers' (--concurrency)
        super().__init__(store, home, **kw)
        ensure_schema(store)
        self.app, self.task = make_app(store, home)
        self.app.open()
        self._deferred: set[tuple[str, int]] = set()

    def stop(self, *, wait: bool = False, timeout: float | None = None) -> None:
        super().stop()
        self.app.close()

    def tick(self, *, claim: bool = True) -> None:
        """Defer each queued job to procrastinate once per attempt."""
        if not claim:
            return
        from procrastinate.exceptions import AlreadyEnqueued

        after: str | None = None
        while True:
            page = self.store.list_jobs(state="queued", after=after, limit=100)
            for job in reversed(page.data):  # oldest first
                key = (job.id, job.attempts)
                if key in self._deferred:
                    continue
                with contextlib.suppress(AlreadyEnqueued):  # a task for it is waiting already
                    self.task.configure(queueing_lock=job.id).defer(job_id=job.id)
                self._deferred.add(key)
            if not page.has_more:
                return
            after = str(page.last_id)


def run_worker(store: Store, home: Path, *, concurrency: int = 1, wait: bool = True) -> None:
    """Run a procrastinate worker on this machine until SIGTERM/SIGINT (or, without `wait`, until
    the queue is empty): at most `concurrency` jobs at once, each in its own worker subprocess."""
    ensure_schema(store)
    app, _ = make_app(store, home)
    os.environ.setdefault("GROUNDTUNE_HOME", str(home))
    app.run_worker(queues=[QUEUE], concurrency=concurrency, wait=wait, name=f"groundtune-{os.getpid()}")
