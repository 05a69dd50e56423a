"""Property-based API testing from the committed OpenAPI spec (schemathesis): a bounded number of
generated requests per operation against the app over a real store, and not one 5xx.

Operations that would load a real model for a generated body are left out: starting a deployment
(its default base model is Gemma) and creating a knowledge base (its embedder); their bad input is
covered by test_uploads.py and test_http_basics.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from groundtune.platform.api import create_platform_app
from groundtune.platform.store import Store

SPEC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
LOADS_A_MODEL = {
    ("POST", "/v1/deployments"),
    ("POST", "/v1/deployments/{name}/start"),
    ("POST", "/v1/knowledge_bases"),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    home = tmp_path_factory.mktemp("fuzz") / "gt-home"
    store = Store(None, home=home)
    from groundtune import kb

    kb.create("docs", embedder="tiny-random-minilm", home=home)
    yield create_platform_app(store, None, home=home, api_keys_required=False)
    store.close()


schema = schemathesis.openapi.from_path(str(SPEC))


@schema.exclude(method=[m for m, _ in LOADS_A_MODEL], path=[p for _, p in LOADS_A_MODEL]).parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, app: object) -> None:
    if (case.method.upper(), case.path) in LOADS_A_MODEL:
        pytest.skip("loads a model")
    response = case.call(app=app)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    )
