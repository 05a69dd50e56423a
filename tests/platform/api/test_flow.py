"""The whole flow over HTTP alone, on the tiny models, against a real uvicorn server with a real
job runner: create a KB, upload the sample documents, build a dataset, fine-tune, evaluate, deploy,
ask through the official `openai` package and get a grounded answer with its citations context.
Once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import httpx
import openai
import pytest

from tests.platform.api.conftest import SAMPLE, TINY_EMBEDDER, TINY_LM
from tests.platform.api.live import LivePlatform
from tests.serve.reader import Reader


def _sse(url: str) -> list[str]:
    with httpx.stream("GET", url, timeout=120) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        return [line[6:] for line in r.iter_lines() if line.startswith("data: ")]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_whole_flow_over_http(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = None
    if backend == "postgresql":
        from tests.platform.conftest import fresh_postgres_db

        db = fresh_postgres_db(request.getfixturevalue("postgres_url"))
    home = tmp_path / "gt-home"
    with LivePlatform(home, db) as p:
        api = p.http
        # 1. knowledge base + upload of the sample documents -> an ingestion job, a status per file
        assert (
            api.post("/v1/knowledge_bases", json={"name": "sample", "embedder": TINY_EMBEDDER}).status_code
            == 200
        )
        docs = sorted(f for f in (SAMPLE / "docs").iterdir() if f.is_file())
        upload = api.post(
            "/v1/knowledge_bases/sample/documents", files=[("files", (f.name, f.read_bytes())) for f in docs]
        )
        assert upload.status_code == 200, upload.text
        job = p.wait(upload.json()["id"])
        assert job["state"] == "succeeded", job
        files = api.get(f"/v1/knowledge_bases/sample/uploads/{job['id']}").json()["files"]
        assert len(files) == len(docs) and {f["status"] for f in files} == {"added"}
        kb = api.get("/v1/knowledge_bases/sample").json()
        assert kb["documents"] == len(docs)

        # 2. QA files by upload, then the dataset build job
        train = api.post(
            "/v1/files", files={"file": ("qa_train.jsonl", (SAMPLE / "qa_train.jsonl").read_bytes())}
        )
        held = api.post(
            "/v1/files", files={"file": ("qa_heldout.jsonl", (SAMPLE / "qa_heldout.jsonl").read_bytes())}
        )
        build = {
            "name": "sample",
            "kb": "sample",
            "lm": TINY_LM,
            "sources": [
                {"kind": "qa", "path": train.json()["id"], "limit": 60},
                {"kind": "qa", "path": held.json()["id"], "assign": "test", "limit": 6},
            ],
            "splits": {"train": 0.8, "validation": 0.2},
        }
        job = p.wait(api.post("/v1/datasets", json=build, headers={"Idempotency-Key": "ds-1"}).json()["id"])
        assert job["state"] == "succeeded", job
        card = api.get("/v1/datasets/sample").json()
        assert (
            card["kb"] == "sample"
            and card["splits"]["train"] > 0
            and card["kb_generation"] == kb["generation"]
        )
        examples = api.get("/v1/datasets/sample/examples", params={"limit": 5, "tokens": "true"}).json()
        roles = {d["role"] for ex in examples["data"] for d in ex["documents"]}
        assert roles <= {"oracle", "distractor"} and "distractor" in roles
        assert examples["data"][0]["trained_tokens"] > 0
        export = api.get("/v1/datasets/sample/exports/chat", params={"split": "train"})
        assert export.status_code == 200 and "messages" in json.loads(export.text.splitlines()[0])

        # 3. fine-tune: events with metrics, SSE stream, checkpoints, the adapter with its lineage
        train_cfg = {"dataset": "sample", "model": TINY_LM, "name": "tuned", "max_steps": 2, "save_every": 1,
                     "eval_every": 2, "batch_size": 2, "grad_accum": 1}  # fmt: skip
        created = api.post("/v1/fine_tuning/jobs", json=train_cfg).json()
        assert created["kind"] == "fine_tuning" and created["state"] in ("queued", "running")
        streamed = _sse(f"{p.url}/v1/fine_tuning/jobs/{created['id']}/events?stream=true")
        assert streamed[-1] == "[DONE]"
        job = api.get(f"/v1/fine_tuning/jobs/{created['id']}").json()
        assert job["state"] == "succeeded", job
        events = [json.loads(e) for e in streamed[:-1]]
        steps = [e for e in events if e["type"] == "progress" and "loss" in e["data"].get("metrics", {})]
        assert steps and all(isinstance(e["data"]["metrics"]["loss"], float) for e in steps)
        paged = api.get(f"/v1/fine_tuning/jobs/{created['id']}/events", params={"limit": 2}).json()
        assert len(paged["data"]) == 2 and paged["has_more"] is True
        points = api.get(f"/v1/fine_tuning/jobs/{created['id']}/checkpoints").json()["data"]
        assert points and points[0]["step_number"] == 2
        adapter = api.get("/v1/adapters/tuned").json()
        lineage = adapter["lineage"]
        assert lineage["dataset"] == "sample" and lineage["knowledge_base"] == "sample"
        assert (
            lineage["kb_generation"] == kb["generation"]
            and lineage["retriever_hash"] == card["retriever"]["hash"]
        )
        assert lineage["recipe"]["max_steps"] == 2 and lineage["fine_tuning_job"] == created["id"]
        archive = api.get("/v1/adapters/tuned/content")
        with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
            names = tar.getnames()
        assert {"tuned/adapter_config.json", "tuned/groundtune-adapter.json"} <= set(names)

        # 4. evaluate: report JSON and HTML, per-item records
        ev = {"suites": ["dataset:sample:test"], "model": TINY_LM, "adapters": ["tuned"], "limit": 2,
              "max_new_tokens": 8, "shots": 0, "include_zero_shot": True}  # fmt: skip
        job = p.wait(api.post("/v1/evaluations", json=ev).json()["id"])
        assert job["state"] == "succeeded", job
        report = api.get(f"/v1/evaluations/{job['resource']}").json()
        assert set(next(iter(report["suites"].values()))) >= {"tuned"}
        page = api.get(f"/v1/evaluations/{job['resource']}/report.html")
        assert page.status_code == 200 and "<html" in page.text.lower()
        items = api.get(f"/v1/evaluations/{job['resource']}/items", params={"system": "tuned"}).json()
        assert len(items["data"]) == 2 and items["data"][0]["model"] == "tuned"

        # 5. deploy and ask through the official openai package
        dep = {
            "name": "prod",
            "config": {"model": TINY_LM, "adapters": {"tuned": "tuned"}, "kb": "sample"},
            "start": True,
        }
        started = api.post("/v1/deployments", json=dep)
        assert started.status_code == 200 and started.json()["status"] == "running", started.text
        client = openai.OpenAI(base_url=f"{p.url}/v1", api_key="unused")
        assert "tuned" in [m.id for m in client.models.list()]
        reply = client.chat.completions.create(
            model="tuned",
            messages=[{"role": "user", "content": "In which county is the Harrowgate Valley Light Railway?"}],
            max_tokens=48,
        )
        context = reply.choices[0].message.model_extra["context"]
        retrieved = context["retrieved"]
        assert retrieved and all(d["document_id"] for d in retrieved)  # from the KB, through THE retriever
        assert context["retriever_hash"] == card["retriever"]["hash"]
        assert isinstance(context["citations"], list)
        for citation in context["citations"]:
            assert retrieved[citation["index"] - 1]["document_id"] == citation["document_id"]
        # a KB a running deployment holds is searched through its open handle
        hits = api.post("/v1/knowledge_bases/sample/search", json={"query": "Carrowshire"}).json()["data"]
        assert hits and hits[0]["rank"] == 1
        stopped = api.post("/v1/deployments/prod/stop").json()
        assert stopped["status"] == "stopped" and stopped["models"] == []
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="tuned", messages=[{"role": "user", "content": "hi"}], max_tokens=4
            )
        # (the KB is free again) a cited answer: the same serving path with a language model whose replies can be predicted (a
        # tiny random model cites nothing reliably): an extractive reader served as a vLLM server would be
        with Reader() as reader:
            cited = {
                "name": "cited",
                "config": {"model": "reader", "engine": "vllm", "vllm_url": reader.url, "kb": "sample"},
                "start": True,
            }
            made = api.post("/v1/deployments", json=cited)
            assert made.status_code == 200 and made.json()["status"] == "running", made.text
            answer = client.chat.completions.create(
                model="reader",
                messages=[
                    {"role": "user", "content": "In which county is the Harrowgate Valley Light Railway?"}
                ],
                max_tokens=64,
            )
            assert reader.prompts, "the reply came from a prompt groundtune rendered"
            grounded = answer.choices[0].message.model_extra["context"]
            assert grounded["citations"] and not grounded["refusal"]
            first = grounded["citations"][0]
            assert (
                first["quote_verified"]
                and first["document_id"] == grounded["retrieved"][first["index"] - 1]["document_id"]
            )
            assert api.post("/v1/deployments/cited/stop").json()["status"] == "stopped"
