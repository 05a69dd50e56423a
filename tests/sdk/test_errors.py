"""Every error status reaches the caller as its core.errors class with the server's message, code and
request id: each class as the server writes it (serve/http.error_response) read back by the SDK, and
each status the platform app answers for real (400, 401, 403, 404, 409, 429, 503), retried where a
retry can help (429 honouring Retry-After, 5xx) without ever making a job twice."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from groundtune.core import errors
from groundtune.core.errors import (
    AuthenticationError,
    ConflictError,
    GroundtuneError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnavailableError,
)
from groundtune.platform.api.context import Limits
from groundtune.sdk._transport import error_of
from groundtune.serve.http import error_response
from tests.platform.api.conftest import TINY_EMBEDDER, TINY_LM
from tests.sdk.conftest import InProcess, queue_evaluation


@pytest.mark.parametrize("cls", errors.CLASSES, ids=lambda c: f"{c.status}-{c.__name__}")
def test_each_class_round_trips_through_the_http_error_shape(cls: type[GroundtuneError]) -> None:
    kwargs = {"retry_after": 7.0} if cls is RateLimitError else {}
    sent = cls("it broke", hint="do this", code="the_code", param="field", **kwargs)  # type: ignore[arg-type]
    wire = error_response(sent, "req_abc")
    response = httpx.Response(wire.status_code, headers=dict(wire.headers), content=wire.body)
    got = error_of(response)
    assert type(got) is cls and got.status == cls.status == wire.status_code
    assert got.message == "it broke (do this)" and got.code == "the_code" and got.param == "field"
    assert got.request_id == "req_abc" and got.exit_code == cls.exit_code
    if cls is RateLimitError:
        assert isinstance(got, RateLimitError) and got.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "cls"), [(405, InvalidInputError), (413, InvalidInputError), (502, UnavailableError)]
)
def test_other_statuses_map_to_the_nearest_class_and_keep_their_number(
    status: int, cls: type[GroundtuneError]
) -> None:
    got = error_of(httpx.Response(status, text="<html>Bad Gateway</html>", headers={"x-request-id": "req_x"}))
    assert (
        type(got) is cls
        and got.status == status
        and "Bad Gateway" in got.message
        and got.request_id == "req_x"
    )


def test_statuses_the_app_answers(tmp_path: Path) -> None:
    platform = InProcess(tmp_path / "gt-home", keys=True)
    try:
        writer, _ = platform.store.create_api_key("ci", ["write"])
        reader, _ = platform.store.create_api_key("dash", ["read"])
        client = platform.client(writer, max_retries=0)
        client.knowledge_bases.create(name="kb", embedder=TINY_EMBEDDER)
        with pytest.raises(ConflictError, match="exists") as conflict:
            client.knowledge_bases.create(name="kb", embedder=TINY_EMBEDDER)
        with pytest.raises(NotFoundError) as missing:
            client.knowledge_bases.retrieve("nope")
        with pytest.raises(InvalidInputError) as invalid:
            client.knowledge_bases.list(limit=0)
        with pytest.raises(AuthenticationError) as anonymous:
            platform.client(None, max_retries=0).knowledge_bases.list()
        with pytest.raises(PermissionDeniedError, match="needs 'write'") as denied:
            platform.client(reader, max_retries=0).knowledge_bases.create(name="kb2", embedder=TINY_EMBEDDER)
        for caught, status in [
            (conflict, 409),
            (missing, 404),
            (invalid, 400),
            (anonymous, 401),
            (denied, 403),
        ]:
            assert caught.value.status == status and caught.value.request_id.startswith("req_")
            assert caught.value.code or status in (409, 404)
        assert invalid.value.param == "limit" and anonymous.value.code == "invalid_api_key"
        assert denied.value.code == "insufficient_scope" and not isinstance(denied.value, AuthenticationError)
    finally:
        platform.close()


def test_a_full_queue_answers_429_and_the_retry_after_it_makes_one_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    platform = InProcess(tmp_path / "gt-home", limits=Limits(max_queued_jobs=1, retry_after_s=1))
    try:
        blocker = queue_evaluation(platform.client(max_retries=0), "dataset:first:test")
        with pytest.raises(RateLimitError, match="already waiting") as full:
            queue_evaluation(platform.client(max_retries=0), "dataset:second:test")
        assert full.value.retry_after == 1 and full.value.code == "job_queue_full"

        def free_the_queue(response: httpx.Response) -> None:  # the queue drains while the SDK waits
            if response.status_code == 429:
                platform.store.request_cancel(blocker.id)

        platform.http.event_hooks["response"] = [free_the_queue]
        caplog.set_level(logging.INFO, logger="groundtune.sdk")
        job = queue_evaluation(platform.client(max_retries=2), "dataset:second:test")
        retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
        assert len(retries) == 1 and "HTTP 429" in retries[0] and "in 1.00s" in retries[0]  # Retry-After: 1
        jobs = list(platform.client().jobs.list())
        assert [j.id for j in jobs] == [job.id, blocker.id]  # the 429'd attempt made no job
        assert job.config["suites"] == ["dataset:second:test"] and job.state == "queued"
    finally:
        platform.close()


def test_a_5xx_is_retried_then_raised(platform: InProcess, caplog: pytest.LogCaptureFixture) -> None:
    client = platform.client(max_retries=2)
    client.deployments.create(name="gpu", config={"model": TINY_LM, "engine": "vllm"})
    caplog.set_level(logging.INFO, logger="groundtune.sdk")
    with pytest.raises(UnavailableError, match="vLLM is not installed") as caught:
        client.deployments.start("gpu")
    assert caught.value.status == 503 and caught.value.request_id
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 2 and all("HTTP 503" in r for r in retries)
    assert client.deployments.retrieve("gpu").status == "failed"


def test_an_error_body_is_the_servers_json(platform: InProcess) -> None:
    raw = platform.http.get("http://testserver/v1/datasets/nothing")
    with pytest.raises(NotFoundError) as caught:
        platform.client(max_retries=0).datasets.retrieve("nothing")
    assert caught.value.message == json.loads(raw.text)["error"]["message"]
