"""The whole flow through the SDK alone, against a live uvicorn server with a real job runner, on
the tiny models: create a KB, upload the sample documents, upload QA files, build a dataset, fine-tune
(following its events), read checkpoints and lineage, download the adapter, deploy, and ask through
`client.chat.completions` for a grounded answer whose citations point at the KB's documents."""

from __future__ import annotations

import tarfile
from pathlib import Path

from groundtune.core.artifacts import AddSummary, DatasetCard, RunManifest
from groundtune.core.chat import ChatCompletion
from groundtune.core.progress import ProgressEvent
from groundtune.core.resources import Adapter, Checkpoint, ExamplePreview
from groundtune.sdk import Client, Job
from tests.platform.api.conftest import SAMPLE, TINY_EMBEDDER, TINY_LM
from tests.platform.api.live import LivePlatform
from tests.serve.reader import Reader


def test_kb_to_a_cited_answer_through_the_sdk(tmp_path: Path) -> None:
    with LivePlatform(tmp_path / "gt-home") as live, Client(live.url) as client:
        # 1. knowledge base and documents: the upload waits for its ingestion job
        client.knowledge_bases.create(name="sample", embedder=TINY_EMBEDDER)
        upload = client.knowledge_bases.documents.upload("sample", SAMPLE / "docs").wait(progress=False)
        docs = sorted(p.name for p in (SAMPLE / "docs").iterdir() if p.is_file())
        assert sorted(f.filename for f in upload.files) == docs and {f.status for f in upload.files} == {
            "added"
        }
        summary = upload.job.refresh().artifact()
        assert isinstance(summary, AddSummary) and len(summary.added) == len(docs)
        assert len(list(client.knowledge_bases.documents.list("sample", limit=3))) == len(docs)
        kb = client.knowledge_bases.retrieve("sample")

        # 2. QA files and the dataset build
        train = client.files.create(SAMPLE / "qa_train.jsonl")
        held = client.files.create(SAMPLE / "qa_heldout.jsonl")
        built = client.datasets.create(
            name="sample",
            kb="sample",
            lm=TINY_LM,
            sources=[
                {"kind": "qa", "path": train.id, "limit": 60},
                {"kind": "qa", "path": held.id, "assign": "test", "limit": 6},
            ],
            splits={"train": 0.8, "validation": 0.2},
        ).wait(progress=False)
        card = client.datasets.retrieve("sample")
        assert isinstance(built.artifact(), DatasetCard) and card.kb_generation == kb.generation
        examples = client.datasets.list_examples("sample", limit=4)
        assert all(isinstance(e, ExamplePreview) for e in examples.data)
        assert {d.role for e in examples.data for d in e.documents} <= {"oracle", "distractor"}

        # 3. fine-tune, following the job's events: per-step loss reaches the progress callback
        seen: list[ProgressEvent] = []
        job = client.fine_tuning.jobs.create(
            dataset="sample", model=TINY_LM, name="tuned", max_steps=2, save_every=1, eval_every=2, batch_size=2,
            grad_accum=1,
        )  # fmt: skip
        assert isinstance(job, Job) and job.state in ("queued", "running")
        done = job.wait(progress=seen.append)
        assert done.state == "succeeded" and done.resource == "tuned"
        steps = [e for e in seen if e.stage == "train"]
        assert [e.done for e in steps] == [1, 2] and all(isinstance(e.metrics["loss"], float) for e in steps)
        manifest = done.artifact()
        assert isinstance(manifest, RunManifest) and manifest.steps == 2
        points = client.fine_tuning.jobs.checkpoints.list(job.id)
        assert all(isinstance(c, Checkpoint) for c in points.data) and points.data[0].step_number == 2
        adapter = client.adapters.retrieve("tuned")
        assert isinstance(adapter, Adapter) and adapter.lineage.fine_tuning_job == job.id
        assert card.retriever is not None and adapter.lineage.retriever_hash == card.retriever.hash
        archive = client.adapters.download("tuned", tmp_path)
        with tarfile.open(archive) as tar:
            assert "tuned/adapter_config.json" in tar.getnames()

        # 4. deploy and ask through the SDK: the answer's context cites the KB's own documents
        deployment = client.deployments.create(
            name="prod", config={"model": TINY_LM, "adapters": {"tuned": "tuned"}, "kb": "sample"}, start=True
        )
        assert deployment.status == "running" and "tuned" in deployment.models
        assert "tuned" in [m.id for m in client.models.list()]
        reply = client.chat.completions.create(
            model="tuned",
            messages=[{"role": "user", "content": "In which county is the Harrowgate Valley Light Railway?"}],
            max_tokens=48,
        )
        assert isinstance(reply, ChatCompletion)
        context = reply.choices[0].message.context
        assert context.retrieved and all(d.document_id for d in context.retrieved)  # from the KB
        assert context.retriever_hash == card.retriever.hash
        # a tiny random model may cite nothing; whatever it cites must be a retrieved KB document
        for citation in context.citations:
            assert context.retrieved[citation.index - 1].document_id == citation.document_id
        # with the documents given in the request the same holds for the caller's own documents
        given = client.chat.completions.create(
            model="tuned",
            messages=[{"role": "user", "content": "How long is the warranty?"}],
            documents=[{"title": "Warranty", "text": "The warranty lasts 24 months."}],
            max_tokens=24,
        )
        assert [d.title for d in given.choices[0].message.context.retrieved] == ["Warranty"]
        assert client.deployments.stop("prod").status == "stopped"
        # a cited answer through the SDK: the same serving path with a language model whose replies can be
        # predicted (an extractive reader served as a vLLM server would be; see tests/serve/reader.py)
        with Reader() as reader:
            client.deployments.create(
                name="cited",
                config={"model": "reader", "engine": "vllm", "vllm_url": reader.url, "kb": "sample"},
                start=True,
            )
            answer = client.chat.completions.create(
                model="reader",
                messages=[
                    {"role": "user", "content": "In which county is the Harrowgate Valley Light Railway?"}
                ],
                max_tokens=64,
            )
            grounded = answer.choices[0].message.context
            assert reader.prompts and grounded.citations and not grounded.refusal
            first = grounded.citations[0]
            assert (
                first.quote_verified and first.document_id == grounded.retrieved[first.index - 1].document_id
            )
            assert client.deployments.stop("cited").status == "stopped"
        assert client.health()["status"] == "ok"
