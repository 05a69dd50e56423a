"""An answerability probe on the model's own reading, against the embedder gate (issue 18, item 3).

The variant: a linear head on the LM's hidden states (a small classification head on the adapter,
as IBM's Granite answerability adapter has; the adapter itself frozen). For each public source, one
(question, document) prompt per question — the grounding format's prompt with that question's own
document: its gold one, or for an unanswerable question the near-miss document it was written
against (SQuAD 2.0's own paragraph, ClapNQ's related passage) — and the hidden states of the prompt's
last position at `--layers`. A ridge logistic regression of "unanswerable" on them is fitted on the
source's train part, its ridge chosen on the validation part, and scored on the held-out test part.

The named baseline, on the same items in the same run, is the answerability gate the product refuses
with (`grounding.answerability`): the best sentence's score, and its `FEATURES` weighed by a logistic
fit on the train part. A third score stacks the two (the probe's log-odds with the gate's features,
fitted on the validation part). Refusal AUROC of each on the test part is the figure; items are
balanced answerable / unanswerable, drawn with a fixed seed.

    .venv/bin/python benchmarks/refusal_probe.py --home /work/gt-general3 --adapter general \\
        --source squad2 --source clapnq

Writes benchmarks/results/refusal_probe.json (or --out).
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

from train_throughput import matmul_dtype  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "refusal_probe.json"
PATHS = {"squad2": "squad2_dev_half", "clapnq": "clapnq"}
RIDGES = (1.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


def pick(pairs: list[Any], n: int, rng: random.Random) -> list[Any]:
    """Up to n pairs, half unanswerable (those with a near-miss document) and half answerable."""
    refuse = [p for p in pairs if not p.answerable and p.near_miss_doc_ids]
    answer = [p for p in pairs if p.answerable and p.gold_doc_ids]
    rng.shuffle(refuse)
    rng.shuffle(answer)
    k = min(n // 2, len(refuse), len(answer))
    return refuse[:k] + answer[:k]


def hidden(model: Any, tokenizer: Any, prompts: list[str], layers: list[int]) -> Any:
    """The last position's hidden states at `layers`, concatenated: one row per prompt."""
    import numpy as np
    import torch

    bf16 = matmul_dtype() == "bfloat16"
    rows = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
            states = model(input_ids=ids, output_hidden_states=True, logits_to_keep=1).hidden_states
            rows.append(np.concatenate([states[i][0, -1].float().numpy() for i in layers]))
    return np.stack(rows)


def log_odds(x: Any, w: Any) -> Any:
    return x @ w[:-1] + w[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="workspace holding the model and adapters")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--source", action="append", choices=sorted(PATHS), required=True)
    parser.add_argument("--adapter", help="adapter whose reading to probe (default: the base model)")
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--layers", type=int, nargs="+", default=[9, 12, 15])
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--validation", type=int, default=240)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import numpy as np

    from groundtune.core.schemas import ContextDocument
    from groundtune.data.public import load_public, part_of
    from groundtune.grounding import get_format
    from groundtune.grounding.answerability import (
        FEATURES,
        fit_gate_weights,
        gate_score,
        logistic_fit,
        refusal_auroc,
        score_items,
    )
    from groundtune.models import load_embedder, load_lm

    fmt = get_format("cited")
    lm = load_lm(args.model, home=args.home)
    model = lm.model
    if args.adapter:
        from peft import PeftModel

        from groundtune.core.adapters import resolve_adapter

        model = PeftModel.from_pretrained(lm.model, str(resolve_adapter(args.adapter, args.home).path))
    model.eval()
    embed = load_embedder().encode
    sizes = {"train": args.train, "validation": args.validation, "test": args.test}
    results: dict[str, Any] = {}
    for kind in args.source:
        start = time.perf_counter()
        data = load_public(kind, args.data / PATHS[kind])
        corpus = {d["id"]: d for d in data.corpus}
        rng = random.Random(args.seed)
        parts: dict[str, dict[str, Any]] = {}
        for part, n in sizes.items():
            pairs = pick([p for p in data.pairs if part_of(p) == part], n, rng)
            docs = [corpus[(p.gold_doc_ids or p.near_miss_doc_ids)[0]] for p in pairs]
            prompts = [
                lm.layout.prompt(
                    fmt.render_prompt(p.question, [ContextDocument(title=d["title"], text=d["text"])])
                )
                for p, d in zip(pairs, docs, strict=True)
            ]
            scored = score_items(
                [(p.question, [(d["title"], d["text"])]) for p, d in zip(pairs, docs, strict=True)], embed
            )
            parts[part] = {
                "x": hidden(model, lm.tokenizer, prompts, args.layers),
                "refuse": [not p.answerable for p in pairs],
                "scored": scored,
            }
            print(kind, part, len(pairs), f"{time.perf_counter() - start:.0f} s", flush=True)
        train, val, test = parts["train"], parts["validation"], parts["test"]
        answerable = np.asarray([not r for r in train["refuse"]])
        # the probe: ridge chosen on validation
        fits = {}
        for ridge in RIDGES:
            w = logistic_fit(train["x"], answerable, ridge=ridge)
            fits[ridge] = (refusal_auroc(list(log_odds(val["x"], w)), val["refuse"]) or 0.0, w)
        ridge = max(fits, key=lambda r: fits[r][0])
        w = fits[ridge][1]
        probe = {p: list(log_odds(parts[p]["x"], w)) for p in parts}
        # the gate, as calibration fits it
        weights = fit_gate_weights([s.features for s in train["scored"]], train["refuse"])
        gate = {p: [gate_score(s, weights) for s in parts[p]["scored"]] for p in parts}
        best = {p: [gate_score(s, None) for s in parts[p]["scored"]] for p in parts}
        # stacked: the probe's log-odds and the gate's features, fitted on validation
        stack_x = {
            p: np.column_stack([probe[p], [s.features for s in parts[p]["scored"]]])
            for p in ("validation", "test")
        }
        ws = logistic_fit(stack_x["validation"], np.asarray([not r for r in val["refuse"]]))
        stacked = list(log_odds(stack_x["test"], ws))
        refuse = test["refuse"]
        results[kind] = {
            "items": {p: len(parts[p]["refuse"]) for p in parts},
            "refusal_items": {p: sum(parts[p]["refuse"]) for p in parts},
            "probe_ridge": ridge,
            "probe_validation_auroc": fits[ridge][0],
            "gate_weights": dict(zip([*FEATURES, "bias"], weights, strict=True)) if weights else None,
            "test_auroc": {
                "gate_best_sentence": refusal_auroc(best["test"], refuse),
                "gate": refusal_auroc(gate["test"], refuse),
                "probe": refusal_auroc(probe["test"], refuse),
                "probe_plus_gate": refusal_auroc(stacked, refuse),
            },
            "seconds": time.perf_counter() - start,
        }
        print(kind, json.dumps(results[kind]["test_auroc"]), flush=True)
    out = {
        "benchmark": "refusal_probe",
        "baseline": "gate",
        "command": "benchmarks/refusal_probe.py "
        + " ".join(f"--source {s}" for s in args.source)
        + (f" --adapter {args.adapter}" if args.adapter else ""),
        "model": args.model,
        "adapter": args.adapter,
        "layers": args.layers,
        "seed": args.seed,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "matmul_dtype": matmul_dtype(),
        },
        "sources": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
