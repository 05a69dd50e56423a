"""Does an adapter tell refusal items from answerable ones, or does it refuse by habit?

For every example of a dataset split, the margin log p(" none") - log p(" [") of the token right after
`Relevant:` (the cited style's refusal decision: `Relevant: none` vs `Relevant: [n]`) is ranked
against the target: AUC 1.0 = every refusal item scores above every answerable one, 0.5 = chance.
The named baseline is the base model (no adapter) on the same prompts, in the same run. A refusal
rate that moves while the AUC stays near 0.5 is a prior, not a reading of the documents (issue 9).

`--eval-run RUN` also ranks, for every system of that evaluation run, the answer uncertainty its
records carry (mean entropy over the answer's tokens of the model's own reply: what abstention
thresholds, see docs/eval.md) against the same targets, for the suite's items.

    .venv/bin/python benchmarks/refusal_signal.py --home WORKSPACE --dataset quickstart \\
        --adapter quickstart [--adapter other] [--split test]

Writes benchmarks/results/refusal_signal.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from train_throughput import matmul_dtype  # benchmarks/ is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results" / "refusal_signal.json"


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positive for n in negative]
    return sum(pairs) / len(pairs)


def margins(model: Any, tokenizer: Any, layout: Any, prompts: list[str]) -> list[float]:
    """log p(" none") - log p(" [") after `Relevant:` for each user prompt."""
    import torch

    none_id = tokenizer(" none", add_special_tokens=False)["input_ids"][0]
    open_id = tokenizer(" [", add_special_tokens=False)["input_ids"][0]
    # bf16 autocast only where the CPU computes bf16 natively (emulated, it is many times slower)
    bf16 = matmul_dtype() == "bfloat16"
    out = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for prompt in prompts:
            ids = tokenizer(layout.prompt(prompt) + "Relevant:", return_tensors="pt")["input_ids"]
            logits = model(input_ids=ids, logits_to_keep=1).logits[0, -1].float()
            logp = torch.log_softmax(logits, dim=-1)
            out.append(float(logp[none_id] - logp[open_id]))
    return out


def uncertainty_auc(run_dir: Path) -> dict[str, Any]:
    """Per suite and system of an evaluation run: AUC of the records' answer uncertainty for refusal
    items (those whose gold is unanswerable) against answerable ones, on the model's own replies."""
    from groundtune.core.schemas import EvalRecord

    out: dict[str, Any] = {"run": str(run_dir)}
    for folder in sorted((run_dir / "records").iterdir()):
        for path in sorted(folder.glob("*.jsonl")):
            records = [EvalRecord.model_validate_json(line) for line in path.read_text().splitlines()]
            # false_refusal applies to answerable items only, missed_refusal to the others
            pairs = [(r.uncertainty, r.metrics.get("false_refusal") is None) for r in records]
            pos = [u for u, refuse in pairs if refuse and u is not None]
            neg = [u for u, refuse in pairs if not refuse and u is not None]
            entry = {
                "auc": auc(pos, neg) if pos and neg else None,
                "refusal_items": len(pos),
                "answerable_items": len(neg),
            }
            out[f"{folder.name}/{path.stem}"] = entry
            print(f"{folder.name}/{path.stem} answer uncertainty", json.dumps(entry), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="workspace holding the dataset and adapters")
    parser.add_argument("--dataset", default="quickstart")
    parser.add_argument("--split", default="test")
    parser.add_argument("--adapter", action="append", default=[], help="adapter name or folder (repeatable)")
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--eval-run", type=Path, help="evaluation run folder whose records' uncertainty to rank too"
    )
    args = parser.parse_args()

    from peft import PeftModel

    from groundtune.core.adapters import resolve_adapter
    from groundtune.data import load_dataset
    from groundtune.models import load_lm

    examples = load_dataset(args.dataset, home=args.home)[args.split]
    refuse = [ex.target.refusal for ex in examples]
    prompts = [ex.prompt for ex in examples]
    lm = load_lm(args.model, home=args.home)
    systems: dict[str, Any] = {}

    def score(name: str, model: Any) -> None:
        t = time.perf_counter()
        m = margins(model.eval(), lm.tokenizer, lm.layout, prompts)
        pos = [s for s, y in zip(m, refuse, strict=True) if y]
        neg = [s for s, y in zip(m, refuse, strict=True) if not y]
        systems[name] = {
            "auc": auc(pos, neg),
            "mean_margin_refusal_items": sum(pos) / len(pos),
            "mean_margin_answerable_items": sum(neg) / len(neg),
            "would_refuse_share": sum(s > 0 for s in m) / len(m),
            "seconds": time.perf_counter() - t,
        }
        print(name, json.dumps({k: round(v, 3) for k, v in systems[name].items()}), flush=True)

    score("base", lm.model)
    for adapter in args.adapter:
        ref = resolve_adapter(adapter, args.home)
        peft_model = PeftModel.from_pretrained(lm.model, str(ref.path))
        score(ref.name, peft_model)
        peft_model.unload()  # the base weights back, without this adapter's layers
    result = {
        "benchmark": "refusal_signal",
        "baseline": "base",
        "workspace": str(args.home),
        "dataset": args.dataset,
        "split": args.split,
        "items": len(examples),
        "refusal_items": sum(refuse),
        "systems": systems,
        "auc_vs_baseline": {n: s["auc"] - systems["base"]["auc"] for n, s in systems.items() if n != "base"},
    }
    if args.eval_run:
        result["answer_uncertainty"] = uncertainty_auc(args.eval_run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
