"""Generation with a LoRA adapter against the base model alone: Engine, same run, same prompts.

Gemma 3 270M in the engine's `auto` dtype (bf16 on CPUs with native bf16), 16 grounded-QA prompts of
~400 tokens (the eval_speed prompts), greedy, a fixed number of new tokens (stop strings that never
occur, so every path decodes the same amount). Three engines: the base model (the named baseline),
the base model with one LoRA adapter (r=16 on every linear projection, per-request routing) and the
same adapter merged into the weights. Rounds alternate the order so background load falls on all.

An adapter used to make prefill 3.7x slower (PEFT froze the LM head and kept LoRA weights float32;
infer/adapters.py); to see that again, run this with the file as it was before commit abdfdc4:
`git checkout abdfdc4^ -- src/groundtune/infer/adapters.py`.

    .venv/bin/python benchmarks/adapter_speed.py    # writes benchmarks/results/adapter_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from eval_speed import build_prompts  # benchmarks/ is on sys.path when run as a script
from serve_load import make_adapter

RESULTS = Path(__file__).resolve().parent / "results" / "adapter_speed.json"
NEVER = "\x00never\x00"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from groundtune.infer import Engine, GenerationConfig, GenerationRequest

    prompts = build_prompts(args.examples)
    folder = make_adapter(Path(tempfile.mkdtemp(prefix="gt-adapter-")) / "lora")
    engines = {
        "base": (Engine.load("gemma-3-270m"), None),
        "adapter": (Engine.load("gemma-3-270m", adapters={"a": folder}), "a"),
        "merged": (Engine.load("gemma-3-270m", adapters={"a": folder}, merged=True), "a"),
    }

    def requests(adapter: str | None, new_tokens: int) -> list[GenerationRequest]:
        cfg = GenerationConfig(max_new_tokens=new_tokens, stop=[NEVER])
        return [GenerationRequest(prompt=p, adapter=adapter, config=cfg) for p in prompts]

    for engine, adapter in engines.values():  # warm-up outside the timings
        engine.generate(requests(adapter, 2)[:2])
    seconds: dict[str, dict[str, float]] = {name: {"prefill": 0.0, "generate": 0.0} for name in engines}
    for round_ in range(args.rounds):
        order = list(engines) if round_ % 2 == 0 else list(reversed(engines))
        for name in order:
            engine, adapter = engines[name]
            for phase, n in (("prefill", 1), ("generate", args.new_tokens)):
                start = time.perf_counter()
                engine.generate(requests(adapter, n))
                seconds[name][phase] += time.perf_counter() - start
    ratios = {
        name: {phase: seconds[name][phase] / seconds["base"][phase] for phase in ("prefill", "generate")}
        for name in ("adapter", "merged")
    }
    result = {
        "benchmark": "adapter_speed",
        "baseline": "base",
        "examples": len(prompts),
        "new_tokens": args.new_tokens,
        "rounds": args.rounds,
        "dtype": str(engines["base"][0].dtype),
        "load_average": os.getloadavg(),
        "seconds": seconds,
        "time_vs_base": ratios,
        "bars": {
            "merged_within_1.2x_base": ratios["merged"]["generate"] <= 1.2,
            "adapter_within_1.6x_base": ratios["adapter"]["generate"] <= 1.6,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"seconds": seconds, "time_vs_base": ratios, "bars": result["bars"]}, indent=2))


if __name__ == "__main__":
    main()
