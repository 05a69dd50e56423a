"""Retrieval quality on NQ-open oracle: knowledge base = every gold passage, queries = the questions.

Recall@1/5/10 and MRR@10 for dense, sparse and hybrid groundtune retrieval, and for the `bm25s`
package on the same passages (title + text, as groundtune indexes them), measured in the same run.
Bars: hybrid recall@5 beats dense and sparse alone; sparse recall@5 within 2 points of bm25s.
A hit is correct when its chunk belongs to the question's gold passage.

    .venv/bin/python benchmarks/kb_retrieval.py [--data ../shared/data/nq_open_oracle] [--embedder minilm-l6]
    # writes benchmarks/results/kb_retrieval.json; exits with a message when the data is absent
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nq_open_oracle"
RESULTS = ROOT / "benchmarks" / "results" / "kb_retrieval.json"
KS = (1, 5, 10)


def score(ranked: list[list[str]], gold: list[set[str]]) -> dict[str, float]:
    """Recall@k (a gold document among the top k) and MRR@10 over all questions, in percent."""
    out: dict[str, float] = {}
    for k in KS:
        out[f"recall@{k}"] = round(
            100 * sum(bool(set(r[:k]) & g) for r, g in zip(ranked, gold, strict=True)) / len(gold), 2
        )
    rr = []
    for r, g in zip(ranked, gold, strict=True):
        rr.append(next((1 / i for i, d in enumerate(r[:10], start=1) if d in g), 0.0))
    out["mrr@10"] = round(100 * sum(rr) / len(rr), 2)
    return out


def bm25s_ranking(corpus: list[dict[str, str]], questions: list[str], k: int) -> list[list[str]]:
    import bm25s

    texts = [f"{r['title']}\n{r['text']}" for r in corpus]
    model = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    model.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    docs, _ = model.retrieve(
        bm25s.tokenize(questions, stopwords="en", show_progress=False), k=k, show_progress=False
    )
    return [[corpus[int(i)]["id"] for i in row] for row in docs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--embedder", default="minilm-l6")
    ap.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    ap.add_argument("--rrf-k", type=float, default=60.0)
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(
            f"kb_retrieval: {args.data} is not present. Put the NQ-open oracle release there "
            "(nq-open-oracle.jsonl[.gz], see docs/data.md) or pass --data PATH."
        )
    from groundtune import kb as kbmod
    from groundtune.data.public import load_nq_open_oracle
    from groundtune.kb import RetrieverConfig

    qa = load_nq_open_oracle(args.data, limit=args.limit)
    questions = [p.question for p in qa.pairs]
    gold = [set(p.gold_doc_ids) for p in qa.pairs]
    result: dict[str, object] = {
        "dataset": "nq_open_oracle",
        "questions": len(questions),
        "passages": len(qa.corpus),
        "embedder": args.embedder,
        "rrf_k": args.rrf_k,
    }
    with tempfile.TemporaryDirectory() as home:
        kbmod.create("nq", embedder=args.embedder, home=home)
        with kbmod.open_kb("nq", home=home) as kb:
            t = time.perf_counter()
            summary = kb.add(qa.corpus)
            result["ingest"] = {
                "chunks": summary.chunks,
                "errors": len(summary.errors),
                "seconds": round(time.perf_counter() - t, 1),
            }
            for mode in ("dense", "sparse", "hybrid"):
                r = kb.retriever(RetrieverConfig(mode=mode, k=10, depth=100, rrf_k=args.rrf_k))
                t = time.perf_counter()
                hits = r.search_batch(questions)
                secs = time.perf_counter() - t
                ranked = [list(dict.fromkeys(h.chunk.doc_id for h in hs)) for hs in hits]
                result[mode] = {
                    **score(ranked, gold),
                    "queries_per_s": round(len(questions) / secs, 1),
                    "retriever_hash": r.hash(),
                }
                print(mode, result[mode], flush=True)
    t = time.perf_counter()
    result["bm25s"] = {
        **score(bm25s_ranking(qa.corpus, questions, 10), gold),
        "seconds": round(time.perf_counter() - t, 2),
    }
    print("bm25s", result["bm25s"], flush=True)
    r5 = {m: result[m]["recall@5"] for m in ("dense", "sparse", "hybrid", "bm25s")}  # type: ignore[index]
    result["bars"] = {
        "hybrid_recall@5_beats_dense_and_sparse": r5["hybrid"] > max(r5["dense"], r5["sparse"]),
        "sparse_recall@5_minus_bm25s": round(r5["sparse"] - r5["bm25s"], 2),
        "sparse_within_2_points_of_bm25s": abs(r5["sparse"] - r5["bm25s"]) <= 2.0,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["bars"], indent=2))


if __name__ == "__main__":
    main()
