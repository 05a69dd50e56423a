"""The SDK against the real platform app in-process: core models in and out, pages that fetch their
successors, cancel, idempotent creates, bodies checked before they are sent, per-call timeouts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from groundtune import AsyncClient, Client
from groundtune.core.artifacts import Job as CoreJob
from groundtune.core.configs import EvalConfig
from groundtune.core.errors import InvalidInputError, NotFoundError, StoppedError
from groundtune.core.resources import KnowledgeBase
from groundtune.sdk import Job, SyncPage
from tests.platform.api.conftest import TINY_EMBEDDER
from tests.sdk.conftest import URL, InProcess, queue_evaluation


def test_lists_walk_every_page(client: Client) -> None:
    made = [queue_evaluation(client, f"dataset:d{i}:test").id for i in range(5)]
    first = client.jobs.list(limit=2)
    assert isinstance(first, SyncPage) and len(first.data) == 2 and first.has_more
    assert [p.data for p in first.iter_pages()] and len(list(first.iter_pages())) == 3
    walked = [job.id for job in client.jobs.list(limit=2)]
    assert walked == sorted(made, reverse=True)  # newest first, across three pages
    assert all(isinstance(j, Job) and isinstance(j, CoreJob) for j in client.jobs.list(limit=2))
    for name in ("a", "b", "c"):
        kb = client.knowledge_bases.create(name=name, embedder=TINY_EMBEDDER)
        assert isinstance(kb, KnowledgeBase) and kb.name == name
    assert [kb.name for kb in client.knowledge_bases.list(limit=2)] == ["a", "b", "c"]
    page = client.knowledge_bases.list(limit=2).next_page()
    assert page is not None and [kb.name for kb in page.data] == ["c"] and page.next_page() is None


def test_events_page_and_stream_of_a_cancelled_job(client: Client) -> None:
    job = queue_evaluation(client)
    assert job.state == "queued" and job.kind == "evaluation"
    cancelled = job.cancel()
    assert cancelled.state == "cancelled" and cancelled.id == job.id
    states = [e.data.get("state") for e in client.jobs.list_events(job.id, limit=1) if e.type == "state"]
    assert states[-1] == "cancelled" and len(states) >= 3  # walked one event per page
    streamed = list(client.jobs.stream_events(job.id))
    assert [e.id for e in streamed] == [e.id for e in client.jobs.list_events(job.id)]
    with pytest.raises(StoppedError, match="cancelled"):
        job.wait(progress=False)
    assert client.jobs.retrieve(job.id).state == "cancelled"
    with pytest.raises(NotFoundError):  # an evaluation job is not a fine-tuning job
        client.fine_tuning.jobs.retrieve(job.id)


def test_a_create_sends_one_idempotency_key_and_a_replay_is_the_same_job(client: Client) -> None:
    config = EvalConfig(suites=["dataset:x:test"], model="tiny-random-gemma3")
    once = client.evaluations.create(config, idempotency_key="eval-1")
    again = client.evaluations.create(config, idempotency_key="eval-1")
    assert once.id == again.id and len(list(client.jobs.list())) == 1
    other = client.evaluations.create(config)  # a new logical create: a new key, a new job
    assert other.id != once.id


def test_bad_bodies_are_refused_before_sending(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="suites") as caught:
        client.evaluations.create(suites=[])
    assert caught.value.param == "suites" and caught.value.request_id is None  # never reached the server
    with pytest.raises(InvalidInputError, match="not both"):
        client.evaluations.create(EvalConfig(suites=["dataset:x:test"]), model="m")
    with pytest.raises(NotFoundError, match="no such file"):
        client.knowledge_bases.documents.upload("kb", ["/nonexistent/file.md"])


def test_documents_upload(platform: InProcess, tmp_path: Path) -> None:
    client = platform.client(max_retries=0)
    client.knowledge_bases.create(name="docs", embedder=TINY_EMBEDDER)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# Boilers\n\nThe boiler warranty lasts 24 months.\n")
    (folder / "b.txt").write_text("Batteries are covered for 12 months.\n")
    upload = client.knowledge_bases.documents.upload("docs", [folder, ("c.md", b"# Pumps\n\nPumps last.\n")])
    assert upload.job.kind == "ingestion" and {f.filename for f in upload.files} == {"a.md", "b.txt", "c.md"}
    assert {f.status for f in upload.files} == {"accepted"}
    status = client.knowledge_bases.uploads.retrieve("docs", upload.id)
    assert status.job.id == upload.job.id and status.job.state == "queued"


def test_async_client_over_asgi(platform: InProcess) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=platform.app)
        async with AsyncClient(
            URL, http_client=httpx.AsyncClient(transport=transport), max_retries=0
        ) as client:
            for name in ("x", "y", "z"):
                await client.knowledge_bases.create(name=name, embedder=TINY_EMBEDDER)
            first = await client.knowledge_bases.list(limit=2)
            assert [kb.name for kb in first.data] == ["x", "y"] and first.has_more
            assert [kb.name async for kb in client.knowledge_bases.list(limit=2)] == ["x", "y", "z"]
            job = await client.evaluations.create(suites=["dataset:x:test"])
            assert (await job.cancel()).state == "cancelled"
            events = [e async for e in client.jobs.stream_events(job.id)]
            assert events[-1].data.get("state") == "cancelled"
            with pytest.raises(StoppedError):
                await job.wait(progress=False)
            with pytest.raises(NotFoundError) as caught:
                await client.datasets.retrieve("missing")
            assert caught.value.request_id and caught.value.request_id.startswith("req_")

    asyncio.run(main())
