"""The typed config: recipes validate, overrides apply in order, contradictions are rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from groundtune.core.errors import InvalidInputError
from groundtune.core.recipes import recipes_dir
from groundtune.train.config import (
    TrainConfig,
    build_config,
    load_config,
    parse_override,
    resolve,
    size_defaults,
)

REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"
RECIPES = sorted(recipes_dir().glob("*.yaml"))


def test_the_repository_recipes_folder_is_the_shipped_one() -> None:
    assert REPO_RECIPES.resolve() == recipes_dir().resolve()
    assert len(RECIPES) >= 5


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_validates(recipe: Path) -> None:
    cfg = load_config(recipe, {"dataset": "some-dataset"})
    assert cfg.dataset == "some-dataset"
    raw = yaml.safe_load(recipe.read_text())
    if "train" in raw:  # a full recipe: its data section must validate as a dataset build config too
        from groundtune.data import load_config as load_data_config

        built = load_data_config(recipe, name="n", kb="k", sources=[{"kind": "qa", "path": "qa.jsonl"}])
        assert all(
            getattr(built, key) == value or isinstance(value, dict)
            for key, value in raw["data"].items()
            if key != "sources"  # overridden above; a recipe's own sources validate on their own
        )
        from groundtune.data import SourceSpec

        assert all(SourceSpec.model_validate(s) for s in raw["data"].get("sources", []))
        raw = raw["train"]
    # every key the recipe sets survives validation unchanged (no silent renames)
    for key, value in raw.items():
        got = getattr(cfg, key)
        assert (got.model_dump() if hasattr(got, "model_dump") else got) == value or isinstance(value, dict)
    launch = cfg.distributed.config_file
    if launch:
        assert (recipe.parent / launch).is_file(), f"{recipe.name} points at a missing {launch}"


@pytest.mark.parametrize("launch", sorted((recipes_dir() / "launch").glob("*.yaml")), ids=lambda p: p.stem)
def test_launcher_configs_are_valid_accelerate_configs(launch: Path) -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    cfg = ClusterConfig.from_yaml_file(str(launch))  # accelerate's own loader: unknown keys raise
    assert cfg.num_processes >= 2
    if cfg.deepspeed_config:
        ds = json.loads((REPO_RECIPES.parent / cfg.deepspeed_config["deepspeed_config_file"]).read_text())
        assert ds["zero_optimization"]["stage"] == 3
    if cfg.fsdp_config:
        assert cfg.fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"


def test_overrides_apply_after_the_recipe(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: tiny-random-gemma3\ndataset: a\nlora: {r: 4}\nlr: 0.001\n")
    cfg = load_config(recipe, {"lora.r": 8, "lr": 2e-4, "lora.dropout": 0.0})
    assert (cfg.lora.r, cfg.lr, cfg.lora.dropout, cfg.dataset) == (8, 2e-4, 0.0, "a")
    assert parse_override("lora.target_modules=[q_proj, v_proj]") == (
        "lora.target_modules",
        ["q_proj", "v_proj"],
    )
    assert parse_override("lr=2e-4")[1] == pytest.approx(2e-4)


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"lr": -1}, "lr"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"schedule": "exponential"}, "schedule"),
        ({"quantization": "4bit", "device": "cpu"}, "CUDA"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_bad_values_name_the_field(bad: dict, needle: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        build_config({"dataset": "d", **bad})
    assert needle in str(info.value) and info.value.hint


def test_defaults_follow_model_size() -> None:
    small = resolve(TrainConfig(dataset="d"), 270_000_000, n_steps=40)
    large = resolve(TrainConfig(dataset="d"), 7_000_000_000, n_steps=40)
    assert small.lr == size_defaults(270_000_000)["lr"] and small.lr > large.lr
    assert large.gradient_checkpointing and not small.gradient_checkpointing
    assert small.lora.alpha == 2 * small.lora.r
    assert small.eval_every == 10 and small.save_every == 10
    explicit = resolve(TrainConfig(dataset="d", lr=1e-3, lora={"r": 4}), 7_000_000_000)
    assert explicit.lr == 1e-3 and explicit.lora.r == 4


def test_missing_recipe_lists_the_shipped_ones() -> None:
    with pytest.raises(InvalidInputError) as info:
        load_config("no-such-recipe")
    assert "gemma-270m-cpu" in (info.value.hint or "")
