"""docs/openapi.json and docs/api.md are generated from the app; a route or model changed without
regenerating them (`python -m groundtune.platform.api.spec`) fails here."""

from __future__ import annotations

import json
from pathlib import Path

from groundtune.platform.api import spec

DOCS = Path(__file__).resolve().parents[3] / "docs"
REGENERATE = "run `python -m groundtune.platform.api.spec` and commit docs/openapi.json and docs/api.md"


def test_committed_spec_matches_the_app() -> None:
    schema = spec.openapi()
    assert (DOCS / "openapi.json").read_text(encoding="utf-8") == spec.spec_text(schema), REGENERATE
    assert (DOCS / "api.md").read_text(encoding="utf-8") == spec.markdown(schema), REGENERATE


def test_spec_covers_every_resource_with_lists_paged_and_creates_idempotent() -> None:
    schema = json.loads((DOCS / "openapi.json").read_text(encoding="utf-8"))
    paths = schema["paths"]
    for route in (
        "/v1/knowledge_bases/{name}/search",
        "/v1/knowledge_bases/{name}/documents/{doc_id}/versions",
        "/v1/datasets/{name}/examples",
        "/v1/fine_tuning/jobs/{job_id}/events",
        "/v1/fine_tuning/jobs/{job_id}/checkpoints",
        "/v1/adapters/{name}/content",
        "/v1/evaluations/{eval_id}/report.html",
        "/v1/deployments/{name}/start",
        "/v1/jobs/{job_id}/cancel",
        "/v1/chat/completions",
        "/v1/models",
    ):
        assert route in paths, route
    for path, methods in paths.items():
        get = methods.get("get")
        if get and "list" in json.dumps(get["responses"]["200"]) and "Page_" in json.dumps(get["responses"]):
            names = {p["name"] for p in get.get("parameters", [])}
            assert {"after", "limit"} <= names, path
        post = methods.get("post")
        if (
            post
            and not path.endswith(("/cancel", "/start", "/stop", "/search", "/chat/completions"))
            and path != "/v1/api_keys"
        ):
            names = {p["name"] for p in post.get("parameters", [])}
            assert "Idempotency-Key" in names, path
