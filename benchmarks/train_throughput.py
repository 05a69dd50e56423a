"""LoRA training throughput on this CPU: groundtune's engine vs TRL's SFTTrainer, same run.

Real Gemma 3 270M, LoRA r=16 (alpha 32, dropout 0.05) on every linear projection, the same 200
grounded-QA examples of about 600 tokens (made here), the same effective batch, completion-only loss,
bf16 where the CPU has it. Each engine runs in its own subprocess (so peak RSS is its own); the bf16
matmul peak is measured in the same run for MFU. Writes benchmarks/results/train_throughput.json.

    .venv/bin/python benchmarks/train_throughput.py               # ~10 minutes on 2 busy cores
    .venv/bin/python benchmarks/train_throughput.py --steps 2     # quicker, noisier

Bars: supervised tokens/s >= 2x TRL; peak RSS <= TRL's. The 2 cores are shared, so figures are noisy:
engines alternate and the best round of each counts (use --rounds 2 for that).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.json"
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

_TOPICS = ["warranty", "battery", "shipping", "returns", "firmware", "charging", "display", "support"]
_WORDS = (
    "device policy customer period coverage repair replacement service months days battery screen charger "
    "order refund store account update version release cable adapter model series region country receipt "
    "technician diagnosis fault damage water drop accidental normal use wear component labour parts"
).split()


def make_examples(n: int = 200, seed: int = 0) -> list[dict[str, str]]:
    """Grounded-QA-looking (prompt, completion) pairs: 5 numbered documents, a question, a cited answer."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = rng.choice(_TOPICS)
        docs = []
        for d in range(5):
            sents = []
            for _ in range(rng.randint(4, 6)):
                words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 16)))
                sents.append(words.capitalize() + ".")
            docs.append(
                f"[{d + 1}] {rng.choice(_TOPICS).title()} guide, part {rng.randint(1, 9)}\n" + " ".join(sents)
            )
        months = rng.choice([6, 12, 18, 24, 36])
        fact = f"The {topic} coverage lasts {months} months from the date on the receipt"
        k = rng.randint(1, 5)
        docs[k - 1] += f" {fact}."
        question = f"How long does the {topic} coverage last, and from when? (case {i})"
        prompt = (
            "Answer the question using only the documents below. Say which documents are relevant, "
            "quote them, then answer with citations.\n\n" + "\n\n".join(docs) + f"\n\nQuestion: {question}"
        )
        extra = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(30, 50)))
        completion = (
            f'Relevant: [{k}]\nQuote [{k}]: "{fact}"\n'
            f"Answer: The {topic} coverage lasts {months} months, counted from the date on the receipt [{k}]. "
            f"Context: {extra}."
        )
        out.append({"prompt": prompt, "completion": completion})
    return out


def write_dataset(root: Path, examples: list[dict[str, str]]) -> Path:
    from groundtune.core.schemas import ContextDocument, Example

    root.mkdir(parents=True, exist_ok=True)
    with (root / "train.jsonl").open("w") as fh:
        for i, ex in enumerate(examples):
            row = Example(
                id=f"b{i}", question="q", documents=[ContextDocument(title="t", text="x")],
                prompt=ex["prompt"], completion=ex["completion"],
            )  # fmt: skip
            fh.write(row.model_dump_json() + "\n")
    (root / "card.json").write_text(
        json.dumps({"name": "bench", "grounding": {"style": "cited", "version": "1"}})
    )
    return root


def cpu_model() -> str | None:
    """The CPU's model name (/proc/cpuinfo), None where it is not readable."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)


def matmul_dtype() -> str:
    """The dtype this CPU computes in (what `auto` picks for decoding and training): bfloat16 with native
    bf16, else float32. Timing bf16 GEMMs where bf16 is emulated takes minutes and measures nothing useful."""
    from groundtune.infer.engine import resolve_dtype

    return str(resolve_dtype("auto")).removeprefix("torch.")


def matmul_peak_gflops(n: int = 2048, reps: int = 8) -> float:
    """Best-of GEMM rate in `matmul_dtype()` on this CPU with torch's default threads (the MFU denominator)."""
    import torch

    dtype = getattr(torch, matmul_dtype())
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def model_flops(model_cfg: dict[str, Any], seq_lens: list[int], n_supervised: int, lora_r: int) -> float:
    """Useful FLOPs of one LoRA step: forward + input-gradient backward of the frozen body (no weight
    gradients), LoRA forward/backward, causal attention, and the LM head at supervised positions only."""
    h, inter = model_cfg["hidden_size"], model_cfg["intermediate_size"]
    heads, kv, hd = model_cfg["num_attention_heads"], model_cfg["num_key_value_heads"], model_cfg["head_dim"]
    layers, vocab = model_cfg["num_hidden_layers"], model_cfg["vocab_size"]
    shapes = [
        (h, heads * hd),
        (h, kv * hd),
        (h, kv * hd),
        (heads * hd, h),
        (h, inter),
        (h, inter),
        (inter, h),
    ]
    linear = sum(i * o for i, o in shapes)
    lora = sum(lora_r * (i + o) for i, o in shapes)
    tokens = sum(seq_lens)
    body = layers * tokens * (2 * linear * 2 + 2 * lora * 3)
    attn = layers * sum(2 * t * t * heads * hd for t in seq_lens) * 3  # causal QK^T + AV, fwd + 2x bwd
    head = n_supervised * 2 * h * vocab * 2
    return float(body + attn + head)


