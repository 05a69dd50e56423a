"""`groundtune server`: the platform's REST API and its job runner on one port, and
`groundtune server keys create|list|revoke` for its API keys."""

from __future__ import annotations

import typer
from rich.markup import escape

from groundtune.cli.app import console, handle_errors

app = typer.Typer(help="The platform server (REST API + job runner) and its API keys.", no_args_is_help=False)
keys = typer.Typer(help="API keys: stored hashed, required beyond loopback.", no_args_is_help=True)
app.add_typer(keys, name="keys")

DB_HELP = "Store URL (default: SQLite at <workspace>/platform.db; postgresql+psycopg://… to scale out)."


@app.callback(invoke_without_command=True)
@handle_errors
def server_cmd(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; beyond loopback an API key must exist."
    ),
    port: int = typer.Option(8000, "--port"),
    db: str | None = typer.Option(None, "--db", envvar="GROUNDTUNE_DB", help=DB_HELP),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Jobs run at once, each in its own process."
    ),
    ui: bool = typer.Option(True, "--ui/--no-ui", help="Serve the web UI at / on the same port."),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="Job engine: local (worker subprocesses here) or procrastinate (workers started with "
        "`groundtune jobs worker --engine procrastinate --db URL`, on a PostgreSQL --db).",
    ),
) -> None:
    """Serve /v1 (knowledge bases, datasets, fine-tuning jobs, adapters, evaluations, deployments,
    jobs), the grounded /v1/chat/completions of running deployments and the web UI at /."""
    if ctx.invoked_subcommand is not None:
        return
    from groundtune.platform.api.server import run_server

    extend = None
    if ui:
        from groundtune.ui import install as extend  # type: ignore[assignment]

        console.print(f"groundtune web UI on http://{host}:{port}/")
    console.print(f"groundtune platform on http://{host}:{port}/v1 (OpenAPI at /docs)")
    run_server(host=host, port=port, db=db, workers=workers, extend=extend, engine=engine)


def _store(db: str | None):  # type: ignore[no-untyped-def]
    from groundtune.core.workspace import get_workspace
    from groundtune.platform.store import Store

    return Store(db, home=get_workspace().home)


@keys.command("create")
@handle_errors
def keys_create(
    name: str = typer.Option(..., "--name", help="What the key is for."),
    scope: list[str] = typer.Option(["read"], "--scope", help="read, write or admin; repeatable."),
    db: str | None = typer.Option(None, "--db", envvar="GROUNDTUNE_DB", help=DB_HELP),
) -> None:
    """Create a key and print its secret (shown this once; only its hash is stored)."""
    from groundtune.core.errors import InvalidInputError

    bad = [s for s in scope if s not in ("read", "write", "admin")]
    if bad:
        raise InvalidInputError(f"unknown scope(s) {bad}", hint="use --scope read, write or admin")
    with _store(db) as store:
        secret, key = store.create_api_key(name, scope)
    console.print(f"created {key.id} ({escape(name)}, scopes: {', '.join(key.scopes)})")
    console.print("secret (shown once):", style="bold")
    typer.echo(secret)


@keys.command("list")
@handle_errors
def keys_list(db: str | None = typer.Option(None, "--db", envvar="GROUNDTUNE_DB", help=DB_HELP)) -> None:
    """Every key: id, name, scopes, prefix, revoked or not."""
    with _store(db) as store:
        found = store.list_api_keys()
    for k in found:
        state = "revoked" if k.revoked_at else "active"
        console.print(f"{k.id}  {escape(k.name)}  {','.join(k.scopes)}  {k.prefix}…  {state}")
    if not found:
        console.print("no API keys (groundtune server keys create --name NAME --scope write)")


@keys.command("revoke")
@handle_errors
def keys_revoke(
    key_id: str = typer.Argument(..., help="Key id (key_…)."),
    db: str | None = typer.Option(None, "--db", envvar="GROUNDTUNE_DB", help=DB_HELP),
) -> None:
    """Revoke a key: the server refuses it from the next request on."""
    with _store(db) as store:
        store.revoke_api_key(key_id)
    console.print(f"revoked {key_id}")
