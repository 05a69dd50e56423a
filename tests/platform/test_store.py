"""The platform store on SQLite and on a real PostgreSQL: schema version, job validation and states,
the atomic claim, events, API keys, idempotency records and deployments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from groundtune.core.configs import DeploymentConfig
from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError
from groundtune.platform.store import SCHEMA_VERSION, Store

TRAIN = {"dataset": "support", "model": "tiny-random-gemma3", "max_steps": 2}


def test_schema_is_created_once_and_its_version_recorded(
    store: Store, db_url: str | None, home: Path
) -> None:
    assert store.schema_version == SCHEMA_VERSION >= 1
    again = Store(db_url, home=home)  # re-opening applies nothing twice and keeps the data
    job = store.create_job("fine_tuning", TRAIN)
    assert again.schema_version == SCHEMA_VERSION and again.get_job(job.id) == job
    again.close()
    if db_url is None:
        assert (home / "platform.db").is_file()


def test_a_config_that_does_not_validate_names_the_field_and_stores_nothing(store: Store) -> None:
    with pytest.raises(InvalidInputError) as err:
        store.create_job("fine_tuning", {**TRAIN, "lr": -1, "lora": {"r": 0}})
    assert "lr" in str(err.value) and "lora.r" in str(err.value)
    with pytest.raises(InvalidInputError, match="dataset"):
        store.create_job("fine_tuning", {"model": "tiny-random-gemma3"})
    with pytest.raises(InvalidInputError, match="unknown job kind 'training'"):
        store.create_job("training", TRAIN)
    with pytest.raises(InvalidInputError, match="bogus"):
        store.create_job("evaluation", {"suites": ["dataset:x"], "bogus": 1})
    assert store.list_jobs().data == []


def test_a_job_is_validated_then_queued_and_its_config_resolved(store: Store) -> None:
    job = store.create_job("fine_tuning", TRAIN)
    assert job.id.startswith("job_") and job.state == "queued" and job.attempts == 0
    assert job.config["run_id"] == job.id  # its run directory is named after the job
    assert job.config["lr"] is None and job.config["max_steps"] == 2  # every field, resolved
    states = [e.data["state"] for e in store.list_events(job.id).data if e.type == "state"]
    assert states == ["validating_files", "queued"]


def test_missing_input_files_fail_the_job_with_the_reason(store: Store, tmp_path: Path) -> None:
    there = tmp_path / "a.md"
    there.write_text("# A\ntext")
    job = store.create_job("ingestion", {"kb": "docs", "inputs": [str(there), str(tmp_path / "gone.pdf")]})
    assert job.state == "failed" and job.finished_at is not None
    assert (
        job.error is not None and job.error["code"] == "invalid_file" and "gone.pdf" in job.error["message"]
    )
    assert store.create_job("ingestion", {"kb": "docs", "inputs": [str(there)]}).state == "queued"


def test_idempotency_key_returns_the_same_job_and_refuses_another_request(store: Store) -> None:
    first = store.create_job("fine_tuning", TRAIN, idempotency_key="k1")
    assert store.create_job("fine_tuning", TRAIN, idempotency_key="k1") == first
    with pytest.raises(ConflictError, match="different request"):
        store.create_job("fine_tuning", {**TRAIN, "max_steps": 3}, idempotency_key="k1")
    assert [j.id for j in store.list_jobs().data] == [first.id]


def test_list_jobs_newest_first_with_pages_and_filters(store: Store) -> None:
    made = [store.create_job("fine_tuning", {**TRAIN, "seed": i}) for i in range(5)]
    made.append(store.create_job("calibration", {"adapter": "a", "dataset": "d"}))
    page = store.list_jobs(limit=4)
    assert [j.id for j in page.data] == [j.id for j in reversed(made)][:4] and page.has_more
    rest = store.list_jobs(limit=4, after=page.last_id)  # type: ignore[arg-type]
    assert [j.id for j in rest.data] == [j.id for j in reversed(made)][4:] and not rest.has_more
    assert [j.kind for j in store.list_jobs(kind="calibration").data] == ["calibration"]
    assert len(store.list_jobs(state="queued", limit=100).data) == 6
    with pytest.raises(InvalidInputError, match="limit"):
        store.list_jobs(limit=0)
    with pytest.raises(NotFoundError):
        store.get_job("job_missing")


def test_states_move_only_along_legal_transitions(store: Store) -> None:
    job = store.create_job("fine_tuning", TRAIN)
    with pytest.raises(ConflictError, match="cannot become succeeded"):
        store.set_state(job.id, "succeeded")
    running = store.claim_next_job("w1")
    assert running is not None and running.state == "running" and running.attempts == 1
    assert running.started_at is not None
    done = store.set_state(job.id, "succeeded", result={"run_id": job.id}, resource="my-adapter")
    assert (
        done.finished_at is not None and done.result == {"run_id": job.id} and done.resource == "my-adapter"
    )
    with pytest.raises(ConflictError):
        store.set_state(job.id, "running")
    with pytest.raises(ConflictError, match="already succeeded"):
        store.request_cancel(job.id)


def test_cancel_queued_at_once_running_through_cancelling(store: Store) -> None:
    queued = store.create_job("fine_tuning", TRAIN)
    assert store.request_cancel(queued.id).state == "cancelled"
    assert store.claim_next_job("w") is None  # a cancelled job is never claimed
    running = store.create_job("fine_tuning", TRAIN)
    store.claim_next_job("w")
    assert store.request_cancel(running.id).state == "cancelling"
    assert store.request_cancel(running.id).state == "cancelling"  # asking twice changes nothing
    assert store.heartbeat(running.id, "w", os.getpid()).state == "cancelling"
    assert store.set_state(running.id, "cancelled").state == "cancelled"


def test_requeue_forgets_the_worker_and_the_next_claim_counts_an_attempt(store: Store) -> None:
    job = store.create_job("fine_tuning", TRAIN)
    store.claim_next_job("w1")
    store.heartbeat(job.id, "w1", 4242)
    assert store.worker_of(job.id)[:2] == ("w1", 4242)
    store.set_state(job.id, "queued", message="worker lost")
    assert store.worker_of(job.id) == (None, None, None)
    again = store.claim_next_job("w2")
    assert again is not None and again.id == job.id and again.attempts == 2


def test_concurrent_claimers_never_get_the_same_job(store: Store, db_url: str | None, home: Path) -> None:
    ids = {store.create_job("fine_tuning", {**TRAIN, "seed": i}).id for i in range(30)}
    claimed: dict[str, list[str]] = {}

    def claim(name: str) -> None:
        own = Store(db_url, home=home)  # its own engine and connections
        got = claimed.setdefault(name, [])
        while (job := own.claim_next_job(name)) is not None:
            got.append(job.id)
        own.close()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [j for got in claimed.values() for j in got]
    assert sorted(everything) == sorted(ids)  # each job exactly once
    assert all(j.attempts == 1 for j in store.list_jobs(limit=100).data)


_CLAIMER = """
import json, sys
from pathlib import Path
from groundtune.platform.store import Store
s = Store(sys.argv[1], home=Path(sys.argv[2]))
got = []
while (job := s.claim_next_job(sys.argv[3])) is not None:
    got.append(job.id)
