"""Requests without documents retrieve from the deployment's knowledge base with THE retriever."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

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


def _adapter_with(tmp_path: Path, tiny_adapter: Path, name: str, manifest: AdapterManifest) -> Path:
    adapter = tmp_path / name
    shutil.copytree(tiny_adapter, adapter)
    (adapter / "groundtune-adapter.json").write_text(manifest.model_dump_json())
    return adapter


def test_each_adapter_retrieves_as_it_was_trained_and_mismatches_warn_or_refuse(
    tmp_path: Path, tiny_adapter: Path
) -> None:
    from groundtune.core.errors import ConflictError
    from groundtune.kb import RetrieverConfig, open_kb
    from groundtune.serve.schemas import ChatCompletionRequest

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"d{i}.md").write_text(
            f"# Part {i}\n\nPart {i} of the Zephyr kettle weighs {i + 1} kilograms.\n"
        )
    kb.create("parts2", embedder="tiny-random-minilm")
    kb.add("parts2", [docs])
    with open_kb("parts2") as opened:
        two, three = (
            opened.retriever(RetrieverConfig(mode="sparse", documents_per_prompt=n)).config for n in (2, 3)
        )
    adapters = {
        name: _adapter_with(
            tmp_path,
            tiny_adapter,
            name,
            AdapterManifest(model="tiny-random-gemma3", retriever=RetrieverRecord.of(config)),
        )
        for name, config in (("two", two), ("three", three))
    }
    deployment = deployment_for(adapters, kb="parts2")
    try:  # the first adapter's settings no longer win for both
        assert deployment.retriever_for("two").config == two
        assert deployment.retriever_for("three").config == three
        assert not any(card.warnings for card in deployment.models())
        question = [{"role": "user", "content": "How heavy is the Zephyr kettle?"}]
        for name, n in (("two", 2), ("three", 3)):
            req = ChatCompletionRequest.model_validate({"model": name, "messages": question, "max_tokens": 2})
            assert len(deployment.prepare(req).documents) == n
    finally:
        deployment.scheduler.close()
        deployment.kb.close()
    served_with_four = deployment_for(adapters, kb="parts2", documents_per_prompt=4)
    try:
        warnings = {card.id: card.warnings for card in served_with_four.models()}
        assert any("trained on 2 documents per prompt" in w and "retrieves 4" in w for w in warnings["two"])
    finally:
        served_with_four.scheduler.close()
        served_with_four.kb.close()
    with pytest.raises(ConflictError, match="3 documents per prompt"):
        deployment_for({"three": adapters["three"]}, kb="parts2", documents_per_prompt=4, strict=True)
    other_base = _adapter_with(tmp_path, tiny_adapter, "other", AdapterManifest(model="gemma-3-270m"))
    with pytest.raises(ConflictError, match="base model gemma-3-270m"):
        deployment_for({"other": other_base}, strict=True)
