"""DDP: `torchrun` with two CPU processes (gloo) matches one process accumulating the same micro-batches."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from groundtune.train import train

from .helpers import tiny_config, write_dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    return {r["step"]: r["loss"] for r in rows}


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=16, n_val=4)
    # one process: 2 micro-batches per step; two processes: 1 each. Same effective batch and order.
    single = train(
        tiny_config(ds, max_steps=4, grad_accum=2, eval_every=2, run_id="run_single"), home=tmp_path / "one"
    )
    home = tmp_path / "two"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GROUNDTUNE_HOME": str(home), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
        "-m", "groundtune.cli", "train", "run", "--dataset", str(ds), "--model", "tiny-random-gemma3",
        "--run-id", "run_ddp", "--max-steps", "4", "--grad-accum", "1", "--batch-size", "2", "--lr", "5e-3",
        "--lora-r", "4", "--lora-alpha", "8", "--eval-every", "2", "--save-every", "2",
        "--set", "lora.dropout=0.1", "--set", "precision=fp32", "--set", "warmup_steps=1",
        "--set", "progress=false", "--set", "num_threads=1",
    ]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    ddp_dir = home / "runs" / "run_ddp"
    run = json.loads((ddp_dir / "run.json").read_text())
    assert run["world_size"] == 2 and run["status"] == "succeeded"
    one, two = _losses(single.run_dir), _losses(ddp_dir)
    assert sorted(one) == sorted(two) == [1, 2, 3, 4]
    for step in one:
        assert two[step] == pytest.approx(one[step], abs=1e-4), f"step {step}"
    vals_one = [
        json.loads(x)["val_loss"]
        for x in (single.run_dir / "metrics.jsonl").read_text().splitlines()
        if "val_loss" in x
    ]
    vals_two = [
        json.loads(x)["val_loss"]
        for x in (ddp_dir / "metrics.jsonl").read_text().splitlines()
        if "val_loss" in x
    ]
    assert vals_two == pytest.approx(vals_one, abs=1e-4)
