"""The one place that calls PEFT (and transformers' quantization): wrap a model with LoRA, save the
adapter in the standard layout PEFT and vLLM load, and export merged weights.

Saved adapters hold exactly `adapter_config.json` + `adapter_model.safetensors` (no
`modules_to_save`, no embedding copies), which is what `vllm serve --enable-lora` expects. This
module does not know about datasets, the loop or run directories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from groundtune.core.errors import UnavailableError
from groundtune.train.config import TrainConfig


def count_parameters(model: Any) -> int:
    # Tied embeddings are one tensor; count unique storage once.
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def load_quantized(path: str, compute_dtype: torch.dtype) -> Any:
    """The base model in 4-bit NF4 (QLoRA). Needs bitsandbytes and a CUDA GPU."""
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UnavailableError(
            "quantization=4bit needs bitsandbytes", hint="pip install 'groundtune[gpu]' on a CUDA machine"
        ) from None
    if not torch.cuda.is_available():
        raise UnavailableError("quantization=4bit needs a CUDA GPU", hint="use quantization=none on CPU")
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    qconf = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )
    model = AutoModelForCausalLM.from_pretrained(
        path, quantization_config=qconf, dtype=compute_dtype, local_files_only=Path(path).exists()
    )
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def add_lora(model: Any, config: TrainConfig, base_name: str) -> Any:
    """Inject LoRA layers (fp32 weights even over bf16 base weights) and freeze everything else."""
    from peft import LoraConfig, get_peft_model

    assert config.lora.r is not None and config.lora.alpha is not None, "resolve() the config first"
    layers = None
    if config.lora.top_layers is not None:
        n_layers = int(model.config.num_hidden_layers)
        layers = list(range(max(0, n_layers - config.lora.top_layers), n_layers))
    lora = LoraConfig(
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
        r=config.lora.r,
        lora_alpha=config.lora.alpha,  # type: ignore[arg-type]  # PEFT annotates int, uses float
        lora_dropout=config.lora.dropout,
        target_modules=linear_module_names(model, config.lora.target_modules),
        bias="none",
        base_model_name_or_path=base_name,
    )
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    model.name_or_path = base_name  # PEFT copies it into adapter_config.json
    peft_model = get_peft_model(model, lora, autocast_adapter_dtype=True)
    use_lean_forward(peft_model)
    return peft_model


def init_settings(adapter_dir: Path) -> dict[str, Any]:
    """The LoRA settings (`r`, `alpha`, `target_modules`, `top_layers`) of a saved adapter, so a run
    that continues it builds layers of the same shape."""
    conf = json.loads((adapter_dir / "adapter_config.json").read_text())
    layers = conf.get("layers_to_transform")
    targets = conf["target_modules"]
    return {
        "r": int(conf["r"]),
        "alpha": float(conf["lora_alpha"]),
        "target_modules": sorted(targets) if isinstance(targets, list) else targets,
        "top_layers": len(layers) if layers else None,
    }


def load_init_weights(peft_model: Any, adapter_dir: Path) -> int:
    """Copy a saved adapter's LoRA weights into `peft_model` (built with `init_settings`); returns how
    many tensors were loaded, and raises when any trainable weight is left at its fresh init."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = load_file(str(adapter_dir / "adapter_model.safetensors"))
    result: Any = set_peft_model_state_dict(peft_model, state)
    missing = [k for k in result.missing_keys if "lora_" in k]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"adapter {adapter_dir} does not fit this model: missing {missing[:3]}, "
            f"unexpected {list(result.unexpected_keys)[:3]}"
        )
    return len(state)


def _lean_forward(self: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    """y = W x + (B * s)(A dropout(x)), with the add fused into one addmm.

    PEFT's own forward casts x to the (fp32) LoRA dtype and then multiplies the full output by the
    scaling; on a CPU those copies cost more than the LoRA matmuls. Same maths, same parameters.
    """
    active = self.active_adapters
    plain = len(active) == 1 and active[0] in self.lora_A and active[0] not in self.lora_variant
    if not plain or self.disable_adapters or self.merged or kwargs.get("adapter_names") is not None:
        return self._peft_forward(x, *args, **kwargs)
    result = self.base_layer(x, *args, **kwargs)
    name = active[0]
    a = self.lora_A[name].weight
    b = self.lora_B[name].weight * self.scaling[name]
    low = torch.nn.functional.linear(self.lora_dropout[name](x), a)
    flat = torch.addmm(result.reshape(-1, result.shape[-1]), low.reshape(-1, low.shape[-1]), b.t())
    return flat.view(result.shape).to(result.dtype)


def use_lean_forward(peft_model: Any) -> int:
    """Switch every plain LoRA Linear (one adapter, no DoRA/variants) to `_lean_forward`."""
    import types

    from peft.tuners.lora import Linear as LoraLinear

    n = 0
    for module in peft_model.modules():
        if type(module) is LoraLinear and len(module.active_adapters) == 1 and not module.lora_variant:
            module._peft_forward = module.forward  # type: ignore[assignment]
            module.forward = types.MethodType(_lean_forward, module)  # type: ignore[method-assign]
            n += 1
    return n


def linear_module_names(model: Any, targets: list[str] | str) -> list[str]:
    """`all-linear` as short module names (`q_proj`, …, every nn.Linear but the LM head): the plain
    list vLLM and older PEFT versions read, instead of PEFT's per-layer paths."""
    if targets != "all-linear":
        return list(targets)
    head = model.get_output_embeddings()
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module is not head
    }
    return sorted(names)


def trainable_state(peft_model: Any) -> dict[str, torch.Tensor]:
    """The LoRA weights by parameter name (what a checkpoint stores and restores)."""
    return {n: p for n, p in peft_model.named_parameters() if p.requires_grad}


def load_trainable(peft_model: Any, state: dict[str, torch.Tensor]) -> None:
    params = dict(peft_model.named_parameters())
    missing = set(state) ^ {n for n, p in params.items() if p.requires_grad}
    if missing:
        raise ValueError(f"checkpoint does not match the adapter: {sorted(missing)[:4]}")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def save_adapter(peft_model: Any, out: Path) -> Path:
    """Write the standard PEFT adapter folder (loadable by PEFT and by vLLM `--enable-lora`)."""
    out.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out), safe_serialization=True, save_embedding_layers=False)
    conf = json.loads((out / "adapter_config.json").read_text())
    if conf.get("modules_to_save"):
        raise AssertionError("adapters must not carry modules_to_save (vLLM rejects them)")
    return out


def merge_export(model_ref: Any, adapter_dir: Path, out: Path, tokenizer: Any) -> Path:
    """Merge the adapter into fresh fp32 base weights and save a plain transformers model folder."""
    from peft import PeftModel

    merged = PeftModel.from_pretrained(model_ref, str(adapter_dir)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return out
