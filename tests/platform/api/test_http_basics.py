"""Request ids, error shapes, pagination, idempotency and API-key scopes on the platform app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from groundtune.platform.api import create_platform_app
from groundtune.platform.store import Store
from tests.platform.api.conftest import TINY_EMBEDDER


def test_request_id_is_echoed_or_made_and_unknown_routes_are_openai_errors(client: TestClient) -> None:
    r = client.get("/v1/jobs", headers={"x-request-id": "req_mine"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "req_mine"
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.headers["x-request-id"].startswith("req_")
    assert r.json()["error"]["type"] == "not_found_error"
    r = client.delete("/v1/jobs")
    assert r.status_code == 405 and r.json()["error"]["type"] == "invalid_request_error"


def test_lists_page_with_after_limit_has_more(client: TestClient) -> None:
    for name in ("a", "b", "c"):
        assert (
            client.post("/v1/knowledge_bases", json={"name": name, "embedder": TINY_EMBEDDER}).status_code
            == 200
        )
    first = client.get("/v1/knowledge_bases", params={"limit": 2}).json()
    assert [kb["name"] for kb in first["data"]] == ["a", "b"] and first["has_more"] is True
    assert first["last_id"] == "b"
    rest = client.get("/v1/knowledge_bases", params={"limit": 2, "after": first["last_id"]}).json()
    assert [kb["name"] for kb in rest["data"]] == ["c"] and rest["has_more"] is False
    bad = client.get("/v1/knowledge_bases", params={"after": "zzz"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "after"
    assert client.get("/v1/knowledge_bases", params={"limit": 0}).status_code == 400


def test_idempotency_key_replays_the_first_response_and_refuses_another_body(client: TestClient) -> None:
    headers = {"Idempotency-Key": "create-kb-1"}
    body = {"name": "once", "embedder": TINY_EMBEDDER}
    first = client.post("/v1/knowledge_bases", json=body, headers=headers)
    again = client.post("/v1/knowledge_bases", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    other = client.post("/v1/knowledge_bases", json={**body, "name": "twice"}, headers=headers)
    assert other.status_code == 409, other.text
    # without a key, the second create is a plain conflict: the KB exists
    assert client.post("/v1/knowledge_bases", json=body).status_code == 409


def test_api_keys_and_scopes(tmp_path: Path) -> None:
    home = tmp_path / "gt-home"
    store = Store(None, home=home)
    admin, _ = store.create_api_key("ops", ["admin"])
    reader, _ = store.create_api_key("dash", ["read"])
    app = create_platform_app(store, None, home=home, api_keys_required=True)
    with TestClient(app) as c:
        r = c.get("/v1/jobs")
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert r.headers["x-request-id"].startswith("req_")
        assert c.get("/v1/jobs", headers={"Authorization": "Bearer gt-nope.x"}).status_code == 401
        read = {"Authorization": f"Bearer {reader}"}
        assert c.get("/v1/jobs", headers=read).status_code == 200
        denied = c.post("/v1/knowledge_bases", json={"name": "x", "embedder": TINY_EMBEDDER}, headers=read)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_scope"
        assert c.get("/v1/api_keys", headers=read).status_code == 403
        boss = {"Authorization": f"Bearer {admin}"}
        made = c.post("/v1/api_keys", json={"name": "ci", "scopes": ["write"]}, headers=boss).json()
        writer = {"Authorization": f"Bearer {made['secret']}"}
        assert (
            c.post(
                "/v1/knowledge_bases", json={"name": "x", "embedder": TINY_EMBEDDER}, headers=writer
            ).status_code
            == 200
        )
        assert c.get("/v1/knowledge_bases", headers=writer).status_code == 200  # write includes read
        assert c.delete(f"/v1/api_keys/{made['id']}", headers=boss).status_code == 200
        assert c.get("/v1/knowledge_bases", headers=writer).status_code == 401
        assert c.get("/health").status_code == 200  # outside /v1: open
    store.close()


def test_server_refuses_to_bind_beyond_loopback_without_a_key(tmp_path: Path) -> None:
    import pytest

    from groundtune.core.errors import InvalidInputError
    from groundtune.platform.api.server import keys_required

    store = Store(None, home=tmp_path / "h")
    with pytest.raises(InvalidInputError) as err:
        keys_required(store, "0.0.0.0")
    assert "no API key exists" in str(err.value) and "server keys create" in str(err.value)
    assert keys_required(store, "127.0.0.1") is False
    store.create_api_key("k", ["read"])
    assert keys_required(store, "0.0.0.0") is True and keys_required(store, "127.0.0.1") is True
    store.close()


def test_keys_cli_prints_the_secret_once_and_revokes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from groundtune.cli.main import app

    home = tmp_path / "cli-home"
    runner = CliRunner()
    made = runner.invoke(
        app, ["--home", str(home), "server", "keys", "create", "--name", "ci", "--scope", "write"]
    )
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("gt-")
    listed = runner.invoke(app, ["--home", str(home), "server", "keys", "list"])
    assert "ci" in listed.output and "active" in listed.output and secret not in listed.output
    key_id = listed.output.split()[0]
    assert runner.invoke(app, ["--home", str(home), "server", "keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["--home", str(home), "server", "keys", "list"]).output
    refused = runner.invoke(app, ["--home", str(home), "server", "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "no API key exists" in " ".join(refused.output.split())
