"""Knowledge bases over the API: documents (list, versions, text, delete) and search through THE
retriever with scores and per-arm ranks. The KB is filled in-process here (the ingestion job itself
is covered end to end in test_flow.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from groundtune import kb as kbmod


def _fill(tmp_path: Path, kb: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty.md").write_text("# Warranty\n\nAll products carry a warranty of 24 months.\n")
    (docs / "office.txt").write_text("The office opens at 9 am and closes at 5 pm on weekdays.\n")
    kbmod.add(kb, [docs], home=tmp_path / "gt-home")
    return docs


def test_documents_versions_search_and_delete(client: TestClient, kb: str, tmp_path: Path) -> None:
    docs = _fill(tmp_path, kb)
    listed = client.get(f"/v1/knowledge_bases/{kb}/documents").json()
    assert listed["object"] == "list" and len(listed["data"]) == 2
    warranty = next(d for d in listed["data"] if d["title"] == "Warranty")
    assert warranty["version"] == 1 and warranty["chars"] > 20 and "text" not in warranty

    (docs / "warranty.md").write_text("# Warranty\n\nAll products carry a warranty of 36 months now.\n")
    kbmod.add(kb, [docs], home=tmp_path / "gt-home")
    versions = client.get(f"/v1/knowledge_bases/{kb}/documents/{warranty['id']}/versions").json()
    assert [v["version"] for v in versions["data"]] == [2, 1]
    latest = client.get(f"/v1/knowledge_bases/{kb}/documents/{warranty['id']}").json()
    assert "36 months" in latest["text"]
    old = client.get(f"/v1/knowledge_bases/{kb}/documents/{warranty['id']}", params={"version": 1}).json()
    assert "24 months" in old["text"]

    info = client.get(f"/v1/knowledge_bases/{kb}").json()
    assert info["documents"] == 2 and info["chunks"] >= 2 and info["generation"] == 2

    r = client.post(
        f"/v1/knowledge_bases/{kb}/search",
        json={
            "query": "how long is the warranty",
            "retriever": {"mode": "hybrid", "documents_per_prompt": 2},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["data"]) == 2 and body["retriever"]["hash"]
    assert body["retriever"]["config"]["embedder"] == "tiny-random-minilm"
    top = body["data"][0]
    assert top["rank"] == 1 and isinstance(top["score"], float)
    assert top["dense_rank"] is not None or top["sparse_rank"] is not None
    sparse = client.post(
        f"/v1/knowledge_bases/{kb}/search", json={"query": "warranty months", "retriever": {"mode": "sparse"}}
    ).json()
    assert sparse["data"][0]["chunk"]["title"] == "Warranty" and sparse["data"][0]["sparse_rank"] == 1
    assert sparse["data"][0]["dense_rank"] is None
    assert client.post(f"/v1/knowledge_bases/{kb}/search", json={"query": ""}).status_code == 400

    gone = client.delete(f"/v1/knowledge_bases/{kb}/documents/{warranty['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert len(client.get(f"/v1/knowledge_bases/{kb}/documents").json()["data"]) == 1
    assert client.get(f"/v1/knowledge_bases/{kb}/documents/{warranty['id']}").status_code == 404

    assert client.delete(f"/v1/knowledge_bases/{kb}").json()["deleted"] is True
    assert client.get(f"/v1/knowledge_bases/{kb}").status_code == 404
