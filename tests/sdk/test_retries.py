"""Against a live uvicorn server: a create whose answer is lost on the wire is retried with the same
Idempotency-Key and makes one job; an unreachable server is retried then raised; a per-call timeout
ends a call that waits too long."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from groundtune.core.errors import DeadlineError, UnavailableError
from groundtune.sdk import Client
from tests.platform.api.conftest import TINY_LM
from tests.platform.api.live import LivePlatform
from tests.sdk.faults import DroppingProxy
from tests.serve.live import free_port


def test_a_dropped_answer_to_a_create_is_retried_into_one_job(
    tmp_path: Path, dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="groundtune.sdk")
    with LivePlatform(tmp_path / "gt-home", runner=False) as live, DroppingProxy(live.port) as proxy:
        client = Client(proxy.url, max_retries=2)
        proxy.drop_answer_to("POST /v1/fine_tuning/jobs")
        job = client.fine_tuning.jobs.create(dataset=str(dataset), model=TINY_LM, max_steps=1)
        assert proxy.dropped == 1  # the server made the job and its answer was lost
        retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying POST")]
        assert len(retries) == 1 and "RemoteProtocolError" in retries[0]
        jobs = list(client.fine_tuning.jobs.list())
        assert [j.id for j in jobs] == [job.id] and job.state == "queued"
        events = list(client.jobs.list_events(job.id))
        assert sum(e.data.get("state") == "queued" for e in events) == 1
        client.close()


def test_an_unreachable_server_is_retried_then_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="groundtune.sdk")
    client = Client(f"http://127.0.0.1:{free_port()}", max_retries=1)
    with pytest.raises(UnavailableError, match="cannot reach") as caught:
        client.jobs.list()
    assert caught.value.code == "connection_error" and caught.value.request_id is None
    assert len([r for r in caplog.records if r.getMessage().startswith("retrying GET")]) == 1


def test_a_per_call_timeout_ends_a_call_that_waits_too_long(tmp_path: Path) -> None:
    with LivePlatform(tmp_path / "gt-home", runner=False) as live:
        client = Client(live.url, max_retries=0)
        job = client.evaluations.create(
            suites=["dataset:x:test"], model=TINY_LM
        )  # queued for good: no runner
        with pytest.raises(DeadlineError, match="timed out") as caught:
            for _ in client.jobs.stream_events(job.id, timeout=0.5):
                pass
        assert caught.value.code == "timeout"
        assert client.jobs.retrieve(job.id, timeout=30).state == "queued"  # the client's default is untouched
        client.close()
