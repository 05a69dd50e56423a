"""End to end on the tiny model: the run directory's file set, what changed (LoRA) and what did not
(base), adapters loadable by PEFT in the vLLM layout, merged export, early stopping, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from groundtune.cli.main import app
from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError
from groundtune.models import load_lm
from groundtune.train import build_config, show, train

from .helpers import CARD, tiny_config, write_dataset


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("train")
    ds = write_dataset(root / "ds")
    home = root / "home"
    result = train(tiny_config(ds, name="tiny-adapter", merge=True, run_id="run_e2e"), home=home)
    return result, home, ds


def test_run_directory_describes_itself(finished) -> None:
    result, home, _ = finished
    files = {p.name for p in result.run_dir.iterdir()}
    assert files == {
        "config.yaml", "run.json", "dataset_card.json", "prompt_layout.json", "metrics.jsonl",
        "checkpoints", "adapter", "merged",
    }  # fmt: skip
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["status"] == "succeeded" and run["steps"] == 6
    assert run["grounding"]["style"] == "cited" and run["grounding"]["version"] == "1"
    assert CARD.retriever is not None and run["retriever"]["hash"] == CARD.retriever.hash
    assert run["groundtune_version"] and run["versions"]["torch"] == torch.__version__
    assert json.loads((result.run_dir / "dataset_card.json").read_text()) == CARD.model_dump(mode="json")
    assert json.loads((result.run_dir / "prompt_layout.json").read_text())["name"] == "gemma-turns"
    import yaml

    resolved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert resolved["lora"]["r"] == 4 and resolved["eval_batch_size"] == 2  # auto fields are filled
    rows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["supervised_tokens"] > 0 and r["supervised_tokens_per_s"] > 0 for r in rows)
    assert [r["step"] for r in rows if "val_loss" in r] == [3, 6]
    assert 0 <= rows[-1]["val_token_accuracy"] <= 1
    assert rows[-1]["loss"] < rows[0]["loss"]  # it learns
    assert [p.name for p in (result.run_dir / "checkpoints").iterdir()] != []
    info = show("run_e2e", home=home)
    assert info["manifest"]["run_id"] == "run_e2e" and info["last_validation"]["step"] == 6


def test_adapter_is_standard_and_loads_in_peft(finished) -> None:
    from peft import PeftModel

    result, home, _ = finished
    for folder in (result.adapter_dir, home / "adapters" / "tiny-adapter"):
        names = {p.name for p in folder.iterdir()}
        assert {"adapter_config.json", "adapter_model.safetensors", "groundtune-adapter.json"} <= names
        conf = json.loads((folder / "adapter_config.json").read_text())
        assert conf["peft_type"] == "LORA" and conf["r"] == 4 and conf["lora_alpha"] == 8
        assert not conf.get("modules_to_save")  # vLLM --enable-lora refuses those
        assert set(conf["target_modules"]) == {
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        }
    manifest = json.loads((home / "adapters" / "tiny-adapter" / "groundtune-adapter.json").read_text())
    assert manifest["grounding"]["style"] == "cited" and manifest["prompt_layout"]["name"] == "gemma-turns"
    assert manifest["retriever"] == run_manifest_retriever(result.run_dir)

    from safetensors.torch import load_file

    weights = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert weights and all("lora_" in k for k in weights)
    assert any(v.abs().sum() > 0 for k, v in weights.items() if "lora_B" in k)  # B moved off zero

    base = load_lm("tiny-random-gemma3")
    ids = torch.tensor([[2, 40, 41, 42, 43, 44]])
    with torch.no_grad():
        plain = base.model(input_ids=ids).logits
        tuned = PeftModel.from_pretrained(base.model, str(result.adapter_dir)).eval()
        adapted = tuned(input_ids=ids).logits
        fresh = load_lm("tiny-random-gemma3").model
        assert all(
            torch.equal(a, b)
            for a, b in zip(
                fresh.state_dict().values(), tuned.get_base_model().state_dict().values(), strict=False
            )
            if a.shape == b.shape
        )
    assert not torch.allclose(plain, adapted)  # the adapter changes the model...

    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(str(result.merged_dir)).eval()
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, adapted, atol=1e-4)  # ...and merging keeps it


def test_base_weights_stay_frozen(tmp_path: Path) -> None:
    from groundtune.core.workspace import get_workspace
    from groundtune.train.session import open_session
    from groundtune.train.trainer import _run

    ds = write_dataset(tmp_path / "ds", n_train=8, n_val=2)
    ws = get_workspace(tmp_path / "home")
    s = open_session(build_config(tiny_config(ds, max_steps=2)), ws)
    before = {n: p.detach().clone() for n, p in s.peft_model.named_parameters()}
    _run(s, [])
    changed = {n for n, p in s.peft_model.named_parameters() if not torch.equal(before[n], p)}
    assert changed and all("lora_" in n for n in changed)
    assert changed == {n for n, p in s.peft_model.named_parameters() if p.requires_grad}


def test_early_stopping_stops_and_keeps_the_best(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=24, n_val=4)
    cfg = tiny_config(
        ds, max_steps=30, eval_every=1, early_stopping_patience=1, early_stopping_min_delta=10.0
    )
    result = train(cfg, home=tmp_path / "home")
    assert result.stopped_early and result.steps == 2  # step 1 sets the best; step 2 cannot beat it by 10
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["best_step"] == 1 and run["stopped_early"]


def test_bad_inputs_fail_clearly_and_keep_existing_runs(tmp_path: Path, finished) -> None:
    _, home, ds = finished
    with pytest.raises(ConflictError):
        train(tiny_config(ds, run_id="run_e2e"), home=home)
    assert json.loads((home / "runs" / "run_e2e" / "run.json").read_text())["status"] == "succeeded"
    with pytest.raises(NotFoundError):
        train(tiny_config(tmp_path / "missing"), home=tmp_path / "h2")
    bad = tmp_path / "bad"
    write_dataset(bad, n_train=3, n_val=1)
    with (bad / "train.jsonl").open("a") as fh:
        fh.write('{"id": "x"}\n')
    with pytest.raises(InvalidInputError, match=r"train\.jsonl#4"):
        train(tiny_config(bad), home=tmp_path / "h3")
    with pytest.raises(InvalidInputError, match="max_length"):
        train(tiny_config(ds, max_length=16), home=tmp_path / "h4")


def test_cli_run_and_show(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=8, n_val=2)
    home = tmp_path / "home"
    runner = CliRunner()
    args = ["--home", str(home), "train", "run", "--dataset", str(ds), "--model", "tiny-random-gemma3",
            "--max-steps", "2", "--run-id", "run_cli", "--lora-r", "2", "--set", "precision=fp32",
            "--set", "progress=false", "--name", "cli-adapter"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "run_cli" in out.output and (home / "adapters" / "cli-adapter" / "adapter_config.json").exists()
    out = runner.invoke(app, ["--home", str(home), "train", "show", "run_cli"])
    assert out.exit_code == 0 and "succeeded" in out.output
    out = runner.invoke(app, ["--home", str(home), "train", "show", "nope"])
    assert out.exit_code == 3 and "no training run" in out.output


def test_trackers_are_used_when_installed_and_named_otherwise(tmp_path: Path) -> None:
    import importlib.util

    from groundtune.core.errors import UnavailableError

    ds = write_dataset(tmp_path / "ds", n_train=4, n_val=2)
    cfg = tiny_config(ds, max_steps=1, report_to=["tensorboard"], progress=True)
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(UnavailableError, match="tensorboard"):
            train(cfg, home=tmp_path / "home")
        run = next((tmp_path / "home" / "runs").iterdir())
        assert json.loads((run / "run.json").read_text())["status"] == "failed"
    else:
        result = train(cfg, home=tmp_path / "home")
        assert (result.run_dir / "tensorboard").is_dir()


def test_decision_weight_reweighs_the_loss_and_needs_a_grounding_style(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=8, n_val=2)
    first_loss = {}
    for weight in (1.0, 6.0):
        result = train(tiny_config(ds, max_steps=1, decision_weight=weight), home=tmp_path / f"h{weight}")
        rows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
        first_loss[weight] = next(r["loss"] for r in rows if "loss" in r)
    # Same batch and weights before the first update: only the weighting of the mean differs.
    assert first_loss[6.0] != pytest.approx(first_loss[1.0], rel=1e-3)
    bare = write_dataset(
        tmp_path / "bare", n_train=8, n_val=2, card=CARD.model_copy(update={"grounding": None})
    )
    with pytest.raises(InvalidInputError, match="grounding style"):
        train(tiny_config(bare, max_steps=1, decision_weight=4.0), home=tmp_path / "h-bare")
    train(tiny_config(bare, max_steps=1), home=tmp_path / "h-bare")  # unweighted needs no style


def run_manifest_retriever(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())["retriever"]


def test_a_run_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    """Same seed, same adapter bit for bit (LoRA init, batch order, dropout); another seed, another
    adapter. What `benchmarks/small_train.py --seeds` relies on to report a spread over seeds."""
    from safetensors.torch import load_file

    ds = write_dataset(tmp_path / "ds", n_train=12, n_val=2)

    def weights(seed: int, run: str) -> dict[str, torch.Tensor]:
        cfg = tiny_config(ds, max_steps=3, eval_every=100, save_every=100, seed=seed, run_id=run)
        result = train(cfg, home=tmp_path / run)
        return load_file(result.adapter_dir / "adapter_model.safetensors")

    first, again, other = weights(1, "a"), weights(1, "b"), weights(2, "c")
    assert first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
