"""`groundtune serve`: the grounded OpenAI-compatible endpoint."""

from __future__ import annotations

import typer
from rich.markup import escape

from groundtune.cli.app import console, handle_errors
from groundtune.core.errors import InvalidInputError
from groundtune.models import DEFAULT_LM


def parse_adapters(values: list[str]) -> dict[str, str]:
    """`NAME=PATH` pairs, or a bare registered adapter name (served under that name)."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name, path = name.strip(), (path.strip() if sep else name.strip())
        if not name or not path:
            raise InvalidInputError(
                f"bad --adapter {value!r}", hint="use --adapter NAME=PATH or --adapter NAME"
            )
        out[name] = path
    return out


@handle_errors
def serve_cmd(
    model: str = typer.Option(DEFAULT_LM, "--model", help="Base model: registry name, path or hub id."),
    adapter: list[str] = typer.Option(
        [], "--adapter", help="NAME=PATH (or a registered adapter NAME); repeatable."
    ),
    calibration: list[str] = typer.Option(
        [],
        "--calibration",
        help="Calibration an adapter abstains with (groundtune eval calibrations lists them); repeatable. "
        "An adapter not named uses its latest calibration.",
    ),
    kb: str | None = typer.Option(
        None, "--kb", help="Knowledge base to retrieve from when requests bring no documents."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; beyond loopback an API key is required."
    ),
    port: int = typer.Option(8000, "--port"),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="GROUNDTUNE_API_KEY", help="Require this bearer key."
    ),
    engine: str = typer.Option("inprocess", "--engine", help="inprocess (transformers + PEFT) or vllm."),
    vllm_url: str | None = typer.Option(
        None, "--vllm-url", help="A running vLLM server (with --engine vllm)."
    ),
    max_batch: int = typer.Option(8, "--max-batch", min=1, max=64, help="Requests generated together."),
    max_queue: int = typer.Option(32, "--max-queue", min=1, help="Waiting requests before answering 429."),
    timeout: float = typer.Option(
        120.0, "--timeout", min=1.0, help="Seconds before a request fails with 504."
    ),
    constrained: bool = typer.Option(
        True,
        "--constrained/--no-constrained",
        help="Decode within the grounding grammar: quotes verbatim from their document, only prompt "
        "documents named (in-process engine).",
    ),
    documents_per_prompt: int | None = typer.Option(
        None,
        "--documents-per-prompt",
        "-k",
        min=1,
        help="Documents retrieved per question (default: what each adapter was trained with).",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Refuse an adapter whose recorded base model, prompt layout or retriever differs from "
        "how it would be served (default: serve it with a warning).",
    ),
) -> None:
    """Serve a base model, its adapters and a knowledge base at /v1/chat/completions."""
    from groundtune.serve.server import build_deployment, serve

    if engine not in ("inprocess", "vllm"):
        raise InvalidInputError(f"unknown engine {engine!r}", hint="use --engine inprocess or --engine vllm")
    deployment = build_deployment(
        model,
        parse_adapters(adapter),
        kb,
        calibrations=calibration,
        engine=engine,  # type: ignore[arg-type]
        vllm_url=vllm_url,
        max_batch=max_batch,
        max_queue=max_queue,
        timeout_s=timeout,
        constrained=constrained,
        strict=strict,
        documents_per_prompt=documents_per_prompt,
    )
    for card in deployment.models():
        note = f" [yellow]{escape('; '.join(card.warnings))}[/]" if card.warnings else ""
        console.print(f"serving [bold]{escape(card.id)}[/] ({card.kind}, {card.grounding_format}){note}")
        console.print(f"  {escape(card.abstention)}")
    console.print(f"OpenAI base URL: http://{host}:{port}/v1")
    serve(deployment, host=host, port=port, api_key=api_key)
