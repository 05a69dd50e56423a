"""Answerability scoring cost: each distinct text embedded once (`answerability.score_items`) against
embedding every text of every item, the named baseline, in the same run.

Calibration scores a dataset's validation items and up to 600 of its training items to fit the
answerability gate (`eval.calibration.fit_gate`). Items drawn from one knowledge base share most of
their documents and sentences, so the baseline embeds the same texts many times. Rounds interleave
the two (the machine is noisy); the figure is the ratio of summed seconds, and the items' features
must agree up to float rounding.

    .venv/bin/python benchmarks/gate_fit_speed.py --home WORKSPACE [--dataset quickstart] [--rounds 2]

`WORKSPACE` holds the dataset (after `make quickstart`, the `/tmp/gt-quickstart-*` folder it names, or
`~/.groundtune`). Writes benchmarks/results/gate_fit_speed.json (or --out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "gate_fit_speed.json"


@contextlib.contextmanager
def every_text() -> Iterator[None]:
    """The baseline: `score_items` embeds every text of every item, repeats included."""
    import numpy as np

    import groundtune.grounding.answerability as answerability

    unique = answerability._embed_unique
    answerability._embed_unique = lambda texts, embed: np.asarray(embed(texts), dtype=np.float64)
    try:
        yield
    finally:
        answerability._embed_unique = unique


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--dataset", default="quickstart")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from groundtune.data import load_dataset
    from groundtune.eval.calibration import answerability_embedder, gate_items
    from groundtune.eval.runner import score_examples

    items = list(load_dataset(args.dataset, args.home)["validation"])
    items += gate_items(args.dataset, "validation", args.home)
    name, embed = answerability_embedder(args.dataset, args.home)
    embed(["warm up"])
    seconds: dict[str, list[float]] = {"unique": [], "baseline": []}
    features: dict[str, list[list[float]]] = {}
    for round_ in range(args.rounds):
        for variant in ("unique", "baseline") if round_ % 2 == 0 else ("baseline", "unique"):
            with every_text() if variant == "baseline" else contextlib.nullcontext():
                start = time.perf_counter()
                scored = score_examples(items, embed)
                seconds[variant].append(time.perf_counter() - start)
            features[variant] = [s.features for s in scored]
    gap = max(
        abs(a - b)
        for fa, fb in zip(features["unique"], features["baseline"], strict=True)
        for a, b in zip(fa, fb, strict=True)
    )
    ratio = sum(seconds["unique"]) / sum(seconds["baseline"])
    result = {
        "benchmark": "gate_fit_speed",
        "what": "seconds to score the answerability features of a dataset's gate-fitting items",
        "baseline": "every text of every item embedded (repeats included)",
        "dataset": args.dataset,
        "items": len(items),
        "embedder": name,
        "seconds": seconds,
        "ratio": round(ratio, 3),
        "max_feature_gap": gap,
        "bar": {"max_ratio": 0.5, "met": ratio <= 0.5 and gap < 1e-6},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps({k: result[k] for k in ("items", "seconds", "ratio", "max_feature_gap", "bar")}, indent=2)
    )


if __name__ == "__main__":
    main()
