"""`max_minutes`: a run plans how many steps fit its time budget, ends its schedule there, records the
cut, and keeps the plan across a stop and resume. No assertion depends on how fast this machine is:
a budget far below one step's time, or far above the whole run, or a plan fixed by the test."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from groundtune.core.errors import StoppedError
from groundtune.train import budget, resume, train
from groundtune.train.optim import make_optimizer, planned_total, replan

from .helpers import tiny_config, write_dataset


def test_step_time_leaves_out_the_first_step() -> None:
    assert budget.step_seconds([9.0, 2.0, 4.0]) == 3.0
    assert budget.step_seconds([5.0]) == 5.0
    with pytest.raises(ValueError):
        budget.step_seconds([])


def test_planned_steps_fit_the_budget_within_what_the_config_asks() -> None:
    plan = {"budget_s": 100.0, "elapsed_s": 30.0, "done": 3, "per_step": 10.0}
    assert budget.planned_steps(**plan, total=37, reserve_s=0.0) == 10  # 70 s left: 7 more
    assert budget.planned_steps(**plan, total=37, reserve_s=25.0) == 7  # a validation keeps 25 s back
    assert budget.planned_steps(**plan, total=5, reserve_s=0.0) == 5  # never more than asked
    assert budget.planned_steps(**{**plan, "elapsed_s": 200.0}, total=37, reserve_s=0.0) == 3  # overrun
    assert budget.validation_seconds(per_step=9.0, examples_per_step=8, n_validation=16) == pytest.approx(6.0)


def test_a_replanned_schedule_survives_the_scheduler_state() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    _, scheduler = make_optimizer([param], lr=1.0, weight_decay=0.0, total=40, warmup=2, schedule="cosine")
    replan(scheduler, 10)
    state = scheduler.state_dict()
    _, restored = make_optimizer([param], lr=1.0, weight_decay=0.0, total=40, warmup=2, schedule="cosine")
    restored.load_state_dict(state)
    assert planned_total(restored) == 10
    assert restored.lr_lambdas[0](10) == pytest.approx(0.0)  # the curve now ends at step 10
    assert restored.lr_lambdas[0](6) == pytest.approx(scheduler.lr_lambdas[0](6))


@pytest.mark.parametrize("new_total", [12, 30])
def test_replanning_mid_run_continues_the_curve_without_a_jump(new_total: int) -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer, scheduler = make_optimizer(
        [param], lr=1.0, weight_decay=0.0, total=20, warmup=2, schedule="cosine"
    )
    for _ in range(8):
        optimizer.step()
        scheduler.step()
    before = scheduler.lr_lambdas[0](8)
    replan(scheduler, new_total)  # squeezed (12) or stretched (30) from step 8 on
    curve = [scheduler.lr_lambdas[0](k) for k in range(8, new_total + 1)]
    assert curve[0] == pytest.approx(before)
    assert all(a >= b for a, b in itertools.pairwise(curve))  # still decays
    assert curve[-1] == pytest.approx(0.0)


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]


def test_a_budget_below_one_step_ends_the_run_after_it(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    result = train(tiny_config(ds, max_minutes=1e-6, name="cut"), home=tmp_path / "home")
    run = json.loads((result.run_dir / "run.json").read_text())
    assert result.steps == 1 and run["status"] == "succeeded"
    assert run["total_steps"] == 1 and run["unbudgeted_steps"] == 6 and run["train_seconds"] > 0
    assert "val_loss" in _rows(result.run_dir)[-1]  # the last step still validates
    assert (tmp_path / "home" / "adapters" / "cut" / "adapter_model.safetensors").is_file()


def test_a_budget_the_run_fits_in_changes_nothing(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    plain = train(tiny_config(ds, run_id="run_plain"), home=tmp_path / "home")
    roomy = train(tiny_config(ds, run_id="run_roomy", max_minutes=600), home=tmp_path / "home")
    run = json.loads((roomy.run_dir / "run.json").read_text())
    assert roomy.steps == plain.steps == 6 and run["unbudgeted_steps"] is None and run["total_steps"] == 6
    assert [r["lr"] for r in _rows(roomy.run_dir)] == [r["lr"] for r in _rows(plain.run_dir)]
    assert [r["loss"] for r in _rows(roomy.run_dir)] == [r["loss"] for r in _rows(plain.run_dir)]


def test_reserved_steps_are_kept_back_from_the_plan_but_do_not_cut_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reserve of 1e12 steps outweighs any budget on any machine: the run ends at its first plan,
    # after the probe steps (the first step's time, one-off costs and all, does not cut it sooner).
    seen: list[float] = []
    real = budget.planned_steps
    monkeypatch.setattr(budget, "planned_steps", lambda **kw: seen.append(kw["reserve_s"]) or real(**kw))
    ds = write_dataset(tmp_path / "ds")
    result = train(tiny_config(ds, max_minutes=600, reserve_steps=1e12, name="kept"), home=tmp_path / "home")
    run = json.loads((result.run_dir / "run.json").read_text())
    assert result.steps == budget.PROBE_STEPS and run["total_steps"] == budget.PROBE_STEPS
    assert run["unbudgeted_steps"] == 6 and seen and seen[0] > 1e12 * 1e-7  # the reserve is steps' time


def test_the_plan_is_kept_across_a_stop_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test fixes the plan (4 of 6 steps fit) instead of timing this machine.
    monkeypatch.setattr(budget, "planned_steps", lambda **kw: min(kw["total"], 4))
    ds = write_dataset(tmp_path / "ds", n_train=32)
    cfg = tiny_config(ds, max_minutes=600, save_every=1)
    whole = train({**cfg, "run_id": "run_whole"}, home=tmp_path / "home")
    assert whole.steps == 4
    steps: list[int] = []
    with pytest.raises(StoppedError):
        train(
            {**cfg, "run_id": "run_split"}, home=tmp_path / "home",
            callbacks=[lambda row: steps.append(row["step"])], stop=lambda: len(steps) >= 3,
        )  # fmt: skip
    assert steps == [1, 2, 3]  # planned at step 3, stopped right after
    resumed = resume("run_split", home=tmp_path / "home")
    run = json.loads((resumed.run_dir / "run.json").read_text())
    assert resumed.steps == 4 and run["total_steps"] == 4 and run["unbudgeted_steps"] == 6
    lrs = {r["step"]: r["lr"] for r in _rows(resumed.run_dir)}
    assert lrs == pytest.approx({r["step"]: r["lr"] for r in _rows(whole.run_dir)})
