"""The cost of constrained decoding (quotes verbatim, only prompt documents named): the same engine, the
same grounded-QA requests, decoded with and without the grounding constraint in one run.

Requests are the base model's 2-shot evaluation prompts (two worked demonstrations as earlier turns,
then instruction, four numbered documents of the project-written sample in `eval_speed.py`, question;
greedy, the few-shot stop), so the unconstrained model writes the format too and both decode similar
replies. Methods alternate by batch (order reversed every other round) so load from other processes
falls on both; wall and process CPU seconds are reported, per request and per generated token (the
replies differ in length). Aim: constrained at most 1.3x the time of unconstrained. The one-off cost
of indexing the vocabulary's token texts (first constrained fallback per engine) is reported apart.

    .venv/bin/python benchmarks/constrain_speed.py     # writes benchmarks/results/constrain_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from eval_speed import DOCS, QUESTIONS  # the sample documents, written for this project


def build_items(n: int) -> list[tuple[str, list]]:
    """n (question, four documents) pairs: each question with its own document and three others."""
    from groundtune.core.schemas import ContextDocument

    items = []
    for i in range(n):
        picks = list(dict.fromkeys((i * 5 + k * 7 + 3) % len(DOCS) for k in range(4)))
        while len(picks) < 4:
            picks.append((picks[-1] + 1) % len(DOCS))
        docs = [ContextDocument(title=DOCS[j][0], text=DOCS[j][1]) for j in picks]
        items.append((QUESTIONS[(i + 1) % len(QUESTIONS)], docs))
    return items


def demonstrations() -> list:
    """One answerable and one refusal demonstration over two sample documents."""
    from groundtune.core.schemas import ContextDocument, Example, GroundedAnswer, Quote
    from groundtune.grounding import get_format

    docs = [ContextDocument(title=DOCS[j][0], text=DOCS[j][1]) for j in (0, 6)]
    quote = "Larkspur Cycles was founded in 1987 by Marta Veldhuis"
    answered = GroundedAnswer(
        relevant=[2], quotes=[Quote(doc=2, text=quote)], answer="In 1987 [2].", citations=[2]
    )
    return [
        Example(
            id="demo-1", question="When was Larkspur founded?", documents=docs, answer="1987", target=answered
        ),
        Example(
            id="demo-2",
            question="What colour is the logo?",
            documents=docs,
            answerable=False,
            target=get_format("cited").refusal_target(),
        ),
    ]


def requests(items: list, constrained: bool, max_new_tokens: int, shots: int) -> list:
    from groundtune.grounding import get_format
    from groundtune.infer import GenerationConfig, GenerationRequest

    fmt = get_format("cited")
    history = fmt.few_shot_turns(demonstrations()[:shots])
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, constrained=constrained, stop=list(fmt.few_shot_stop) if shots else []
    )
    return [
        GenerationRequest(
            prompt=fmt.render_prompt(q, docs), history=history, config=config, constraint=fmt.constraint(docs)
        )
        for q, docs in items
    ]


def quality(items: list, results: list) -> dict[str, float | None]:
    """Shares over replies: format ok, quotes verifying, numbers naming prompt documents."""
    from groundtune.grounding import get_format, verify_quotes

    fmt = get_format("cited")
    parsed = [fmt.parse(r.text, docs) for (_, docs), r in zip(items, results, strict=True)]
    checks = [verify_quotes(p, docs) for p, (_, docs) in zip(parsed, items, strict=True)]
    quotes = [ok for check in checks for ok in check]
    in_range = [
        all(1 <= n <= len(docs) for n in [*p.relevant, *p.citations, *(q.doc for q in p.quotes)])
        for p, (_, docs) in zip(parsed, items, strict=True)
    ]
    return {
        "format_ok": sum(p.format_ok for p in parsed) / len(parsed),
        "replies_with_quotes": sum(bool(c) for c in checks) / len(checks),
        "quotes": float(len(quotes)),
        "quote_precision": sum(quotes) / len(quotes) if quotes else None,
        "numbers_in_range": sum(in_range) / len(in_range),
    }


class ConstraintClock:
    """Seconds spent inside the constraint's own code (checks, picks, state updates), nested calls
    counted once: the part of the constrained run's time that other processes' load does not inflate
    much, unlike the model's forward passes."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def install(self) -> None:
        from groundtune.infer.constrain import RowConstraint

        for name in ("allows", "pick", "advance"):
            setattr(RowConstraint, name, self._timed(getattr(RowConstraint, name)))

    def _timed(self, fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start

        return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--shots", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "constrain_speed.json"))
    args = parser.parse_args()

    import torch

    from groundtune.infer import Engine

    engine = Engine.load(args.model, dtype=args.dtype, batch_size=args.batch_size)
    items = build_items(args.examples)
    # The one-off vocabulary index first (timed apart), then a warm-up of both paths at full length:
    # the first long decode of a process pays for allocations the timed ones reuse.
    start = time.perf_counter()
    engine._texts.index()
    index_s = time.perf_counter() - start
    engine.generate(requests(items[:2], False, args.max_new_tokens, args.shots))
    engine.generate(requests(items[:2], True, args.max_new_tokens, args.shots))
    print(
        f"{len(items)} requests, {args.shots}-shot, max_new_tokens={args.max_new_tokens}; token index {index_s:.1f}s"
    )

    clock = ConstraintClock()
    clock.install()
    methods = {"unconstrained": False, "constrained": True}
    totals = {name: {"seconds": 0.0, "cpu_seconds": 0.0, "completion_tokens": 0} for name in methods}
    results: dict[str, list] = {name: [None] * len(items) for name in methods}
    batches = [
        list(range(i, min(i + args.batch_size, len(items)))) for i in range(0, len(items), args.batch_size)
    ]
    for r, idx in enumerate(batches):
        for name in list(methods) if r % 2 == 0 else list(methods)[::-1]:
            reqs = requests([items[i] for i in idx], methods[name], args.max_new_tokens, args.shots)
            wall, cpu = time.perf_counter(), time.process_time()
            out = engine.generate(reqs)
            totals[name]["seconds"] += time.perf_counter() - wall
            totals[name]["cpu_seconds"] += time.process_time() - cpu
            totals[name]["completion_tokens"] += sum(o.completion_tokens for o in out)
            for i, o in zip(idx, out, strict=True):
                results[name][i] = o
        print(
            f"round {r + 1}/{len(batches)}: "
            + ", ".join(f"{n} {t['seconds']:.1f}s" for n, t in totals.items())
        )

    runs = {}
    for name, t in totals.items():
        runs[name] = {
            **t,
            "ms_per_token": 1000 * t["seconds"] / t["completion_tokens"],
            "cpu_ms_per_token": 1000 * t["cpu_seconds"] / t["completion_tokens"],
            "all_constrained": all(o.constrained for o in results[name]),
            "quality": quality(items, results[name]),
        }
    free, held = runs["unconstrained"], runs["constrained"]
    ratios = {
        "wall": held["seconds"] / free["seconds"],
        "cpu": held["cpu_seconds"] / free["cpu_seconds"],
        "wall_per_token": held["ms_per_token"] / free["ms_per_token"],
        "cpu_per_token": held["cpu_ms_per_token"] / free["cpu_ms_per_token"],
    }
    held["constraint_code_seconds"] = clock.seconds
    ratios["constraint_code_share"] = clock.seconds / held["seconds"]
    for name, run in runs.items():
        print(
            f"{name:14s} {run['seconds']:7.1f}s wall {run['cpu_seconds']:7.1f}s cpu {run['completion_tokens']:5d} tokens "
            f"{run['ms_per_token']:6.1f} ms/token  quality {run['quality']}"
        )
    print("constrained / unconstrained: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    report = {
        "benchmark": "constrain_speed",
        "model": args.model,
        "dtype": str(engine.dtype).removeprefix("torch."),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_average": os.getloadavg(),
        },
        "examples": len(items),
        "shots": args.shots,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "token_index_seconds": index_s,
        "runs": runs,
        "ratio": ratios,
        # The bar reads the wall time of the same requests: per generated token divides by different
        # counts (the grammar ends a reply at its answer line), which mostly spreads the prefill.
        "bar": {"max_ratio": 1.3, "ratio": ratios["wall"], "met": ratios["wall"] <= 1.3},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