# --------------------------------------------------------------------------------------------- workers


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_groundtune(args: argparse.Namespace) -> dict[str, Any]:
    from groundtune.train import train

    cfg = {
        "model": "gemma-3-270m", "dataset": args.data, "run_id": f"run_bench_{os.getpid()}",
        "lora": {**LORA, "target_modules": "all-linear"}, "batch_size": args.batch_size,
        "grad_accum": args.grad_accum, "max_steps": args.warmup + args.steps, "lr": 2e-4,
        "warmup_steps": 1, "precision": "auto", "save_every": 10_000, "eval_every": 10_000,
        "progress": False, "max_length": 2048, "num_threads": args.threads,
    }  # fmt: skip
    result = train(cfg, home=args.home)
    import shutil

    shutil.rmtree(result.run_dir, ignore_errors=True)  # leave the user's workspace as it was
    shutil.rmtree(result.registered_adapter, ignore_errors=True)
    rows = [r for r in result.metrics if "loss" in r][args.warmup :]
    return {
        "seconds": sum(r["step_time_s"] for r in rows),
        "supervised_tokens": sum(r["supervised_tokens"] for r in rows),
        "tokens": sum(r["tokens"] for r in rows),
        "losses": [r["loss"] for r in result.metrics if "loss" in r],
        "steps": len(rows),
    }


def worker_trl(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from groundtune.models import load_lm

    torch.set_num_threads(args.threads)
    # trl: the model as loaded (fp32 weights) + bf16 autocast, the usual recipe; trl-bf16: weights in bf16 too
    lm = load_lm(
        "gemma-3-270m", args.home, dtype=torch.bfloat16 if args.worker == "trl-bf16" else torch.float32
    )
    examples = [json.loads(line) for line in (Path(args.data) / "train.jsonl").read_text().splitlines()]
    bos = lm.tokenizer.bos_token  # our engine's prompts start with <bos> (the tokenizer adds it)
    ds = Dataset.from_list(
        [
            {
                "prompt": bos + lm.layout.prompt(e["prompt"]),
                "completion": lm.layout.completion(e["completion"]),
            }
            for e in examples
        ]
    )
    conf = SFTConfig(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum, max_steps=args.warmup + args.steps, learning_rate=2e-4,
        warmup_steps=1, lr_scheduler_type="cosine", bf16=True, use_cpu=True, logging_steps=1,
        save_strategy="no", report_to=[], completion_only_loss=True, max_length=2048, seed=0,
        dataloader_num_workers=0, gradient_checkpointing=False, disable_tqdm=True,
    )  # fmt: skip
    peft_conf = LoraConfig(
        r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"], target_modules=TARGETS,
        task_type="CAUSAL_LM",
    )  # fmt: skip
    trainer = SFTTrainer(
        model=lm.model, args=conf, train_dataset=ds, processing_class=lm.tokenizer, peft_config=peft_conf
    )
    collated: list[tuple[int, int]] = []  # (supervised tokens, real tokens) per micro-batch
    inner = trainer.data_collator

    def counting(features: list[dict[str, Any]]) -> Any:
        batch = inner(features)
        collated.append((int((batch["labels"][:, 1:] != -100).sum()), int(batch["attention_mask"].sum())))
        return batch

    trainer.data_collator = counting
    marks: list[tuple[float, int]] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            marks.append((time.perf_counter(), -1))

        def on_step_end(self, *a: Any, **k: Any) -> None:
            marks.append((time.perf_counter(), len(collated)))

    trainer.add_callback(Clock())
    torch.manual_seed(0)
    trainer.train()
    ends = [(t, n) for t, n in marks if n >= 0]
    begins = [t for t, n in marks if n < 0]
    seconds, sup, tok = 0.0, 0, 0
    prev = ends[args.warmup - 1][1] if args.warmup else 0
    for i in range(args.warmup, len(ends)):
        seconds += ends[i][0] - begins[i]
        sup += sum(s for s, _ in collated[prev : ends[i][1]])
        tok += sum(t for _, t in collated[prev : ends[i][1]])
        prev = ends[i][1]
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        "seconds": seconds,
        "supervised_tokens": sup,
        "tokens": tok,
        "losses": losses,
        "steps": len(ends) - args.warmup,
    }


