"""A user's small training set must not break the model (issue 18, item 5), and how far training
seeds move the figures (item 6).

In a workspace where `make quickstart` has run, cuts the quickstart dataset's training split to the
examples of `--questions` questions (seeded draw; validation and test stay whole; 0 keeps it whole),
trains the default recipe on it as the quickstart trains (optionally continuing `--init-adapter`,
e.g. the general grounding adapter) once per `--seeds` training seed, and evaluates them in one run
as the quickstart evaluates: the held-out test questions, constrained decoding, every system's
abstention calibrated within a 10% false-refusal budget. Base Gemma with two demonstrations is the
named baseline, measured in the same run; `--compare` adds adapters trained elsewhere (the
quickstart's own, the general one alone). With several seeds the result has each capability's
mean, min, max and standard deviation over them (`spread`); a seed reproduces its adapter bit for
bit (tests/train/test_train.py::test_a_run_is_reproducible_from_its_seed).

    .venv/bin/python benchmarks/small_train.py --home W --questions 100 \\
        [--init-adapter /path/to/general] [--compare quickstart] [--seeds 0 1 2]

Writes benchmarks/results/small_train.json (or --out). Bars: format ok >= 0.95, false refusals <= 0.15.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "small_train.json"
BASELINE = "base-2shot"
KEYS = (
    "format_ok",
    "false_refusal_rate",
    "refusal_recall",
    "refusal_f1",
    "relevance_f1",
    "quote_validity",
    "answer_f1",
    "citation_precision",
)
BARS = {"format_ok": (">=", 0.95), "false_refusal_rate": ("<=", 0.15)}


def cut_dataset(home: Path, source: str, name: str, questions: int, seed: int) -> dict[str, Any]:
    """Store `name`: `source` with its training split cut to the examples of `questions` questions."""
    from groundtune.data.store import load_card, load_dataset, load_report, save_dataset

    parts = load_dataset(source, home)
    train = parts.get("train", [])
    asked = sorted({ex.question for ex in train})
    if questions > len(asked):
        raise SystemExit(f"{source} has only {len(asked)} training questions; ask for fewer")
    kept = set(random.Random(seed).sample(asked, questions or len(asked)))
    cut = [ex for ex in train if ex.question in kept]
    report = {**load_report(source, home), "cut": {"from": source, "questions": questions, "seed": seed}}
    save_dataset(name, {**parts, "train": cut}, load_card(source, home), report, overwrite=True, home=home)
    return {
        "questions": questions,
        "examples": len(cut),
        "of_questions": len(asked),
        "of_examples": len(train),
    }


def spread(values: list[float | None]) -> dict[str, float | None]:
    """Mean, min, max and (sample) standard deviation of one capability over the seeds' adapters."""
    got = [v for v in values if v is not None]
    if not got:
        return {"mean": None, "min": None, "max": None, "sd": None}
    mean = sum(got) / len(got)
    sd = (sum((v - mean) ** 2 for v in got) / (len(got) - 1)) ** 0.5 if len(got) > 1 else 0.0
    return {"mean": round(mean, 4), "min": round(min(got), 4), "max": round(max(got), 4), "sd": round(sd, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="workspace where the quickstart has run")
    parser.add_argument("--questions", type=int, default=100, help="training questions kept (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="draw of the questions (and training seed)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="training seeds, one adapter each (default: --seed)"
    )
    parser.add_argument("--name", help="adapter name (default small<questions>[-init])")
    parser.add_argument("--init-adapter", help="continue this adapter (name, folder or shipped)")
    parser.add_argument("--compare", action="append", default=[], help="more adapters to score alongside")
    parser.add_argument("--limit", type=int, help="score only the first N test questions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from groundtune.eval.run import run, show
    from groundtune.pipelines.quickstart import DATASET, MAX_FALSE_REFUSAL, RECIPE, train_budget
    from groundtune.train import load_config, train

    name = args.name or f"small{args.questions or 'all'}" + ("-init" if args.init_adapter else "")
    seeds = args.seeds or [args.seed]
    names = {seed: name if len(seeds) == 1 else f"{name}-s{seed}" for seed in seeds}
    dataset = f"{DATASET}-q{args.questions or 'all'}"
    result: dict[str, Any] = {
        "benchmark": "small_train",
        "baseline": BASELINE,
        "command": "benchmarks/small_train.py "
        + " ".join(
            f"--{k.replace('_', '-')} {one}"
            for k, v in vars(args).items()
            if k != "out" and v not in (None, [], False)
            for one in (v if isinstance(v, list) else [v])
        ),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    result["data"] = cut_dataset(args.home, DATASET, dataset, args.questions, args.seed)
    result["train"] = {}
    for seed, adapter in names.items():
        t = time.perf_counter()
        overrides = {
            "dataset": dataset,
            "name": adapter,
            "seed": seed,
            "progress": False,
            **train_budget(0.0),
        }
        if args.init_adapter:
            overrides["init_adapter"] = args.init_adapter
        trained = train(load_config(RECIPE, overrides), home=args.home)
        run_record = json.loads((trained.run_dir / "run.json").read_text())
        result["train"][adapter] = {
            "seed": seed,
            # what it continued: --init-adapter, else the recipe's (`init_adapter: auto`: the shipped general one)
            "init_adapter": (run_record.get("init_adapter") or {}).get("path"),
            "steps": trained.steps,
            "train_loss": trained.train_loss,
            "seconds": time.perf_counter() - t,
        }
        print("trained", adapter, result["train"][adapter], flush=True)

    t = time.perf_counter()
    run_dir = run(
        [f"dataset:{DATASET}:test"],
        adapters=[*names.values(), *args.compare],
        shots=2,
        include_zero_shot=False,
        limit=args.limit,
        max_new_tokens=96,
        home=args.home,
        max_false_refusal=MAX_FALSE_REFUSAL,
    )
    report = show(run_dir)
    suite = next(iter(report["suites"].values()))
    result["eval_run"] = str(run_dir)
    result["eval_seconds"] = time.perf_counter() - t
    result["abstention"] = report.get("abstention")
    result["systems"] = {system: {k: metrics.get(k) for k in KEYS} for system, metrics in suite.items()}
    result["bars"] = {
        key: {
            "bar": f"{op} {bar}",
            "values": (values := [result["systems"][a].get(key) for a in names.values()]),
            "met": all(v is not None and (v >= bar if op == ">=" else v <= bar) for v in values),
        }
        for key, (op, bar) in BARS.items()
    }
    if len(names) > 1:
        result["spread"] = {
            key: spread([result["systems"][a].get(key) for a in names.values()]) for key in KEYS
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for system, row in result["systems"].items():
        print(system, {k: None if v is None else round(v, 3) for k, v in row.items()}, flush=True)
    print("bars", result["bars"], flush=True)
    if "spread" in result:
        print("spread over seeds", json.dumps(result["spread"]), flush=True)


if __name__ == "__main__":
    main()
