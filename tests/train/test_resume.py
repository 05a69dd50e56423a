"""kill -9 in the middle of a run, `groundtune train resume RUN`, and the loss curve is the one an
uninterrupted run draws (same steps, same losses within tolerance)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from groundtune.train import train

from .helpers import tiny_config, write_dataset

# Each step sleeps in a callback so the test can kill the process at a known point; the sleep only
# slows the run, it changes nothing it computes.
_CHILD = """
import json, sys, time
from groundtune.train import train
cfg = json.loads(sys.argv[1])
train(cfg, home=sys.argv[2], callbacks=[lambda row: time.sleep(0.4)])
"""


def _losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    return {r["step"]: r["loss"] for r in rows}


def test_resume_after_kill_9_reproduces_the_uninterrupted_curve(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", n_train=32, n_val=4)
    cfg = tiny_config(ds, max_steps=8, save_every=2, eval_every=4, keep_checkpoints=1)
    reference = train({**cfg, "run_id": "run_ref"}, home=tmp_path / "ref")
    ref = _losses(reference.run_dir)

    home = tmp_path / "home"
    run_dir = home / "runs" / "run_kill"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GROUNDTUNE_HOME": str(home)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps({**cfg, "run_id": "run_kill"}), str(home)], env=env
    )
    deadline = time.monotonic() + 180
    try:
        # kill once step 5 is logged: a checkpoint exists at step 4 and step 5's work is lost
        while time.monotonic() < deadline and child.poll() is None:
            if (run_dir / "metrics.jsonl").exists() and max(_losses(run_dir), default=0) >= 5:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the run ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    assert not (run_dir / "adapter").exists()
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts == ["step-000004"]  # only complete checkpoints; keep_checkpoints=1 pruned step 2

    out = subprocess.run(
        [sys.executable, "-m", "groundtune.cli", "train", "resume", "run_kill"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    resumed = _losses(run_dir)
    assert sorted(resumed) == list(range(1, 9))  # no duplicated or missing steps
    for step, loss in ref.items():
        assert resumed[step] == pytest.approx(loss, abs=1e-4), f"step {step}"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "succeeded" and (run_dir / "adapter" / "adapter_model.safetensors").exists()


def test_a_stop_request_saves_a_checkpoint_and_resume_continues_the_same_curve(tmp_path: Path) -> None:
    from groundtune.core.errors import StoppedError
    from groundtune.train import resume

    ds = write_dataset(tmp_path / "ds", n_train=32, n_val=4)
    cfg = tiny_config(ds, max_steps=6, save_every=4, eval_every=6)
    ref = _losses(train({**cfg, "run_id": "run_ref"}, home=tmp_path / "ref").run_dir)

    home = tmp_path / "home"
    steps: list[int] = []
    with pytest.raises(StoppedError, match="stopped at step 3 of 6"):
        train(
            {**cfg, "run_id": "run_stop"}, home=home,
            callbacks=[lambda row: steps.append(row["step"])], stop=lambda: len(steps) >= 3,
        )  # fmt: skip
    run_dir = home / "runs" / "run_stop"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "stopped"
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step-000003"]  # not a save step
    result = resume("run_stop", home=home)
    assert result.steps == 6 and json.loads((run_dir / "run.json").read_text())["status"] == "succeeded"
    resumed = _losses(run_dir)
    assert sorted(resumed) == list(range(1, 7))
    for step, loss in ref.items():
        assert resumed[step] == pytest.approx(loss, abs=1e-4), f"step {step}"
