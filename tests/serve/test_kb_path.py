"""Requests without documents retrieve from the deployment's knowledge base with THE retriever."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from groundtune import kb
from groundtune.core.artifacts import AdapterManifest, GroundingRecord, RetrieverRecord
from tests.serve.live import RunningServer, deployment_for


def test_kb_retrieval_path_and_retriever_hash_check(tmp_path: Path, tiny_adapter: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty.md").write_text("# Warranty\n\nThe warranty of the Zephyr kettle lasts 24 months.\n")
    (docs / "descaling.md").write_text(
        "# Descaling\n\nDescale the Zephyr kettle every 6 weeks with citric acid.\n"
    )
    kb.create("manuals", embedder="tiny-random-minilm")
    kb.add("manuals", [docs])

    mismatched = tmp_path / "old-adapter"
    shutil.copytree(tiny_adapter, mismatched)
    (mismatched / "groundtune-adapter.json").write_text(
        json.dumps({"adapter_name": "old", "grounding_format": "cited", "retriever_hash": "0000000000000000"})
    )
    deployment = deployment_for({"old": mismatched}, kb="manuals")
    with RunningServer(deployment) as server:
        cards = {m["id"]: m for m in httpx.get(f"{server.url}/v1/models").json()["data"]}
        assert cards["old"]["warnings"] and "0000000000000000" in cards["old"]["warnings"][0]
        r = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={
                "model": "old",
                "messages": [{"role": "user", "content": "How often do I descale the kettle?"}],
                "max_tokens": 6,
            },
            timeout=60,
        )
        assert r.status_code == 200, r.text
        ctx = r.json()["choices"][0]["message"]["context"]
        assert ctx["retriever_hash"] == deployment.retriever_hash
        assert any("0000000000000000" in w for w in ctx["warnings"])
        retrieved = ctx["retrieved"]
        assert {d["source"].rsplit("/", 1)[-1] for d in retrieved} == {"warranty.md", "descaling.md"}
        assert all(d["chunk_id"] and d["document_id"] and d["score"] is not None for d in retrieved)
        assert [d["index"] for d in retrieved] == list(range(1, len(retrieved) + 1))
    deployment.scheduler.close()
    deployment.kb.close()


def test_serving_retrieves_with_the_adapters_training_retriever(tmp_path: Path, tiny_adapter: Path) -> None:
    from groundtune.kb import RetrieverConfig, open_kb

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(5):
        (docs / f"d{i}.md").write_text(
            f"# Part {i}\n\nPart {i} of the Zephyr kettle weighs {i + 1} kilograms.\n"
        )
    kb.create("parts", embedder="tiny-random-minilm")
    kb.add("parts", [docs])
    config = RetrieverConfig(mode="sparse", documents_per_prompt=2)
    with open_kb("parts") as opened:
        resolved = opened.retriever(config).config  # what training records: the KB's embedder filled in
    trained_hash = resolved.hash()
    adapter = tmp_path / "trained"
    shutil.copytree(tiny_adapter, adapter)
    manifest = AdapterManifest(
        grounding=GroundingRecord(style="cited"), retriever=RetrieverRecord.of(resolved)
    )
    (adapter / "groundtune-adapter.json").write_text(manifest.model_dump_json())
    deployment = deployment_for({"trained": adapter}, kb="parts")
    try:
        assert deployment.retriever_hash == trained_hash
        assert not deployment.models()[1].warnings
        with RunningServer(deployment) as server:
            r = httpx.post(
                f"{server.url}/v1/chat/completions",
                timeout=60,
                json={
                    "model": "trained",
                    "max_tokens": 4,
                    "messages": [{"role": "user", "content": "How much does part 3 weigh?"}],
                },
            )
        ctx = r.json()["choices"][0]["message"]["context"]
        assert len(ctx["retrieved"]) == 2
        assert not any("trained with retriever" in w for w in ctx["warnings"])
    finally:
        deployment.scheduler.close()
        deployment.kb.close()