def run_worker(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable, __file__, "--worker", engine, "--data", args.data, "--home", args.home,
        "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--batch-size", str(args.batch_size), "--grad-accum", str(args.grad_accum), "--threads", str(args.threads),
    ]  # fmt: skip
    t = time.perf_counter()
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)},
    )
    if out.returncode != 0:
        raise SystemExit(f"{engine} worker failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t
    result["supervised_tokens_per_s"] = result["supervised_tokens"] / result["seconds"]
    result["tokens_per_s"] = result["tokens"] / result["seconds"]
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", choices=["groundtune", "trl", "trl-bf16"])
    p.add_argument("--data")
    p.add_argument("--home", default=os.environ.get("GROUNDTUNE_HOME", str(Path.home() / ".groundtune")))
    p.add_argument("--steps", type=int, default=3, help="measured optimizer steps per engine")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured first steps")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--grad-accum", type=int, default=2)
    p.add_argument(
        "--rounds", type=int, default=2, help="alternate the engines this many times, keep the best"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads for both engines and the matmul peak (1: robust on shared cores, see docs/train.md)",
    )
    args = p.parse_args()
    if args.worker:
        result = worker_groundtune(args) if args.worker == "groundtune" else worker_trl(args)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return

    from groundtune.models import list_models, load_lm

    if not any(m.name == "gemma-3-270m" and m.cached for m in list_models(args.home)):
        raise SystemExit("gemma-3-270m is not cached: run `groundtune models pull gemma-3-270m` first")
    lm = load_lm("gemma-3-270m", args.home)
    examples = make_examples()
    lens = [
        len(lm.tokenizer(lm.layout.prompt(e["prompt"]) + lm.layout.completion(e["completion"]))["input_ids"])
        for e in examples
    ]
    sup = [
        len(lm.tokenizer(lm.layout.completion(e["completion"]), add_special_tokens=False)["input_ids"])
        for e in examples
    ]
    model_cfg = lm.model.config.to_dict()
    del lm
    work = Path(tempfile.mkdtemp(prefix="gt-bench-"))
    args.data = str(write_dataset(work / "data", examples))
    import torch

    torch.set_num_threads(args.threads)
    peak = matmul_peak_gflops()
    runs: dict[str, list[dict[str, Any]]] = {"groundtune": [], "trl": [], "trl-bf16": []}
    for _ in range(args.rounds):
        for engine in runs:
            r = run_worker(engine, args)
            print(
                f"{engine}: {r['supervised_tokens_per_s']:.1f} supervised tok/s, peak RSS {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
            runs[engine].append(r)
    best = {e: max(rs, key=lambda r: r["supervised_tokens_per_s"]) for e, rs in runs.items()}
    mean_len = sum(lens) / len(lens)
    for r in best.values():
        # FLOPs from each engine's own measured token counts, at the dataset's mean sequence length
        n_seq = r["tokens"] / mean_len
        r["model_tflops_total"] = (
            model_flops(model_cfg, [int(mean_len)] * round(n_seq), r["supervised_tokens"], LORA["r"]) / 1e12
        )
        r["achieved_gflops"] = r["model_tflops_total"] * 1e3 / r["seconds"]
        r["mfu"] = r["achieved_gflops"] / peak
    # the baseline is the faster TRL set-up (fp32 or bf16 base weights); memory against the lower of the two
    trl_key = max(("trl", "trl-bf16"), key=lambda e: best[e]["supervised_tokens_per_s"])
    speedup = best["groundtune"]["supervised_tokens_per_s"] / best[trl_key]["supervised_tokens_per_s"]
    rss_ratio = min(r["peak_rss_mb"] for r in runs["groundtune"]) / min(
        r["peak_rss_mb"] for r in runs["trl"] + runs["trl-bf16"]
    )
    out = {
        "benchmark": "train_throughput",
        "baseline": "trl.SFTTrainer (completion_only_loss, same LoRA, bf16=True, same effective batch); "
        "the faster of fp32 and bf16 base weights",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "setup": {
            "model": "gemma-3-270m",
            "lora": {**LORA, "target_modules": TARGETS},
            "examples": len(examples),
            "mean_tokens_per_example": mean_len,
            "mean_supervised_tokens_per_example": sum(sup) / len(sup),
            "batch_size": args.batch_size,
            "grad_accum": args.grad_accum,
            "measured_steps": args.steps,
            "warmup_steps": args.warmup,
            "rounds": args.rounds,
            "torch_threads": args.threads,
            "cpu_count": os.cpu_count(),
        },
        "matmul_dtype": matmul_dtype(),
        "matmul_peak_gflops": peak,
        "groundtune": best["groundtune"],
        "trl": best[trl_key],
        "trl_fastest_variant": trl_key,
        "trl_fp32_weights": best["trl"],
        "trl_bf16_weights": best["trl-bf16"],
        "all_rounds": runs,
        "supervised_tokens_per_s_ratio": speedup,
        "peak_rss_ratio": rss_ratio,
        "bars": {"speedup_at_least_2x": speedup >= 2.0, "peak_rss_not_above_trl": rss_ratio <= 1.0},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"groundtune {best['groundtune']['supervised_tokens_per_s']:.1f} vs TRL ({trl_key}) {best[trl_key]['supervised_tokens_per_s']:.1f} "
        f"supervised tok/s -> {speedup:.2f}x; peak RSS ratio {rss_ratio:.2f}; "
        f"MFU {best['groundtune']['mfu']:.1%} vs {best[trl_key]['mfu']:.1%} of {peak:.0f} GFLOP/s bf16 peak"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
