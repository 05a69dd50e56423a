"""Everything a run needs before its first step: workspace and run directory, dataset tokens, the
LoRA-wrapped model at the chosen precision, optimizer and schedule, and (on resume) the restored state.

`open_session` is shared by a fresh run and a resumed one; the loop itself lives in `trainer`.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import groundtune
from groundtune.core.adapters import AUTO_INIT, resolve_adapter, shipped_init
from groundtune.core.artifacts import DatasetCard, InitAdapterRecord, PromptLayoutRecord, RunManifest
from groundtune.core.errors import ConflictError, InvalidInputError
from groundtune.core.ids import new_id, stable_hash
from groundtune.core.jsonfile import write_json
from groundtune.core.schemas import Example
from groundtune.core.workspace import Workspace
from groundtune.grounding import get_format
from groundtune.models.registry import load_lm
from groundtune.train import adapter, checkpoint, distributed
from groundtune.train.batching import steps_per_epoch
from groundtune.train.config import TrainConfig, resolve
from groundtune.train.examples import (
    TokenizedExample,
    read_card,
    read_split,
    resolve_dataset_dir,
    tokenize_examples,
)
from groundtune.train.loss import SupervisedLM
from groundtune.train.optim import make_optimizer, planned_total, warmup_steps
from groundtune.train.rundir import read_run, write_run
from groundtune.train.tracking import MetricsLog


@dataclass
class Session:
    config: TrainConfig
    ws: Workspace
    dist: distributed.Dist
    run_id: str
    run_dir: Path
    device: torch.device
    autocast_dtype: torch.dtype | None
    lm: Any
    peft_model: Any
    module: SupervisedLM
    wrapped: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train: list[TokenizedExample]
    validation: list[TokenizedExample]
    total_steps: int
    steps_per_epoch: int
    loop: checkpoint.LoopState
    metrics: MetricsLog
    manifest: RunManifest
    pad_id: int = 0
    best_trainable: dict[str, torch.Tensor] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def micro_per_step(self) -> int:
        assert self.config.grad_accum is not None
        return self.config.grad_accum * self.dist.world


def _device(choice: str, dist: distributed.Dist) -> torch.device:
    cuda = torch.cuda.is_available()
    if choice == "cuda" and not cuda:
        raise InvalidInputError("device=cuda but no CUDA GPU is visible", hint="use device=auto or cpu")
    if choice == "cuda" or (choice == "auto" and cuda):
        return torch.device("cuda", dist.local_rank)
    return torch.device("cpu")


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 when asked, or when `auto` and the hardware computes bf16 natively; else None (fp32)."""
    if precision == "fp32":
        return None
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        supported = bool(
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    if precision == "bf16" or supported:
        return torch.bfloat16
    return None


def _load_examples(
    config: TrainConfig, ws: Workspace, lm: Any
) -> tuple[Path, DatasetCard | None, Any, Any, int | None]:
    """(dataset folder, card, (train examples, skipped), validation examples, the most documents a kept
    training target names as relevant: None when none names any)."""
    ds_dir = resolve_dataset_dir(config.dataset, ws)
    card = read_card(ds_dir)
    weighting = _decision_weighting(config, card, ds_dir)

    def tokenize(examples: list[Example]) -> tuple[list[TokenizedExample], int]:
        return tokenize_examples(examples, lm.tokenizer, lm.layout, config.max_length, **weighting)

    examples = read_split(ds_dir / "train.jsonl")
    listed = {ex.id: len(ex.target.relevant) for ex in examples}
    train, skipped = tokenize(examples)
    if not train:
        raise InvalidInputError(
            f"no usable training examples in {ds_dir} ({skipped} longer than max_length={config.max_length})",
            hint="raise max_length or build shorter contexts",
        )
    val_path = ds_dir / "validation.jsonl"
    val: list[TokenizedExample] = []
    if val_path.is_file():
        val, _ = tokenize(read_split(val_path))
    if config.max_eval_examples is not None:
        val = val[: config.max_eval_examples]
    if config.early_stopping_patience is not None and not val:
        raise InvalidInputError(
            "early stopping needs validation examples but the dataset has none",
            hint="add validation.jsonl or drop early_stopping_patience",
        )
    return ds_dir, card, (train, skipped), val, max((listed[t.id] for t in train), default=0) or None


def _decision_weighting(config: TrainConfig, card: DatasetCard | None, ds_dir: Path) -> dict[str, Any]:
    """tokenize_examples' weighting arguments: the dataset's grounding format finds the decisions."""
    if config.decision_weight == 1.0:
        return {}
    style = card.grounding.style if card and card.grounding else None
    if not style:
        raise InvalidInputError(
            f"decision_weight is {config.decision_weight} but {ds_dir} records no grounding style",
            hint="build the dataset with `groundtune data build` (its card names the style) or set decision_weight: 1.0",
        )
    return {"decision_spans": get_format(style).decision_spans, "decision_weight": config.decision_weight}


def open_session(config: TrainConfig, ws: Workspace, *, resume_dir: Path | None = None) -> Session:
    """Build (or, with `resume_dir`, rebuild and restore) everything the loop needs."""
    dist = distributed.from_env()
    device = _device(config.device, dist)
    distributed.init(
        dist, backend=config.distributed.backend, strategy=config.distributed.strategy, device=device
    )
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    if resume_dir is not None:
        run_dir, run_id = resume_dir, resume_dir.name
    else:
        # rank 0 decides (id and whether it is taken), so ranks can never disagree
        run_id = config.run_id or new_id("run")
        run_id, taken = distributed.broadcast_object((run_id, (ws.runs / run_id / "run.json").exists()), dist)
        run_dir = ws.runs / run_id
        if taken:
            raise ConflictError(
                f"run '{run_id}' already exists", hint=f"resume it with `groundtune train resume {run_id}`"
            )
    autocast_dtype = _autocast_dtype(config.precision, device)
    base_dtype = torch.float32
    if config.base_weights == "bf16" or (config.base_weights == "auto" and autocast_dtype is not None):
        base_dtype = torch.bfloat16

    init = None
    if config.init_adapter == AUTO_INIT:
        config = config.model_copy(update={"init_adapter": shipped_init(config.model)})
    if config.init_adapter:
        init = resolve_adapter(config.init_adapter, ws.home)
        trained_on = init.manifest.model
        if trained_on and trained_on != config.model:
            raise InvalidInputError(
                f"init_adapter '{config.init_adapter}' was trained on {trained_on}, not {config.model}",
                hint=f"set model: {trained_on}, or train without init_adapter",
            )
        config = config.model_copy(
            update={"lora": config.lora.model_copy(update=adapter.init_settings(init.path))}
        )
    lm = load_lm(config.model, ws.home, dtype=base_dtype)  # load straight into the final dtype: lower peak
    ds_dir, card, (train, skipped), val, max_listed = _load_examples(config, ws, lm)
    if init is not None and init.manifest.max_listed:  # a continued adapter keeps what it learned to name
        max_listed = max(max_listed or 0, init.manifest.max_listed)
    n_params = adapter.count_parameters(lm.model)
    config = resolve(config, n_params)
    assert config.batch_size is not None and config.grad_accum is not None
    spe = steps_per_epoch(len(train), config.batch_size, config.grad_accum * dist.world, dist.world)
    if spe == 0:
        raise InvalidInputError(
            f"{len(train)} training examples cannot give each of {dist.world} processes a batch",
            hint="use fewer processes or a smaller batch_size",
        )
    total = config.max_steps or max(1, math.ceil(config.epochs * spe))
    config = resolve(config, n_params, n_steps=total)
    assert config.lr is not None

    if config.quantization == "4bit":
        if lm.path is None:
            raise InvalidInputError(
                "quantization=4bit needs a model stored on disk", hint="use a local or hub model"
            )
        model = adapter.load_quantized(lm.path, autocast_dtype or torch.bfloat16)
    else:
        model = lm.model.to(device=device, dtype=base_dtype)
    torch.manual_seed(config.seed)  # LoRA A matrices are drawn here: same seed, same adapter init
    peft_model = adapter.add_lora(model, config, lm.path or config.model)
    if init is not None:  # a resumed run then restores its newest checkpoint over these weights
        adapter.load_init_weights(peft_model, init.path)
    peft_model.to(device)
    peft_model.train()
    module = SupervisedLM(peft_model.get_base_model(), autocast_dtype or base_dtype)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise InvalidInputError("LoRA found no modules to adapt", hint="check lora.target_modules names")
    optimizer, scheduler = make_optimizer(
        params,
        lr=config.lr,
        weight_decay=config.weight_decay,
        total=total,
        warmup=warmup_steps(total, config.warmup_ratio, config.warmup_steps),
        schedule=config.schedule,
    )
    wrapped = distributed.wrap(module, dist, device)

    loop = checkpoint.LoopState()
    best: dict[str, torch.Tensor] | None = None
    metrics = MetricsLog(run_dir / "metrics.jsonl")
    manifest: RunManifest
    if resume_dir is not None:
        ckpts = checkpoint.list_checkpoints(run_dir / "checkpoints")
        manifest = read_run(run_dir)
        if ckpts:
            state = checkpoint.read_checkpoint(ckpts[-1])
            adapter.load_trainable(peft_model, state["trainable"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            total = planned_total(scheduler)  # a time budget may have planned a shorter run
            checkpoint.set_rng_state(state["rng"])
            loop, best = state["loop"], state["best_trainable"]
        if dist.main:
            metrics.truncate_after(loop.step)
    else:
        card_dump = card.model_dump(mode="json") if card is not None else None
        manifest = RunManifest(
            run_id=run_id,
            adapter_name=config.name or run_id,
            status="running",
            groundtune_version=groundtune.__version__,
            versions=_versions(),
            model=config.model,
            model_path=lm.path,
            model_parameters=n_params,
            trainable_parameters=sum(p.numel() for p in params),
            dataset=config.dataset,
            init_adapter=(
                InitAdapterRecord(
                    name=init.name,
                    path=str(init.path),
                    manifest_hash=stable_hash(init.manifest.model_dump(mode="json")),
                )
                if init is not None
                else None
            ),
            dataset_dir=str(ds_dir),
            dataset_card_hash=stable_hash(card_dump) if card_dump else None,
            max_listed=max_listed,
            grounding=card.grounding if card is not None else None,
            retriever=card.retriever if card is not None else None,
            prompt_layout=PromptLayoutRecord.model_validate(lm.layout.to_dict()),
            examples={"train": len(train), "train_skipped_too_long": skipped, "validation": len(val)},
            supervised_tokens_per_epoch=sum(e.n_supervised for e in train),
            total_steps=total,
            steps_per_epoch=spe,
            world_size=dist.world,
            device=str(device),
            precision="bf16" if autocast_dtype is not None else "fp32",
            base_weights_dtype=str(base_dtype).replace("torch.", ""),
        )
        if dist.main:
            _write_fresh_run_dir(run_dir, config, manifest, card_dump or {}, lm.layout.to_dict())
        distributed.barrier(dist)
    return Session(
        config, ws, dist, run_id, run_dir, device, autocast_dtype, lm, peft_model, module, wrapped,
        optimizer, scheduler, train, val, total, spe, loop, metrics, manifest, lm.tokenizer.pad_token_id, best,
    )  # fmt: skip


def _versions() -> dict[str, str]:
    import peft
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def _write_fresh_run_dir(
    run_dir: Path, config: TrainConfig, manifest: RunManifest, card: dict[str, Any], layout: dict[str, Any]
) -> None:
    import yaml

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    write_json(run_dir / "dataset_card.json", card)
    write_json(run_dir / "prompt_layout.json", layout)
    (run_dir / "metrics.jsonl").touch()
    write_run(run_dir, manifest)
