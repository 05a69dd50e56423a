"""The general grounding stage end to end on the tiny models, with a small recipe over two real public
sources (skipped without ../shared/data): the evaluation datasets' test splits are the sources' fixed
held-out parts, training never shows them, and the shipped adapter is what a user's run continues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from groundtune.core.adapters import resolve_adapter, shipped_init
from groundtune.core.jsonfile import read_json
from groundtune.data import load_dataset
from groundtune.data.public import HELDOUT_KEY, load_public, part_of
from groundtune.pipelines.general import run_general, ship
from groundtune.train import train

USER = {
    "model": "tiny-random-gemma3",
    "dataset": "general",
    "name": "user",
    "max_steps": 1,
    "precision": "fp32",
    "progress": False,
    "num_threads": 1,
}

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

RECIPE = """
data:
  k: 3
  max_tokens: 4096
  splits: {train: 0.9, validation: 0.1}
  sources:
    - {kind: hotpotqa, path: hotpotqa_reflexion100, part: train, limit: 24}
    - {kind: rgb_counterfactual, path: rgb_en_fact, part: train, limit: 24}
train:
  lora: {r: 4, alpha: 8}
  precision: fp32
  batch_size: 2
  grad_accum: 1
  max_steps: 3
  lr: 1.0e-3
  eval_every: 10000
  num_threads: 1
  progress: false
"""


def test_general_stage_on_tiny_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (SHARED_DATA / "hotpotqa_reflexion100").exists() or not (SHARED_DATA / "rgb_en_fact").exists():
        pytest.skip(
            f"{SHARED_DATA} does not hold the public sources (they are provided beside the repository)"
        )
    recipe = tmp_path / "general-tiny.yaml"
    recipe.write_text(RECIPE)
    said: list[str] = []
    state = run_general(
        SHARED_DATA,
        say=said.append,
        embedder="tiny-random-minilm",
        model="tiny-random-gemma3",
        recipe=recipe,
    )
    assert state["adapter"] and set(state["tests"]) == {"hotpotqa", "rgb_counterfactual"}
    train_shown = {d.doc_id for ex in load_dataset("general")["train"] for d in ex.documents}
    mixed = {ex.id.removesuffix("~contrast") for exs in load_dataset("general").values() for ex in exs}
    for kind, name in state["tests"].items():
        folder = {"hotpotqa": "hotpotqa_reflexion100", "rgb_counterfactual": "rgb_en_fact"}[kind]
        held = {p.id for p in load_public(kind, SHARED_DATA / folder).pairs if p.meta[HELDOUT_KEY]}
        held_docs = {
            d for p in load_public(kind, SHARED_DATA / folder).pairs if p.id in held for d in p.gold_doc_ids
        }
        test = load_dataset(name)["test"]
        assert test and {ex.id for ex in test} <= held
        assert not train_shown & held_docs  # the mix never shows a held-out document
        # abstention calibrates on the source's validation part, which the mix never trains on
        validation = {ex.id.removesuffix("~contrast") for ex in load_dataset(name)["validation"]}
        assert validation and not validation & mixed
        assert all(
            part_of(p) == "validation"
            for p in load_public(kind, SHARED_DATA / folder).pairs
            if p.id in validation
        )
    # A second run skips every finished step.
    again = run_general(SHARED_DATA, say=said.append, embedder="tiny-random-minilm", recipe=recipe)
    assert again["adapter"] == state["adapter"]
    # Another training seed trains beside it, on the same datasets, under its own name.
    seeded = run_general(
        SHARED_DATA,
        say=said.append,
        embedder="tiny-random-minilm",
        recipe=recipe,
        train_overrides={"seed": 1},
    )
    assert seeded["adapter"] == state["adapter"] and seeded["dataset"] == state["dataset"]
    assert Path(seeded["adapter-seed1"]).name == "general-seed1"
    assert resolve_adapter("general-seed1").path == Path(seeded["adapter-seed1"])

    dest = ship(SHARED_DATA, dest=tmp_path / "shipped" / "general", recipe=recipe)
    manifest = json.loads((dest / "groundtune-adapter.json").read_text())
    assert manifest["shipped"]["data"] and all(len(h) == 64 for h in manifest["shipped"]["data"].values())
    assert "hotpotqa_reflexion100/hotpot_distractor_sample100.json" in manifest["shipped"]["data"]
    weights = load_file(str(dest / "adapter_model.safetensors"))
    assert {str(w.dtype) for w in weights.values()} == {"torch.bfloat16"}
    # A user's run continues the shipped adapter.
    ref = resolve_adapter(dest)
    run = train({**USER, "init_adapter": str(ref.path)})
    assert read_json(run.run_dir / "run.json")["init_adapter"]["path"] == str(dest.resolve())
    # `init_adapter: auto` (the default recipe's) continues the shipped general adapter for the model
    # it was trained on, and starts a new adapter for any other model
    monkeypatch.setattr("groundtune.core.adapters.SHIPPED", dest.parent)
    assert shipped_init("tiny-random-gemma3") == str(dest) and shipped_init("gemma-3-270m") is None
    auto = train({**USER, "name": "auto", "init_adapter": "auto"})
    assert read_json(auto.run_dir / "run.json")["init_adapter"]["path"] == str(dest.resolve())
    monkeypatch.setattr("groundtune.core.adapters.SHIPPED", tmp_path / "nothing-shipped")
    fresh = train({**USER, "name": "fresh", "init_adapter": "auto"})
    assert read_json(fresh.run_dir / "run.json")["init_adapter"] is None


def test_the_cli_passes_seed_and_steps_to_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`groundtune general --seed N --max-steps M` reaches the training config; neither: the recipe's."""
    from typer.testing import CliRunner

    from groundtune.cli.main import app

    seen: list[object] = []

    def fake_run(data: Path, **kw: object) -> dict[str, object]:
        seen.append(kw["train_overrides"])
        return {"adapter": "/ws/adapters/general", "adapter-seed2": "/ws/adapters/general-seed2", "tests": {}}

    monkeypatch.setattr("groundtune.pipelines.general.run_general", fake_run)
    printed = []
    for args in (["--seed", "2", "--max-steps", "5"], ["--seed", "0"], []):
        result = CliRunner().invoke(app, ["general", "--data", str(tmp_path), *args])
        assert result.exit_code == 0, result.output
        printed.append(result.output)
    assert seen == [{"max_steps": 5, "seed": 2}, {"seed": 0}, None]
    assert "general-seed2" in printed[0] and "general-seed2" not in printed[1] + printed[2]


def test_another_seed_trains_beside_the_general_adapter() -> None:
    """The recipe's seed names the adapter `general`; another seed `general-seedN` (same workspace)."""
    from groundtune.pipelines.general import adapter_name

    assert adapter_name() == adapter_name(seed=0) == "general"
    assert adapter_name(seed=3) == "general-seed3"
