"""`groundtune general`: the general grounding stage over the public sources (pipelines/general.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from groundtune.cli.app import console, handle_errors, stage_bars


@handle_errors
def general_cmd(
    data: Path = typer.Option(
        Path("../shared/data"), "--data", help="Folder holding the public sources (../shared/data)."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Cap training steps."),
    seed: int | None = typer.Option(
        None,
        "--seed",
        min=0,
        help="Training seed (default: the recipe's, 0): which examples, in what order. Another seed's "
        "adapter is `general-seedN`, beside `general` in the same workspace.",
    ),
    ship: bool = typer.Option(
        False, "--ship", help="Copy the trained adapter into the package (core/shipped/general)."
    ),
) -> None:
    """Train the general grounding adapter on a mix of public sources (resumable; about an hour on a
    2-core CPU), or --ship the trained one so `init_adapter: general` and serving find it by name."""
    from groundtune.pipelines.general import adapter_name, run_general
    from groundtune.pipelines.general import ship as ship_adapter

    if ship:
        dest = ship_adapter(data)
        console.print(f"shipped: {escape(str(dest))}")
        return
    with stage_bars() as stage:
        state = run_general(
            data,
            say=lambda m: console.print(escape(m)),
            stage=stage,
            train_overrides={k: v for k, v in (("max_steps", max_steps), ("seed", seed)) if v is not None}
            or None,
        )
    suffix = adapter_name(seed=seed).removeprefix("general")
    console.print(f"adapter: {escape(str(state.get('adapter' + suffix)))}")
    for kind, name in (state.get("tests") or {}).items():
        console.print(f"evaluation suite for {kind}: dataset:{escape(name)}:test")
