"""Uploads and bad input: every file is checked by the KB's own parsers before anything is stored;
one bad file answers 400 with a reason per file, and what was stored before stays as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

GOOD = ("good.md", b"# Warranty\n\nThe warranty lasts 24 months.\n")
BAD = {
    "corrupt PDF": ("manual.pdf", b"%PDF-1.4\n1 0 obj <<>> garbage, no xref\n", "not a readable PDF"),
    "non-UTF-8 text": ("latin.txt", "café au lait".encode("latin-1"), "not UTF-8"),
    "oversize file": ("huge.md", b"# Big\n\n" + b"x" * 5000, "larger than the limit of 4096 bytes"),
    "unknown type": ("slides.pptx", b"PK\x03\x04 not a format we read", "unsupported file type '.pptx'"),
    "malformed JSONL": (
        "records.jsonl",
        b'{"id": "a", "text": "fine"}\n{"id": "b", "text": \n',
        "records.jsonl#2",
    ),
}


def upload(client: TestClient, kb: str, *files: tuple[str, bytes]) -> object:
    return client.post(f"/v1/knowledge_bases/{kb}/documents", files=[("files", (n, d)) for n, d in files])


def test_a_good_upload_queues_one_ingestion_job_with_a_status_per_file(client: TestClient, kb: str) -> None:
    records = b'{"id": "r1", "title": "One", "text": "First record."}\n{"id": "r2", "text": "Second."}\n'
    r = upload(client, kb, GOOD, ("recs.jsonl", records))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "knowledge_base.upload" and body["job"]["kind"] == "ingestion"
    assert body["job"]["state"] == "queued" and body["id"] == body["job"]["id"]
    assert [(f["filename"], f["status"]) for f in body["files"]] == [
        ("good.md", "accepted"),
        ("recs.jsonl", "accepted"),
    ]
    assert body["files"][1]["documents"] == ["r1", "r2"]
    assert len(body["job"]["config"]["inputs"]) == 2
    again = client.get(f"/v1/knowledge_bases/{kb}/uploads/{body['id']}").json()
    assert [f["status"] for f in again["files"]] == ["pending", "pending"]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_refused_with_a_reason_and_nothing_is_stored(
    client: TestClient, kb: str, case: str, tmp_path: Path
) -> None:
    first = upload(client, kb, GOOD)
    assert first.status_code == 200
    folder = tmp_path / "gt-home" / "uploads" / kb
    before = sorted(p.name for p in folder.iterdir())
    jobs_before = client.get("/v1/jobs").json()["data"]

    name, data, needle = BAD[case]
    changed_good = (GOOD[0], b"# Warranty\n\nChanged text that must not be stored.\n")
    r = upload(client, kb, changed_good, (name, data))
    assert r.status_code == 400, r.text
    assert r.headers["x-request-id"].startswith("req_")
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_file"
    assert needle in error["message"] and "none was stored" in error["message"]
    details = {d["filename"]: d for d in error["details"]}
    assert details[name]["status"] == "rejected" and needle in details[name]["reason"]
    assert details[GOOD[0]]["status"] == "accepted" and details[GOOD[0]]["reason"] is None
    # nothing stored: same files, the earlier good file untouched, no new job
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (folder / GOOD[0]).read_bytes() == GOOD[1]
    assert client.get("/v1/jobs").json()["data"] == jobs_before


def test_malformed_qa_file_and_configs_that_do_not_validate_get_400(client: TestClient, kb: str) -> None:
    bad_qa = b'{"question": "Where?", "answers": ["here"]}\nnot json at all\n'
    r = client.post("/v1/files", files={"file": ("qa.jsonl", bad_qa)}, data={"purpose": "qa"})
    assert r.status_code == 400 and "qa.jsonl" in r.json()["error"]["message"], r.text
    assert client.get("/v1/files").json()["data"] == []

    r = client.post("/v1/datasets", json={"name": "d", "kb": kb, "sources": [], "oracle_fraction": 2})
    assert r.status_code == 400
    assert r.json()["error"]["param"] in ("sources", "oracle_fraction"), r.text
    r = client.post("/v1/fine_tuning/jobs", json={"dataset": "d", "lr": -1})
    assert r.status_code == 400 and r.json()["error"]["param"] == "lr", r.text
    r = client.post("/v1/evaluations", json={"suites": []})
    assert r.status_code == 400 and "suites" in r.json()["error"]["message"]
    assert client.get("/v1/jobs").json()["data"] == []


def test_an_uploaded_qa_file_is_named_by_id_in_a_dataset_build(client: TestClient, kb: str) -> None:
    qa = b'{"question": "How long is the warranty?", "answers": ["24 months"], "doc": "good.md"}\n'
    f = client.post("/v1/files", files={"file": ("qa.jsonl", qa)}).json()
    assert f["object"] == "file" and f["records"] == 1
    r = client.post(
        "/v1/datasets",
        json={
            "name": "d",
            "kb": kb,
            "sources": [{"kind": "qa", "path": f["id"]}],
            "lm": "tiny-random-gemma3",
        },
    )
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["kind"] == "dataset" and job["state"] == "queued"
    assert job["config"]["sources"][0]["path"].endswith("/qa.jsonl")
    r = client.post(
        "/v1/datasets", json={"name": "d2", "kb": "nope", "sources": [{"kind": "qa", "path": f["id"]}]}
    )
    assert r.status_code == 404


def test_json_error_details_shape(client: TestClient) -> None:
    r = client.get("/v1/knowledge_bases/missing")
    assert r.status_code == 404
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert json.loads(r.text)["error"]["type"] == "not_found_error"
