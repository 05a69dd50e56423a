"""LocalRunner on real worker subprocesses and a real tiny-model fine-tuning job: success with progress
events, cancel at a step boundary keeping the checkpoint, kill -9 of the worker (requeued and resumed
from its checkpoint), a server restart that reconciles a job whose worker died, adoption of a live
worker, and two runners on one PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from groundtune.core.artifacts import TERMINAL_STATES, Job, JobEvent
from groundtune.platform.jobs.runner import HOST, LocalRunner, pid_alive
from groundtune.platform.store import Store
from tests.train.helpers import tiny_config

WAIT_S = 300  # a safety net for a wedged test, not a speed requirement


def wait_for(store: Store, job_id: str, until: Callable[[Job], bool]) -> Job:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job never got there: {store.get_job(job_id)}\n{_log(store, job_id)}")


def events(store: Store, job_id: str) -> list[JobEvent]:
    out: list[JobEvent] = []
    after = None
    while True:
        page = store.list_events(job_id, after=after, limit=100)
        out += page.data
        if not page.has_more:
            return out
        after = page.last_id  # type: ignore[assignment]


def _log(store: Store, job_id: str) -> str:
    return "\n".join(f"{e.type} {e.level} {e.message}" for e in events(store, job_id))


def steps_done(store: Store, job_id: str) -> int:
    return max((e.data["done"] for e in events(store, job_id) if e.type == "progress"), default=0)


def finished(job: Job) -> bool:
    return job.state in TERMINAL_STATES


@pytest.fixture()
def runner(home: Path) -> Iterator[tuple[Store, LocalRunner]]:
    store = Store(home=home)
    r = LocalRunner(store, home, cancel_grace_s=60)
    r.start()
    yield store, r
    for job_id in r.running_jobs():  # a failed test leaves no worker behind
        _, pid, _ = store.worker_of(job_id)
        if pid:
            os.kill(pid, signal.SIGKILL)
    r.stop()
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_fine_tuning_job_runs_to_succeeded_with_training_events(
    backend: str, request: pytest.FixtureRequest, home: Path, dataset: Path
) -> None:
    url = None if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url, home=home)
    with LocalRunner(store, home):
        job = store.create_job("fine_tuning", tiny_config(dataset, max_steps=4, save_every=2, eval_every=2))
        done = wait_for(store, job.id, finished)
    assert done.state == "succeeded", _log(store, job.id)
    assert done.attempts == 1 and done.started_at is not None and done.finished_at is not None
    assert done.resource == job.id and (home / "adapters" / job.id / "adapter_model.safetensors").is_file()
    assert done.result is not None and done.result["status"] == "succeeded" and done.result["steps"] == 4
    log = events(store, job.id)
    states = [e.data["state"] for e in log if e.type == "state"]
    assert states == ["validating_files", "queued", "running", "succeeded"]
    progress = [e for e in log if e.type == "progress"]
    assert [e.data["done"] for e in progress] == [1, 2, 3, 4]
    for e in progress:
        assert e.data["stage"] == "train" and e.data["total"] == 4
        assert {"loss", "lr", "tokens_per_s", "eta_s"} <= set(e.data["metrics"])
    assert progress[-1].data["metrics"]["eta_s"] == 0 and progress[0].data["metrics"]["eta_s"] > 0
    assert (home / "jobs" / job.id / "worker.log").is_file()
    store.close()


def test_cancel_stops_a_running_job_and_keeps_its_checkpoint(
    runner: tuple[Store, LocalRunner], home: Path, dataset: Path
) -> None:
    store, r = runner
    job = store.create_job(
        "fine_tuning", tiny_config(dataset, max_steps=5000, save_every=1000, eval_every=1000)
    )
    wait_for(store, job.id, lambda j: steps_done(store, j.id) >= 3)
    assert r.cancel(job.id).state == "cancelling"
    done = wait_for(store, job.id, finished)
    assert done.state == "cancelled", _log(store, job.id)
    stopped_at = steps_done(store, job.id)
    assert 3 <= stopped_at < 5000
    checkpoints = sorted(p.name for p in (home / "runs" / job.id / "checkpoints").iterdir())
    assert checkpoints == [f"step-{stopped_at:06d}"]  # saved at the step it stopped on
    assert '"status": "stopped"' in (home / "runs" / job.id / "run.json").read_text()
    assert any(f"stopped at step {stopped_at}" in e.message for e in events(store, job.id))
    deadline = time.monotonic() + WAIT_S
    while r.running_jobs() and time.monotonic() < deadline:  # the worker exits after ending the job
        time.sleep(0.05)
    assert not r.running_jobs()


def test_kill_9_of_the_worker_requeues_the_job_and_resumes_it_from_its_checkpoint(
    runner: tuple[Store, LocalRunner], home: Path, dataset: Path
) -> None:
    store, _ = runner
    cfg = tiny_config(dataset, max_steps=120, save_every=5, eval_every=1000, keep_checkpoints=1)
    job = store.create_job("fine_tuning", cfg)
    wait_for(store, job.id, lambda j: steps_done(store, j.id) >= 7)  # a checkpoint at step 5 exists
    _, pid, _ = store.worker_of(job.id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    done = wait_for(store, job.id, finished)
    assert done.state == "succeeded", _log(store, job.id)
    assert done.attempts == 2 and done.result is not None and done.result["steps"] == 120
    lost = [e for e in events(store, job.id) if e.message.startswith("worker lost")]
    assert len(lost) == 1 and "SIGKILL" in lost[0].message and lost[0].level == "warning"
    step = lost[0].data["checkpoint_step"]
    assert step >= 5 and step % 5 == 0
    assert f"resuming from checkpoint step {step} (attempt 2)" in lost[0].message
    metrics = (home / "runs" / job.id / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == len({line for line in metrics})  # no step logged twice


def test_a_restarted_server_reconciles_a_job_whose_worker_died(home: Path, dataset: Path) -> None:
    store = Store(home=home)
    first = LocalRunner(store, home)
    first.start()
    job = store.create_job("fine_tuning", tiny_config(dataset, max_steps=120, save_every=5, eval_every=1000))
    wait_for(store, job.id, lambda j: steps_done(store, j.id) >= 7)
    first.stop()  # the server goes away; its worker would go on...
    _, pid, _ = store.worker_of(job.id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # ...but dies too
    while pid_alive(pid, job.id):
        time.sleep(0.05)
    store.close()
    assert Store(home=home).get_job(job.id).state == "running"  # the row still says so

    again = Store(home=home)  # the restarted server: a new store and runner on the same database
    with LocalRunner(again, home):
        done = wait_for(again, job.id, finished)
    assert done.state == "succeeded" and done.attempts == 2, _log(again, job.id)
    lost = next(e for e in events(again, job.id) if e.message.startswith("worker lost"))
    assert f"worker pid {pid} is gone" in lost.message and "resuming from checkpoint step" in lost.message
    again.close()


def test_reconcile_adopts_a_live_worker_and_recovers_it_when_it_dies(home: Path) -> None:
    store = Store(home=home)
    job = store.create_job("calibration", {"adapter": "a", "dataset": "d"})
    store.claim_next_job(f"{HOST}:1:gone")  # a runner that no longer exists
    # A process standing in for its worker: alive, and its command line names the job.
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", job.id])
    try:
        store.heartbeat(job.id, f"{HOST}:1:gone", stand_in.pid)
        runner = LocalRunner(store, home)
        assert runner.reconcile() == []
        assert runner.running_jobs() == [job.id] and store.get_job(job.id).state == "running"
        stand_in.kill()
        stand_in.wait()
        runner.tick(claim=False)
    finally:
        stand_in.kill()
    requeued = store.get_job(job.id)
    assert requeued.state == "queued" and requeued.attempts == 1 and not runner.running_jobs()
    assert "restarting (attempt 2)" in _log(store, job.id)


def test_a_lost_job_fails_after_max_attempts_and_a_cancelling_one_is_cancelled(home: Path) -> None:
    store = Store(home=home)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runner = LocalRunner(store, home, max_attempts=1)
    flaky = store.create_job("calibration", {"adapter": "a", "dataset": "d"})
    store.claim_next_job(f"{HOST}:1:gone")
    store.heartbeat(flaky.id, f"{HOST}:1:gone", dead.pid)
    leaving = store.create_job("calibration", {"adapter": "b", "dataset": "d"})
    store.claim_next_job(f"{HOST}:1:gone")
    store.heartbeat(leaving.id, f"{HOST}:1:gone", dead.pid)
    store.request_cancel(leaving.id)
    settled = {j.id: j for j in runner.reconcile()}
    assert settled[flaky.id].state == "failed" and settled[flaky.id].error["code"] == "worker_lost"  # type: ignore[index]
    assert settled[leaving.id].state == "cancelled"


def test_two_runners_on_one_postgresql_run_each_job_once(pg_url: str, home: Path, tmp_path: Path) -> None:
    doc = tmp_path / "a.md"
    doc.write_text("# A\nSome text.")
    stores = [Store(pg_url, home=home) for _ in range(2)]
    runners = [LocalRunner(s, home, max_workers=2) for s in stores]
    # Jobs that fail fast (their knowledge base does not exist): the claim is what is under test.
    ids = [
        stores[0].create_job("ingestion", {"kb": f"missing-{i}", "inputs": [str(doc)]}).id for i in range(6)
    ]
    for r in runners:
        r.start()
    try:
        done = [wait_for(stores[0], i, finished) for i in ids]
    finally:
        for r in runners:
            r.stop(wait=True)
    assert all(j.state == "failed" and j.attempts == 1 for j in done), [j.error for j in done]
    assert all(j.error is not None and j.error["type"] == "not_found_error" for j in done)
    claimers = set()
    for i in ids:
        claims = [e for e in events(stores[0], i) if e.data.get("from") == "queued"]
        assert len(claims) == 1
        claimers.add(claims[0].data["worker_id"])
    assert claimers <= {r.worker_id for r in runners}
    for s in stores:
        s.close()
