"""Generation speed on the quickstart's evaluation prompts: the engine as it is against the same engine
with one of its speed-ups taken out (`--baseline`):

- `batches` (default): fixed batches instead of one refilled stream (`Engine.refill = False`: rows
  sorted longest first, cut into batches spread evenly, each batch waiting for its longest reply
  before the next starts). Bar: the engine takes at most 0.85x the baseline's time.
- `prefill`: every admission prefilled in one call, however many rows join, instead of calls of about
  `decode.PREFILL_TOKENS` tokens. Bar: at most 0.9x.
- `window`: sliding-window layers attend over every slot, masked (as transformers' mask alone would
  have it), instead of being handed only the slots their window sees (`infer/kvcache.py`). Bar: at
  most 0.9x.
- `head`: the LM head computed by `nn.Linear` (`h @ W.T`) instead of `W @ h.T` for the few rows of a
  decode step (`infer/head.py`). Bar: at most 0.9x.

(`benchmarks/results/decode_speed.json` holds an earlier baseline, `cache`: transformers' DynamicCache
and no shared-prefix prefill, measured before the stream; the stream's cache cannot be swapped out.)

The prompts are what `make quickstart` evaluates: the validation split of the `quickstart` dataset, as
base 2-shot prompts (instruction + two demonstrations + the item: half of each prompt is shared) and as
the adapter's zero-shot prompts, greedy, 96 new tokens, batches of 16. Both engines run in one process,
interleaved round by round (the machine is noisy); the figure is the ratio of summed seconds. Decode
steps (forward calls of one token per row) are counted too.

    .venv/bin/python benchmarks/decode_speed.py --home W [--baseline head]
    # W: a workspace where `groundtune quickstart` ran
    # writes benchmarks/results/decode_speed_<baseline>.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from pathlib import Path
from typing import Any
from unittest import mock

from train_throughput import cpu_model  # benchmarks/ is on sys.path when run as a script

BARS = {"batches": 0.85, "prefill": 0.9, "window": 0.9, "head": 0.9}


def fixed_batches(engine: Any) -> Any:
    """The engine before refilling: fixed batches, each waiting for its longest reply."""
    return mock.patch.object(engine, "refill", False)


def one_prefill(engine: Any) -> Any:
    """All rows joining at once are prefilled in one call."""
    import groundtune.infer.decode as decode

    return mock.patch.object(decode, "PREFILL_TOKENS", 1 << 40)


def full_windows(engine: Any) -> Any:
    """Every layer attends over all its slots (sliding ones masked beyond their window)."""
    import groundtune.infer.kvcache as kvcache

    return mock.patch.object(kvcache, "layer_windows", lambda config: [None] * config.num_hidden_layers)


def linear_head(engine: Any) -> Any:
    """The engine before `infer/head.py`: the LM head as `nn.Linear` computes it, for every input."""
    import groundtune.infer.head as head

    return mock.patch.object(head, "SKINNY_ROWS", 0)


BASELINES = {"batches": fixed_batches, "prefill": one_prefill, "window": full_windows, "head": linear_head}
WITHOUT = {
    "batches": "refilling (fixed batches, each waiting for its longest reply)",
    "prefill": "prefill calls of about PREFILL_TOKENS tokens (one call per admission)",
    "window": "windowed sliding layers (every layer attends over all slots, masked)",
    "head": "the W @ h.T head (nn.Linear for every input)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True, help="a GROUNDTUNE_HOME where the quickstart ran")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--baseline", choices=sorted(BASELINES), default="batches")
    parser.add_argument(
        "--out", default=None, help="default: benchmarks/results/decode_speed_<baseline>.json"
    )
    args = parser.parse_args()
    out = Path(args.out or Path(__file__).parent / "results" / f"decode_speed_{args.baseline}.json")
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
    # Warm-up at full size: the process's first large call pays for growing its memory (page faults),
    # which would otherwise fall on whichever variant runs first.
    short = GenerationConfig(max_new_tokens=4, temperature=0.0)
    for reqs in requests.values():
        engine.generate([r.model_copy(update={"config": short}) for r in reqs[: engine.batch_size]])
    calls: list[tuple[int, int]] = []  # (rows, tokens) of every forward call

    def count(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        calls.append(tuple(kwargs["input_ids"].shape))

    engine.lm.model.register_forward_pre_hook(count, with_kwargs=True)

    seconds: dict[str, dict[str, list[float]]] = {"engine": {}, "baseline": {}}
    texts: dict[str, dict[str, list[str]]] = {"engine": {}, "baseline": {}}
    steps: dict[str, dict[str, int]] = {"engine": {}, "baseline": {}}
    for round_ in range(args.rounds):
        for variant in ("engine", "baseline") if round_ % 2 == 0 else ("baseline", "engine"):
            with BASELINES[args.baseline](engine) if variant == "baseline" else contextlib.nullcontext():
                for name, reqs in requests.items():
                    calls.clear()
                    start = time.perf_counter()
                    results = engine.generate(reqs)
                    seconds[variant].setdefault(name, []).append(time.perf_counter() - start)
                    texts[variant][name] = [r.text for r in results]
                    steps[variant][name] = sum(tokens == 1 for _, tokens in calls)
                    print(
                        f"round {round_ + 1} {variant:8s} {name:11s} {seconds[variant][name][-1]:6.1f} s, "
                        f"{steps[variant][name]} decode steps",
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
            "decode_steps": {"engine": steps["engine"][name], "baseline": steps["baseline"][name]},
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
