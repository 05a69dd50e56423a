"""Time `make quickstart` the way a new user runs it, and check its two bars.

Runs `make quickstart` in this checkout with a fresh workspace (GROUNDTUNE_HOME in a temporary
directory). Set-up is done beforehand, as the bar says: `make setup` (the virtual environment) and
the model cache (`groundtune models pull gemma-3-270m`, whose one-off time is measured separately
unless --skip-pull). The fresh workspace links the models folder of the default workspace, so the
knowledge base, dataset, adapter and evaluation are all built from nothing.

Bars (issue 9): wall time <= 15 minutes on this 2-core machine; the tuned adapter beats the base
model on every capability in the printed table. A matmul rate, in the dtype this CPU computes in,
measured in the same run is recorded so figures from a loaded machine can be told apart. Writes
benchmarks/results/quickstart_time.json.

    .venv/bin/python benchmarks/quickstart_time.py [--args "--max-steps 20"]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from train_throughput import (  # benchmarks/ is on sys.path when run as a script
    cpu_model,
    matmul_dtype,
    matmul_peak_gflops,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BAR_SECONDS = 15 * 60


def default_models_dir() -> Path:
    from groundtune.core.workspace import get_workspace

    return get_workspace().models


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--args", default="", help="extra arguments for `groundtune quickstart` (ARGS=...)")
    parser.add_argument("--skip-pull", action="store_true", help="do not time `groundtune models pull` first")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary workspace (its path is printed)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "quickstart_time.json")
    args = parser.parse_args()

    groundtune = ROOT / ".venv" / "bin" / "groundtune"
    subprocess.run(["make", "-C", str(ROOT), "setup"], check=True, stdout=subprocess.DEVNULL)
    pull_s = None
    if not args.skip_pull:
        start = time.perf_counter()
        subprocess.run([str(groundtune), "models", "pull", "gemma-3-270m"], check=True)
        pull_s = time.perf_counter() - start

    gflops_before = matmul_peak_gflops()
    load_before = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="gt-quickstart-"))
    (home / "models").symlink_to(default_models_dir(), target_is_directory=True)
    env = {**os.environ, "GROUNDTUNE_HOME": str(home), "COLUMNS": "120"}
    command = ["make", "-C", str(ROOT), "quickstart", f"ARGS={args.args}"]
    print("$ GROUNDTUNE_HOME=" + str(home), " ".join(command), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - start
    sys.stdout.write(proc.stdout[-6000:])
    if proc.returncode != 0:
        raise SystemExit(f"make quickstart failed with exit code {proc.returncode} (workspace kept: {home})")

    state = json.loads((home / "quickstart" / "state.json").read_text())
    # A second run must be fast: every step is skipped.
    start = time.perf_counter()
    again = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rerun = time.perf_counter() - start

    last = state["last_run"]
    table = last["table"]
    systems = list(table)
    from groundtune.pipelines.quickstart import compare

    capabilities: dict[str, Any] = {
        label: {
            "base": b,
            "tuned": t,
            "verdict": verdict,
            "tuned_better": None if verdict is None else verdict == "yes",
        }
        for label, b, t, verdict in compare(table)
    }
    result = {
        "benchmark": "quickstart_time",
        "command": " ".join(command),
        "machine": {
            "cpu": platform.machine(),
            "cpu_model": cpu_model(),
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "matmul_dtype": matmul_dtype(),
            "matmul_gflops_before": gflops_before,
            "matmul_gflops_after": matmul_peak_gflops(),
        },
        "model_pull_seconds": pull_s,
        "wall_seconds": wall,
        "bar_seconds": BAR_SECONDS,
        "step_seconds": last["seconds"],
        "second_run_seconds": rerun,
        "second_run_exit_code": again.returncode,
        "train": state.get("train"),
        "abstention": json.loads((Path(state["eval_run"]) / "report.json").read_text()).get("abstention"),
        "update": state.get("update"),
        "items": {s: table[s].get("n_items") for s in systems},
        "capabilities": capabilities,
        "bars": {
            "within_15_minutes": wall <= BAR_SECONDS,
            "tuned_beats_base_everywhere": all(c["tuned_better"] for c in capabilities.values()),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps({"wall_seconds": round(wall), "steps": last["seconds"], "bars": result["bars"]}, indent=2)
    )
    for label, c in capabilities.items():
        print(f"  {label:20s} base {c['base']}  tuned {c['tuned']}  tuned better: {c['verdict']}")
    if args.keep:
        print(f"workspace kept: {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
