"""The one place inference touches PEFT: load and unload LoRA adapters onto a base model, merge a
single adapter into the weights, and route each batch row to its adapter (or to the base model).

Routing: a batch whose rows all use one adapter runs with that adapter active; all-base rows run
with adapters disabled; a mixed batch passes PEFT's `adapter_names` (one per row, `__base__` for the
base model), which applies each LoRA only to its rows. It knows nothing about decoding or text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError

BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch


def _check_adapter_dir(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not (p / "adapter_config.json").exists():
        raise NotFoundError(
            f"no LoRA adapter at {p} (adapter_config.json is missing)",
            hint="pass the folder a groundtune training run exported, or one saved with PEFT's save_pretrained",
        )
    return p


def _keep_lm_head_foldable(model: Any) -> None:
    """Mark the LM head weight as requiring grad again after PEFT froze it (no graph is built: the
    engine runs under inference mode).

    Prefill computes logits for the last position only, so the head sees a non-contiguous
    (batch, 1, hidden) slice. `torch.matmul` folds that into one matrix product only when the weight
    requires grad; otherwise it broadcasts the 262k x 640 Gemma head to every row (a batched copy of
    it per prefill) and prefill ran 3.7x slower with any adapter loaded than without.
    """
    head = model.get_output_embeddings()
    if head is not None and getattr(head, "weight", None) is not None:
        head.weight.requires_grad_(True)


class AdapterSet:
    """A base model plus named LoRA adapters; `model` is what to call forward on."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.peft: Any = None
        self.merged: str | None = None
        self._paths: dict[str, str] = {}

    @property
    def model(self) -> Any:
        return self.peft if self.peft is not None else self.base

    @property
    def names(self) -> list[str]:
        return [self.merged] if self.merged else list(self._paths)

    def load(self, name: str, path: str | Path) -> None:
        """Attach adapter `name` from a PEFT folder; it serves requests naming it from then on."""
        if not name or name == BASE:
            raise InvalidInputError(f"invalid adapter name {name!r}", hint="use a short non-empty name")
        if self.merged:
            raise ConflictError(
                f"the engine merged adapter '{self.merged}' into its weights; no other adapter can be added",
                hint="load the engine with merged=False to serve several adapters",
            )
        if name in self._paths:
            raise ConflictError(
                f"adapter '{name}' is already loaded", hint="unload it first or choose another name"
            )
        folder = _check_adapter_dir(path)
        from peft import PeftModel

        try:
            if self.peft is None:
                # autocast_adapter_dtype=False: LoRA weights take the base model's dtype (PEFT would
                # keep them float32 under a bf16 base, running every LoRA layer in float32).
                self.peft = PeftModel.from_pretrained(
                    self.base,
                    str(folder),
                    adapter_name=name,
                    is_trainable=False,
                    autocast_adapter_dtype=False,
                )
                self.peft.eval()
            else:
                self.peft.load_adapter(
                    str(folder), adapter_name=name, is_trainable=False, autocast_adapter_dtype=False
                )
        except (ValueError, KeyError, RuntimeError) as exc:
            raise InvalidInputError(
                f"adapter at {folder} does not fit model: {exc}",
                hint="use an adapter trained on this base model",
            ) from exc
        self._paths[name] = str(folder)
        _keep_lm_head_foldable(self.peft)

    def unload(self, name: str) -> None:
        """Detach adapter `name`; the last one unloaded leaves the plain base model."""
        if self.merged:
            raise ConflictError(
                f"adapter '{self.merged}' is merged into the weights and cannot be unloaded",
                hint="reload the engine without merged=True",
            )
        if name not in self._paths:
            raise NotFoundError(f"adapter '{name}' is not loaded", hint=f"loaded: {self.names or 'none'}")
        del self._paths[name]
        if not self._paths:
            self.base = self.peft.unload()  # removes the LoRA layers, restoring the untouched base
            self.peft = None
        else:
            self.peft.delete_adapter(name)

    def merge(self) -> None:
        """Fold the single loaded adapter into the base weights (fast path: no LoRA work per token)."""
        if len(self._paths) != 1:
            raise InvalidInputError(
                f"merged=True needs exactly one adapter, got {len(self._paths)}",
                hint="pass one adapter, or merged=False to serve several",
            )
        (name,) = self._paths
        self.base = self.peft.merge_and_unload()
        self.peft = None
        self.merged = name
        _keep_lm_head_foldable(self.base)

    def check(self, adapter: str | None) -> None:
        """Raise a clear error when a request names an adapter this set cannot serve."""
        if adapter is None:
            if self.merged:
                raise InvalidInputError(
                    f"this engine serves only the merged adapter '{self.merged}', not the base model",
                    hint="load a second engine without adapters, or load with merged=False",
                )
            return
        if adapter not in self.names:
            raise NotFoundError(
                f"adapter '{adapter}' is not loaded", hint=f"loaded adapters: {self.names or 'none'}"
            )

    @contextlib.contextmanager
    def route(self, adapters: list[str | None]) -> Iterator[bool]:
        """Prepare the model for a batch whose rows use `adapters`; yields True when every forward
        call must pass `adapter_names` (a mixed batch)."""
        wanted = set(adapters)
        if self.peft is None:
            yield False
        elif wanted == {None}:
            with self.peft.disable_adapter():
                yield False
        elif len(wanted) == 1:
            self.peft.set_adapter(next(iter(wanted)), inference_mode=True)
            yield False
        else:
            yield True

    @staticmethod
    def names_for(adapters: list[str | None]) -> list[str]:
        return [BASE if a is None else a for a in adapters]
