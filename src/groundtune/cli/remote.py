"""`--server URL` (or `$GROUNDTUNE_URL`, key in `$GROUNDTUNE_API_KEY`): the commands that run a stage
send the same config through the SDK to a groundtune server instead of running it here, wait for the
job with the same progress bars, and print the same result. Commands that only make sense on this
machine's workspace say so instead of silently acting locally."""

from __future__ import annotations

import os
from typing import Any

from groundtune.cli.app import err_console, stage_bars
from groundtune.core.errors import InvalidInputError

URL_ENV = "GROUNDTUNE_URL"  # groundtune.sdk.URL_ENV, named here so `--help` need not import the SDK


def server() -> str | None:
    """The server the CLI drives (None: run in-process)."""
    return os.environ.get(URL_ENV) or None


def client() -> Any:
    """An SDK Client for the server (its API key from $GROUNDTUNE_API_KEY)."""
    from groundtune.sdk import Client

    return Client(server())


def local_only(command: str, instead: str) -> None:
    """Refuse a command that works on the local workspace only while a server is set."""
    if server():
        raise InvalidInputError(
            f"`groundtune {command}` works on this machine's workspace only, and a server is set ({server()})",
            hint=f"{instead}; or drop --server / unset {URL_ENV} to run it here",
            code="local_only",
        )


def wait(job: Any) -> Any:
    """Follow a job with the stage bars `groundtune` draws in-process; the finished job (or its
    failure raised)."""
    err_console.print(f"job {job.id} ({job.kind}) on {server()}", highlight=False)
    with stage_bars() as bar:
        return job.wait(progress=bar)
