"""The general grounding stage in one command: a knowledge base of every public source's passages,
the mixed training dataset (train parts only), an evaluation dataset per source (its test split is
the source's fixed held-out part, never trained or tuned on), and the LoRA adapter trained on the mix
with the `general` recipe.

Each step records its result in `<workspace>/general/state.json` and is skipped when done, so an
interrupted run resumes. It reads `../shared/data` (or `data_root`); it never downloads anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundtune.core.adapters import GENERAL
from groundtune.core.errors import NotFoundError
from groundtune.core.progress import ProgressEvent
from groundtune.core.workspace import get_workspace
from groundtune.pipelines.state import StepState

RECIPE = "general"
KB_NAME = "general"
DATASET = "general"
ADAPTER = GENERAL
# Per source, an evaluation dataset: a fixed sample of its questions whose held-out part is the test
# split (never trained or tuned on) and whose validation part is the validation split (abstention
# calibration: the mix trains on neither), the rest train (few-shot demonstrations for the base model,
# and the answerability gate's extra items: it reads no model).
EVAL_LIMIT = 300
EVAL_SPLITS = {"train": 1.0, "validation": 0.0}

Say = Callable[[str], None]
StageProgress = Callable[[ProgressEvent], None]


def _noop_stage(event: ProgressEvent) -> None:
    return None


def _recipe_data(recipe: str | Path) -> dict[str, Any]:
    import yaml

    from groundtune.core.recipes import find_recipe

    loaded: dict[str, Any] = yaml.safe_load(find_recipe(recipe).read_text(encoding="utf-8"))
    return loaded


def _sources(data_root: Path, recipe: str | Path) -> list[dict[str, Any]]:
    sources = []
    for spec in _recipe_data(recipe)["data"]["sources"]:
        path = data_root / spec["path"]
        if not path.exists():
            raise NotFoundError(
                f"{path} is missing: the general stage reads the public sources in ../shared/data",
                hint="pass --data DIR pointing at the folder that holds them",
            )
        sources.append({**spec, "path": str(path)})
    return sources


def run_general(
    data_root: str | Path,
    *,
    home: str | Path | None = None,
    say: Say = print,
    stage: StageProgress = _noop_stage,
    train_overrides: dict[str, Any] | None = None,
    embedder: str = "minilm-l6",
    model: str | None = None,
    steps: tuple[str, ...] = ("kb", "data", "test", "train"),
    recipe: str | Path = RECIPE,
) -> dict[str, Any]:
    """Run the general stage's steps (see the module docstring); returns the state (paths, timings).
    `recipe` (default `general`) names the sources and settings; tests pass a smaller one."""
    from groundtune import kb as kb_api
    from groundtune.data import build_dataset, load_config
    from groundtune.data.public import load_public

    data_root = Path(data_root).resolve()
    ws = get_workspace(home)
    state = StepState(ws.home / "general" / "state.json")
    sources = _sources(data_root, recipe)
    timings: dict[str, float] = state.get("timings") or {}

    if "kb" in steps and not state.get("kb"):
        t = time.perf_counter()
        kb_api.create(KB_NAME, embedder=embedder, home=home)
        for spec in sources:
            corpus = load_public(spec["kind"], spec["path"]).write_corpus(
                ws.home / "general" / f"{spec['kind']}.corpus.jsonl"
            )
            summary = kb_api.add(KB_NAME, [corpus], home=home, progress=None)
            say(f"kb: {spec['kind']}: {len(summary.added)} passages")
        timings["kb"] = time.perf_counter() - t
        state.set("kb", KB_NAME)
        state.set("timings", timings)

    lm = {"lm": model} if model else {}
    if "data" in steps and not state.get("dataset"):
        t = time.perf_counter()
        config = load_config(recipe, name=DATASET, kb=KB_NAME, sources=sources, overwrite=True, **lm)
        result = build_dataset(config, progress=stage, home=home)
        say(f"data: {result.card.splits} examples; drops {result.report['drops']}")
        timings["data"] = time.perf_counter() - t
        state.set("dataset", str(result.path))
        state.set("timings", timings)

    if "test" in steps and not state.get("tests"):
        t = time.perf_counter()
        tests = {}
        for spec in sources:
            name = f"{DATASET}-eval-{spec['kind']}"
            config = load_config(
                recipe,
                name=name,
                kb=KB_NAME,
                sources=[{**spec, "part": "all", "limit": EVAL_LIMIT}],
                splits=EVAL_SPLITS,
                overwrite=True,
                **lm,
            )
            result = build_dataset(config, progress=stage, home=home)
            tests[spec["kind"]] = name
            say(f"eval dataset {name}: {result.card.splits}")
        timings["test"] = time.perf_counter() - t
        state.set("tests", tests)
        state.set("timings", timings)

    name = adapter_name(recipe, (train_overrides or {}).get("seed"))
    suffix = name.removeprefix(ADAPTER)  # "" for the recipe's seed, "-seedN" for another
    if "train" in steps and not state.get(f"adapter{suffix}"):
        from groundtune.train import load_config as train_config
        from groundtune.train import train

        t = time.perf_counter()
        overrides = {"dataset": DATASET, **(train_overrides or {}), "name": name}
        if model:
            overrides["model"] = model
        run = train(train_config(recipe, overrides), home=home)
        timings[f"train{suffix}"] = time.perf_counter() - t
        state.set(f"adapter{suffix}", str(run.registered_adapter))
        state.set(f"run{suffix}", str(run.run_dir))
        state.set("timings", timings)
        say(
            f"train: adapter {run.registered_adapter} ({run.steps} steps) in {timings[f'train{suffix}']:.0f} s"
        )
    return state.data


def adapter_name(recipe: str | Path = RECIPE, seed: int | None = None) -> str:
    """The general adapter's name in its workspace: `general` when trained with the recipe's seed,
    `general-seedN` with another (seeds live side by side, sharing the KB and datasets)."""
    if seed is None or seed == _recipe_data(recipe).get("train", {}).get("seed", 0):
        return ADAPTER
    return f"{ADAPTER}-seed{seed}"


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _commit(before: float | None = None) -> str | None:
    """The checkout's commit (`before` a time: the last one made before it, the code a run started on)."""
    import subprocess

    at = ["log", "-1", "--format=%H", f"--before={int(before)}"] if before else ["rev-parse", "HEAD"]
    try:
        out = subprocess.run(
            ["git", *at],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def ship(
    data_root: str | Path,
    *,
    home: str | Path | None = None,
    dest: Path | None = None,
    recipe: str | Path = RECIPE,
) -> Path:
    """Copy the trained general adapter into the package (`core/shipped/general`) in bf16 (half the
    size; LoRA weights load back into fp32 layers), with a manifest naming the recipe, the hash of
    every public file it was trained on, the commit and the training figures."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from groundtune.core.adapters import ADAPTER_MANIFEST, SHIPPED, resolve_adapter
    from groundtune.core.artifacts import ShippedRecord
    from groundtune.core.recipes import find_recipe

    data_root = Path(data_root).resolve()
    ref = resolve_adapter(ADAPTER, home)
    if ref.path.parent == SHIPPED:
        raise NotFoundError(
            "no trained general adapter in this workspace", hint="run `groundtune general` first"
        )
    dest = dest or SHIPPED / ADAPTER
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(ref.path / "adapter_config.json", dest / "adapter_config.json")
    weights = load_file(str(ref.path / "adapter_model.safetensors"))
    save_file({k: v.to(torch.bfloat16) for k, v in weights.items()}, str(dest / "adapter_model.safetensors"))
    files = sorted(
        p
        for spec in _recipe_data(recipe)["data"]["sources"]
        for p in (data_root / spec["path"]).rglob("*")
        if p.is_file() and p.suffix not in (".md",) and "LICENSE" not in p.name
    )
    recipe_file = find_recipe(recipe)
    # the training run's settings are written when it starts: the commit before that trained it
    started = get_workspace(home).runs / str(ref.manifest.run_id) / "config.yaml"
    shipped = ShippedRecord(
        recipe=str(recipe),
        recipe_sha256=_sha256(recipe_file),
        data={str(p.relative_to(data_root)): _sha256(p) for p in files},
        commit=_commit(before=started.stat().st_mtime if started.is_file() else None),
        reproduce="groundtune general --data ../shared/data && groundtune general --data ../shared/data --ship",
    )
    # the base model is found by name on the user's machine, never at this one's path
    manifest = ref.manifest.model_copy(
        update={"adapter_name": ADAPTER, "shipped": shipped, "model_path": None}
    )
    (dest / ADAPTER_MANIFEST).write_text(manifest.model_dump_json(indent=2))
    return dest
