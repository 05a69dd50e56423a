"""Dataset build speed and quality: NQ-open oracle (2,655 questions, k=4, P=0.8) over a built index.

Bar: the build (retrieval, labelling, planning, budgeting with the Gemma tokenizer, rendering,
validation, splits, writing) finishes in under 180 s on this machine, and at least 95% of the
answerable examples carry a verified verbatim quote. The index is built first and timed separately
(the bar is "over a built index"). Baseline measured in the same run: THE retriever alone answering
the same questions (`search_batch`, same depth); the result reports build time / retrieval time.

    .venv/bin/python benchmarks/data_build.py                    # real data from ../shared/data/nq_open_oracle
    .venv/bin/python benchmarks/data_build.py --synthetic 2655   # same shape, synthetic corpus (labelled so)
    .venv/bin/python benchmarks/data_build.py --sample           # the project's sample KB (examples/sample_kb)

Writes benchmarks/results/data_build[.synthetic|.sample].json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nq_open_oracle"
BAR_SECONDS = 180.0
BAR_QUOTES = 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NQ-open oracle file or folder.")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=None,
        metavar="N",
        help="Use N synthetic questions in the NQ-oracle shape instead of the real data.",
    )
    parser.add_argument("--sample", action="store_true", help="Use the sample KB in examples/sample_kb.")
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N questions.")
    parser.add_argument("--embedder", default="minilm-l6")
    parser.add_argument("--lm", default="gemma-3-270m", help="Tokenizer that counts the token budget.")
    parser.add_argument("--home", type=Path, default=None, help="Workspace (default: a temporary folder).")
    args = parser.parse_args()

    from groundtune.data.public import load_nq_open_oracle
    from groundtune.data.synthetic import make_synthetic_qa

    sample = ROOT / "examples" / "sample_kb"
    if args.sample:
        data, label = None, "sample"
    elif args.synthetic:
        data, label = make_synthetic_qa(args.synthetic, seed=0), "synthetic"
    else:
        if not args.data.exists():
            print(
                f"NQ-open oracle data not found at {args.data}.\n"
                "Put nq-open-oracle.jsonl.gz there (or pass --data PATH), or run the same pipeline on a\n"
                "synthetic corpus of the same shape with --synthetic 2655.",
                file=sys.stderr,
            )
            return 2
        data, label = load_nq_open_oracle(args.data, limit=args.limit), "nq_open_oracle"
    if data is not None and args.limit:
        data.pairs = data.pairs[: args.limit]

    home = args.home or Path(tempfile.mkdtemp(prefix="gt-bench-data-"))
    os.environ["GROUNDTUNE_HOME"] = str(home)
    # Models come from the user's workspace cache (the benchmark workspace holds only KB and dataset).
    models_home = Path(os.environ.get("GROUNDTUNE_MODELS_HOME", Path.home() / ".groundtune")) / "models"
    if models_home.exists() and not (home / "models").exists():
        (home / "models").symlink_to(models_home)

    from groundtune import kb as kb_api
    from groundtune.data import BuildConfig, SourceSpec, build_dataset, load_qa_file, write_qa_file
    from groundtune.data.tokens import load_counter

    if data is None:  # the sample KB: files, training questions, held-out questions pinned to test
        corpus: list = [sample / "docs"]
        sources = [
            SourceSpec(kind="qa", path=str(sample / "qa_train.jsonl")),
            SourceSpec(kind="qa", path=str(sample / "qa_heldout.jsonl"), assign="test"),
        ]
        questions = [p.question for s in sources for p in load_qa_file(s.path or "")]
    else:
        corpus = list(data.corpus)
        sources = [SourceSpec(kind="qa", path=str(write_qa_file(data.pairs, home / "qa.jsonl")))]
        questions = [p.question for p in data.pairs]
    t = time.perf_counter()
    kb_api.create("bench", embedder=args.embedder)
    summary = kb_api.add("bench", corpus)
    index_s = time.perf_counter() - t
    n_docs = len(summary.added)
    print(f"index: {n_docs} documents in {index_s:.1f}s ({len(summary.errors)} errors)", flush=True)

    config = BuildConfig(
        name="bench",
        kb="bench",
        sources=sources,
        k=4,
        oracle_fraction=0.8,
        lm=args.lm,
        seed=0,
    )
    # Baseline in the same run: the retriever alone on the same questions and depth.
    with kb_api.open_kb("bench") as kb:
        retriever = kb.retriever(kb_api.RetrieverConfig())
        retriever.search_batch(["warm up"], k=config.candidates)
        t = time.perf_counter()
        retriever.search_batch(questions, k=config.candidates)
        retrieval_s = time.perf_counter() - t
    print(f"baseline retrieval: {len(questions)} queries in {retrieval_s:.1f}s", flush=True)

    t = time.perf_counter()
    counter = load_counter(args.lm)
    result = build_dataset(config, counter=counter)
    build_s = time.perf_counter() - t
    report = result.report
    out = {
        "benchmark": "data_build",
        "data": label,
        "questions": len(questions),
        "documents": n_docs,
        "k": config.k,
        "oracle_fraction": config.oracle_fraction,
        "embedder": args.embedder,
        "tokenizer": args.lm,
        "index_seconds": round(index_s, 1),
        "baseline_retrieval_seconds": round(retrieval_s, 2),
        "build_seconds": round(build_s, 1),
        "build_over_retrieval": round(build_s / retrieval_s, 2) if retrieval_s else None,
        "bar_seconds": BAR_SECONDS,
        "meets_time_bar": build_s < BAR_SECONDS,
        "verified_quote_share": report["verified_quote_share"],
        "bar_verified_quote_share": BAR_QUOTES,
        "meets_quote_bar": report["verified_quote_share"] >= BAR_QUOTES,
        "examples": report["examples"],
        "splits": report["splits"],
        "refusal_share": report["refusal_share"],
        "drops": report["drops"],
        "tokens": report["tokens"],
        "stage_seconds": report["timings_s"],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / ("data_build.json" if label == "nq_open_oracle" else f"data_build.{label}.json")
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: out[k]
                for k in (
                    "data",
                    "questions",
                    "build_seconds",
                    "baseline_retrieval_seconds",
                    "build_over_retrieval",
                    "meets_time_bar",
                    "verified_quote_share",
                    "meets_quote_bar",
                    "refusal_share",
                )
            },
            indent=2,
        )
    )
    print(f"wrote {path}")
    return 0 if out["meets_time_bar"] and out["meets_quote_bar"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
