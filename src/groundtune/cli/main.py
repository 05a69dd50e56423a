"""Entry point of the `groundtune` command. `--help` and `--version` never import torch."""

from __future__ import annotations

import os

import typer

from groundtune import __version__
from groundtune.cli import data as data_cli
from groundtune.cli import eval as eval_cli
from groundtune.cli import jobs as jobs_cli
from groundtune.cli import kb as kb_cli
from groundtune.cli import models as models_cli
from groundtune.cli import server as server_cli
from groundtune.cli import train as train_cli
from groundtune.cli.app import quiet_libraries
from groundtune.cli.general import general_cmd
from groundtune.cli.quickstart import quickstart_cmd
from groundtune.cli.remote import URL_ENV
from groundtune.cli.serve import serve_cmd
from groundtune.core.workspace import HOME_ENV

app = typer.Typer(
    name="groundtune",
    help="Context-grounded fine-tuning: knowledge base -> grounded training data -> LoRA -> proof -> serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models_cli.app, name="models")
app.add_typer(train_cli.app, name="train")
app.add_typer(data_cli.app, name="data")
app.add_typer(kb_cli.app, name="kb")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(jobs_cli.app, name="jobs")
app.add_typer(server_cli.app, name="server")
app.command("serve")(serve_cmd)
app.command("quickstart")(quickstart_cmd)
app.command("general")(general_cmd)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"groundtune {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    home: str | None = typer.Option(
        None,
        "--home",
        help=f"Workspace directory (default ~/.groundtune, or ${HOME_ENV}).",
        show_default=False,
    ),
    server: str | None = typer.Option(
        None,
        "--server",
        help=f"Send kb, data, train, eval and jobs commands to this groundtune server (or ${URL_ENV}; "
        "its API key in $GROUNDTUNE_API_KEY) instead of running them here.",
        show_default=False,
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Global options apply to every command."""
    quiet_libraries()
    if home:
        os.environ[HOME_ENV] = home
    if server:
        os.environ[URL_ENV] = server


def main() -> None:
    app()
