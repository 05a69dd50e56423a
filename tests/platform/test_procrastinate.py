"""The scale-out engine for real: a server-side ProcrastinateRunner defers jobs to a procrastinate
worker process on a real PostgreSQL; a tiny fine-tuning job runs to succeeded there with its events,
and a cancel reaches a job the procrastinate worker runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from groundtune.core.errors import InvalidInputError
from groundtune.platform.jobs.runner import make_runner
from groundtune.platform.store import Store
from tests.platform.test_runner import events, finished, steps_done, wait_for
from tests.train.helpers import tiny_config

pytest.importorskip("procrastinate")


def test_jobs_run_and_cancel_through_procrastinate_workers(pg_url: str, home: Path, dataset: Path) -> None:
    store = Store(pg_url, home=home)
    runner = make_runner("procrastinate", store, home)
    runner.start()
    home.mkdir(parents=True, exist_ok=True)
    with (home / "procrastinate-worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "groundtune.cli", "--home", str(home), "jobs", "worker",
             "--engine", "procrastinate", "--db", pg_url],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        long = store.create_job(
            "fine_tuning", tiny_config(dataset, max_steps=5000, save_every=1000, eval_every=1000)
        )
        wait_for(store, long.id, lambda j: steps_done(store, j.id) >= 2)
        assert runner.cancel(long.id).state == "cancelling"
        cancelled = wait_for(store, long.id, finished)
        short = store.create_job("fine_tuning", tiny_config(dataset, max_steps=3, save_every=3, eval_every=3))
        done = wait_for(store, short.id, finished)
    finally:
        worker.send_signal(signal.SIGTERM)  # procrastinate's graceful stop
        worker.wait(timeout=120)
        runner.stop()
    assert cancelled.state == "cancelled", (home / "procrastinate-worker.log").read_text()[-3000:]
    assert (home / "runs" / long.id / "checkpoints").is_dir()
    assert done.state == "succeeded" and done.attempts == 1 and done.resource == short.id
    progress = [e for e in events(store, short.id) if e.type == "progress"]
    assert [e.data["done"] for e in progress] == [1, 2, 3]
    claim = next(e for e in events(store, short.id) if e.data.get("from") == "queued")
    assert f":{worker.pid}:" in claim.data["worker_id"]  # claimed in the procrastinate worker process
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT args->>'job_id', status FROM procrastinate_jobs WHERE task_name = 'groundtune.run_job'"
            )
        ).all()
    assert {r[0]: r[1] for r in rows} == {
        long.id: "succeeded",
        short.id: "succeeded",
    }  # the task ran once each
    assert os.path.exists(home / "adapters" / short.id)
    store.close()


def test_the_procrastinate_engine_refuses_a_sqlite_store(home: Path) -> None:
    with pytest.raises(InvalidInputError, match="needs a PostgreSQL store"):
        make_runner("procrastinate", Store(home=home), home)
    with pytest.raises(InvalidInputError, match="unknown job engine"):
        make_runner("celery", Store(home=home), home)


def test_the_server_runs_jobs_on_the_engine_it_is_given(pg_url: str, home: Path) -> None:
    from typer.testing import CliRunner

    from groundtune.cli.main import app
    from groundtune.platform.api.server import build_app
    from groundtune.platform.jobs.procrastinate_engine import ProcrastinateRunner

    store = Store(pg_url, home=home)
    try:
        served = build_app(store, home, host="127.0.0.1", engine="procrastinate")
        assert isinstance(served.state.platform.runner, ProcrastinateRunner)
    finally:
        store.close()
    # `groundtune server --engine procrastinate` on the default SQLite store: a clear error, exit 2
    result = CliRunner().invoke(
        app, ["--home", str(home), "server", "--engine", "procrastinate", "--port", "1", "--no-ui"]
    )
    assert result.exit_code == 2 and "needs a PostgreSQL store" in result.output
