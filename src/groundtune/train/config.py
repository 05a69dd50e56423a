"""The one typed training config: defaults -> YAML recipe -> overrides (CLI flags, API fields).

Fields left at `None` mean "choose for this model size"; `resolve()` fills them once the model's
parameter count is known, and the resolved config is what the run directory records. This module
knows nothing about torch, datasets or the training loop.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from groundtune.core.errors import InvalidInputError
from groundtune.core.recipes import find_recipe
from groundtune.models import DEFAULT_LM


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSettings(_Strict):
    """The adapter: PEFT LoRA on the named modules (`all-linear` = every linear layer but the LM head)."""

    r: int | None = Field(default=None, ge=1, le=1024, description="LoRA rank (None: by model size).")
    alpha: float | None = Field(default=None, gt=0, description="LoRA alpha (None: 2 x rank).")
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default="all-linear", description="Module names to adapt, or `all-linear`."
    )
    top_layers: int | None = Field(
        default=None,
        ge=1,
        description="Adapt only the top N decoder layers (None: all). Backpropagation then stops below "
        "them, which makes CPU training much cheaper.",
    )


class DistributedSettings(_Strict):
    """How `torchrun` / `accelerate launch` processes share the work (ignored in a single process)."""

    strategy: Literal["ddp", "fsdp", "deepspeed"] = Field(
        default="ddp", description="ddp runs here; fsdp/deepspeed are documented configs for GPUs."
    )
    backend: Literal["auto", "gloo", "nccl"] = Field(
        default="auto", description="Process-group backend (auto: nccl on GPUs, gloo on CPUs)."
    )
    config_file: str | None = Field(
        default=None, description="accelerate/DeepSpeed config file the launcher uses (recorded only)."
    )


class TrainConfig(_Strict):
    """Everything one training run needs. Recipes in `recipes/` are YAML files of this shape."""

    dataset: str = Field(description="Dataset name under <workspace>/datasets or a directory path.")
    model: str = Field(default=DEFAULT_LM, description="Registry name, local path or hub id.")
    name: str | None = Field(
        default=None, description="Adapter name under <workspace>/adapters (default: the run id)."
    )
    run_id: str | None = Field(default=None, description="Run directory name (default: a new run_… id).")
    lora: LoraSettings = Field(default_factory=LoraSettings)
    init_adapter: str | None = Field(
        default=None,
        description="Continue training this adapter (registered name, folder, or a shipped one such as "
        "'general'): its LoRA weights are the starting point and its rank and target modules are used.",
    )
    quantization: Literal["none", "4bit"] = Field(
        default="none", description="4bit = QLoRA (needs bitsandbytes and a CUDA GPU)."
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto", description="auto: bf16 autocast on GPUs and on CPUs with native bf16."
    )
    base_weights: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="dtype of the frozen base weights (auto: bf16 when precision is bf16; LoRA stays fp32).",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_length: int = Field(default=2048, ge=16, description="Examples longer than this are skipped.")
    batch_size: int | None = Field(default=None, ge=1, description="Examples per micro-batch.")
    grad_accum: int | None = Field(default=None, ge=1, description="Micro-batches per optimizer step.")
    epochs: float = Field(default=1.0, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many steps.")
    lr: float | None = Field(default=None, gt=0, description="Peak learning rate (None: by model size).")
    weight_decay: float = Field(default=0.0, ge=0)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1, description="Warm-up share of all steps.")
    warmup_steps: int | None = Field(default=None, ge=0, description="Overrides warmup_ratio when set.")
    max_grad_norm: float | None = Field(default=1.0, gt=0)
    decision_weight: float = Field(
        default=1.0,
        ge=1.0,
        description="Loss weight of the target tokens that carry decisions (document numbers, `Relevant: "
        "none`, the refusal sentence: the grounding format's decision spans); other tokens weigh 1.",
    )
    gradient_checkpointing: bool | None = Field(default=None, description="None: on for models >= 1B.")
    eval_every: int | None = Field(default=None, ge=1, description="Validate every N steps (None: 4x/run).")
    eval_batch_size: int | None = Field(default=None, ge=1)
    max_eval_examples: int | None = Field(default=None, ge=1)
    early_stopping_patience: int | None = Field(
        default=None, ge=1, description="Stop after N validations without improvement."
    )
    early_stopping_min_delta: float = Field(default=0.0, ge=0)
    save_every: int | None = Field(default=None, ge=1, description="Checkpoint every N steps (None: 4x/run).")
    keep_checkpoints: int = Field(default=2, ge=1, description="Newest step checkpoints kept.")
    log_every: int = Field(default=1, ge=1)
    seed: int = 0
    num_threads: int | None = Field(
        default=None, ge=1, description="torch CPU threads (None: torch default)."
    )
    report_to: list[Literal["mlflow", "tensorboard"]] = Field(
        default_factory=list, description="Extra trackers, used when installed."
    )
    progress: bool = Field(default=True, description="Show a progress bar on stderr.")
    merge: bool = Field(default=False, description="Also export merged full weights at the end.")
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.quantization == "4bit" and self.device == "cpu":
            raise ValueError("quantization=4bit (QLoRA) needs a CUDA GPU; use quantization=none on CPU")
        if self.quantization == "4bit" and self.base_weights == "fp32":
            raise ValueError("quantization=4bit stores base weights in 4 bits; leave base_weights=auto")
        return self


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
