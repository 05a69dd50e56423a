"""One training variant of the quickstart, scored on its held-out questions (issue 9's experiments).

Trains an adapter with the default recipe's training section plus `--set key=value` overrides (one
validation at the end, as the quickstart does) on a dataset of a workspace where `make quickstart`
has run, then scores that adapter alone on the quickstart's test split with the quickstart's decoding
(greedy, 96 new tokens, the few-shot stop). The base model's figures for the same split are the
quickstart's own table (`groundtune eval show`, or benchmarks/quickstart_time.py). Appends a line to
`<eval workspace>/exp/summary.jsonl` and keeps the records beside it.

    GROUNDTUNE_HOME=W make quickstart
    .venv/bin/python benchmarks/quickstart_variant.py --home W --name w5 --set decision_weight=5
    .venv/bin/python benchmarks/quickstart_variant.py --home W --name e2 --set epochs=2
    .venv/bin/python benchmarks/quickstart_variant.py --home W --name ga1 --set grad_accum=1
    # contrast twins: build a dataset with `groundtune data build --contrast-fraction 0.35 ...` in a
    # second workspace W2, then --home W2 --dataset NAME --eval-home W

Then `benchmarks/refusal_signal.py --home W --adapter w5 ...` asks whether each variant tells
refusal items apart.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="workspace holding the training dataset")
    parser.add_argument("--name", required=True, help="adapter name (trained unless it exists)")
    parser.add_argument("--dataset", default="quickstart")
    parser.add_argument(
        "--eval-home", type=Path, help="workspace whose quickstart test split scores it (default --home)"
    )
    parser.add_argument(
        "--set", action="append", default=[], help="train config override key=value (YAML value)"
    )
    args = parser.parse_args()

    from groundtune.core.adapters import resolve_adapter
    from groundtune.eval.headline import HEADLINE_KEYS
    from groundtune.eval.run import load_items
    from groundtune.eval.runner import System, run_systems
    from groundtune.grounding import get_format
    from groundtune.infer import Engine
    from groundtune.infer.request import GenerationConfig
    from groundtune.pipelines.quickstart import train_budget
    from groundtune.train import load_config, train

    overrides = {k: yaml.safe_load(v) for k, _, v in (item.partition("=") for item in args.set)}
    eval_home = args.eval_home or args.home
    result: dict[str, object] = {"name": args.name, "overrides": overrides}
    t = time.perf_counter()
    if not (args.home / "adapters" / args.name).exists():
        config = {
            "dataset": args.dataset,
            "name": args.name,
            "progress": False,
            **train_budget(0.0),  # the quickstart's training settings and budget
            **overrides,
        }
        run = train(load_config("default", config), home=args.home)
        result["train"] = {
            "steps": run.steps,
            "train_loss": run.train_loss,
            "seconds": time.perf_counter() - t,
        }
        print("trained", result["train"], flush=True)

    t = time.perf_counter()
    ref = resolve_adapter(args.name, args.home)
    engine = Engine.load("gemma-3-270m", adapters={args.name: ref.path}, home=eval_home)
    items, _ = load_items("dataset:quickstart:test", limit=None, data_dir=None, seed=0, home=eval_home)
    fmt = get_format("cited")
    decoding = GenerationConfig(max_new_tokens=96, temperature=0.0, stop=list(fmt.few_shot_stop))
    [scored] = run_systems(items, [System(name=args.name, adapter=args.name)], engine, fmt, decoding)
    result["metrics"] = scored.metrics
    result["eval_seconds"] = time.perf_counter() - t
    keys = [*HEADLINE_KEYS, "refused"]
    print(args.name, overrides, {k: scored.metrics.get(k) for k in keys}, flush=True)

    out = eval_home / "exp"
    out.mkdir(exist_ok=True)
    (out / f"{args.name}.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in scored.records))
    with (out / "summary.jsonl").open("a") as fh:
        fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