print(json.dumps(got))
"""


def test_two_processes_on_one_postgresql_never_claim_the_same_job(pg_url: str, home: Path) -> None:
    store = Store(pg_url, home=home)
    ids = {store.create_job("fine_tuning", {**TRAIN, "seed": i}).id for i in range(40)}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, pg_url, str(home), f"runner-{i}"],
            stdout=subprocess.PIPE,
            env=env,
        )
        for i in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outs[0] + outs[1]) == sorted(ids)
    claims = [e for j in ids for e in store.list_events(j, limit=100).data if e.data.get("from") == "queued"]
    assert len(claims) == len(ids)  # one claim event per job
    store.close()


def test_events_page_oldest_first_after_a_cursor(store: Store) -> None:
    job = store.create_job("fine_tuning", TRAIN)
    for i in range(5):
        store.add_event(job.id, "progress", f"step {i}", data={"done": i})
    first = store.list_events(job.id, limit=3)
    assert [e.message for e in first.data] == ["job created; validating files", "job queued", "step 0"]
    assert first.has_more and first.last_id == first.data[-1].id
    rest = store.list_events(job.id, after=first.data[-1].id, limit=10)
    assert [e.data["done"] for e in rest.data] == [1, 2, 3, 4] and not rest.has_more
    assert [e.id for e in rest.data] == sorted(e.id for e in rest.data)
    with pytest.raises(NotFoundError):
        store.list_events("job_missing")
    with pytest.raises(NotFoundError):
        store.add_event("job_missing", "message", "x")


def test_api_keys_are_shown_once_stored_hashed_and_revocable(store: Store) -> None:
    secret, key = store.create_api_key("ci", ["write", "read"])
    assert key.scopes == ["read", "write"] and secret.startswith(key.prefix) and key.revoked_at is None
    assert store.verify_api_key(secret) is not None
    assert store.verify_api_key(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert store.verify_api_key("not-a-key") is None
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM api_keys")).mappings().one()
    assert secret not in json.dumps({k: str(v) for k, v in stored.items()})  # only the salted hash
    assert [k.id for k in store.list_api_keys()] == [key.id]
    assert store.revoke_api_key(key.id).revoked_at is not None
    assert store.verify_api_key(secret) is None
    with pytest.raises(InvalidInputError, match="scopes"):
        store.create_api_key("x", ["root"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="scopes"):
        store.create_api_key("x", [])
    with pytest.raises(NotFoundError):
        store.revoke_api_key("key_missing")


def test_idempotency_records_replay_and_refuse_another_body(store: Store) -> None:
    assert store.idempotency_lookup("k", "POST /v1/jobs", "h1") is None
    store.idempotency_store("k", "POST /v1/jobs", "h1", 200, {"id": "job_1"})
    assert store.idempotency_lookup("k", "POST /v1/jobs", "h1") == (200, {"id": "job_1"})
    with pytest.raises(ConflictError, match="different request body"):
        store.idempotency_lookup("k", "POST /v1/jobs", "h2")
    assert store.idempotency_lookup("k", "POST /v1/datasets", "h2") is None  # keys are per route
    store.idempotency_store("k", "POST /v1/jobs", "h1", 200, {"id": "job_1"})  # a twin: no error
    with pytest.raises(ConflictError):
        store.idempotency_store("k", "POST /v1/jobs", "h3", 200, {"id": "job_2"})


def test_deployments_are_created_listed_moved_and_deleted(store: Store) -> None:
    config = DeploymentConfig(adapters={"support": "support-lora"}, kb="docs")
    made = store.create_deployment("support", config)
    assert made["status"] == "stopped" and made["config"]["kb"] == "docs"
    with pytest.raises(ConflictError, match="already exists"):
        store.create_deployment("support", config)
    with pytest.raises(InvalidInputError, match="bad deployment name"):
        store.create_deployment("../x", config)
    failed = store.set_deployment_status("support", "failed", error="no such adapter")
    assert failed["status"] == "failed" and failed["error"] == "no such adapter"
    with pytest.raises(InvalidInputError):
        store.set_deployment_status("support", "exploded")
    assert [d["name"] for d in store.list_deployments()] == ["support"]
    assert store.delete_deployment("support")["name"] == "support"
    with pytest.raises(NotFoundError):
        store.get_deployment("support")
