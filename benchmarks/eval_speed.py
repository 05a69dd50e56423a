"""Evaluation throughput: groundtune's batched Engine against a plain `transformers` generate loop.

Same run, same model (Gemma 3 270M on this CPU), same grounded-QA prompts (instruction, four numbered
documents, question; ~400-700 tokens, rendered by THE grounding format), same greedy decoding and
token limit. The baseline is what one would write by hand: one prompt at a time, `model.generate`,
float32. The engine is measured in float32 (the batching gain alone) and in its `auto` dtype
(bfloat16 on CPUs with native bf16). Bar: engine examples/s >= 2x the plain loop.

    .venv/bin/python benchmarks/eval_speed.py            # writes benchmarks/results/eval_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

# Project-written sample documents (a fictional bicycle maker), so no dataset is needed.
DOCS = [
    (
        "Warranty",
        "Every Larkspur frame is covered for 24 months from the date of purchase. The warranty covers "
        "defects in materials and workmanship, including cracked welds and failed bearings. It does not cover "
        "wear parts such as tyres, brake pads and chains, nor damage from crashes, racing or commercial rental. "
        "Claims need the original receipt and the serial number stamped under the bottom bracket.",
    ),
    (
        "Batteries",
        "The electric models use a 504 Wh lithium-ion battery that is guaranteed for 12 months or 500 "
        "full charge cycles, whichever comes first. A battery that keeps less than 70 percent of its capacity "
        "within that period is replaced free of charge. Store the battery between 10 and 20 degrees Celsius and "
        "at about half charge if the bike will not be ridden for more than a month.",
    ),
    (
        "Servicing",
        "We recommend a first service after 300 kilometres, when cables have stretched and spokes "
        "have settled. After that, a yearly service is enough for most riders. Any authorised Larkspur dealer "
        "can do the work; a list of dealers by postcode is on the support page. Services done elsewhere do not "
        "void the warranty as long as genuine parts are used.",
    ),
    (
        "Returns",
        "Bikes bought online can be returned within 30 days if they have been ridden less than 50 "
        "kilometres and are in their original condition. The customer pays the return shipping of 45 euros "
        "unless the bike arrived damaged. Refunds are issued to the original payment method within ten working "
        "days after the warehouse in Utrecht has inspected the bike.",
    ),
    (
        "Frame sizes",
        "Larkspur frames come in five sizes, from XS to XL. Riders between 160 and 170 centimetres "
        "usually fit a size S, between 170 and 180 a size M, and between 180 and 190 a size L. Inseam length "
        "matters more than height: measure it barefoot against a wall and compare it with the stand-over "
        "height listed for each model.",
    ),
    (
        "Tyre pressure",
        "Road models leave the factory with 28 millimetre tyres inflated to 6 bar. Lighter riders "
        "can go down to 5 bar for more comfort on rough roads. The gravel models use 40 millimetre tubeless "
        "tyres that work best between 2.2 and 3 bar. Never exceed the maximum pressure printed on the tyre "
        "sidewall, and check pressure weekly because tubeless tyres slowly lose air.",
    ),
    (
        "Company history",
        "Larkspur Cycles was founded in 1987 by Marta Veldhuis in a garage in Utrecht. Its first "
        "product was a steel touring frame sold to local clubs. The company moved to its current factory in "
        "Amersfoort in 2004 and introduced its first electric model in 2015. Today it employs about 240 people "
        "and sells in eleven European countries.",
    ),
    (
        "Brakes",
        "All current models use hydraulic disc brakes with 160 millimetre rotors, except the cargo bike, "
        "which has 203 millimetre rotors for heavier loads. New brake pads need a bedding-in of about twenty "
        "firm stops from moderate speed before they reach full power. Pads should be replaced when less than "
        "1.5 millimetres of friction material remains.",
    ),
    (
        "Charging",
        "A full charge of the 504 Wh battery takes about four and a half hours with the standard 4 amp "
        "charger, and about two and a half hours with the optional fast charger. The battery can be charged on "
        "or off the bike. Charging below 0 degrees Celsius is blocked by the battery management system to "
        "protect the cells.",
    ),
    (
        "Cargo bike",
        "The Larkspur Haul carries up to 80 kilograms in its front box, and the total permitted "
        "weight including the rider is 200 kilograms. Two child seats with five-point harnesses can be fitted "
        "in the box, and a rain cover is sold separately. The Haul is only sold with the electric drive and a "
        "second battery can be added for a range of up to 140 kilometres.",
    ),
    (
        "Accessories",
        "Mudguards, a rear rack rated for 25 kilograms and integrated lights are available for all "
        "city and touring models. The lights are powered by the main battery on electric models and by a hub "
        "dynamo on the others. Accessories bought together with a bike are fitted by the dealer at no cost.",
    ),
    (
        "Theft",
        "Every electric Larkspur is registered with its frame number in the national bike register. If a "
        "bike is stolen, report it to the police and then to Larkspur support with the police report number. "
        "Owners with the optional theft insurance receive a replacement bike of the same model after a waiting "
        "period of six weeks.",
    ),
]
QUESTIONS = [
    "How long is the frame warranty?",
    "How long does a full battery charge take with the standard charger?",
    "When should the first service be done?",
    "Who pays the return shipping?",
    "What tyre pressure do the gravel models use?",
    "Where was the company founded?",
    "How much can the cargo bike carry in its front box?",
    "When should brake pads be replaced?",
    "What size frame fits a rider of 175 centimetres?",
    "What happens if an insured bike is stolen?",
    "What load is the rear rack rated for?",
    "What does the battery warranty cover?",
]


def build_prompts(n: int) -> list[str]:
    """n grounded-QA user turns: each question with its own document and three others, rotating order."""
    from groundtune.core.schemas import ContextDocument
    from groundtune.grounding import get_format

    fmt = get_format("cited")
    prompts = []
    for i in range(n):
        picks = [(i * 5 + k * 7 + 3) % len(DOCS) for k in range(4)]
        picks = list(dict.fromkeys(picks))
        while len(picks) < 4:
            picks.append((picks[-1] + 1) % len(DOCS))
        docs = [ContextDocument(title=DOCS[j][0], text=DOCS[j][1]) for j in picks]
        prompts.append(fmt.render_prompt(QUESTIONS[i % len(QUESTIONS)], docs))
    return prompts


def plain_loop(lm, prompts: list[str], max_new_tokens: int) -> tuple[float, list[str], list[int]]:
    """The hand-written baseline: one prompt at a time through `model.generate`, greedy."""
    import torch

    stop_id = lm.tokenizer.convert_tokens_to_ids("<end_of_turn>")
    texts, lengths = [], []
    start = time.perf_counter()
    for prompt in prompts:
        enc = lm.tokenizer(lm.layout.prompt(prompt), return_tensors="pt")
        with torch.inference_mode():
            out = lm.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=[lm.tokenizer.eos_token_id, stop_id],
                pad_token_id=lm.tokenizer.pad_token_id,
            )
        new = out[0, enc["input_ids"].shape[1] :]
        lengths.append(len(new))
        texts.append(lm.tokenizer.decode(new, skip_special_tokens=True))
    return time.perf_counter() - start, texts, lengths


def engine_run(engine, prompts: list[str], max_new_tokens: int) -> tuple[float, list]:
    from groundtune.infer import GenerationConfig, GenerationRequest

    cfg = GenerationConfig(max_new_tokens=max_new_tokens)
    requests = [GenerationRequest(prompt=p, config=cfg) for p in prompts]
    start = time.perf_counter()
    results = engine.generate(requests)
    return time.perf_counter() - start, results


def _run(name: str, fn, prompts: list[str], idx: list[int], timings: dict, texts: dict) -> None:
    """Time `fn` on one round's prompts (wall and process CPU seconds) and keep its texts."""
    cpu = time.process_time()
    seconds, out = fn([prompts[i] for i in idx])
    wall, used = timings.setdefault(name, [0.0, 0.0])
    timings[name] = [wall + seconds, used + time.process_time() - cpu]
    texts.setdefault(name, {}).update(dict(zip(idx, out, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--plain-bf16", action="store_true", help="also time the plain loop in bfloat16 (the dtype-only gain)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "eval_speed.json"))
    args = parser.parse_args()

    import torch

    from groundtune.infer import Engine
    from groundtune.infer.engine import resolve_dtype
    from groundtune.models import load_lm

    prompts = build_prompts(args.examples)
    lm32 = load_lm(args.model, dtype=torch.float32)
    prompt_tokens = [len(lm32.tokenizer(lm32.layout.prompt(p))["input_ids"]) for p in prompts]
    print(
        f"{len(prompts)} prompts, {min(prompt_tokens)}-{max(prompt_tokens)} tokens "
        f"(mean {statistics.mean(prompt_tokens):.0f}), max_new_tokens={args.max_new_tokens}"
    )
    auto = resolve_dtype("auto")
    engines = {"engine_float32": Engine(lm32, batch_size=args.batch_size)}
    plains = {"plain_float32": lm32}
    if auto != torch.float32:
        lm_auto = load_lm(args.model, dtype=auto)
        engines[f"engine_{str(auto).removeprefix('torch.')}"] = Engine(lm_auto, batch_size=args.batch_size)
        if args.plain_bf16:
            plains[f"plain_{str(auto).removeprefix('torch.')}"] = lm_auto

    def plain_fn(lm):
        def run(ps: list[str]) -> tuple[float, list[tuple[str, int]]]:
            seconds, texts, lengths = plain_loop(lm, ps, args.max_new_tokens)
            return seconds, list(zip(texts, lengths, strict=True))

        return run

    def engine_fn(engine):
        def run(ps: list[str]) -> tuple[float, list[tuple[str, int]]]:
            seconds, results = engine_run(engine, ps, args.max_new_tokens)
            return seconds, [(r.text, r.completion_tokens) for r in results]

        return run

    # Warm-up (first-call allocations, lazy kernels) for every path, outside the timings.
    for lm in plains.values():
        plain_loop(lm, prompts[:1], 4)
    for engine in engines.values():
        engine_run(engine, prompts[:2], 4)

    # Rounds of one engine batch each, every method in turn (order reversed every other round), so
    # load from other processes on this shared machine falls on all of them alike. CPU seconds of this
    # process are reported beside wall time: they are less sensitive to that load.
    order = list(range(len(prompts)))
    rounds = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    methods = [(n, plain_fn(lm)) for n, lm in plains.items()] + [
        (n, engine_fn(e)) for n, e in engines.items()
    ]
    timings: dict[str, list[float]] = {}
    outputs: dict[str, dict[int, tuple[str, int]]] = {}
    for r, idx in enumerate(rounds):
        for name, fn in methods if r % 2 == 0 else methods[::-1]:
            _run(name, fn, prompts, idx, timings, outputs)
        print(f"round {r + 1}/{len(rounds)}: " + ", ".join(f"{k} {v[0]:.1f}s" for k, v in timings.items()))

    base = "plain_float32"
    base_wall, base_cpu = timings[base]
    runs = {}
    for name, (seconds, cpu) in timings.items():
        same = sum(outputs[name][i][0] == outputs[base][i][0] for i in order) / len(order)
        runs[name] = {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "examples_per_s": len(prompts) / seconds,
            "speedup_vs_plain": base_wall / seconds,
            "cpu_speedup_vs_plain": base_cpu / cpu,
            "same_text_as_plain_float32": same,
            "completion_tokens": sum(outputs[name][i][1] for i in order),
        }
        print(
            f"{name:16s} {seconds:7.1f}s wall {cpu:7.1f}s cpu {len(prompts) / seconds:6.3f} examples/s "
            f"x{base_wall / seconds:5.2f} (cpu x{base_cpu / cpu:5.2f})  same text as plain float32: {same:.0%}"
        )
    best = max((k for k in runs if k.startswith("engine")), key=lambda k: runs[k]["examples_per_s"])
    report = {
        "benchmark": "eval_speed",
        "model": args.model,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_average": os.getloadavg(),
        },
        "examples": len(prompts),
        "prompt_tokens": {
            "min": min(prompt_tokens),
            "max": max(prompt_tokens),
            "mean": statistics.mean(prompt_tokens),
        },
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "baseline": base,
        "baseline_description": "plain transformers model.generate loop, one prompt at a time, greedy",
        "runs": runs,
        "best_engine": best,
        "bar": {
            "target_speedup": 2.0,
            "speedup": runs[best]["speedup_vs_plain"],
            "cpu_speedup": runs[best]["cpu_speedup_vs_plain"],
            "met": runs[best]["speedup_vs_plain"] >= 2.0,
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"best {best}: x{runs[best]['speedup_vs_plain']:.2f} vs plain float32 loop (bar 2x) -> {out}")


if __name__ == "__main__":
    main()
