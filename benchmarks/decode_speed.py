"""Generation speed on the quickstart's evaluation prompts: the engine as it is against the same engine
with one of its speed-ups taken out (`--baseline`):

- `cache` (default): transformers' `DynamicCache` and no shared-prefix prefill (the engine before both
  were added). Bar: the engine takes at most 0.8x the baseline's time.
- `head`: the LM head computed by `nn.Linear` (`h @ W.T`) instead of `W @ h.T` for the few rows of a
  decode step (`infer/head.py`). Bar: at most 0.9x.

The prompts are what `make quickstart` evaluates: the validation split of the `quickstart` dataset, as
base 2-shot prompts (instruction + two demonstrations + the item: half of each prompt is shared) and as
the adapter's zero-shot prompts, greedy, 96 new tokens, batches of 16. Both engines run in one process,
interleaved round by round (the machine is noisy); the figure is the ratio of summed seconds.

    .venv/bin/python benchmarks/decode_speed.py --home W [--baseline head]
    # W: a workspace where `groundtune quickstart` ran
    # writes benchmarks/results/decode_speed.json (decode_speed_head.json for --baseline head)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from train_throughput import cpu_model  # benchmarks/ is on sys.path when run as a script

BARS = {"cache": 0.8, "head": 0.9}


@contextlib.contextmanager
def baseline_engine() -> Iterator[None]:
    """The engine before this change: transformers' DynamicCache (concatenates every step), every row
    prefilled in full."""
    from transformers import DynamicCache

    import groundtune.infer.decode as decode
    import groundtune.infer.kvcache as kvcache

    saved = decode.MIN_SHARED_PREFIX, kvcache.BufferedCache
    decode.MIN_SHARED_PREFIX = 1 << 30
    kvcache.BufferedCache = lambda capacity, layers=None: DynamicCache()  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        decode.MIN_SHARED_PREFIX, kvcache.BufferedCache = saved


@contextlib.contextmanager
def linear_head() -> Iterator[None]:
    """The engine before `infer/head.py`: the LM head as `nn.Linear` computes it, for every input."""
    import groundtune.infer.head as head

    saved = head.SKINNY_ROWS
    head.SKINNY_ROWS = 0
    try:
        yield
    finally:
        head.SKINNY_ROWS = saved


BASELINES = {"cache": baseline_engine, "head": linear_head}
WITHOUT = {
    "cache": "its KV cache and shared-prefix prefill (DynamicCache, every row prefilled in full)",
    "head": "the W @ h.T head (nn.Linear for every input)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True, help="a GROUNDTUNE_HOME where the quickstart ran")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--baseline", choices=sorted(BASELINES), default="cache")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/decode_speed[_head].json")
    args = parser.parse_args()
    suffix = "" if args.baseline == "cache" else f"_{args.baseline}"
    out = Path(args.out or Path(__file__).parent / "results" / f"decode_speed{suffix}.json")
    bar = BARS[args.baseline]

    import torch

    from groundtune.eval.run import load_items
    from groundtune.eval.runner import build_requests, default_systems, pick_demonstrations
    from groundtune.grounding import get_format
    from groundtune.infer import Engine
    from groundtune.infer.request import GenerationConfig
    from groundtune.pipelines.quickstart import ADAPTER, DATASET

    home = Path(args.home)
    engine = Engine.load(adapters={ADAPTER: home / "adapters" / ADAPTER}, home=home)
    items, pool = load_items(f"dataset:{DATASET}:validation", limit=None, data_dir=None, seed=0, home=home)
    systems = default_systems([ADAPTER], shots=2, include_zero_shot=False)
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=0.0)
    requests = build_requests(
        items, systems, get_format("cited"), config, pick_demonstrations(pool, 2, seed=0)
    )
    engine.generate(requests[ADAPTER][:2])  # warm-up

    seconds: dict[str, dict[str, list[float]]] = {"engine": {}, "baseline": {}}
    texts: dict[str, dict[str, list[str]]] = {"engine": {}, "baseline": {}}
    for round_ in range(args.rounds):
        for variant in ("engine", "baseline") if round_ % 2 == 0 else ("baseline", "engine"):
            with BASELINES[args.baseline]() if variant == "baseline" else contextlib.nullcontext():
                for name, reqs in requests.items():
                    start = time.perf_counter()
                    results = engine.generate(reqs)
                    seconds[variant].setdefault(name, []).append(time.perf_counter() - start)
                    texts[variant][name] = [r.text for r in results]
                    print(
                        f"round {round_ + 1} {variant:8s} {name:11s} {seconds[variant][name][-1]:6.1f} s",
                        flush=True,
                    )

    per_system: dict[str, Any] = {}
    for name in requests:
        engine_s, baseline_s = sum(seconds["engine"][name]), sum(seconds["baseline"][name])
        same = sum(a == b for a, b in zip(texts["engine"][name], texts["baseline"][name], strict=True))
        per_system[name] = {
            "engine_s": seconds["engine"][name],
            "baseline_s": seconds["baseline"][name],
            "ratio": round(engine_s / baseline_s, 3),
            "same_text": f"{same}/{len(items)}",
        }
    total = sum(sum(v) for v in seconds["engine"].values()) / sum(
        sum(v) for v in seconds["baseline"].values()
    )
    result = {
        "benchmark": "decode_speed",
        "what": "seconds to generate the quickstart's validation replies, engine vs engine without "
        + WITHOUT[args.baseline],
        "baseline": args.baseline,
        "items": len(items),
        "max_new_tokens": args.max_new_tokens,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "dtype": str(engine.dtype),
        "threads": torch.get_num_threads(),
        "systems": per_system,
        "ratio": round(total, 3),
        "bar": bar,
        "passes": total <= bar,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "systems"}, indent=2))
    for name, row in per_system.items():
        print(f"{name}: ratio {row['ratio']}, same text {row['same_text']}")


if __name__ == "__main__":
    main()
