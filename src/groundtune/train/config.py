"""The one typed training config: defaults -> YAML recipe -> overrides (CLI flags, API fields).

Fields left at `None` mean "choose for this model size"; `resolve()` fills them once the model's
parameter count is known, and the resolved config is what the run directory records. This module
knows nothing about torch, datasets or the training loop.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from groundtune.core.configs import DistributedSettings, LoraSettings, TrainConfig
from groundtune.core.errors import InvalidInputError
from groundtune.core.recipes import find_recipe

__all__ = [
    "DistributedSettings",
    "LoraSettings",
    "TrainConfig",
    "build_config",
    "load_config",
    "resolve",
    "size_defaults",
]


# Per-size defaults: (max parameters, settings). Small models train well with higher rates and
# bigger micro-batches; large ones need checkpointing and accumulation to fit one GPU.
_SIZE_DEFAULTS: list[tuple[float, dict[str, Any]]] = [
    (1.5e9, {"r": 16, "lr": 2e-4, "batch_size": 4, "grad_accum": 4, "gradient_checkpointing": False}),
    (8.5e9, {"r": 16, "lr": 1e-4, "batch_size": 2, "grad_accum": 8, "gradient_checkpointing": True}),
    (float("inf"), {"r": 8, "lr": 5e-5, "batch_size": 1, "grad_accum": 16, "gradient_checkpointing": True}),
]


def size_defaults(n_params: int) -> dict[str, Any]:
    """The settings `resolve()` uses for a model with `n_params` parameters."""
    for limit, values in _SIZE_DEFAULTS:
        if n_params <= limit:
            return dict(values)
    raise AssertionError("unreachable: the last limit is infinite")


def resolve(config: TrainConfig, n_params: int, *, n_steps: int | None = None) -> TrainConfig:
    """A copy with every None-means-auto field chosen for the model size (and run length if known)."""
    d = size_defaults(n_params)
    c = config.model_copy(deep=True)
    if c.lora.r is None:
        c.lora.r = d["r"]
    if c.lora.alpha is None:
        c.lora.alpha = float(2 * c.lora.r)
    for key in ("lr", "batch_size", "grad_accum", "gradient_checkpointing"):
        if getattr(c, key) is None:
            setattr(c, key, d[key])
    if c.eval_batch_size is None:
        c.eval_batch_size = c.batch_size
    if n_steps is not None:
        if c.eval_every is None:
            c.eval_every = max(1, n_steps // 4)
        if c.save_every is None:
            c.save_every = max(1, n_steps // 4)
    return c


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise InvalidInputError(f"cannot set '{key}': '{part}' is not a section", hint="check the key")
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` (dotted keys reach nested sections; the value is parsed as YAML: 3, 2e-4, [a, b])."""
    import yaml

    if "=" not in text:
        raise InvalidInputError(f"override '{text}' has no '='", hint="write it as key=value, e.g. lora.r=8")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):  # YAML 1.1 reads `2e-4` as text; numbers should stay numbers
        with contextlib.suppress(ValueError):
            value = float(value)
    return key.strip(), value


def build_config(base: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Validate `base` (a recipe's mapping) with dotted-key `overrides` applied on top."""
    data: dict[str, Any] = _deep_copy(base or {})
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(
            f"invalid training config: {problems}",
            hint="fix the recipe or flag; docs/train.md lists every field",
        ) from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML recipe (a path, or the name of a shipped recipe) and apply overrides."""
    import yaml

    p = find_recipe(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{p} is not valid YAML: {exc}", hint="fix the recipe file") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{p} must hold a mapping of config fields", hint="see docs/train.md")
    # A full recipe holds `data:` (dataset building) and `train:` sections; a training recipe is flat.
    if "train" in data and isinstance(data["train"], dict):
        data = data["train"]
    return build_config(data, overrides)


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}
