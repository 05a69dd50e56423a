"""The SDK mirrors the REST API: every route of the platform app has an SDK method and every SDK
method names a route the app serves, in `Client` and in `AsyncClient` alike; creates send an
Idempotency-Key exactly where the API declares one."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from groundtune.platform.api import create_platform_app
from groundtune.platform.store import Store
from groundtune.sdk import AsyncClient, Client
from groundtune.sdk._transport import Route


def _methods(obj: Any, where: str = "client") -> Iterator[tuple[str, Any]]:
    """(dotted name, function) of every public method of a client and its resources, recursively."""
    for name, value in inspect.getmembers(type(obj)):
        if not name.startswith("_") and callable(value):
            yield f"{where}.{name}", value
    for name, value in vars(obj).items():
        if not name.startswith("_") and hasattr(value, "_client"):
            yield from _methods(value, f"{where}.{name}")


def _sdk_routes(client: Any) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for name, fn in _methods(client):
        route: Route | None = getattr(fn, "__route__", None)
        if route is not None:
            found.setdefault((route.method, route.path), []).append(name)
    return found


def _app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) of every route the app documents: its OpenAPI schema, generated from the routes
    themselves (FastAPI builds it by walking them; routers included lazily show up there too)."""
    store = Store(None, home=tmp_path / "gt-home")
    try:
        app = create_platform_app(store, None, home=tmp_path / "gt-home", api_keys_required=False)
        paths = app.openapi()["paths"]
    finally:
        store.close()
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_every_route_has_an_sdk_method_and_the_reverse(tmp_path: Path) -> None:
    served = _app_routes(tmp_path)
    for client in (Client("http://unused"), AsyncClient("http://unused")):
        mirrored = _sdk_routes(client)
        missing = sorted(served - set(mirrored))
        stray = sorted(set(mirrored) - served)
        assert not missing, f"{type(client).__name__}: routes without an SDK method: {missing}"
        assert not stray, f"{type(client).__name__}: SDK methods of no route: {[mirrored[s] for s in stray]}"


def test_sync_and_async_twins_have_the_same_methods_and_parameters() -> None:
    sync = dict(_methods(Client("http://unused")))
    async_ = dict(_methods(AsyncClient("http://unused")))
    assert set(sync) - {"client.close", "client.__enter__", "client.__exit__"} == set(async_) - {
        "client.close"
    }
    for name, fn in sync.items():
        if name in async_:
            params = list(inspect.signature(fn).parameters)
            assert params == list(inspect.signature(async_[name]).parameters), name


def test_creates_send_an_idempotency_key_where_the_api_declares_one() -> None:
    import json

    spec = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
    declared = {
        ("POST", path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method == "post" and any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    }
    creates = {
        (fn.__route__.method, fn.__route__.path)
        for _, fn in _methods(Client("http://unused"))
        if "idempotency_key" in inspect.signature(fn).parameters
    }
    assert creates == declared
