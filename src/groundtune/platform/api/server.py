"""Run the platform server: open the store, refuse to listen beyond loopback without an API key,
start the job runner with the app, serve with uvicorn. `groundtune server` calls `run_server`, with
`extend` adding what sits on the platform (the web UI) to the same app and port."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError
from groundtune.serve.server import is_loopback


def keys_required(store: Any, host: str) -> bool:
    """Beyond loopback a key is always required (and one must exist); on loopback once one exists."""
    active = [k for k in store.list_api_keys() if k.revoked_at is None]
    if not is_loopback(host) and not active:
        raise InvalidInputError(
            f"binding to {host} exposes the platform beyond this machine, and no API key exists",
            hint="create one first: groundtune server keys create --name NAME --scope write "
            "(or bind to 127.0.0.1)",
            code="api_key_required",
        )
    return bool(active) or not is_loopback(host)


# (app, api_keys_required) -> None: mounts more routes on the platform app
Extend = Callable[[Any, bool], None]


def build_app(
    store: Any,
    home: Path,
    *,
    host: str,
    workers: int = 1,
    extend: Extend | None = None,
    engine: str = "local",
) -> Any:
    """The app with the runner of `engine` (`local`: `workers` concurrent worker subprocesses here;
    `procrastinate`: jobs go to procrastinate workers through the store's PostgreSQL database). The
    server's lifetime starts and stops it; `extend(app, api_keys_required)` adds routes on the app."""
    required = keys_required(store, host)  # before anything loads: a refused bind fails at once
    from groundtune.platform.api.app import create_platform_app
    from groundtune.platform.jobs.runner import make_runner

    runner = make_runner(engine, store, home, max_workers=workers)
    app = create_platform_app(store, runner, home=home, api_keys_required=required)
    if extend is not None:
        extend(app, required)
    return app


def run_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    db: str | None = None,
    workers: int = 1,
    home: str | Path | None = None,
    log_level: str = "info",
    extend: Extend | None = None,
    engine: str = "local",
) -> None:
    """Serve `/v1` (and what `extend` adds) until interrupted; jobs run in worker processes, at
    most `workers` at once."""
    import uvicorn

    from groundtune.core.workspace import get_workspace
    from groundtune.platform.store import Store

    ws = get_workspace(home)
    store = Store(db, home=ws.home)
    try:
        app = build_app(store, ws.home, host=host, workers=workers, extend=extend, engine=engine)
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        store.close()
